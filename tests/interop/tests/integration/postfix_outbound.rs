//! Estafeta delivering to Postfix on loopback: the message Postfix stores
//! carries a DKIM signature that verifies, with mail-auth, against the key
//! the test DNS publishes.

use estafeta_core::config::{Route, Service};
use estafeta_interop::postfix::Postfix;
use estafeta_interop::{require, run, text};
use estafeta_smtp::outbound::dkim;
use estafeta_testkit::TestServer;
use std::process::Command;
use std::time::{Duration, Instant};

#[tokio::test]
async fn estafeta_delivers_dkim_signed_mail_to_postfix() {
    if !require("postfix") || !require("swaks") {
        return;
    }
    let postfix = Postfix::start_receiving("remote.test");
    let port = postfix.smtp_port;
    let server = TestServer::start_with(move |config| {
        config.outbound.hold = false;
        let route = Route {
            host: "127.0.0.1".into(),
            port,
            ..Default::default()
        };
        config.outbound.routes.insert("remote.test".into(), route);
    })
    .await;
    server.add_account("alice@example.com", "correct horse").await;
    let generated = dkim::generate("rsa").unwrap();
    let key = estafeta_store::DkimKey {
        domain: "example.com".into(),
        selector: "mail".into(),
        algorithm: "rsa".into(),
        private_key: generated.private_key,
        created_at: 0,
    };
    server.store().dkim_key_set(&key).await.unwrap();
    server
        .dns
        .txt(&dkim::record_name("mail", "example.com"), &generated.record);

    let mut swaks = Command::new("swaks");
    swaks
        .args([
            "--server",
            &format!("127.0.0.1:{}", server.addr(Service::Submission).port()),
        ])
        .args(["--tls", "--auth", "PLAIN", "--auth-user", "alice@example.com"])
        .args(["--auth-password", "correct horse"])
        .args(["--from", "alice@example.com", "--to", "bob@remote.test"])
        .args(["--header", "Subject: to postfix"])
        .args(["--body", "Signed on the way out.\n.dot line\n"]);
    let out = run(swaks).await;
    assert!(out.status.success(), "{}", text(&out));

    let log = postfix.wait_log("status=").await;
    assert!(log.contains("status=sent (delivered to maildir)"), "{log}");
    let maildir = postfix.path().join("mail/remote.test/new");
    let deadline = Instant::now() + Duration::from_secs(30);
    let file = loop {
        let found = std::fs::read_dir(&maildir).ok().and_then(|mut dir| dir.next());
        if let Some(entry) = found {
            break entry.unwrap().path();
        }
        assert!(Instant::now() < deadline, "no mail in {}", maildir.display());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Maildir keeps LF line ends; DKIM is over the CRLF form.
    let stored = std::fs::read_to_string(&file).unwrap().replace('\n', "\r\n");
    assert!(stored.contains("DKIM-Signature: v=1; a=rsa-sha256"), "{stored}");
    assert!(stored.contains("by peer.test (Postfix)"), "{stored}");
    // Postfix took our VERP return path (one per recipient, signed).
    assert!(stored.contains("Return-Path: <bounces+"), "{stored}");
    assert!(stored.contains("\r\n.dot line\r\n"), "{stored}");
    let resolver = estafeta_net::dns::resolver(&estafeta_core::config::Dns {
        nameservers: vec![server.dns.addr()],
        ..Default::default()
    })
    .unwrap();
    let message = mail_auth::AuthenticatedMessage::parse(stored.as_bytes()).unwrap();
    let results = resolver.verify_dkim(&message).await;
    assert!(
        results
            .iter()
            .any(|r| r.result() == &mail_auth::DkimResult::Pass && r.signature().is_some_and(|s| s.d == "example.com")),
        "{results:?}"
    );
}
