//! SPF, DKIM and DMARC on the MX port against records served by the test
//! DNS server, with messages DKIM-signed in the test by mail-auth.

use crate::common::*;
use base64::Engine;
use estafeta_core::config::Service;
use estafeta_testkit::TestServer;
use mail_auth::common::crypto::Ed25519Key;
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::DkimSigner;

/// Signs as `domain` with a key published in the test DNS.
pub(crate) struct Signer {
    pkcs8: Vec<u8>,
}

impl Signer {
    pub(crate) fn new(server: &TestServer, domain: &str) -> Signer {
        let pkcs8 = Ed25519Key::generate_pkcs8().unwrap();
        let key = Ed25519Key::from_pkcs8_der(&pkcs8).unwrap();
        let public = base64::engine::general_purpose::STANDARD.encode(key.public_key());
        server.dns.txt(
            &format!("sel._domainkey.{domain}"),
            &format!("v=DKIM1; k=ed25519; p={public}"),
        );
        Signer { pkcs8 }
    }

    pub(crate) fn sign(&self, domain: &str, message: &str) -> String {
        let key = Ed25519Key::from_pkcs8_der(&self.pkcs8).unwrap();
        let signature = DkimSigner::from_key(key)
            .domain(domain)
            .selector("sel")
            .headers(["From", "To", "Subject", "Date", "Message-ID"])
            .sign(message.as_bytes())
            .unwrap();
        format!("{}{message}", signature.to_header())
    }
}

fn message_from(from: &str, subject: &str) -> String {
    format!(
        "From: {from}\r\nTo: alice@example.com\r\nSubject: {subject}\r\nDate: Thu, 26 Nov 2026 05:00:00 +0000\r\nMessage-ID: <{subject}@test>\r\n\r\nHello.\r\n"
    )
}

async fn server(enforce: bool) -> TestServer {
    let server = TestServer::start_with(|c| c.smtp.dmarc_reject = enforce).await;
    server.add_account("alice@example.com", "pw").await;
    let dns = &server.dns;
    dns.txt("remote.test", "v=spf1 ip4:127.0.0.1 -all");
    dns.txt("_dmarc.remote.test", "v=DMARC1; p=reject");
    dns.txt("spoofed.test", "v=spf1 ip4:192.0.2.1 -all");
    dns.txt("_dmarc.spoofed.test", "v=DMARC1; p=reject");
    dns.txt("lenient.test", "v=spf1 ip4:192.0.2.1 -all");
    dns.txt("_dmarc.lenient.test", "v=DMARC1; p=none");
    server
}

async fn send(server: &TestServer, mail_from: &str, message: &str) -> Reply {
    let mut client = Client::ready(server, Service::Smtp).await;
    client
        .cmd(&format!("MAIL FROM:<{mail_from}>"))
        .await
        .expect(250, "2.1.0");
    client.cmd("RCPT TO:<alice@example.com>").await.expect(250, "2.1.5");
    client.data(message).await
}

fn auth_results(stored: &str) -> String {
    let start = stored
        .find("Authentication-Results: mx.test")
        .expect("our Authentication-Results");
    let end = stored[start..].find("\r\nReceived:").unwrap() + start;
    stored[start..end].to_owned()
}

#[tokio::test]
async fn aligned_spf_and_dkim_pass() {
    let server = server(true).await;
    let signer = Signer::new(&server, "remote.test");
    let signed = signer.sign("remote.test", &message_from("bob@remote.test", "pass"));
    send(&server, "bob@remote.test", &signed).await.expect(250, "2.0.0");
    let results = auth_results(&inbox(&server, "alice@example.com").await[0]);
    for expected in ["spf=pass", "dkim=pass", "header.d=remote.test", "dmarc=pass"] {
        assert!(results.contains(expected), "{expected} missing in {results}");
    }
}

#[tokio::test]
async fn a_changed_body_fails_dkim() {
    let server = server(true).await;
    let signer = Signer::new(&server, "remote.test");
    let tampered = signer
        .sign("remote.test", &message_from("bob@remote.test", "tamper"))
        .replace("Hello.", "Pay me.");
    // SPF still passes and aligns, so DMARC passes and the message is taken.
    send(&server, "bob@remote.test", &tampered).await.expect(250, "2.0.0");
    let results = auth_results(&inbox(&server, "alice@example.com").await[0]);
    // mail-auth reports a body-hash mismatch as neutral, never pass.
    assert!(
        results.contains("body hash did not verify") && !results.contains("dkim=pass"),
        "{results}"
    );
    assert!(
        results.contains("spf=pass") && results.contains("dmarc=pass"),
        "{results}"
    );
}

