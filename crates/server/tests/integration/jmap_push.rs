//! JMAP push (RFC 8620 7.3) over a real socket: the event source says
//! `state` when mail arrives or a flag changes through any protocol, ends
//! after one when asked, and does not hold up a graceful stop.

use crate::jmap::{Jmap, calls};
use base64::Engine;
use estafeta_core::config::Service;
use estafeta_testkit::imap::ImapProbe;
use estafeta_testkit::smtp::smtp_deliver;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// An open event stream: what has arrived so far.
struct Events {
    stream: TcpStream,
    seen: String,
}

impl Events {
    async fn open(jmap: &Jmap, query: &str) -> Events {
        let mut stream = TcpStream::connect(jmap.server.addr(Service::Http)).await.unwrap();
        let login = base64::engine::general_purpose::STANDARD.encode("ann@example.com:ann's password");
        let request = format!(
            "GET /jmap/eventsource/?{query} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Basic {login}\r\nAccept: text/event-stream\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut events = Events {
            stream,
            seen: String::new(),
        };
        events.until("\r\n\r\n").await;
        assert!(events.seen.starts_with("HTTP/1.1 200"), "{}", events.seen);
        assert!(
            events
                .seen
                .to_ascii_lowercase()
                .contains("content-type: text/event-stream"),
            "{}",
            events.seen
        );
        events.seen.clear();
        events
    }

    /// Reads until `wanted` has come (panics after ten seconds); true
    /// unless the server closed the stream first.
    async fn until(&mut self, wanted: &str) -> bool {
        let read = tokio::time::timeout(Duration::from_secs(10), async {
            let mut buffer = [0u8; 4096];
            while !self.seen.contains(wanted) {
                let n = self.stream.read(&mut buffer).await.unwrap_or(0);
                if n == 0 {
                    return false;
                }
                self.seen.push_str(&String::from_utf8_lossy(&buffer[..n]));
            }
            true
        })
        .await;
        read.unwrap_or_else(|_| panic!("no {wanted:?} in {:?}", self.seen))
    }

    /// Whether the response has ended: its last chunk (RFC 9112 7.1) or
    /// the connection closed.
    async fn ended(&mut self) -> bool {
        !self.until("\r\n0\r\n\r\n").await || self.seen.ends_with("\r\n0\r\n\r\n")
    }

    /// The data of the last `state` event so far.
    fn last_state(&self) -> Value {
        let data = self
            .seen
            .split("event: state\ndata: ")
            .last()
            .and_then(|rest| rest.split('\n').next())
            .unwrap();
        serde_json::from_str(data).unwrap()
    }
}

async fn email_state(jmap: &Jmap) -> Value {
    let response = jmap
        .api(calls(
            json!([["Email/get", {"accountId": jmap.account_id(), "ids": [], "properties": ["id"]}, "g"]]),
        ))
        .await;
    response["methodResponses"][0][1]["state"].clone()
}

#[tokio::test]
async fn a_state_event_comes_when_mail_arrives_or_imap_changes_a_flag() {
    let jmap = Jmap::start().await;
    let id = jmap.account_id();
    let mut events = Events::open(&jmap, "types=*&closeafter=no&ping=0").await;

    smtp_deliver(
        &jmap.server,
        "carla@remote.test",
        "ann@example.com",
        "Subject: hi\r\n\r\nhello\r\n",
    )
    .await;
    events.until("event: state").await;
    let change = events.last_state();
    assert_eq!(change["@type"], "StateChange");
    let states = &change["changed"][&id];
    assert_eq!(states["Email"], email_state(&jmap).await, "{change}");
    assert!(states["Mailbox"].is_string(), "counts moved: {change}");

    // A flag set over IMAP: a new Email state.
    events.seen.clear();
    let mut imap = ImapProbe::login(&jmap.server, "ann@example.com", "ann's password").await;
    let listed = imap.command("STATUS INBOX (MESSAGES)").await;
    let mailbox = if listed[0].contains("MESSAGES 1") {
        "INBOX"
    } else {
        "Updates"
    };
    imap.command(&format!("SELECT {mailbox}")).await;
    imap.command("STORE 1:* +FLAGS (\\Flagged)").await;
    events.until("event: state").await;
    assert_eq!(events.last_state()["changed"][&id]["Email"], email_state(&jmap).await);

    // Only the types asked for.
    let mut mailboxes_only = Events::open(&jmap, "types=Mailbox&closeafter=no&ping=0").await;
    imap.command("CREATE Projects").await;
    mailboxes_only.until("event: state").await;
    let states = &mailboxes_only.last_state()["changed"][&id];
    assert!(
        states["Mailbox"].is_string() && states.get("Email").is_none(),
        "{states}"
    );
}

#[tokio::test]
async fn pings_come_at_the_interval_asked_or_the_servers_least() {
    let jmap = Jmap::start().await;
    let mut events = Events::open(&jmap, "types=*&closeafter=no&ping=1").await;
    events.until("event: ping").await;
    let data = events
        .seen
        .split("event: ping\ndata: ")
        .nth(1)
        .unwrap()
        .split('\n')
        .next()
        .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(data).unwrap(),
        json!({"interval": 5}),
        "raised to 5 seconds"
    );
}

#[tokio::test]
async fn closeafter_state_ends_the_stream_and_a_stop_ends_every_stream() {
    let jmap = Jmap::start().await;
    let mut once = Events::open(&jmap, "types=*&closeafter=state&ping=0").await;
    let mut open = Events::open(&jmap, "types=*&closeafter=no&ping=0").await;
    smtp_deliver(
        &jmap.server,
        "carla@remote.test",
        "ann@example.com",
        "Subject: hi\r\n\r\nhello\r\n",
    )
    .await;
    assert!(once.until("event: state").await);
    assert!(once.ended().await, "the stream ends after its state event");
    assert!(open.until("event: state").await);

    let refused = jmap
        .send(
            "GET",
            "/jmap/eventsource/?types=*&closeafter=sometimes&ping=0",
            Some("ann@example.com:ann's password"),
            "",
        )
        .await;
    assert_eq!(refused.status, 400);
    let anonymous = jmap.send("GET", "/jmap/eventsource/?types=*", None, "").await;
    assert_eq!(anonymous.status, 401);

    // The open stream does not keep the server from stopping.
    let Jmap { server, .. } = jmap;
    assert!(
        server.stop(Duration::from_secs(5)).await,
        "stopped within the grace time"
    );
    assert!(open.ended().await);
}
