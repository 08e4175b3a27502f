//! The IMAP wire format, apart from what the session does with it.

pub mod framing;
pub mod sequence;
pub mod utf7;

pub use framing::{Frame, FrameError, Framer, Limits};
pub use sequence::{SeqNumber, SequenceSet};
