//! The SMTP client (RFC 5321) that hands queued mail to other servers:
//! EHLO falling back to HELO, STARTTLS when offered (or required),
//! PIPELINING (RFC 2920), SIZE (RFC 1870), 8BITMIME (RFC 6152), SMTPUTF8
//! (RFC 6531), DSN parameters passed on (RFC 3461), CHUNKING (RFC 3030),
//! AUTH PLAIN to a smarthost. One connection carries several messages
//! (RSET between them).

use super::reply::{self, Reply, ReplyError};
use estafeta_store::QueueRecipient;
use mail_auth::report::tlsrpt::ResultType;
use smtp_proto::{
    AUTH_PLAIN, EXT_8BIT_MIME, EXT_CHUNKING, EXT_DSN, EXT_PIPELINING, EXT_SIZE, EXT_SMTP_UTF8, EXT_START_TLS,
    EhloResponse,
};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("connection to {0} failed: {1}")]
    Connect(SocketAddr, String),
    #[error("{0}")]
    Io(String),
    #[error("no reply within {0:?}")]
    Timeout(Duration),
    #[error(transparent)]
    Reply(#[from] ReplyError),
    /// The server refused at connection level (greeting, EHLO, STARTTLS, AUTH).
    #[error("{0}")]
    Refused(Reply),
    #[error("TLS is required for this destination but {0}")]
    TlsRequired(String),
    /// With what RFC 8460 4.3 calls it, for TLS reports.
    #[error("the TLS handshake failed: {0}")]
    Handshake(String, ResultType),
}

impl From<io::Error> for ClientError {
    fn from(error: io::Error) -> Self {
        ClientError::Io(error.to_string())
    }
}

impl ClientError {
    /// The reply a DSN or the queue shows for this failure.
    pub fn as_reply(&self) -> Reply {
        match self {
            ClientError::Refused(reply) => reply.clone(),
            // RFC 3463 4.4.1: no answer from host; 4.4.2: bad connection.
            ClientError::Connect(..) => Reply::local(451, [4, 4, 1], self.to_string()),
            ClientError::Timeout(_) => Reply::local(451, [4, 4, 2], self.to_string()),
            ClientError::TlsRequired(_) | ClientError::Handshake(..) => Reply::local(451, [4, 7, 5], self.to_string()),
            ClientError::Io(_) | ClientError::Reply(_) => Reply::local(451, [4, 4, 2], self.to_string()),
        }
    }
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    /// Only while a STARTTLS handshake holds the socket.
    Upgrading,
}

fn upgrading() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "the TLS handshake did not finish")
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Stream::Upgrading => Poll::Ready(Err(upgrading())),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Stream::Upgrading => Poll::Ready(Err(upgrading())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Stream::Upgrading => Poll::Ready(Err(upgrading())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Stream::Upgrading => Poll::Ready(Err(upgrading())),
        }
    }
}

/// How a connection is made.
#[derive(Clone)]
pub struct Settings {
    /// Our name in EHLO.
    pub helo: String,
    pub require_tls: bool,
    pub tls: Arc<rustls::ClientConfig>,
    pub command_timeout: Duration,
    pub data_timeout: Duration,
    /// AUTH PLAIN credentials, for a smarthost.
    pub auth: Option<(String, String)>,
    /// The address connections leave from (an IP pool's); `None` lets
    /// the system choose.
    pub source: Option<IpAddr>,
}

/// What the server said it supports.
#[derive(Debug, Default, Clone)]
pub struct Features {
    pub pipelining: bool,
    /// RFC 1870: 0 when SIZE came without a limit.
    pub size: Option<usize>,
    pub eight_bit: bool,
    pub smtputf8: bool,
    pub dsn: bool,
    pub chunking: bool,
    starttls: bool,
    auth_plain: bool,
}

