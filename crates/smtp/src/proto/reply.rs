//! SMTP replies (RFC 5321 4.2) with enhanced status codes (RFC 2034, 3463).

use std::fmt::Write;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    /// `x.y.z`; absent for the greeting and the EHLO keyword list.
    pub status: Option<&'static str>,
    pub lines: Vec<String>,
}

impl Reply {
    pub fn new(code: u16, status: &'static str, text: impl Into<String>) -> Reply {
        Reply {
            code,
            status: Some(status),
            lines: vec![text.into()],
        }
    }

    pub fn plain(code: u16, lines: Vec<String>) -> Reply {
        Reply {
            code,
            status: None,
            lines,
        }
    }

    /// 4xx and 5xx.
    pub fn is_error(&self) -> bool {
        self.code >= 400
    }

    /// Writes every line; continuation lines use `-` (RFC 5321 4.2.1).
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let mut text = String::new();
        let last = self.lines.len().saturating_sub(1);
        for (i, line) in self.lines.iter().enumerate() {
            let separator = if i == last { ' ' } else { '-' };
            // Nothing a reply quotes may break the line structure.
            let line: String = line.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
            match self.status {
                Some(status) => {
                    let _ = write!(text, "{}{separator}{status} {line}\r\n", self.code);
                }
                None => {
                    let _ = write!(text, "{}{separator}{line}\r\n", self.code);
                }
            }
        }
        out.extend_from_slice(text.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_and_multi_line() {
        let mut out = Vec::new();
        Reply::new(250, "2.1.0", "Sender OK").write_to(&mut out);
        Reply::plain(250, vec!["mx.test".into(), "PIPELINING".into(), "SIZE 10".into()]).write_to(&mut out);
        Reply::new(550, "5.1.1", "bad\r\ninjection").write_to(&mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "250 2.1.0 Sender OK\r\n250-mx.test\r\n250-PIPELINING\r\n250 SIZE 10\r\n550 5.1.1 bad  injection\r\n"
        );
    }
}
