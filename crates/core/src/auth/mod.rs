//! Authentication shared by SMTP, IMAP and POP3: password hashes, SASL
//! decoding and the failed-login limiter.

pub mod limiter;
pub mod password;
pub mod sasl;

pub use limiter::{LoginLimiter, Lockout};
pub use password::{generate_password, hash_password, verify_password, PasswordError};
pub use sasl::{Credentials, LoginExchange, LoginStep, SaslError, SaslMechanism};