impl Features {
    fn from_ehlo(ehlo: &EhloResponse<String>) -> Features {
        let has = |flag: u32| ehlo.capabilities & flag != 0;
        Features {
            pipelining: has(EXT_PIPELINING),
            size: has(EXT_SIZE).then_some(ehlo.size),
            eight_bit: has(EXT_8BIT_MIME),
            smtputf8: has(EXT_SMTP_UTF8),
            dsn: has(EXT_DSN),
            chunking: has(EXT_CHUNKING),
            starttls: has(EXT_START_TLS),
            auth_plain: ehlo.auth_mechanisms & AUTH_PLAIN != 0,
        }
    }
}

/// One message's envelope for one destination.
pub struct Envelope<'a> {
    pub sender: &'a str,
    pub recipients: &'a [&'a QueueRecipient],
    pub envid: Option<&'a str>,
    pub ret: Option<&'a str>,
}

pub struct SmtpClient {
    stream: Stream,
    input: Vec<u8>,
    /// The host name we connected to, for logs, DSNs and TLS.
    pub host: String,
    pub addr: SocketAddr,
    pub features: Features,
    settings: Settings,
    /// Messages sent over this connection.
    pub sent: u32,
    /// Why TLS failed before this connection went on in the clear.
    pub tls_failure: Option<ResultType>,
}

/// A TCP connection to `addr`, from `source` when one is given.
async fn tcp_connect(addr: SocketAddr, source: Option<IpAddr>) -> std::io::Result<TcpStream> {
    let Some(source) = source else {
        return TcpStream::connect(addr).await;
    };
    let socket = if source.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.bind(SocketAddr::new(source, 0))?;
    socket.connect(addr).await
}

/// RFC 3461 4: xtext, for ENVID and ORCPT values.
pub fn xtext(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if (33..=126).contains(&byte) && byte != b'+' && byte != b'=' {
            out.push(byte as char);
        } else {
            out.push_str(&format!("+{byte:02X}"));
        }
    }
    out
}

impl SmtpClient {
    /// Connects, reads the greeting, says EHLO (HELO if refused), and
    /// upgrades to TLS when offered or required. Where TLS is only
    /// opportunistic, a peer whose handshake fails is tried again in the
    /// clear, as mail in the clear beats mail that never leaves (RFC 7435).
    /// The address this connection left from.
    pub fn source(&self) -> Option<IpAddr> {
        self.settings.source
    }

    pub async fn connect(addr: SocketAddr, host: &str, settings: Settings) -> Result<SmtpClient, ClientError> {
        match SmtpClient::open(addr, host, settings.clone(), true).await {
            Err(ClientError::Handshake(why, result)) if !settings.require_tls => {
                tracing::info!(%host, %why, "STARTTLS failed; sending in the clear");
                let mut client = SmtpClient::open(addr, host, settings, false).await?;
                client.tls_failure = Some(result);
                Ok(client)
            }
            other => other,
        }
    }

    async fn open(addr: SocketAddr, host: &str, settings: Settings, try_tls: bool) -> Result<SmtpClient, ClientError> {
        let tcp = tokio::time::timeout(settings.command_timeout, tcp_connect(addr, settings.source))
            .await
            .map_err(|_| ClientError::Connect(addr, "timed out".into()))?
            .map_err(|error| ClientError::Connect(addr, error.to_string()))?;
        let _ = tcp.set_nodelay(true);
        let mut client = SmtpClient {
            stream: Stream::Plain(tcp),
            input: Vec::with_capacity(4096),
            host: host.to_owned(),
            addr,
            features: Features::default(),
            settings,
            sent: 0,
            tls_failure: None,
        };
        // RFC 5321 3.1: 220, or 554 for "no service here".
        let greeting = client.read_reply(client.settings.command_timeout).await?;
        if greeting.code != 220 {
            return Err(ClientError::Refused(greeting));
        }
        client.hello().await?;
        if client.features.starttls && try_tls {
            client.starttls().await?;
        } else if client.settings.require_tls {
            return Err(ClientError::TlsRequired(format!("{host} does not offer STARTTLS")));
        }
        if let Some((user, password)) = client.settings.auth.clone() {
            client.authenticate(&user, &password).await?;
        }
        Ok(client)
    }

