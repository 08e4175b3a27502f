//! Estafeta's deliverability: what protects a sender's reputation.
//! Suppression lists (who must not be mailed again, per tenant) and, in
//! [`bounce`], reading bounces into classes with a hard/soft decision.

pub mod bounce;
pub mod feedback;
pub mod ledger;
pub mod reputation;
pub mod sources;
pub mod srs;
pub mod suppression;
pub mod throttle;
pub mod verp;
