//! Fake remote MTAs for outbound tests: an SMTP server on a loopback
//! address that accepts, greylists, rejects, drops the connection in the
//! middle of DATA, stalls, or refuses at the greeting, and remembers every
//! transaction it saw. "Refuses connections" is simply no FakeMta at that
//! address. With `STARTTLS` among its extensions it upgrades (a
//! self-signed certificate); with `AUTH PLAIN` it takes [`AUTH_USER`];
//! `NO-EHLO` makes it an old server that only knows HELO; `BROKEN-TLS`
//! offers STARTTLS and then fails the handshake.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Behaviour {
    Accept,
    /// `451 4.7.1` to each recipient's first `n` attempts, then accept.
    Greylist(u32),
    /// The same with `450 4.2.0`, as Postgrey answers.
    Greylist450(u32),
    /// `550 5.1.1` to every recipient.
    Reject,
    /// Reads part of the message, then closes the connection.
    DropMidData,
    /// Greets, then never answers again.
    Stall,
    /// `554` as the greeting (no SMTP service here).
    RefuseGreeting,
    /// `421` as the greeting (too busy now).
    Busy,
    /// Only these addresses exist; `550 5.1.1` to anyone else.
    Mailboxes(Vec<String>),
    /// `552 5.2.2` to every recipient: the mailbox is full.
    Full,
    /// Closes the connection when asked about a recipient.
    DropAtRcpt,
    /// Waits this long before the greeting, then accepts.
    SlowBanner(Duration),
    /// Answers the end of DATA with a 3xx, which accepts nothing (a broken
    /// or hostile server).
    IntermediateAfterData,
}

/// One transaction the fake MTA accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The MAIL FROM line as sent.
    pub mail_from: String,
    /// RCPT TO lines it accepted, as sent (with their parameters).
    pub rcpt_to: Vec<String>,
    pub data: Vec<u8>,
    /// The transaction came over TLS (after STARTTLS).
    pub tls: bool,
    /// Who logged in with AUTH PLAIN, if anyone.
    pub auth: Option<String>,
    /// The address the client connected from.
    pub peer: std::net::IpAddr,
    /// The name it gave in EHLO (or HELO).
    pub helo: String,
}

impl Received {
    /// The addresses it accepted.
    pub fn recipients(&self) -> Vec<String> {
        self.rcpt_to
            .iter()
            .filter_map(|line| {
                let start = line.find('<')? + 1;
                let end = line[start..].find('>')? + start;
                Some(line[start..end].to_owned())
            })
            .collect()
    }
}

#[derive(Default)]
struct Log {
    received: Vec<Received>,
    connections: u32,
    /// Connections open now, and the most ever open at once.
    open: u32,
    peak: u32,
    attempts: HashMap<String, u32>,
    /// When each RCPT arrived.
    rcpt_times: Vec<std::time::Instant>,
    resets: u32,
    mail_commands: Vec<String>,
}

#[derive(Clone)]
pub struct FakeMta {
    pub addr: SocketAddr,
    log: Arc<Mutex<Log>>,
    behaviour: Arc<Mutex<Behaviour>>,
    extensions: Arc<Vec<&'static str>>,
    /// Taken before answering the end of data, as a busy server would.
    delay: Arc<Mutex<Duration>>,
    /// Set when the extensions offer STARTTLS.
    tls: Option<tokio_rustls::TlsAcceptor>,
}

/// Who is on the other end of a session.
struct Client {
    peer: std::net::IpAddr,
    helo: String,
}

/// The one account AUTH PLAIN takes.
pub const AUTH_USER: &str = "relay-user";
pub const AUTH_PASSWORD: &str = "relay secret";

/// Where a session goes after a command.
enum Next<S> {
    Close,
    /// STARTTLS was accepted: the handshake comes next (RFC 3207).
    Upgrade(S),
}

/// The name the fake MTAs' certificate is for (and `localhost`).
pub const CERTIFICATE_NAME: &str = "smarthost.test";

