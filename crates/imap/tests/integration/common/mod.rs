//! A small IMAP client for tests: tagged commands over a real socket,
//! responses read whole (literals included), STARTTLS and implicit TLS.
#![allow(dead_code)]

use estafeta_core::config::Service;
use estafeta_testkit::{Stream, TestServer};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

pub const USER: &str = "alice@example.test";
pub const PASSWORD: &str = "correct horse battery";

/// The server with one account, the usual start of a test.
pub async fn server() -> TestServer {
    let server = TestServer::start().await;
    server.add_account(USER, PASSWORD).await;
    server
}

#[derive(Debug)]
pub struct Response {
    /// Untagged and continuation lines, literals inlined, CRLF removed.
    pub untagged: Vec<String>,
    pub tagged: String,
}

impl Response {
    #[track_caller]
    pub fn ok(&self) -> &Response {
        assert!(self.tagged.starts_with("OK"), "expected OK: {self:#?}");
        self
    }

    #[track_caller]
    pub fn no(&self) -> &Response {
        assert!(self.tagged.starts_with("NO"), "expected NO: {self:#?}");
        self
    }

    #[track_caller]
    pub fn bad(&self) -> &Response {
        assert!(self.tagged.starts_with("BAD"), "expected BAD: {self:#?}");
        self
    }

    /// Untagged lines starting with `prefix` (after `* `).
    pub fn lines(&self, prefix: &str) -> Vec<&str> {
        self.untagged
            .iter()
            .filter_map(|l| l.strip_prefix("* "))
            .filter(|l| l.starts_with(prefix))
            .collect()
    }

    pub fn has(&self, text: &str) -> bool {
        self.untagged.iter().any(|l| l.contains(text))
    }
}

/// The protocol a session speaks: tests of behaviour both versions share
/// run once in each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    Rev1,
    Rev2,
}

pub const VERSIONS: [Version; 2] = [Version::Rev1, Version::Rev2];

pub struct Imap {
    reader: BufReader<Stream>,
    next_tag: u32,
    pub greeting: String,
}

impl Imap {
    pub async fn connect(server: &TestServer, service: Service) -> Imap {
        let stream = Stream::connect(server, service).await;
        let mut imap = Imap {
            reader: BufReader::new(stream),
            next_tag: 1,
            greeting: String::new(),
        };
        imap.greeting = imap.read_line().await.expect("greeting");
        imap
    }

    /// Logged in as the test user over implicit TLS.
    pub async fn login(server: &TestServer) -> Imap {
        let mut imap = Imap::connect(server, Service::Imaps).await;
        imap.ok(&format!("LOGIN {USER} \"{PASSWORD}\"")).await;
        imap
    }

    /// Logged in and speaking `version`: IMAP4rev2 is ENABLEd (RFC 9051
    /// 6.3.1); IMAP4rev1 is what a session speaks until then.
    pub async fn login_as(server: &TestServer, version: Version) -> Imap {
        let mut imap = Imap::login(server).await;
        if version == Version::Rev2 {
            let enabled = imap.ok("ENABLE IMAP4rev2").await;
            assert!(enabled.has("* ENABLED IMAP4rev2"), "{enabled:?}");
        }
        imap
    }

    /// The same, with INBOX selected.
    pub async fn inbox_as(server: &TestServer, version: Version) -> Imap {
        let mut imap = Imap::login_as(server, version).await;
        imap.ok("SELECT INBOX").await;
        imap
    }

    /// Logged in with INBOX selected.
    pub async fn inbox(server: &TestServer) -> Imap {
        let mut imap = Imap::login(server).await;
        imap.ok("SELECT INBOX").await;
        imap
    }

