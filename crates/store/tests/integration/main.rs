//! The store on both backends: each module one concern.
//!
//! One test binary per crate: each linked binary is tens of MB and
//! seconds of linking, and CI builds them all.

mod common;
mod crash;
mod dav;
mod delivery;
mod directory;
mod identities;
mod imap_ops;
mod ip_pools;
mod learning;
mod migrate;
mod queue;
mod tenancy;
mod verify;
