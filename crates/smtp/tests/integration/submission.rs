//! Submission (RFC 6409): AUTH over TLS, who may send as whom, and remote
//! mail handed to the queue with its DSN parameters.

use crate::common::*;
use base64::Engine;
use estafeta_core::config::Service;
use estafeta_testkit::TestServer;

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

async fn server() -> TestServer {
    let server = TestServer::start().await;
    server.add_account("alice@example.com", "correct horse").await;
    server.add_account("bob@example.com", "pw").await;
    let address = |a: &str| estafeta_core::Address::parse(a).unwrap();
    server
        .store()
        .alias_add(&address("ceo@example.com"), &address("alice@example.com"))
        .await
        .unwrap();
    server
}

/// STARTTLS, EHLO and AUTH PLAIN as alice.
async fn logged_in(server: &TestServer) -> Client {
    let mut client = Client::ready(server, Service::Submission).await;
    client.starttls(server).await;
    client.cmd("EHLO client.test").await.expect(250, "");
    client
        .cmd(&format!("AUTH PLAIN {}", b64("\0alice@example.com\0correct horse")))
        .await
        .expect(235, "2.7.0");
    client
}

#[tokio::test]
async fn auth_needs_tls_and_the_submission_port() {
    let server = server().await;
    let mut client = Client::ready(&server, Service::Submission).await;
    let plain = format!("AUTH PLAIN {}", b64("\0alice@example.com\0correct horse"));
    client.cmd(&plain).await.expect(538, "5.7.11");
    client.cmd("MAIL FROM:<alice@example.com>").await.expect(530, "5.7.0");
    let mut mx = Client::ready(&server, Service::Smtp).await;
    mx.starttls(&server).await;
    mx.cmd("EHLO client.test").await;
    mx.cmd(&plain).await.expect(503, "5.5.1");
}

#[tokio::test]
async fn plain_login_and_their_variants() {
    let server = server().await;
    logged_in(&server).await.cmd("AUTH PLAIN x").await.expect(503, "5.5.1");

    let mut client = Client::ready(&server, Service::Submission).await;
    client.starttls(&server).await;
    client.cmd("EHLO client.test").await;
    // PLAIN without an initial response: an empty 334 challenge.
    client.cmd("AUTH PLAIN").await.expect(334, "");
    client
        .cmd(&b64("\0alice@example.com\0correct horse"))
        .await
        .expect(235, "2.7.0");

    let (mut login, _) = Client::connect(&server, Service::Submissions).await;
    login.cmd("EHLO client.test").await;
    let ask_user = login.cmd("AUTH LOGIN").await;
    assert_eq!((ask_user.code, ask_user.text()), (334, "VXNlcm5hbWU6".to_owned()));
    let ask_password = login.cmd(&b64("alice@example.com")).await;
    assert_eq!(
        (ask_password.code, ask_password.text()),
        (334, "UGFzc3dvcmQ6".to_owned())
    );
    login.cmd(&b64("correct horse")).await.expect(235, "2.7.0");

    let (mut cancel, _) = Client::connect(&server, Service::Submissions).await;
    cancel.cmd("EHLO client.test").await;
    cancel.cmd("AUTH LOGIN").await.expect(334, "");
    cancel.cmd("*").await.expect(501, "5.0.0");
    cancel.cmd("AUTH PLAIN !!!notbase64").await.expect(501, "5.5.2");
    cancel.cmd("AUTH CRAM-MD5").await.expect(504, "5.5.4");
}

#[tokio::test]
async fn wrong_passwords_are_counted_and_lock_out() {
    let server = TestServer::start_with(|c| c.auth.max_failures = 3).await;
    server.add_account("alice@example.com", "correct horse").await;
    let (mut client, _) = Client::connect(&server, Service::Submissions).await;
    client.cmd("EHLO client.test").await;
    for _ in 0..3 {
        client
            .cmd(&format!("AUTH PLAIN {}", b64("\0alice@example.com\0wrong")))
            .await
            .expect(535, "5.7.8");
    }
    // Locked: even the right password is refused for now.
    let (mut again, _) = Client::connect(&server, Service::Submissions).await;
    again.cmd("EHLO client.test").await;
    again
        .cmd(&format!("AUTH PLAIN {}", b64("\0alice@example.com\0correct horse")))
        .await
        .expect(454, "4.7.0");
    // Unknown users get the same answer as wrong passwords.
    let unknown = TestServer::start().await;
    let (mut ghost, _) = Client::connect(&unknown, Service::Submissions).await;
    ghost.cmd("EHLO client.test").await;
    ghost
        .cmd(&format!("AUTH PLAIN {}", b64("\0ghost@example.com\0x")))
        .await
        .expect(535, "5.7.8");
    let (_, metrics) = server.http_get("/metrics").await;
    assert!(
        metrics.contains("estafeta_auth_failures_total{protocol=\"smtp\"} 4"),
        "{metrics}"
    );
}

