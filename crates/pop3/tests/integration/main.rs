//! POP3 over real sockets: each module one scenario.
//!
//! One test binary per crate: each linked binary is tens of MB and
//! seconds of linking, and CI builds them all.

mod common;
mod maildrop;
mod session;
mod two_nodes;