    pub fn is_tls(&self) -> bool {
        matches!(self.stream, Stream::Tls(_))
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        let timeout = self.settings.command_timeout;
        tokio::time::timeout(timeout, async {
            self.stream.write_all(bytes).await?;
            self.stream.flush().await
        })
        .await
        .map_err(|_| ClientError::Timeout(timeout))??;
        Ok(())
    }

    async fn read_reply(&mut self, timeout: Duration) -> Result<Reply, ClientError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(end) = reply::reply_end(&self.input)? {
                let reply = reply::parse(&self.input[..end]);
                self.input.drain(..end);
                return Ok(reply?);
            }
            let read = tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.input))
                .await
                .map_err(|_| ClientError::Timeout(timeout))??;
            if read == 0 {
                return Err(ClientError::Io("the server closed the connection".into()));
            }
        }
    }

    /// The whole raw text of the next reply (for EHLO's capability lines).
    async fn read_raw_reply(&mut self) -> Result<Vec<u8>, ClientError> {
        let timeout = self.settings.command_timeout;
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(end) = reply::reply_end(&self.input)? {
                return Ok(self.input.drain(..end).collect());
            }
            let read = tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.input))
                .await
                .map_err(|_| ClientError::Timeout(timeout))??;
            if read == 0 {
                return Err(ClientError::Io("the server closed the connection".into()));
            }
        }
    }

    async fn command(&mut self, line: &str) -> Result<Reply, ClientError> {
        self.write(format!("{line}\r\n").as_bytes()).await?;
        self.read_reply(self.settings.command_timeout).await
    }

    /// RFC 5321 4.1.1.1 and 3.2: EHLO, and HELO from a server that does
    /// not know EHLO.
    async fn hello(&mut self) -> Result<(), ClientError> {
        let helo = self.settings.helo.clone();
        self.write(format!("EHLO {helo}\r\n").as_bytes()).await?;
        let raw = self.read_raw_reply().await?;
        match EhloResponse::parse(&mut raw.iter()) {
            Ok(ehlo) => {
                self.features = Features::from_ehlo(&ehlo);
                Ok(())
            }
            Err(_) => {
                let refused = reply::parse(&raw)?;
                if refused.code == 421 || !refused.is_permanent() {
                    return Err(ClientError::Refused(refused));
                }
                let reply = self.command(&format!("HELO {helo}")).await?;
                if reply.code != 250 {
                    return Err(ClientError::Refused(reply));
                }
                self.features = Features::default();
                Ok(())
            }
        }
    }

    /// RFC 3207: STARTTLS, the handshake, and EHLO again (what was said
    /// before the handshake no longer counts).
    async fn starttls(&mut self) -> Result<(), ClientError> {
        let reply = self.command("STARTTLS").await?;
        if reply.code != 220 {
            if self.settings.require_tls {
                return Err(ClientError::TlsRequired(format!("STARTTLS was refused: {reply}")));
            }
            return Ok(());
        }
        let name = match self.host.parse::<std::net::IpAddr>() {
            Ok(ip) => rustls::pki_types::ServerName::IpAddress(ip.into()),
            Err(_) => rustls::pki_types::ServerName::try_from(self.host.trim_end_matches('.').to_owned())
                .map_err(|error| ClientError::Handshake(error.to_string(), ResultType::CertificateHostMismatch))?,
        };
        let Stream::Plain(tcp) = std::mem::replace(&mut self.stream, Stream::Upgrading) else {
            return Err(ClientError::Io("TLS is already active".into()));
        };
        let connector = tokio_rustls::TlsConnector::from(Arc::clone(&self.settings.tls));
        let tls = tokio::time::timeout(self.settings.command_timeout, connector.connect(name, tcp))
            .await
            .map_err(|_| ClientError::Handshake("timed out".into(), ResultType::ValidationFailure))?
            .map_err(|error| {
                let result = super::tls_report::handshake_result(&error);
                ClientError::Handshake(error.to_string(), result)
            })?;
        self.stream = Stream::Tls(Box::new(tls));
        self.input.clear();
        self.hello().await
    }

    /// AUTH PLAIN (RFC 4954, RFC 4616), only over TLS.
    async fn authenticate(&mut self, user: &str, password: &str) -> Result<(), ClientError> {
        if !self.is_tls() {
            return Err(ClientError::TlsRequired(
                "credentials are never sent in the clear".into(),
            ));
        }
        if !self.features.auth_plain {
            return Err(ClientError::Refused(Reply::local(
                530,
                [5, 7, 0],
                format!("{} does not offer AUTH PLAIN", self.host),
            )));
        }
        use base64::Engine;
        let token = base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{password}"));
        let reply = self.command(&format!("AUTH PLAIN {token}")).await?;
        if reply.code != 235 {
            return Err(ClientError::Refused(reply));
        }
        Ok(())
    }

    /// One transaction: a reply per recipient, in order. `Err` when the
    /// connection failed on the way (every recipient is then undecided).
    pub async fn send(&mut self, envelope: &Envelope<'_>, message: &[u8]) -> Result<Vec<Reply>, ClientError> {
        let needs_utf8 = !envelope.sender.is_ascii()
            || envelope.recipients.iter().any(|r| !r.address.is_ascii())
            || !header_block(message).is_ascii();
        let mut mail = format!("MAIL FROM:<{}>", envelope.sender);
        if let Some(limit) = self.features.size {
            // RFC 1870 6.1: a message over the announced limit is not sent.
            if limit > 0 && message.len() > limit {
                let reply = Reply::local(
                    552,
                    [5, 3, 4],
                    format!(
                        "message of {} octets is over {}'s limit of {limit}",
                        message.len(),
                        self.host
                    ),
                );
                return Ok(vec![reply; envelope.recipients.len()]);
            }
            mail.push_str(&format!(" SIZE={}", message.len()));
        }
        if self.features.eight_bit && !message.is_ascii() {
            mail.push_str(" BODY=8BITMIME");
        }
        if needs_utf8 {
            // RFC 6531 3.2: without SMTPUTF8 the server cannot take it.
            if !self.features.smtputf8 {
                let reply = Reply::local(
                    553,
                    [5, 6, 7],
                    format!("{} does not support SMTPUTF8, which this message needs", self.host),
                );
                return Ok(vec![reply; envelope.recipients.len()]);
            }
            mail.push_str(" SMTPUTF8");
        }
        if self.features.dsn {
            if let Some(ret) = envelope.ret {
                mail.push_str(&format!(" RET={ret}"));
            }
            if let Some(envid) = envelope.envid {
                mail.push_str(&format!(" ENVID={}", xtext(envid)));
            }
        }
        let rcpts: Vec<String> = envelope
            .recipients
            .iter()
            .map(|recipient| {
                let mut line = format!("RCPT TO:<{}>", recipient.address);
                if self.features.dsn {
                    if let Some(notify) = &recipient.notify {
                        line.push_str(&format!(" NOTIFY={notify}"));
                    }
                    if let Some((kind, address)) = recipient.orcpt.as_deref().and_then(|o| o.split_once(';')) {
                        line.push_str(&format!(" ORCPT={kind};{}", xtext(address)));
                    }
                }
                line
            })
            .collect();
        let chunking = self.features.chunking;

        // RFC 2920 3.1: MAIL, the RCPTs and DATA may go in one write.
        let (mail_reply, rcpt_replies, data_reply) = if self.features.pipelining {
            let mut batch = format!("{mail}\r\n");
            for rcpt in &rcpts {
                batch.push_str(rcpt);
                batch.push_str("\r\n");
            }
            if !chunking {
                batch.push_str("DATA\r\n");
            }
            self.write(batch.as_bytes()).await?;
            let timeout = self.settings.command_timeout;
            let mail_reply = self.read_reply(timeout).await?;
            let mut rcpt_replies = Vec::with_capacity(rcpts.len());
            for _ in &rcpts {
                rcpt_replies.push(self.read_reply(timeout).await?);
            }
            let data_reply = if chunking {
                None
            } else {
                Some(self.read_reply(timeout).await?)
            };
            (mail_reply, rcpt_replies, data_reply)
        } else {
            let mail_reply = self.command(&mail).await?;
            if !mail_reply.is_positive() {
                let _ = self.reset().await;
                return Ok(vec![mail_reply; rcpts.len()]);
            }
            let mut rcpt_replies = Vec::with_capacity(rcpts.len());
            for rcpt in &rcpts {
                rcpt_replies.push(self.command(rcpt).await?);
            }
            let any = rcpt_replies.iter().any(Reply::is_positive);
            let data_reply = match (chunking, any) {
                (false, true) => Some(self.command("DATA").await?),
                _ => None,
            };
            (mail_reply, rcpt_replies, data_reply)
        };

        if !mail_reply.is_positive() {
            if data_reply.as_ref().is_some_and(|r| r.code == 354) {
                self.finish_data(b"").await?;
            }
            let _ = self.reset().await;
            return Ok(vec![mail_reply; rcpts.len()]);
        }
        let accepted = rcpt_replies.iter().filter(|r| r.is_positive()).count();
        if accepted == 0 {
            // RFC 2920 3.1: a 354 to a pipelined DATA with no recipient
            // still needs its end of data.
            if data_reply.as_ref().is_some_and(|r| r.code == 354) {
                self.finish_data(b"").await?;
            }
            let _ = self.reset().await;
            return Ok(rcpt_replies);
        }
        let final_reply = if chunking {
            // RFC 3030 2: BDAT carries the bytes as they are, no stuffing;
            // but the lines must end as DATA's would (RFC 5321 2.3.8), or
            // a peer reads a different message than we stored.
            let message: std::borrow::Cow<[u8]> = if estafeta_core::crlf::is_canonical(message) {
                message.into()
            } else {
                estafeta_core::crlf::canonical(message.to_vec()).into()
            };
            self.write(format!("BDAT {} LAST\r\n", message.len()).as_bytes())
                .await?;
            self.write(&message).await?;
            self.read_reply(self.settings.data_timeout).await?
        } else {
            let data_reply = data_reply.expect("DATA was sent");
            if data_reply.code != 354 {
                data_reply
            } else {
                self.finish_data(message).await?
            }
        };
        self.sent += 1;
        Ok(rcpt_replies
            .into_iter()
            .map(|reply| {
                if reply.is_positive() {
                    final_reply.clone()
                } else {
                    reply
                }
            })
            .collect())
    }

    /// The message, dot-stuffed, and the end-of-data reply.
    async fn finish_data(&mut self, message: &[u8]) -> Result<Reply, ClientError> {
        let mut wire = Vec::with_capacity(message.len() + message.len() / 64 + 8);
        estafeta_core::crlf::write_dot_stuffed(&mut wire, message, None);
        self.write(&wire).await?;
        self.read_reply(self.settings.data_timeout).await
    }

    /// Ready for the next message on this connection (RFC 5321 4.1.1.5).
    pub async fn reset(&mut self) -> Result<(), ClientError> {
        let reply = self.command("RSET").await?;
        if reply.code != 250 {
            return Err(ClientError::Refused(reply));
        }
        Ok(())
    }

    /// QUIT, politely but without waiting long for its reply.
    pub async fn quit(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            let _ = self.write(b"QUIT\r\n").await;
            let _ = self.read_reply(Duration::from_secs(5)).await;
            let _ = self.stream.shutdown().await;
        })
        .await;
    }
}

/// The header part of a message (up to the first empty line).
fn header_block(message: &[u8]) -> &[u8] {
    match message.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(end) => &message[..end],
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xtext_encodes_plus_equals_and_controls() {
        assert_eq!(xtext("a+b=c d"), "a+2Bb+3Dc+20d");
        assert_eq!(xtext("QQ314159"), "QQ314159");
    }
}
