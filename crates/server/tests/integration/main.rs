//! The assembled server: its HTTP API and serving.
//!
//! One test binary per crate: each linked binary is tens of MB and
//! seconds of linking, and CI builds them all.

mod api_verify;
mod autoconfig;
mod dav;
mod dav_report;
mod jmap;
mod jmap_email;
mod jmap_push;
mod jmap_submission;
mod serve;
