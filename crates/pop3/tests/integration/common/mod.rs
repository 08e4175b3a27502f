//! A small POP3 client for tests: status lines and multi-line responses
//! over a real socket (plain, STLS or implicit TLS), with the dot-stuffing
//! undone as a client would.
#![allow(dead_code)]

use estafeta_core::config::Service;
use estafeta_store::{DeliveryTarget, Store};
use estafeta_testkit::{Stream, TestServer};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

pub const USER: &str = "alice@example.test";
pub const PASSWORD: &str = "correct horse battery";

pub async fn server() -> TestServer {
    server_with(|_| {}).await
}

pub async fn server_with(adjust: impl FnOnce(&mut estafeta_core::Config)) -> TestServer {
    let server = TestServer::start_with(adjust).await;
    server.add_account(USER, PASSWORD).await;
    server
}

/// A message of `subject`, CRLF throughout.
pub fn message(subject: &str, body: &str) -> Vec<u8> {
    format!("From: bob@example.test\r\nTo: {USER}\r\nSubject: {subject}\r\n\r\n{body}\r\n").into_bytes()
}

/// Stores `data` in the mailbox of `role` as a delivery would; its UID.
pub async fn deliver_to(server: &TestServer, role: estafeta_core::model::MailboxRole, data: &[u8], date: i64) -> u32 {
    let store = server.store();
    let account = store.account_get(USER).await.unwrap().unwrap();
    let mailbox = store.mailbox_by_role(account.id, role).await.unwrap().unwrap();
    let target = DeliveryTarget {
        mailbox: mailbox.id,
        flags: Default::default(),
    };
    store.deliver(data, date, &[target]).await.unwrap()[0].uid
}

pub async fn deliver(server: &TestServer, data: &[u8]) -> u32 {
    use std::sync::atomic::{AtomicI64, Ordering};
    static DATE: AtomicI64 = AtomicI64::new(1_764_133_200);
    let date = DATE.fetch_add(1, Ordering::Relaxed);
    deliver_to(server, estafeta_core::model::MailboxRole::Inbox, data, date).await
}

pub async fn inbox_uids(store: &dyn Store) -> Vec<(u32, bool)> {
    let account = store.account_get(USER).await.unwrap().unwrap();
    let inbox = store.mailbox_get(account.id, "INBOX").await.unwrap().unwrap();
    store
        .messages(inbox.id)
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.uid, m.flags.system.contains(estafeta_core::model::SystemFlags::SEEN)))
        .collect()
}

pub struct Pop3 {
    reader: Option<BufReader<Stream>>,
    pub greeting: String,
}

impl Pop3 {
    pub async fn connect(server: &TestServer, service: Service) -> Pop3 {
        let stream = Stream::connect(server, service).await;
        let mut pop3 = Pop3 {
            reader: Some(BufReader::new(stream)),
            greeting: String::new(),
        };
        pop3.greeting = pop3.line().await.expect("greeting");
        pop3
    }

    /// Over implicit TLS, logged in with USER/PASS.
    pub async fn login(server: &TestServer) -> Pop3 {
        let mut pop3 = Pop3::connect(server, Service::Pop3s).await;
        pop3.ok(&format!("USER {USER}")).await;
        pop3.ok(&format!("PASS {PASSWORD}")).await;
        pop3
    }

    /// The socket, to upgrade by hand.
    pub fn into_stream(mut self) -> Stream {
        self.reader.take().unwrap().into_inner()
    }

    pub fn from_stream(stream: Stream) -> Pop3 {
        Pop3 {
            reader: Some(BufReader::new(stream)),
            greeting: String::new(),
        }
    }

    fn reader(&mut self) -> &mut BufReader<Stream> {
        self.reader.as_mut().expect("connected")
    }

    /// STLS and the handshake.
    pub async fn stls(&mut self, server: &TestServer) {
        self.ok("STLS").await;
        let stream = self.reader.take().unwrap().into_inner();
        self.reader = Some(BufReader::new(stream.upgrade(server).await));
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        let stream = self.reader().get_mut();
        stream.write_all(bytes).await.unwrap();
        stream.flush().await.unwrap();
    }

    /// Writes `bytes` one at a time, `gap` apart, until the server stops
    /// taking them (a slow-drip client).
    pub async fn drip(&mut self, bytes: &[u8], gap: Duration) {
        for byte in bytes {
            let stream = self.reader().get_mut();
            if stream.write_all(&[*byte]).await.is_err() || stream.flush().await.is_err() {
                return;
            }
            tokio::time::sleep(gap).await;
        }
    }

    /// One line with its CRLF removed; None at end of stream.
    pub async fn line(&mut self) -> Option<String> {
        let bytes = self.raw_line().await?;
        Some(String::from_utf8_lossy(&bytes).trim_end_matches("\r\n").to_owned())
    }

    /// One line as sent, CRLF included.
    pub async fn raw_line(&mut self) -> Option<Vec<u8>> {
        let mut line = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(20), self.reader().read_until(b'\n', &mut line))
            .await
            .expect("POP3 server answers within 20 s");
        match read {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(line),
        }
    }

    /// Sends a command line and returns the status line.
    pub async fn command(&mut self, command: &str) -> String {
        self.send_raw(format!("{command}\r\n").as_bytes()).await;
        self.line().await.expect("a reply")
    }

    pub async fn ok(&mut self, command: &str) -> String {
        let reply = self.command(command).await;
        assert!(reply.starts_with("+OK"), "{command}: {reply}");
        reply
    }

    pub async fn err(&mut self, command: &str) -> String {
        let reply = self.command(command).await;
        assert!(reply.starts_with("-ERR"), "{command}: {reply}");
        reply
    }

    /// The body of a multi-line response, dot-stuffing undone, as bytes.
    pub async fn body(&mut self) -> Vec<u8> {
        let mut body = Vec::new();
        loop {
            let line = self.raw_line().await.expect("multi-line response ends with a dot line");
            assert!(line.ends_with(b"\r\n"), "every line ends in CRLF: {line:?}");
            if line == b".\r\n" {
                return body;
            }
            body.extend_from_slice(line.strip_prefix(b".").unwrap_or(&line));
        }
    }

    /// The lines of a multi-line response.
    pub async fn lines(&mut self) -> Vec<String> {
        String::from_utf8(self.body().await)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// A command with a multi-line answer: its lines.
    pub async fn multi(&mut self, command: &str) -> Vec<String> {
        self.ok(command).await;
        self.lines().await
    }

    /// True when the server closed the connection.
    pub async fn closed(&mut self) -> bool {
        let mut rest = Vec::new();
        matches!(
            tokio::time::timeout(Duration::from_secs(20), self.reader().read_to_end(&mut rest)).await,
            Ok(Ok(_)) | Ok(Err(_))
        )
    }

    /// Goes away without QUIT.
    pub fn drop_connection(self) {}
}