#[tokio::test]
async fn dmarc_reject_is_enforced() {
    let server = server(true).await;
    send(&server, "ceo@spoofed.test", &message_from("ceo@spoofed.test", "spoof"))
        .await
        .expect(550, "5.7.1");
    // A DKIM signature by another domain does not align with From.
    let signer = Signer::new(&server, "remote.test");
    let foreign = signer.sign("remote.test", &message_from("ceo@spoofed.test", "foreign"));
    send(&server, "bob@remote.test", &foreign).await.expect(550, "5.7.1");
    assert!(inbox(&server, "alice@example.com").await.is_empty());
}

#[tokio::test]
async fn dmarc_failures_are_only_recorded_when_not_enforced() {
    let server = server(false).await;
    send(&server, "ceo@spoofed.test", &message_from("ceo@spoofed.test", "kept"))
        .await
        .expect(250, "2.0.0");
    // Taken, but the filter weighs the failures: a domain asking for
    // rejection that the sender cannot pass is filed in Junk.
    assert!(inbox(&server, "alice@example.com").await.is_empty());
    let junk = mailbox(&server, "alice@example.com", "Junk").await;
    let results = auth_results(&junk[0]);
    assert!(
        results.contains("spf=fail") && results.contains("dmarc=fail"),
        "{results}"
    );
    assert!(
        junk[0].contains("X-Spam-Status: Yes") && junk[0].contains("DMARC_FAIL_ENFORCED"),
        "{}",
        junk[0]
    );
}

#[tokio::test]
async fn dmarc_p_none_failures_are_delivered() {
    let server = server(true).await;
    send(&server, "news@lenient.test", &message_from("news@lenient.test", "none"))
        .await
        .expect(250, "2.0.0");
    let results = auth_results(&inbox(&server, "alice@example.com").await[0]);
    assert!(
        results.contains("dmarc=fail") && results.contains("policy.dmarc=none"),
        "{results}"
    );
}

#[tokio::test]
async fn forged_results_for_our_host_are_removed() {
    let server = server(true).await;
    let forged = format!(
        "Authentication-Results: mx.test; spf=pass; dkim=pass; dmarc=pass\r\n{}",
        message_from("ceo@lenient.test", "forged")
    );
    send(&server, "ceo@lenient.test", &forged).await.expect(250, "2.0.0");
    let stored = &inbox(&server, "alice@example.com").await[0];
    assert_eq!(stored.matches("Authentication-Results: mx.test").count(), 1, "{stored}");
    assert!(auth_results(stored).contains("spf=fail"), "{stored}");
}

#[tokio::test]
async fn an_arc_sealed_forward_is_verified() {
    use mail_auth::arc::ArcSealer;
    use mail_auth::{AuthenticatedMessage, AuthenticationResults};
    let server = server(true).await;
    // The forwarder's key and SPF, like a mailing list's.
    let forwarder = Signer::new(&server, "forwarder.test");
    server.dns.txt("forwarder.test", "v=spf1 ip4:127.0.0.1 -all");
    let original = message_from("bob@lenient.test", "arc");
    let parsed = AuthenticatedMessage::parse(original.as_bytes()).unwrap();
    let results = AuthenticationResults::new("forwarder.test");
    let key = Ed25519Key::from_pkcs8_der(&forwarder.pkcs8).unwrap();
    let set = ArcSealer::from_key(key)
        .domain("forwarder.test")
        .selector("sel")
        .headers(["From", "To", "Subject", "Date", "Message-ID"])
        .seal(&parsed, &results, &Default::default())
        .unwrap();
    let sealed = format!("{}{original}", set.to_header());
    send(&server, "list@forwarder.test", &sealed).await.expect(250, "2.0.0");
    let results = auth_results(&inbox(&server, "alice@example.com").await[0]);
    assert!(results.contains("arc=pass"), "{results}");
    assert!(results.contains("spf=pass"), "{results}");
}
