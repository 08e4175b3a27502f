//! fetchmail downloading 200 messages over POP3 with STLS: first keeping
//! them (UIDL tells it what it has seen), then deleting them; an IMAP
//! session on the same mailbox watches both.

use estafeta_core::config::Service;
use estafeta_interop::fetchmail::{Poll, fetch};
use estafeta_interop::require;
use estafeta_store::DeliveryTarget;
use estafeta_testkit::TestServer;
use estafeta_testkit::imap::ImapProbe;
use std::path::Path;

const USER: &str = "alice@example.test";
const PASSWORD: &str = "correct horse";
const COUNT: usize = 200;

async fn fetchmail(server: &TestServer, dir: &Path, mbox: &Path, keep: bool) -> String {
    let options = if keep {
        "sslproto 'tls1.2+' no sslcertck keep fetchall"
    } else {
        "sslproto 'tls1.2+' no sslcertck nokeep fetchall"
    };
    let poll = Poll {
        port: server.addr(Service::Pop3).port(),
        protocol: "POP3 uidl",
        user: USER,
        password: PASSWORD,
        options,
    };
    fetch(dir, mbox, poll).await
}

fn subjects(mbox: &Path) -> Vec<String> {
    std::fs::read_to_string(mbox)
        .unwrap()
        .lines()
        .filter_map(|line| line.strip_prefix("Subject: "))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn fetchmail_over_stls_keeps_then_deletes_200_messages() {
    if !require("fetchmail") {
        return;
    }
    let server = TestServer::start().await;
    let account = server.add_account(USER, PASSWORD).await;
    let store = server.store();
    let inbox = store.mailbox_get(account.id, "INBOX").await.unwrap().unwrap();
    for i in 0..COUNT {
        let message = format!(
            "From: a@remote.test\r\nTo: {USER}\r\nSubject: pop {i}\r\n\r\nline one\r\n.dot line {i}\r\n..two dots\r\n"
        );
        let target = DeliveryTarget {
            mailbox: inbox.id,
            flags: Default::default(),
        };
        store
            .deliver(message.as_bytes(), 1_764_000_000 + i as i64, &[target])
            .await
            .unwrap();
    }
    let mut imap = ImapProbe::login(&server, USER, PASSWORD).await;
    let selected = imap.command("SELECT INBOX").await;
    assert!(
        selected.iter().any(|l| l == &format!("* {COUNT} EXISTS")),
        "{selected:?}"
    );

    let dir = tempfile::tempdir().unwrap();
    let mbox = dir.path().join("out.mbox");
    let log = fetchmail(&server, dir.path(), &mbox, true).await;
    assert!(log.contains("STLS"), "fetchmail used STLS:\n{log}");
    let fetched = subjects(&mbox);
    assert_eq!(fetched.len(), COUNT, "{log}");
    for i in 0..COUNT {
        assert!(fetched.contains(&format!("pop {i}")), "pop {i} missing");
    }
    let content = std::fs::read_to_string(&mbox).unwrap();
    assert!(
        content.contains("\n.dot line 7\n") && content.contains("\n..two dots\n"),
        "dots kept exactly"
    );
    // Kept: all still there, and retrieved means \Seen for IMAP.
    let flags = imap.command("FETCH 1:* (FLAGS)").await;
    assert_eq!(
        flags.iter().filter(|l| l.contains("\\Seen")).count(),
        COUNT,
        "{flags:?}"
    );
    assert!(!flags.iter().any(|l| l.contains("EXPUNGE")));

    // Again, without keep: fetchmail's UIDL list says it has them all,
    // fetchall fetches them anyway, and this time deletes them.
    std::fs::remove_file(&mbox).unwrap();
    fetchmail(&server, dir.path(), &mbox, false).await;
    assert_eq!(subjects(&mbox).len(), COUNT);
    let noop = imap.command("NOOP").await;
    assert_eq!(
        noop.iter().filter(|l| l.ends_with(" EXPUNGE")).count(),
        COUNT,
        "{noop:?}"
    );
    assert!(store.messages(inbox.id).await.unwrap().is_empty());
}
