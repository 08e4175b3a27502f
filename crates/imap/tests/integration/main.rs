//! IMAP over real sockets: each module one command group or scenario.
//!
//! One test binary per crate: each linked binary is tens of MB and
//! seconds of linking, and CI builds them all.

mod common;
mod concurrent;
mod fetch_search_parse;
mod junk;
mod mailboxes;
mod messages;
mod quota;
mod session;
mod two_nodes;
