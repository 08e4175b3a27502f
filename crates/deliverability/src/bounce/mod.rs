//! Bounces: reading a failure into a class ([`classify`]) and reading
//! bounce messages, standard (RFC 3464) or not, into per-recipient
//! failures ([`report`]).

pub mod classify;
pub mod eval;
pub mod report;

pub use classify::{BounceClass, Classification, Severity, classify};
pub use report::{Action, Bounce, Failure, from_message, parse};
