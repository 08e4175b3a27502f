//! The HTTP API for accounts, JMAP among it: each request logs in (see
//! [`auth`]); and the one-click unsubscribe links recipients of our
//! users' mail follow.

pub mod auth;
pub mod autoconfig;
pub mod autodiscover;
pub mod dav;
pub mod jmap;
pub mod jmap_push;
pub mod mobileconfig;
pub mod mta_sts;
pub mod unsubscribe;
pub mod verified;
pub mod verify;
