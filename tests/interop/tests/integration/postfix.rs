//! Postfix as a peer MTA on loopback, relaying mail into Estafeta's MX.

use estafeta_core::config::Service;
use estafeta_interop::postfix::Postfix;
use estafeta_interop::{require, run, text};
use estafeta_testkit::TestServer;
use std::process::Command;

#[tokio::test]
async fn postfix_relays_into_estafeta() {
    if !require("postfix") || !require("swaks") {
        return;
    }
    let server = TestServer::start().await;
    server.add_account("alice@example.com", "pw").await;
    server.dns.txt("peer.test", "v=spf1 ip4:127.0.0.1 -all");
    let postfix = Postfix::start(server.addr(Service::Smtp), "");
    let mut swaks = Command::new("swaks");
    swaks
        .args(["--server", &format!("127.0.0.1:{}", postfix.smtp_port)])
        .args([
            "--from",
            "bob@peer.test",
            "--to",
            "alice@example.com",
            "--header",
            "Subject: via postfix",
        ])
        .args(["--body", "Relayed.\n.dot line\n"]);
    let out = run(swaks).await;
    assert!(out.status.success(), "{}", text(&out));
    let log = postfix.wait_log("status=").await;
    assert!(log.contains("status=sent (250 2.0.0 Message accepted"), "{log}");

    let store = server.store();
    let account = store.account_get("alice@example.com").await.unwrap().unwrap();
    let inbox = store.mailbox_get(account.id, "INBOX").await.unwrap().unwrap();
    let messages = store.messages(inbox.id).await.unwrap();
    assert_eq!(messages.len(), 1);
    let content = String::from_utf8(store.message_content(&messages[0].blob).await.unwrap()).unwrap();
    assert!(content.starts_with("Return-Path: <bob@peer.test>"), "{content}");
    assert!(content.contains("by mx.test (Estafeta) with ESMTP"), "{content}");
    assert!(
        content.contains("by peer.test (Postfix)"),
        "postfix's own trace kept: {content}"
    );
    assert!(content.contains("spf=pass"), "{content}");
    assert!(content.contains("\r\n.dot line\r\n"), "{content}");
}
