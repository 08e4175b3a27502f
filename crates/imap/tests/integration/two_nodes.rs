//! Two Estafeta nodes on one PostgreSQL: mail delivered over SMTP to node
//! A wakes an IMAP IDLE on node B (LISTEN/NOTIFY), and an expunge on A is
//! seen by B. Skipped (with a message) without ESTAFETA_TEST_POSTGRES.

use crate::common;

use crate::common::{Imap, PASSWORD, USER, message};
use estafeta_testkit::TestServer;

/// An IMAP session on `server`'s INBOX, idling, and the IDLE's tag.
async fn idling(server: &TestServer) -> (Imap, String) {
    let mut session = Imap::inbox(server).await;
    let tag = session.tag();
    session.send_raw(format!("{tag} IDLE\r\n").as_bytes()).await;
    assert_eq!(session.read_line().await.unwrap(), "+ idling");
    (session, tag)
}

#[tokio::test]
async fn a_delivery_on_one_node_wakes_idle_on_the_other() {
    let Some((_, a, b)) = TestServer::two_on_postgres().await else {
        return;
    };
    a.add_account(USER, PASSWORD).await;

    let (mut on_b, tag) = idling(&b).await;

    let body = message("across nodes", "hello from A");
    let replies = common::smtp(
        &a,
        &[
            "EHLO client.test".to_owned(),
            "MAIL FROM:<>".to_owned(),
            format!("RCPT TO:<{USER}>"),
            "DATA".to_owned(),
            format!("{body}."),
        ],
    )
    .await;
    assert!(replies.last().unwrap().starts_with("250"), "{replies:?}");
    assert_eq!(on_b.read_line().await.unwrap(), "* 1 EXISTS");
    // An IMAP4rev1 session: B is the first to hear of it (RFC 3501 2.3.2).
    assert_eq!(on_b.read_line().await.unwrap(), "* 1 RECENT");

    // An expunge on A reaches B's IDLE too.
    let mut on_a = Imap::inbox(&a).await;
    on_a.ok("STORE 1 +FLAGS (\\Deleted)").await;
    assert_eq!(
        on_b.read_line().await.unwrap(),
        "* 1 FETCH (FLAGS (\\Deleted \\Recent))"
    );
    on_a.ok("EXPUNGE").await;
    assert_eq!(on_b.read_line().await.unwrap(), "* 1 EXPUNGE");
    on_b.send_raw(b"DONE\r\n").await;
    on_b.finish(&tag).await.ok();

    // The same message, UIDs and flags from either node.
    common::deliver(&a, &message("second", "x")).await;
    // \Recent goes to one session across the nodes: the first to ask.
    assert_eq!(on_a.ok("NOOP").await.untagged, ["* 1 EXISTS", "* 1 RECENT"]);
    assert_eq!(on_b.ok("NOOP").await.untagged, ["* 1 EXISTS", "* 0 RECENT"]);
    let from_a = on_a
        .ok("UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        .await;
    let from_b = on_b
        .ok("UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        .await;
    let fetched = |r: &common::Response| {
        r.untagged
            .iter()
            .filter(|l| l.contains("FETCH"))
            .cloned()
            .collect::<Vec<_>>()
    };
    assert!(fetched(&from_a)[0].contains("FLAGS (\\Recent)"), "{from_a:?}");
    let without_recent =
        |r: &common::Response| -> Vec<String> { fetched(r).iter().map(|l| l.replace("\\Recent", "")).collect() };
    assert_eq!(without_recent(&from_a), fetched(&from_b));
    assert!(fetched(&from_a)[0].contains("UID 2"), "{from_a:?}");
}

#[tokio::test]
async fn a_node_whose_listener_was_cut_catches_up_when_it_reconnects() {
    let Some((url, a, b)) = TestServer::two_on_postgres().await else {
        return;
    };
    a.add_account(USER, PASSWORD).await;
    let (mut on_b, tag) = idling(&b).await;
    // B does not hear A's notification: its listener is down (it waits a
    // second before reconnecting). On reconnecting it checks the store.
    estafeta_testkit::drop_change_listeners(&url).await;
    common::deliver(&a, &message("missed", "x")).await;
    assert_eq!(on_b.read_line().await.unwrap(), "* 1 EXISTS");
    on_b.send_raw(b"DONE\r\n").await;
    on_b.finish(&tag).await.ok();
}
