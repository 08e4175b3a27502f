//! Just enough IMAP to watch a mailbox from another protocol's tests
//! (POP3, interop): log in over implicit TLS, send a command, get its
//! lines up to the tagged one. The IMAP crate has its own full client.

use crate::{Stream, TestServer};
use estafeta_core::config::Service;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

pub struct ImapProbe {
    reader: BufReader<Stream>,
    tags: u32,
    idling: Option<String>,
}

impl ImapProbe {
    pub async fn login(server: &TestServer, user: &str, password: &str) -> ImapProbe {
        let mut imap = ImapProbe {
            reader: BufReader::new(Stream::connect(server, Service::Imaps).await),
            tags: 0,
            idling: None,
        };
        imap.line().await;
        imap.command(&format!("LOGIN \"{user}\" \"{password}\"")).await;
        imap
    }

    async fn line(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).await.expect("IMAP line");
        assert!(!line.is_empty(), "the IMAP server closed the connection");
        line.trim_end().to_owned()
    }

    fn next_tag(&mut self) -> String {
        self.tags += 1;
        format!("p{}", self.tags)
    }

    /// Lines up to and including the tagged reply, which must be OK.
    async fn finish(&mut self, tag: &str, what: &str) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let line = self.line().await;
            let done = line.starts_with(&format!("{tag} "));
            lines.push(line);
            if done {
                assert!(
                    lines.last().unwrap().starts_with(&format!("{tag} OK")),
                    "{what}: {lines:?}"
                );
                return lines;
            }
        }
    }

    /// Sends `command` under a fresh tag; its lines, ending OK.
    pub async fn command(&mut self, command: &str) -> Vec<String> {
        let tag = self.next_tag();
        self.reader
            .get_mut()
            .write_all(format!("{tag} {command}\r\n").as_bytes())
            .await
            .unwrap();
        self.finish(&tag, command).await
    }

    /// APPEND with a non-synchronising literal (RFC 7888).
    pub async fn append(&mut self, mailbox: &str, message: &[u8]) -> Vec<String> {
        let tag = self.next_tag();
        let stream = self.reader.get_mut();
        let head = format!("{tag} APPEND {mailbox} {{{}+}}\r\n", message.len());
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(message).await.unwrap();
        stream.write_all(b"\r\n").await.unwrap();
        self.finish(&tag, "APPEND").await
    }

    /// Enters IDLE (RFC 2177) and waits for the continuation.
    pub async fn idle(&mut self) {
        let tag = self.next_tag();
        let stream = self.reader.get_mut();
        stream.write_all(format!("{tag} IDLE\r\n").as_bytes()).await.unwrap();
        let line = self.line().await;
        assert!(line.starts_with('+'), "IDLE: {line}");
        self.idling = Some(tag);
    }

    /// The untagged lines IDLE brings until one holds `wanted`; panics if
    /// none does within ten seconds.
    pub async fn idle_until(&mut self, wanted: &str) -> Vec<String> {
        let mut lines = Vec::new();
        let waited = tokio::time::timeout(std::time::Duration::from_secs(10), async {
            loop {
                let line = self.line().await;
                let found = line.contains(wanted);
                lines.push(line);
                if found {
                    return;
                }
            }
        })
        .await;
        assert!(waited.is_ok(), "no {wanted:?} while idling, only {lines:?}");
        lines
    }

    /// Ends IDLE: DONE and the tagged OK.
    pub async fn done(&mut self) -> Vec<String> {
        let tag = self.idling.take().expect("DONE without IDLE");
        self.reader.get_mut().write_all(b"DONE\r\n").await.unwrap();
        self.finish(&tag, "IDLE").await
    }
}
