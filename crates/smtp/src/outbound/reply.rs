//! Replies from a remote SMTP server (RFC 5321 4.2), as the client reads
//! them: one or more lines `ddd-text` ending with `ddd text`. Parsing is
//! smtp-proto's; this module frames whole replies out of the byte stream
//! and keeps what DSNs and the queue need from them.

use smtp_proto::response::parser::ResponseReceiver;

/// Lines of one reply we read before calling the server broken.
const MAX_LINES: usize = 256;
/// RFC 5321 4.5.3.1.5 allows 512 octets a line; servers send longer.
const MAX_LINE: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    /// The enhanced status code (RFC 3463), when the server sent one.
    pub status: Option<[u8; 3]>,
    /// The text of every line, joined by spaces.
    pub text: String,
}

impl Reply {
    /// 2xx only: a 3xx (RFC 5321 4.2.1, "positive intermediate") accepts
    /// nothing; where one is expected (354 to DATA) it is asked for by code.
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// 5xx: trying again will not help (RFC 5321 4.2.1).
    pub fn is_permanent(&self) -> bool {
        self.code >= 500
    }

    /// RFC 3463 status for a DSN: the server's own, else the class alone.
    pub fn enhanced(&self) -> String {
        match self.status {
            Some([class, subject, detail]) => format!("{class}.{subject}.{detail}"),
            None => match self.code / 100 {
                2 => "2.0.0".into(),
                4 => "4.0.0".into(),
                _ => "5.0.0".into(),
            },
        }
    }

    /// One of our own, for failures no server replied to.
    pub fn local(code: u16, status: [u8; 3], text: impl Into<String>) -> Reply {
        Reply {
            code,
            status: Some(status),
            text: text.into(),
        }
    }
}

/// `550 5.1.1 text`, as queue records and DSN Diagnostic-Codes show it.
impl std::fmt::Display for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.status {
            Some(_) => write!(f, "{} {} {}", self.code, self.enhanced(), self.text),
            None => write!(f, "{} {}", self.code, self.text),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    #[error("malformed reply from the server: {0}")]
    Malformed(String),
    #[error("reply too long")]
    TooLong,
}

/// Where the first complete reply in `buffer` ends, if it is there.
pub fn reply_end(buffer: &[u8]) -> Result<Option<usize>, ReplyError> {
    let mut start = 0;
    for _ in 0..MAX_LINES {
        let Some(lf) = buffer[start..].iter().position(|&b| b == b'\n') else {
            if buffer.len() - start > MAX_LINE {
                return Err(ReplyError::TooLong);
            }
            return Ok(None);
        };
        let line = &buffer[start..start + lf];
        if line.len() < 3 || !line[..3].iter().all(u8::is_ascii_digit) {
            return Err(ReplyError::Malformed(String::from_utf8_lossy(line).into_owned()));
        }
        start += lf + 1;
        // `ddd-` continues; `ddd ` or a bare `ddd` ends the reply.
        if line.get(3) != Some(&b'-') {
            return Ok(Some(start));
        }
    }
    Err(ReplyError::TooLong)
}

/// Parses one whole reply (as framed by [`reply_end`]).
pub fn parse(raw: &[u8]) -> Result<Reply, ReplyError> {
    let mut receiver = ResponseReceiver::default();
    let response = receiver
        .parse(&mut raw.iter())
        .map_err(|error| ReplyError::Malformed(format!("{error:?}")))?;
    let status = (response.esc[0] != 0).then_some(response.esc);
    let text = response
        .message
        .split(['\r', '\n'])
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    Ok(Reply {
        code: response.code,
        status,
        text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_and_multi_line_replies() {
        let raw = b"250-mx.test greets you\r\n250-PIPELINING\r\n250 SIZE 1000\r\n220 next";
        let end = reply_end(raw).unwrap().unwrap();
        assert_eq!(&raw[end..], b"220 next");
        let reply = parse(&raw[..end]).unwrap();
        assert_eq!(reply.code, 250);
        assert!(reply.text.contains("PIPELINING"), "{reply:?}");
        assert_eq!(reply_end(b"250-more\r\n250-to").unwrap(), None);
    }

    #[test]
    fn enhanced_status_codes() {
        let reply = parse(b"550 5.1.1 <x@y>: no such user\r\n").unwrap();
        assert_eq!(reply.status, Some([5, 1, 1]));
        assert_eq!(reply.to_string(), "550 5.1.1 <x@y>: no such user");
        assert!(reply.is_permanent());
        let reply = parse(b"451 greylisted, come back later\r\n").unwrap();
        assert_eq!((reply.status, reply.enhanced()), (None, "4.0.0".to_owned()));
        assert!(!reply.is_permanent() && !reply.is_positive());
        let reply = parse(b"354 go ahead\r\n").unwrap();
        assert!(!reply.is_positive() && !reply.is_permanent(), "a 3xx accepts nothing");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(reply_end(b"hello\r\n").is_err());
        assert!(reply_end(&[b'2'; 10_000]).is_err());
        let many = "250-x\r\n".repeat(300);
        assert!(reply_end(many.as_bytes()).is_err());
    }
}

#[cfg(test)]
mod ehlo_tests {
    use smtp_proto::{EXT_DSN, EXT_PIPELINING, EhloResponse};

    #[test]
    fn postfix_smtp_sink_ehlo_with_an_empty_last_line() {
        let raw = b"250-smtp-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-DSN\r\n250 \r\n";
        let ehlo = EhloResponse::parse(&mut raw.iter()).unwrap();
        assert!(ehlo.capabilities & EXT_PIPELINING != 0 && ehlo.capabilities & EXT_DSN != 0);
    }
}
