//! The `estafeta` binary as a user runs it: each module one command group or scenario.
//!
//! One test binary per crate: each linked binary is tens of MB and
//! seconds of linking, and CI builds them all.

mod cli;
mod common;
mod config;
mod dns_cli;
mod durability;
mod export_cli;
mod migrate;
mod outbound_cli;
mod outbound_crash;
mod serve;
mod spam_cli;
mod tenancy_cli;
mod verify_cli;
