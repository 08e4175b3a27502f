//! The SMTP probe: greeting, EHLO (HELO if refused), MAIL FROM, RCPT TO
//! for each address asked about (a random one first, to spot catch-all
//! servers), then RSET and QUIT. Never DATA: nothing is sent.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// A server's reply: code, RFC 3463 enhanced code when given, text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub enhanced: Option<String>,
    pub text: String,
}

impl Reply {
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }

    pub fn is_temporary(&self) -> bool {
        (400..500).contains(&self.code)
    }
}

impl std::fmt::Display for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.enhanced {
            Some(enhanced) => write!(f, "{} {enhanced} {}", self.code, self.text),
            None => write!(f, "{} {}", self.code, self.text),
        }
    }
}

/// Why a probe ended before its answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeError {
    Connect(String),
    Timeout(&'static str),
    /// The server closed the connection.
    Closed(&'static str),
    /// A reply that is not SMTP.
    Garbled,
    /// Greeting, EHLO/HELO or MAIL refused: the reply says why.
    Refused(&'static str, Reply),
    /// A UTF-8 address, and the server does not offer SMTPUTF8.
    NoSmtpUtf8,
}

impl std::fmt::Display for ProbeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProbeError::Connect(why) => write!(f, "cannot connect: {why}"),
            ProbeError::Timeout(stage) => write!(f, "no answer to {stage} in time"),
            ProbeError::Closed(stage) => write!(f, "the server closed the connection at {stage}"),
            ProbeError::Garbled => write!(f, "the server's reply is not SMTP"),
            ProbeError::Refused(stage, reply) => write!(f, "{stage} refused: {reply}"),
            ProbeError::NoSmtpUtf8 => write!(f, "the server does not take UTF-8 addresses (no SMTPUTF8)"),
        }
    }
}

pub struct Probe {
    reader: BufReader<TcpStream>,
    timeout: Duration,
    /// The server offered SMTPUTF8 (RFC 6531) in its EHLO reply.
    smtputf8: bool,
}

/// Reply line limit: RFC 5321 4.5.3.1.5 says 512; some servers say more.
const MAX_LINE: usize = 4096;

impl Probe {
    /// Connects, reads the greeting and says EHLO (HELO if refused).
    pub async fn connect(
        ip: IpAddr,
        port: u16,
        helo: &str,
        connect_timeout: Duration,
        timeout: Duration,
    ) -> Result<Probe, ProbeError> {
        let tcp = tokio::time::timeout(connect_timeout, TcpStream::connect(SocketAddr::new(ip, port)))
            .await
            .map_err(|_| ProbeError::Timeout("connect"))?
            .map_err(|e| ProbeError::Connect(e.to_string()))?;
        let mut probe = Probe {
            reader: BufReader::new(tcp),
            timeout,
            smtputf8: false,
        };
        let greeting = probe.read("the greeting").await?;
        if greeting.code != 220 {
            return Err(ProbeError::Refused("the connection", greeting));
        }
        let hello = probe.command(&format!("EHLO {helo}"), "EHLO").await?;
        probe.smtputf8 = hello.is_positive()
            && hello
                .text
                .split_ascii_whitespace()
                .skip(1)
                .any(|word| word.eq_ignore_ascii_case("SMTPUTF8"));
        if !hello.is_positive() {
            let hello = probe.command(&format!("HELO {helo}"), "HELO").await?;
            if !hello.is_positive() {
                return Err(ProbeError::Refused("HELO", hello));
            }
        }
        Ok(probe)
    }

    /// Starts a transaction: MAIL FROM, which must be taken. For a UTF-8
    /// address the server must offer SMTPUTF8 and the transaction says so
    /// (RFC 6531 3.4).
    pub async fn mail(&mut self, sender: &str, utf8: bool) -> Result<(), ProbeError> {
        let parameter = match (utf8, self.smtputf8) {
            (false, _) => "",
            (true, true) => " SMTPUTF8",
            (true, false) => return Err(ProbeError::NoSmtpUtf8),
        };
        let mail = self
            .command(&format!("MAIL FROM:<{sender}>{parameter}"), "MAIL FROM")
            .await?;
        if !mail.is_positive() {
            return Err(ProbeError::Refused("MAIL FROM", mail));
        }
        Ok(())
    }

