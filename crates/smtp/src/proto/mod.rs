//! The SMTP wire format, apart from what the session does with it, so it
//! can be fuzzed and tested alone.

pub mod command;
pub mod data;
pub mod path;
pub mod reply;

pub use command::{Body, Command, MailParams, Notify, ParseError, RcptParams, Ret, parse_command};
pub use data::DataDecoder;
pub use path::{Domain, ForwardPath, Mailbox, ReversePath};
pub use reply::Reply;
