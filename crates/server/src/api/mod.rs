//! The HTTP API for accounts: each request logs in (see [`auth`]).

pub mod auth;
pub mod verify;
