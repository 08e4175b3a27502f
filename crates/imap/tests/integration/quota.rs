//! QUOTA (RFC 9208) with `limits.account_quota`: the account is the one
//! root, APPEND and COPY past it fail with [OVERQUOTA], SMTP says 452 4.2.2.

use crate::common;

use crate::common::{Imap, PASSWORD, USER, deliver};
use estafeta_testkit::TestServer;

fn sized(subject: &str, size: usize) -> String {
    let head = common::message(subject, "");
    format!("{head}{}\r\n", "x".repeat(size.saturating_sub(head.len() + 2)))
}

async fn rcpt_reply(server: &TestServer) -> String {
    let commands = [
        "EHLO client.test".to_owned(),
        "MAIL FROM:<>".to_owned(),
        format!("RCPT TO:<{USER}>"),
    ];
    common::smtp(server, &commands).await.pop().unwrap()
}

#[tokio::test]
async fn the_account_quota_is_reported_and_enforced() {
    let server = TestServer::start_with(|config| config.limits.account_quota = 10 * 1024).await;
    server.add_account(USER, PASSWORD).await;
    deliver(&server, &sized("big", 6 * 1024)).await;
    let mut imap = Imap::inbox(&server).await;
    let caps = imap.ok("CAPABILITY").await;
    assert!(caps.has("QUOTA=RES-STORAGE"));
    let root = imap.ok("GETQUOTAROOT INBOX").await;
    assert_eq!(
        root.untagged,
        ["* QUOTAROOT \"INBOX\" \"\"", "* QUOTA \"\" (STORAGE 6 10)"]
    );
    assert_eq!(imap.ok("GETQUOTA \"\"").await.untagged, ["* QUOTA \"\" (STORAGE 6 10)"]);
    imap.command("GETQUOTA \"other\"").await.no();
    // 6 KiB used of 10: another 6 KiB does not fit, by APPEND or by COPY.
    let refused = imap.append("INBOX", "()", sized("more", 6 * 1024).as_bytes()).await;
    assert!(refused.tagged.starts_with("NO [OVERQUOTA]"), "{refused:?}");
    let copy = imap.command("COPY 1 Archive").await;
    assert!(copy.tagged.starts_with("NO [OVERQUOTA]"), "{copy:?}");
    // A MOVE does not add to the account: it is allowed.
    imap.ok("MOVE 1 Archive").await;
    imap.append("INBOX", "()", sized("small", 2 * 1024).as_bytes())
        .await
        .ok();
    // SMTP still takes mail below the quota...
    assert!(rcpt_reply(&server).await.starts_with("250"));
    // ... and defers it once the account is full.
    deliver(&server, &sized("fill", 3 * 1024)).await;
    assert_eq!(rcpt_reply(&server).await, "452 4.2.2 Mailbox full, try again later");
}

#[tokio::test]
async fn without_a_quota_there_is_no_root() {
    let server = common::server().await;
    let mut imap = Imap::login(&server).await;
    let root = imap.ok("GETQUOTAROOT INBOX").await;
    assert_eq!(root.untagged, ["* QUOTAROOT \"INBOX\""]);
    imap.command("GETQUOTA \"\"").await.no();
}
