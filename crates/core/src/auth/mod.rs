//! Authentication shared by SMTP, IMAP and POP3: password hashes, SASL
//! decoding and the failed-login limiter.

pub mod limiter;
pub mod password;
pub mod sasl;

pub use limiter::{Lockout, LoginLimiter};
pub use password::{PasswordError, generate_password, hash_password, verify_password};
pub use sasl::{Credentials, LoginExchange, LoginStep, SaslError, SaslMechanism};