    /// RCPT TO for one address; the reply, whatever it is.
    pub async fn rcpt(&mut self, address: &str) -> Result<Reply, ProbeError> {
        self.command(&format!("RCPT TO:<{address}>"), "RCPT TO").await
    }

    /// Ends the transaction (RFC 5321 4.1.1.5) so the connection can check
    /// the next address.
    pub async fn reset(&mut self) -> Result<(), ProbeError> {
        let reply = self.command("RSET", "RSET").await?;
        if !reply.is_positive() {
            return Err(ProbeError::Refused("RSET", reply));
        }
        Ok(())
    }

    /// Ends the session politely.
    pub async fn quit(mut self) {
        let _ = self.command("QUIT", "QUIT").await;
    }

    async fn command(&mut self, line: &str, stage: &'static str) -> Result<Reply, ProbeError> {
        let bytes = format!("{line}\r\n");
        let write = self.reader.get_mut().write_all(bytes.as_bytes());
        tokio::time::timeout(self.timeout, write)
            .await
            .map_err(|_| ProbeError::Timeout(stage))?
            .map_err(|_| ProbeError::Closed(stage))?;
        self.read(stage).await
    }

    /// One reply, all its lines (RFC 5321 4.2.1: `code-` continues).
    async fn read(&mut self, stage: &'static str) -> Result<Reply, ProbeError> {
        let mut text = Vec::new();
        loop {
            let mut line = Vec::new();
            let mut limited = (&mut self.reader).take(MAX_LINE as u64);
            let read = limited.read_until(b'\n', &mut line);
            let n = tokio::time::timeout(self.timeout, read)
                .await
                .map_err(|_| ProbeError::Timeout(stage))?
                .map_err(|_| ProbeError::Closed(stage))?;
            if n == 0 {
                return Err(ProbeError::Closed(stage));
            }
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end();
            let code: u16 = line.get(..3).and_then(|c| c.parse().ok()).ok_or(ProbeError::Garbled)?;
            let rest = line.get(4..).unwrap_or("");
            text.push(rest.to_owned());
            if line.as_bytes().get(3) != Some(&b'-') {
                return Ok(parse_reply(code, &text));
            }
            if text.len() > 100 {
                return Err(ProbeError::Garbled);
            }
        }
    }
}

use tokio::io::AsyncReadExt;

/// The enhanced status code (RFC 2034) at the start of the text, if any.
pub fn parse_reply(code: u16, lines: &[String]) -> Reply {
    let first = lines.first().map(String::as_str).unwrap_or("");
    let candidate = first.split(' ').next().unwrap_or("");
    let parts: Vec<&str> = candidate.split('.').collect();
    let enhanced = (parts.len() == 3
        && matches!(parts[0], "2" | "4" | "5")
        && parts[1..]
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit())))
    .then(|| candidate.to_owned());
    let text = lines
        .iter()
        .map(|line| match &enhanced {
            Some(e) => line.strip_prefix(e.as_str()).unwrap_or(line).trim_start(),
            None => line.as_str(),
        })
        .collect::<Vec<_>>()
        .join(" ");
    Reply { code, enhanced, text }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enhanced_codes_are_taken_from_the_text() {
        let reply = parse_reply(550, &["5.1.1 no such user".into()]);
        assert_eq!(reply.enhanced.as_deref(), Some("5.1.1"));
        assert_eq!(reply.text, "no such user");
        let plain = parse_reply(250, &["mx.example.com Hello".into(), "PIPELINING".into()]);
        assert_eq!(plain.enhanced, None);
        assert_eq!(plain.text, "mx.example.com Hello PIPELINING");
        assert_eq!(
            parse_reply(451, &["4.7.1 greylisted".into()]).to_string(),
            "451 4.7.1 greylisted"
        );
    }
}
