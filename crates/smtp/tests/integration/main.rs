//! SMTP in and out over real sockets: each module one scenario.
//!
//! One test binary per crate: each linked binary is tens of MB and
//! seconds of linking, and CI builds them all.

mod common;
mod dane;
mod deliverability;
mod delivery;
mod filter;
mod forwarding;
mod ip_pools;
mod mta_sts;
mod outbound;
mod outbound_two_nodes;
mod sender_auth;
mod session;
mod submission;
mod tls_report;
