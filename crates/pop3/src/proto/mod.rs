//! The POP3 wire format: command lines in, status lines and multi-line
//! responses out. Kept apart from the session, and fuzzed.

pub mod command;
pub mod multiline;

pub use command::{Command, MAX_LINE, ParseError, parse};

/// RFC 2449 8 response codes, with RFC 3206's AUTH and SYS/*.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// The maildrop is locked by another session (RFC 2449 8.1.1).
    InUse,
    /// Too soon after the last login (RFC 2449 8.1.2).
    LoginDelay,
    /// A temporary problem on our side; retry later (RFC 3206 4).
    SysTemp,
    /// The credentials were refused (RFC 3206 5).
    Auth,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::InUse => "IN-USE",
            Code::LoginDelay => "LOGIN-DELAY",
            Code::SysTemp => "SYS/TEMP",
            Code::Auth => "AUTH",
        }
    }
}

pub fn ok(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(b"+OK");
    if !text.is_empty() {
        out.push(b' ');
        out.extend_from_slice(text.as_bytes());
    }
    out.extend_from_slice(b"\r\n");
}

pub fn err(out: &mut Vec<u8>, code: Option<Code>, text: &str) {
    out.extend_from_slice(b"-ERR");
    if let Some(code) = code {
        out.extend_from_slice(b" [");
        out.extend_from_slice(code.as_str().as_bytes());
        out.push(b']');
    }
    out.push(b' ');
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// The end of a multi-line response.
pub fn end(out: &mut Vec<u8>) {
    out.extend_from_slice(b".\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        let mut out = Vec::new();
        ok(&mut out, "2 320");
        err(&mut out, Some(Code::InUse), "Maildrop in use");
        err(&mut out, None, "No such message");
        assert_eq!(
            out,
            b"+OK 2 320\r\n-ERR [IN-USE] Maildrop in use\r\n-ERR No such message\r\n"
        );
    }
}