    pub async fn starttls(&mut self, server: &TestServer) {
        self.ok("STARTTLS").await;
        let placeholder = BufReader::new(Stream::Plain(
            TcpStream::connect(server.addr(Service::Imap)).await.unwrap(),
        ));
        let stream = std::mem::replace(&mut self.reader, placeholder).into_inner();
        self.reader = BufReader::new(stream.upgrade(server).await);
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        let stream = self.reader.get_mut();
        stream.write_all(bytes).await.unwrap();
        stream.flush().await.unwrap();
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

    /// One response line with any literals it announces read in.
    pub async fn read_line(&mut self) -> Option<String> {
        let mut whole = Vec::new();
        loop {
            let mut line = Vec::new();
            let n = tokio::time::timeout(Duration::from_secs(20), self.reader.read_until(b'\n', &mut line))
                .await
                .expect("response timed out")
                .ok()?;
            if n == 0 {
                return None;
            }
            assert!(
                line.ends_with(b"\r\n"),
                "line without CRLF: {:?}",
                String::from_utf8_lossy(&line)
            );
            line.truncate(line.len() - 2);
            let literal = literal_size(&line);
            whole.extend_from_slice(&line);
            let Some(size) = literal else {
                return Some(String::from_utf8_lossy(&whole).into_owned());
            };
            whole.extend_from_slice(b"\r\n");
            let mut data = vec![0; size];
            self.reader.read_exact(&mut data).await.unwrap();
            whole.extend_from_slice(&data);
        }
    }

    pub fn tag(&mut self) -> String {
        let tag = format!("T{}", self.next_tag);
        self.next_tag += 1;
        tag
    }

    /// Reads until the tagged response for `tag`.
    pub async fn finish(&mut self, tag: &str) -> Response {
        let mut untagged = Vec::new();
        loop {
            let line = self
                .read_line()
                .await
                .expect("connection closed before the tagged response");
            if let Some(rest) = line.strip_prefix(&format!("{tag} ")) {
                return Response {
                    untagged,
                    tagged: rest.to_owned(),
                };
            }
            untagged.push(line);
        }
    }

    pub async fn command(&mut self, command: &str) -> Response {
        let tag = self.tag();
        self.send_raw(format!("{tag} {command}\r\n").as_bytes()).await;
        self.finish(&tag).await
    }

    pub async fn ok(&mut self, command: &str) -> Response {
        let response = self.command(command).await;
        assert!(response.tagged.starts_with("OK"), "{command}: {response:#?}");
        response
    }

    /// APPEND with a synchronising literal, waiting for the `+`.
    pub async fn append(&mut self, mailbox: &str, flags: &str, message: &[u8]) -> Response {
        let tag = self.tag();
        self.send_raw(format!("{tag} APPEND {mailbox} {flags} {{{}}}\r\n", message.len()).as_bytes())
            .await;
        let go = self.read_line().await.unwrap();
        assert!(go.starts_with("+ "), "no continuation: {go}");
        self.send_raw(message).await;
        self.send_raw(b"\r\n").await;
        self.finish(&tag).await
    }

    /// The socket itself, for a test that speaks past this client
    /// (COMPRESS); nothing may be buffered.
    pub fn into_stream(self) -> Stream {
        assert!(self.reader.buffer().is_empty());
        self.reader.into_inner()
    }

    /// True once the server has closed the connection.
    pub async fn closed(&mut self) -> bool {
        let mut rest = Vec::new();
        matches!(
            tokio::time::timeout(Duration::from_secs(20), self.reader.read_to_end(&mut rest)).await,
            Ok(Ok(_)) | Ok(Err(_))
        )
    }
}

fn literal_size(line: &[u8]) -> Option<usize> {
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|&b| b == b'{')?;
    std::str::from_utf8(&inner[open + 1..]).ok()?.parse().ok()
}

pub fn message(subject: &str, body: &str) -> String {
    format!(
        "From: Bob <bob@remote.test>\r\nTo: alice@example.test\r\nSubject: {subject}\r\n\
Message-ID: <{}@remote.test>\r\nDate: Thu, 26 Nov 2026 05:00:00 +0000\r\n\r\n{body}\r\n",
        subject.replace(' ', "-")
    )
}

pub use estafeta_testkit::smtp::smtp;

/// Delivers through the store, as SMTP would, into the user's INBOX.
pub async fn deliver(server: &TestServer, message: &str) -> u32 {
    deliver_into(&*server.store(), message).await
}

pub async fn deliver_into(store: &dyn estafeta_store::Store, message: &str) -> u32 {
    let account = store.account_get(USER).await.unwrap().unwrap();
    let inbox = store.mailbox_get(account.id, "INBOX").await.unwrap().unwrap();
    let target = estafeta_store::DeliveryTarget {
        mailbox: inbox.id,
        flags: Default::default(),
    };
    store
        .deliver(message.as_bytes(), 1_764_133_200, &[target])
        .await
        .unwrap()[0]
        .uid
}