/// The self-signed certificate and key every fake MTA with STARTTLS
/// shows, made once per test process: trusting it (`outbound.tls_ca_file`)
/// makes `smarthost.test` a verified peer, and every other name not.
pub fn test_certificate() -> (std::path::PathBuf, std::path::PathBuf) {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    let dir = DIR.get_or_init(|| tempfile::tempdir().expect("temp dir"));
    static MADE: std::sync::OnceLock<(std::path::PathBuf, std::path::PathBuf)> = std::sync::OnceLock::new();
    MADE.get_or_init(|| estafeta_net::tls::self_signed(dir.path(), CERTIFICATE_NAME).expect("test certificate"))
        .clone()
}

impl FakeMta {
    /// Listens on `addr` (a loopback address and the port outbound tests
    /// set as `outbound.smtp_port`).
    pub async fn start(addr: SocketAddr, behaviour: Behaviour) -> FakeMta {
        FakeMta::start_with(
            addr,
            behaviour,
            &["PIPELINING", "8BITMIME", "SIZE 10000000", "DSN", "SMTPUTF8"],
        )
        .await
    }

    /// With the EHLO extensions given (none: a plain RFC 5321 server).
    pub async fn start_with(addr: SocketAddr, behaviour: Behaviour, extensions: &[&'static str]) -> FakeMta {
        let (cert, key) = test_certificate();
        FakeMta::start_with_certificate(addr, behaviour, extensions, &cert, &key).await
    }

    /// As [`FakeMta::start_with`], showing the chain in the PEM file
    /// `cert` (server certificate first) after STARTTLS.
    pub async fn start_with_certificate(
        addr: SocketAddr,
        behaviour: Behaviour,
        extensions: &[&'static str],
        cert: &std::path::Path,
        key: &std::path::Path,
    ) -> FakeMta {
        let listener = TcpListener::bind(addr).await.expect("bind fake MTA");
        let tls = extensions
            .contains(&"STARTTLS")
            .then(|| estafeta_net::tls::acceptor(cert, key).unwrap());
        let mta = FakeMta {
            addr: listener.local_addr().unwrap(),
            log: Default::default(),
            behaviour: Arc::new(Mutex::new(behaviour)),
            extensions: Arc::new(extensions.to_vec()),
            delay: Default::default(),
            tls,
        };
        let server = mta.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let server = server.clone();
                tokio::spawn(async move {
                    let _ = server.session(stream).await;
                });
            }
        });
        mta
    }

    pub fn set_behaviour(&self, behaviour: Behaviour) {
        *self.behaviour.lock().unwrap() = behaviour;
    }

    pub fn set_delay(&self, delay: Duration) {
        *self.delay.lock().unwrap() = delay;
    }

    pub fn received(&self) -> Vec<Received> {
        self.log.lock().unwrap().received.clone()
    }

    pub fn connections(&self) -> u32 {
        self.log.lock().unwrap().connections
    }

    /// The most connections that were open at once.
    pub fn peak_connections(&self) -> u32 {
        self.log.lock().unwrap().peak
    }

    /// When each RCPT command arrived, in order.
    pub fn rcpt_times(&self) -> Vec<std::time::Instant> {
        self.log.lock().unwrap().rcpt_times.clone()
    }

    /// Every MAIL FROM line, as sent.
    pub fn mail_commands(&self) -> Vec<String> {
        self.log.lock().unwrap().mail_commands.clone()
    }

    /// RSET commands seen.
    pub fn resets(&self) -> u32 {
        self.log.lock().unwrap().resets
    }

    /// RCPT commands seen for `address`, accepted or not.
    pub fn attempts(&self, address: &str) -> u32 {
        self.log.lock().unwrap().attempts.get(address).copied().unwrap_or(0)
    }

    async fn session(&self, stream: TcpStream) -> std::io::Result<()> {
        {
            let mut log = self.log.lock().unwrap();
            log.connections += 1;
            log.open += 1;
            log.peak = log.peak.max(log.open);
        }
        let result = self.greet(stream).await;
        self.log.lock().unwrap().open -= 1;
        result
    }

    async fn greet(&self, stream: TcpStream) -> std::io::Result<()> {
        let behaviour = self.behaviour.lock().unwrap().clone();
        let mut client = Client {
            peer: stream.peer_addr()?.ip(),
            helo: String::new(),
        };
        let mut stream = BufReader::new(stream);
        if behaviour == Behaviour::RefuseGreeting {
            stream.get_mut().write_all(b"554 5.3.2 no service here\r\n").await?;
            return Ok(());
        }
        if behaviour == Behaviour::Busy {
            stream.get_mut().write_all(b"421 4.3.2 too busy, try later\r\n").await?;
            return Ok(());
        }
        if let Behaviour::SlowBanner(delay) = behaviour {
            tokio::time::sleep(delay).await;
        }
        stream.get_mut().write_all(b"220 fake.test ESMTP\r\n").await?;
        if behaviour == Behaviour::Stall {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            return Ok(());
        }
        if let Next::Upgrade(tcp) = self.serve(stream, &behaviour, false, &mut client).await?
            && let Some(acceptor) = &self.tls
        {
            let tls = acceptor.accept(tcp).await?;
            self.serve(BufReader::new(tls), &behaviour, true, &mut client).await?;
        }
        Ok(())
    }

    async fn serve<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
        &self,
        mut stream: BufReader<S>,
        behaviour: &Behaviour,
        tls: bool,
        client: &mut Client,
    ) -> std::io::Result<Next<S>> {
        let mut mail_from = String::new();
        let mut rcpt_to = Vec::new();
        let mut auth = None;
        let no_ehlo = self.extensions.contains(&"NO-EHLO");
        loop {
            let mut line = String::new();
            if stream.read_line(&mut line).await? == 0 {
                return Ok(Next::Close);
            }
            let line = line.trim_end().to_owned();
            let upper = line.to_ascii_uppercase();
            if upper.starts_with("EHLO ") || upper.starts_with("HELO ") {
                client.helo = line[5..].trim().to_owned();
            }
            let reply = if upper.starts_with("EHLO") && no_ehlo {
                "502 5.5.1 EHLO not implemented\r\n".to_owned()
            } else if upper.starts_with("EHLO") {
                let mut reply = "250-fake.test\r\n".to_owned();
                for extension in self.extensions.iter() {
                    let shown = if *extension == "BROKEN-TLS" {
                        "STARTTLS"
                    } else {
                        extension
                    };
                    if shown != "STARTTLS" || !tls {
                        reply.push_str(&format!("250-{shown}\r\n"));
                    }
                }
                reply.push_str("250 ENHANCEDSTATUSCODES\r\n");
                reply
            } else if upper.starts_with("HELO") {
                "250 fake.test\r\n".into()
            } else if upper == "STARTTLS" && self.extensions.contains(&"BROKEN-TLS") {
                // Agrees, then breaks the handshake (closes the socket).
                stream.get_mut().write_all(b"220 2.0.0 ready for TLS\r\n").await?;
                return Ok(Next::Close);
            } else if upper == "STARTTLS" && self.tls.is_some() && !tls {
                stream.get_mut().write_all(b"220 2.0.0 ready for TLS\r\n").await?;
                return Ok(Next::Upgrade(stream.into_inner()));
            } else if let Some(token) = upper.strip_prefix("AUTH PLAIN ").map(|_| &line[11..]) {
                use base64::Engine;
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(token.trim())
                    .unwrap_or_default();
                let parts: Vec<&[u8]> = decoded.split(|&b| b == 0).collect();
                if parts.len() == 3 && parts[1] == AUTH_USER.as_bytes() && parts[2] == AUTH_PASSWORD.as_bytes() {
                    auth = Some(AUTH_USER.to_owned());
                    "235 2.7.0 authenticated\r\n".into()
                } else {
                    "535 5.7.8 bad credentials\r\n".into()
                }
            } else if upper.starts_with("MAIL FROM:") {
                self.log.lock().unwrap().mail_commands.push(line.clone());
                mail_from = line.clone();
                rcpt_to.clear();
                "250 2.1.0 ok\r\n".into()
            } else if upper.starts_with("RCPT TO:") {
                let address = line[line.find('<').map_or(0, |i| i + 1)..]
                    .split('>')
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                if *behaviour == Behaviour::DropAtRcpt {
                    return Ok(Next::Close);
                }
                let attempt = {
                    let mut log = self.log.lock().unwrap();
                    log.rcpt_times.push(std::time::Instant::now());
                    let count = log.attempts.entry(address.clone()).or_default();
                    *count += 1;
                    *count
                };
                match behaviour {
                    Behaviour::Reject => "550 5.1.1 no such user here\r\n".into(),
                    Behaviour::Full => "552 5.2.2 mailbox full\r\n".into(),
                    Behaviour::Mailboxes(known) if !known.iter().any(|k| k.eq_ignore_ascii_case(&address)) => {
                        "550 5.1.1 no such user here\r\n".into()
                    }
                    Behaviour::Greylist(n) if attempt <= *n => "451 4.7.1 greylisted, try again later\r\n".into(),
                    Behaviour::Greylist450(n) if attempt <= *n => {
                        "450 4.2.0 Greylisted, see http://postgrey.example/\r\n".into()
                    }
                    _ => {
                        rcpt_to.push(line.clone());
                        "250 2.1.5 ok\r\n".into()
                    }
                }
            } else if upper == "DATA" {
                if rcpt_to.is_empty() {
                    "554 5.5.1 no valid recipients\r\n".into()
                } else {
                    stream.get_mut().write_all(b"354 go ahead\r\n").await?;
                    let mut data = Vec::new();
                    loop {
                        let mut line = Vec::new();
                        if stream.read_until(b'\n', &mut line).await? == 0 {
                            return Ok(Next::Close);
                        }
                        if *behaviour == Behaviour::DropMidData && data.len() > 10 {
                            return Ok(Next::Close);
                        }
                        if line == b".\r\n" {
                            break;
                        }
                        data.extend_from_slice(line.strip_prefix(b".").unwrap_or(&line));
                    }
                    let delay = *self.delay.lock().unwrap();
                    tokio::time::sleep(delay).await;
                    if *behaviour == Behaviour::IntermediateAfterData {
                        rcpt_to.clear();
                        "354 send more\r\n".into()
                    } else {
                        self.record(&mail_from, &mut rcpt_to, data, tls, &auth, client);
                        "250 2.0.0 queued as fake\r\n".into()
                    }
                }
            } else if upper.starts_with("BDAT") {
                let size: usize = upper.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
                let mut data = vec![0; size];
                stream.read_exact(&mut data).await?;
                self.record(&mail_from, &mut rcpt_to, data, tls, &auth, client);
                "250 2.0.0 queued as fake\r\n".into()
            } else if upper == "RSET" || upper == "NOOP" {
                if upper == "RSET" {
                    self.log.lock().unwrap().resets += 1;
                }
                rcpt_to.clear();
                "250 2.0.0 ok\r\n".into()
            } else if upper == "QUIT" {
                stream.get_mut().write_all(b"221 2.0.0 bye\r\n").await?;
                return Ok(Next::Close);
            } else {
                "502 5.5.2 not implemented\r\n".into()
            };
            stream.get_mut().write_all(reply.as_bytes()).await?;
        }
    }

    fn record(
        &self,
        mail_from: &str,
        rcpt_to: &mut Vec<String>,
        data: Vec<u8>,
        tls: bool,
        auth: &Option<String>,
        client: &Client,
    ) {
        self.log.lock().unwrap().received.push(Received {
            mail_from: mail_from.to_owned(),
            rcpt_to: std::mem::take(rcpt_to),
            data,
            tls,
            auth: auth.clone(),
            peer: client.peer,
            helo: client.helo.clone(),
        });
    }
}

/// A port free on every address in `hosts` (they all listen on the one
/// port outbound tests set as `outbound.smtp_port`).
pub async fn common_port(hosts: &[std::net::IpAddr]) -> u16 {
    'search: for _ in 0..100 {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = probe.local_addr().unwrap().port();
        drop(probe);
        for ip in hosts {
            if std::net::TcpListener::bind((*ip, port)).is_err() {
                continue 'search;
            }
        }
        return port;
    }
    panic!("no port free on all of {hosts:?}");
}

/// Queues `count` one-line messages from the null sender, to
/// `r0@domain`, `r1@domain`, ... (one recipient each), for outbound tests
/// that count who got what.
pub async fn queue_numbered(store: &dyn estafeta_store::Store, count: usize, domain: &str) {
    for i in 0..count {
        let entry = estafeta_store::NewQueuedMessage {
            sender: String::new(),
            recipients: vec![estafeta_store::QueueRecipient {
                address: format!("r{i}@{domain}"),
                ..Default::default()
            }],
            envid: None,
            ret: None,
        };
        store
            .queue_insert(format!("Subject: {i}\r\n\r\nx\r\n").as_bytes(), &entry)
            .await
            .expect("queue a test message");
    }
}
