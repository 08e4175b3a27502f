//! Estafeta's IMAP server (RFC 9051, with RFC 3501 compatibility).
//!
//! This first slice is the wire format (`proto`): framing of commands with
//! literals, the command parser, sequence sets and mailbox-name encoding.
//! imap-codec 1.0 is IMAP4rev1-only and lacks UIDPLUS response codes and a
//! finished CONDSTORE/QRESYNC, so the wire module is our own, kept apart
//! from session logic and fuzzed.

pub mod message;
pub mod proto;
