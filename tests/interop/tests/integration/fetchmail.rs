//! fetchmail retrieving over IMAP with TLS: every message arrives whole,
//! and with `keep` stays on the server, marked \Seen.

use estafeta_core::config::Service;
use estafeta_core::model::{Flags, SystemFlags};
use estafeta_interop::fetchmail::{Poll, fetch};
use estafeta_interop::require;
use estafeta_store::DeliveryTarget;
use estafeta_testkit::TestServer;

const USER: &str = "alice@example.test";

#[tokio::test]
async fn fetchmail_over_imaps_keeps_and_marks_seen() {
    if !require("fetchmail") {
        return;
    }
    let server = TestServer::start().await;
    let account = server.add_account(USER, "correct horse").await;
    let store = server.store();
    let inbox = store.mailbox_get(account.id, "INBOX").await.unwrap().unwrap();
    for i in 0..3 {
        let message =
            format!("From: a@remote.test\r\nTo: {USER}\r\nSubject: fetch me {i}\r\n\r\nline one\r\n.dot line {i}\r\n");
        let target = DeliveryTarget {
            mailbox: inbox.id,
            flags: Flags::default(),
        };
        store
            .deliver(message.as_bytes(), 1_764_000_000, &[target])
            .await
            .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let mbox = dir.path().join("out.mbox");
    fetch(
        dir.path(),
        &mbox,
        Poll {
            port: server.addr(Service::Imaps).port(),
            protocol: "IMAP",
            user: USER,
            password: "correct horse",
            options: "ssl no sslcertck keep fetchall",
        },
    )
    .await;
    let fetched = std::fs::read_to_string(&mbox).unwrap();
    for i in 0..3 {
        assert!(fetched.contains(&format!("Subject: fetch me {i}")), "{fetched}");
        assert!(fetched.contains(&format!(".dot line {i}")), "{fetched}");
    }
    let messages = store.messages(inbox.id).await.unwrap();
    assert_eq!(messages.len(), 3, "keep leaves them on the server");
    assert!(messages.iter().all(|m| m.flags.system.contains(SystemFlags::SEEN)));
}
