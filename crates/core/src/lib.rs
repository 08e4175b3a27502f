//! Estafeta's core: what every protocol and the store share.
//!
//! Configuration, the account/address model, authentication (password
//! hashing, SASL decoding, the failed-login limiter), metrics and the change
//! bus. Nothing here does I/O on the network or touches SQL.

pub mod address;
pub mod auth;
pub mod bus;
pub mod config;
pub mod crlf;
pub mod duration;
pub mod fnv;
pub mod metrics;
pub mod model;
pub mod subject;
pub mod time;

pub use address::{Address, AddressError};
pub use config::{Config, ConfigError};
