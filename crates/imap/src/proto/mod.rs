//! The IMAP wire format, apart from what the session does with it.

pub mod command;
pub mod fetch;
pub mod framing;
pub mod imap_url;
pub mod lexer;
pub mod response;
pub mod search;
pub mod sequence;
pub mod utf7;

pub use command::{Command, CommandBody, Flag, ParseError, parse_command};
pub use framing::{Frame, FrameError, Framer, Limits};
pub use sequence::{SeqNumber, SequenceSet};