#[tokio::test]
async fn plaintext_auth_only_when_the_operator_allows_it() {
    let server = TestServer::start_with(|c| c.auth.allow_plaintext = true).await;
    server.add_account("alice@example.com", "pw").await;
    let mut client = Client::ready(&server, Service::Submission).await;
    let ehlo = client.cmd("EHLO client.test").await;
    assert!(ehlo.text().contains("AUTH PLAIN LOGIN"), "{ehlo:?}");
    client
        .cmd(&format!("AUTH PLAIN {}", b64("\0alice@example.com\0pw")))
        .await
        .expect(235, "2.7.0");
}

#[tokio::test]
async fn senders_must_be_the_account_or_its_alias() {
    let server = server().await;
    let mut client = logged_in(&server).await;
    client.cmd("MAIL FROM:<bob@example.com>").await.expect(550, "5.7.1");
    client.cmd("MAIL FROM:<>").await.expect(550, "5.7.1");
    client.cmd("MAIL FROM:<ceo@example.com>").await.expect(250, "2.1.0");
    client.cmd("RSET").await;
    client
        .cmd("MAIL FROM:<Alice+lists@Example.com>")
        .await
        .expect(250, "2.1.0");
    client.cmd("RCPT TO:<bob@example.com>").await.expect(250, "2.1.5");
    // The From: header is checked too.
    let forged = "From: bob@example.com\r\nSubject: forged\r\n\r\nhi\r\n";
    client.data(forged).await.expect(550, "5.7.1");
    client.cmd("MAIL FROM:<alice@example.com>").await.expect(250, "2.1.0");
    client.cmd("RCPT TO:<bob@example.com>").await.expect(250, "2.1.5");
    client
        .data("From: Alice <alice@example.com>\r\nSubject: mine\r\n\r\nhi\r\n")
        .await
        .expect(250, "2.0.0");
    let stored = &inbox(&server, "bob@example.com").await;
    assert_eq!(stored.len(), 1);
    assert!(stored[0].contains("with ESMTPSA id"), "{}", stored[0]);
    assert!(
        !stored[0].contains("Authentication-Results"),
        "submission is not sender-checked"
    );
}

#[tokio::test]
async fn remote_recipients_are_queued_with_dsn_parameters() {
    let server = server().await;
    let mut client = logged_in(&server).await;
    client
        .cmd("MAIL FROM:<alice@example.com> RET=HDRS ENVID=QQ314159")
        .await
        .expect(250, "2.1.0");
    client
        .cmd("RCPT TO:<friend@elsewhere.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;friend@elsewhere.test")
        .await
        .expect(250, "2.1.5");
    client.cmd("RCPT TO:<other@elsewhere.test>").await.expect(250, "2.1.5");
    client.cmd("RCPT TO:<bob@example.com>").await.expect(250, "2.1.5");
    client
        .data("From: alice@example.com\r\nSubject: out\r\n\r\nhi\r\n")
        .await
        .expect(250, "2.0.0");

    let queued = server.store().queue_list().await.unwrap();
    assert_eq!(queued.len(), 1);
    let entry = &queued[0];
    assert_eq!(entry.sender, "alice@example.com");
    assert_eq!(entry.envid.as_deref(), Some("QQ314159"));
    assert_eq!(entry.ret.as_deref(), Some("HDRS"));
    assert_eq!(entry.recipients.len(), 2);
    assert_eq!(entry.recipients[0].recipient.address, "friend@elsewhere.test");
    assert_eq!(entry.recipients[0].recipient.notify.as_deref(), Some("SUCCESS,FAILURE"));
    assert_eq!(
        entry.recipients[0].recipient.orcpt.as_deref(),
        Some("rfc822;friend@elsewhere.test")
    );
    let content = String::from_utf8(server.store().message_content(&entry.blob).await.unwrap()).unwrap();
    assert!(content.starts_with("Received: from client.test"), "{content}");
    assert!(!content.contains("Return-Path"), "added at final delivery, not here");
    // The local recipient got it directly.
    assert_eq!(inbox(&server, "bob@example.com").await.len(), 1);
}
