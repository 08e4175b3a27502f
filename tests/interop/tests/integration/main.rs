//! Real clients and peers against Estafeta: each module one program.
//!
//! One test binary per crate: each linked binary is tens of MB and
//! seconds of linking, and CI builds them all.

mod caldav;
mod caldav_server_tester;
mod fetchmail;
mod fetchmail_pop3;
mod imaplib;
mod jmapc;
mod litmus;
mod mbsync;
mod poplib;
mod postfix;
mod postfix_outbound;
mod smtplib;
mod swaks;
mod vdirsyncer;
