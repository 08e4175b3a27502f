//! `estafeta queue` and `estafeta dkim` against a store on disk.

use crate::common::*;
use estafeta_store::sqlite::SqliteStore;
use estafeta_store::{NewQueuedMessage, QueueRecipient, Store};

async fn queue_one(dir: &std::path::Path, sender: &str) -> i64 {
    let store = SqliteStore::open(dir).await.unwrap();
    let entry = NewQueuedMessage {
        sender: sender.into(),
        recipients: vec![QueueRecipient {
            address: "bob@remote.test".into(),
            ..Default::default()
        }],
        envid: None,
        ret: None,
    };
    let id = store
        .queue_insert(b"From: alice@example.com\r\nSubject: stuck\r\n\r\nhi\r\n", &entry)
        .await
        .unwrap();
    store.shutdown();
    id.0
}

#[tokio::test]
async fn queue_list_show_retry_and_remove_with_a_bounce() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run_in(d, &["domain", "add", "example.com"], None).ok();
    run_in(
        d,
        &["account", "add", "alice@example.com", "--password-stdin"],
        Some("pw\n"),
    )
    .ok();
    let id = queue_one(d, "alice@example.com").await;
    let listed = run_in(d, &["queue", "list"], None).ok().to_owned();
    assert!(listed.starts_with(&format!("{id}\t")), "{listed}");
    assert!(
        listed.contains("1 of 1 pending") && listed.contains("from alice@example.com"),
        "{listed}"
    );
    assert!(listed.ends_with("1 queued\n"), "{listed}");
    let shown = run_in(d, &["queue", "show", &id.to_string()], None).ok().to_owned();
    assert!(shown.contains("to: bob@remote.test [pending] attempts 0"), "{shown}");
    run_in(d, &["queue", "show", "999"], None).refused("no queued message 999");
    assert_eq!(
        run_in(d, &["queue", "retry", &id.to_string()], None).ok(),
        "1 due now\n"
    );
    run_in(d, &["queue", "retry"], None).refused("--all");
    run_in(d, &["queue", "retry", "--all"], None).ok();
    assert_eq!(
        run_in(d, &["queue", "remove", &id.to_string(), "--bounce"], None).ok(),
        format!("removed {id} and told the sender\n")
    );
    assert_eq!(run_in(d, &["queue", "list"], None).ok(), "0 queued\n");
    // The bounce reached alice's INBOX.
    let store = SqliteStore::open(d).await.unwrap();
    let alice = store.account_get("alice@example.com").await.unwrap().unwrap();
    let inbox = store.mailbox_get(alice.id, "INBOX").await.unwrap().unwrap();
    let messages = store.messages(inbox.id).await.unwrap();
    assert_eq!(messages.len(), 1);
    let dsn = String::from_utf8(store.message_content(&messages[0].blob).await.unwrap()).unwrap();
    assert!(
        dsn.contains("Action: failed") && dsn.contains("Final-Recipient: rfc822; bob@remote.test"),
        "{dsn}"
    );
    assert!(dsn.contains("removed from the queue by the administrator"), "{dsn}");
    run_in(d, &["queue", "remove", &id.to_string()], None).refused("no queued message");
}

#[test]
fn dkim_generate_show_and_list() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run_in(d, &["dkim", "generate", "example.com"], None).refused("not one of our domains");
    run_in(d, &["domain", "add", "example.com"], None).ok();
    let generated = run_in(
        d,
        &[
            "dkim",
            "generate",
            "example.com",
            "--algorithm",
            "ed25519",
            "--selector",
            "s1",
        ],
        None,
    )
    .ok()
    .to_owned();
    let record = generated.lines().last().unwrap().to_owned();
    assert!(
        record.starts_with("s1._domainkey.example.com. IN TXT \"v=DKIM1; k=ed25519; p="),
        "{generated}"
    );
    assert_eq!(
        run_in(d, &["dkim", "show", "example.com"], None).ok(),
        format!("{record}\n")
    );
    let rsa = run_in(d, &["dkim", "generate", "example.com"], None).ok().to_owned();
    assert!(rsa.contains("k=rsa; p=MII"), "RSA by default, a DER public key: {rsa}");
    let listed = run_in(d, &["dkim", "list"], None).ok().to_owned();
    assert!(
        listed.starts_with("example.com\te") && listed.contains("\trsa\t"),
        "{listed}"
    );
    run_in(d, &["dkim", "show", "other.test"], None).refused("has no DKIM key");
    let bad = run_in(d, &["dkim", "generate", "example.com", "--algorithm", "dsa"], None);
    assert!(
        bad.code != 0 && bad.stderr.contains("invalid value 'dsa'"),
        "{}",
        bad.stderr
    );
}
