//! A small SMTP client for tests: raw lines over a real socket, replies
//! parsed into code and text, STARTTLS and implicit TLS.
#![allow(dead_code)]

pub mod world;

use estafeta_core::config::Service;
use estafeta_testkit::{Stream, TestServer};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub lines: Vec<String>,
}

impl Reply {
    /// All lines' text after the code, joined with newlines.
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }

    /// Asserts code and enhanced status (RFC 2034), returns self.
    #[track_caller]
    pub fn expect(&self, code: u16, status: &str) -> &Reply {
        assert_eq!(self.code, code, "reply: {self:?}");
        if !status.is_empty() {
            assert!(
                self.lines.iter().all(|l| l.starts_with(status)),
                "status {status} expected: {self:?}"
            );
        }
        self
    }
}

pub struct Client {
    reader: BufReader<Stream>,
}

impl Client {
    pub async fn connect(server: &TestServer, service: Service) -> (Client, Reply) {
        let stream = Stream::connect(server, service).await;
        let mut client = Client {
            reader: BufReader::new(stream),
        };
        let greeting = client.read_reply().await;
        (client, greeting)
    }

    /// Connected to the plain SMTP port from `source` (another loopback
    /// address: 127.0.0.2 is the address every DNS blocklist lists).
    pub async fn from_address(server: &TestServer, source: std::net::IpAddr) -> Client {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(std::net::SocketAddr::new(source, 0)).unwrap();
        let tcp = socket.connect(server.addr(Service::Smtp)).await.unwrap();
        let mut client = Client {
            reader: BufReader::new(Stream::Plain(tcp)),
        };
        client.read_reply().await.expect(220, "");
        client.cmd("EHLO client.test").await.expect(250, "");
        client
    }

    /// Connected and greeted with EHLO.
    pub async fn ready(server: &TestServer, service: Service) -> Client {
        let (mut client, greeting) = Client::connect(server, service).await;
        greeting.expect(220, "");
        client.cmd("EHLO client.test").await.expect(250, "");
        client
    }

    pub async fn send(&mut self, line: &str) {
        self.send_raw(format!("{line}\r\n").as_bytes()).await;
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.reader.get_mut().write_all(bytes).await.unwrap();
        self.reader.get_mut().flush().await.unwrap();
    }

    /// Writes `bytes` one at a time, `gap` apart, until the server stops
    /// taking them (a slow-drip client).
    pub async fn drip(&mut self, bytes: &[u8], gap: Duration) {
        for byte in bytes {
            let stream = self.reader.get_mut();
            if stream.write_all(&[*byte]).await.is_err() || stream.flush().await.is_err() {
                return;
            }
            tokio::time::sleep(gap).await;
        }
    }

    pub async fn read_reply(&mut self) -> Reply {
        self.try_read_reply().await.expect("connection closed before a reply")
    }

    /// None when the server closed the connection.
    pub async fn try_read_reply(&mut self) -> Option<Reply> {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let n = tokio::time::timeout(Duration::from_secs(20), self.reader.read_line(&mut line))
                .await
                .expect("reply timed out")
                .ok()?;
            if n == 0 {
                return None;
            }
            assert!(line.ends_with("\r\n"), "reply line without CRLF: {line:?}");
            let code: u16 = line[..3].parse().unwrap_or_else(|_| panic!("bad reply line {line:?}"));
            let last = line.as_bytes()[3] == b' ';
            lines.push(line[4..].trim_end().to_owned());
            if last {
                return Some(Reply { code, lines });
            }
        }
    }

    pub async fn cmd(&mut self, line: &str) -> Reply {
        self.send(line).await;
        self.read_reply().await
    }

    pub async fn starttls(&mut self, server: &TestServer) {
        self.cmd("STARTTLS").await.expect(220, "2.0.0");
        self.upgrade(server).await;
    }

    pub async fn upgrade(&mut self, server: &TestServer) {
        let placeholder = BufReader::new(Stream::Plain(
            TcpStream::connect(server.addr(Service::Smtp)).await.unwrap(),
        ));
        let stream = std::mem::replace(&mut self.reader, placeholder).into_inner();
        self.reader = BufReader::new(stream.upgrade(server).await);
    }

    /// Sends a whole message with DATA (dot-stuffing it) and returns the
    /// final reply.
    pub async fn data(&mut self, message: &str) -> Reply {
        self.cmd("DATA").await.expect(354, "");
        let mut stuffed = String::new();
        for line in message.split_inclusive("\r\n") {
            if line.starts_with('.') {
                stuffed.push('.');
            }
            stuffed.push_str(line);
        }
        if !stuffed.ends_with("\r\n") && !stuffed.is_empty() {
            stuffed.push_str("\r\n");
        }
        stuffed.push_str(".\r\n");
        self.send_raw(stuffed.as_bytes()).await;
        self.read_reply().await
    }

    /// True once the server has closed the connection.
    pub async fn closed(&mut self) -> bool {
        let mut rest = String::new();
        matches!(
            tokio::time::timeout(Duration::from_secs(20), self.reader.read_line(&mut rest)).await,
            Ok(Ok(0)) | Ok(Err(_))
        )
    }
}

/// Local messages of an account's INBOX, as text.
pub async fn inbox(server: &TestServer, address: &str) -> Vec<String> {
    mailbox(server, address, "INBOX").await
}

/// Local messages of one of an account's mailboxes, as text.
pub async fn mailbox(server: &TestServer, address: &str, name: &str) -> Vec<String> {
    let store = server.store();
    let account = store.account_get(address).await.unwrap().expect("account");
    let inbox = store.mailbox_get(account.id, name).await.unwrap().unwrap();
    let mut out = Vec::new();
    for message in store.messages(inbox.id).await.unwrap() {
        out.push(String::from_utf8(store.message_content(&message.blob).await.unwrap()).unwrap());
    }
    out
}

pub fn message(subject: &str) -> String {
    format!(
        "From: sender@remote.test\r\nTo: alice@example.com\r\nSubject: {subject}\r\nMessage-ID: <{subject}@remote.test>\r\nDate: Thu, 26 Nov 2026 05:00:00 +0000\r\n\r\nHello.\r\n"
    )
}

/// STARTTLS, EHLO and AUTH PLAIN on the submission port.
pub async fn submission_login(server: &TestServer, user: &str, password: &str) -> Client {
    use base64::Engine;
    let mut client = Client::ready(server, Service::Submission).await;
    client.starttls(server).await;
    client.cmd("EHLO client.test").await.expect(250, "");
    let token = base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{password}"));
    client.cmd(&format!("AUTH PLAIN {token}")).await.expect(235, "2.7.0");
    client
}
