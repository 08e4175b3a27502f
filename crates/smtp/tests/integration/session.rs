//! Session rules over real sockets: greeting, EHLO, sequencing, limits,
//! pipelining, STARTTLS.

use crate::common::*;
use estafeta_core::config::Service;
use estafeta_testkit::TestServer;
use std::time::Duration;

#[tokio::test]
async fn greeting_and_ehlo_extensions() {
    let server = TestServer::start().await;
    let (mut client, greeting) = Client::connect(&server, Service::Smtp).await;
    greeting.expect(220, "");
    assert!(greeting.text().starts_with("mx.test ESMTP"), "{greeting:?}");
    let ehlo = client.cmd("EHLO client.test").await;
    ehlo.expect(250, "");
    assert!(
        ehlo.lines[0].starts_with("mx.test Hello client.test [127.0.0.1]"),
        "{ehlo:?}"
    );
    for extension in [
        "PIPELINING",
        "SIZE 52428800",
        "8BITMIME",
        "SMTPUTF8",
        "ENHANCEDSTATUSCODES",
        "CHUNKING",
        "DSN",
        "STARTTLS",
    ] {
        assert!(
            ehlo.lines.iter().any(|l| l == extension),
            "{extension} missing: {ehlo:?}"
        );
    }
    assert!(!ehlo.text().contains("AUTH"), "no AUTH on the MX port: {ehlo:?}");
    client.cmd("HELO client.test").await.expect(250, "2.0.0");
    client.cmd("QUIT").await.expect(221, "2.0.0");
    assert!(client.closed().await);
}

#[tokio::test]
async fn auth_is_offered_on_submission_only_after_tls() {
    let server = TestServer::start().await;
    let mut client = Client::ready(&server, Service::Submission).await;
    let ehlo = client.cmd("EHLO client.test").await;
    assert!(
        ehlo.text().contains("STARTTLS") && !ehlo.text().contains("AUTH"),
        "{ehlo:?}"
    );
    client.starttls(&server).await;
    let ehlo = client.cmd("EHLO client.test").await;
    assert!(ehlo.lines.iter().any(|l| l == "AUTH PLAIN LOGIN"), "{ehlo:?}");
    assert!(!ehlo.text().contains("STARTTLS"), "not offered twice: {ehlo:?}");

    let (mut implicit, greeting) = Client::connect(&server, Service::Submissions).await;
    greeting.expect(220, "");
    let ehlo = implicit.cmd("EHLO client.test").await;
    assert!(
        ehlo.text().contains("AUTH PLAIN LOGIN") && !ehlo.text().contains("STARTTLS"),
        "{ehlo:?}"
    );
}

#[tokio::test]
async fn commands_out_of_sequence() {
    let server = TestServer::start().await;
    server.add_account("alice@example.com", "pw").await;
    let (mut client, _) = Client::connect(&server, Service::Smtp).await;
    client.cmd("MAIL FROM:<a@remote.test>").await.expect(503, "5.5.1");
    client.cmd("EHLO client.test").await.expect(250, "");
    client.cmd("RCPT TO:<alice@example.com>").await.expect(503, "5.5.1");
    client.cmd("DATA").await.expect(503, "5.5.1");
    client.cmd("MAIL FROM:<a@remote.test>").await.expect(250, "2.1.0");
    client.cmd("MAIL FROM:<a@remote.test>").await.expect(503, "5.5.1");
    client.cmd("DATA").await.expect(554, "5.5.1");
    client.cmd("RSET").await.expect(250, "2.0.0");
    client.cmd("RCPT TO:<alice@example.com>").await.expect(503, "5.5.1");
    client.cmd("MAIL FROM:<a@remote.test>").await.expect(250, "2.1.0");
    client.cmd("RCPT TO:<alice@example.com>").await.expect(250, "2.1.5");
    // A new EHLO resets the transaction (RFC 5321 4.1.4).
    client.cmd("EHLO client.test").await.expect(250, "");
    client.cmd("DATA").await.expect(503, "5.5.1");
}

#[tokio::test]
async fn small_commands() {
    let server = TestServer::start().await;
    let mut client = Client::ready(&server, Service::Smtp).await;
    client.cmd("NOOP").await.expect(250, "2.0.0");
    client.cmd("NOOP with an argument").await.expect(250, "2.0.0");
    client.cmd("VRFY alice").await.expect(252, "2.5.0");
    client.cmd("EXPN staff").await.expect(502, "5.5.1");
    client.cmd("HELP").await.expect(214, "2.0.0");
    client.cmd("RSET").await.expect(250, "2.0.0");
}

#[tokio::test]
async fn syntax_errors_have_their_codes() {
    let server = TestServer::start().await;
    let mut client = Client::ready(&server, Service::Smtp).await;
    client.cmd("FROB").await.expect(500, "5.5.1");
    client.cmd("EHLO").await.expect(501, "5.5.4");
    client.cmd("MAIL FROM:<bad address>").await.expect(501, "5.1.7");
    client
        .cmd("MAIL FROM:<a@remote.test> FROB=1")
        .await
        .expect(555, "5.5.4");
    client
        .cmd("MAIL FROM:<a@remote.test> SIZE=x")
        .await
        .expect(501, "5.5.4");
    client
        .cmd(&format!("NOOP {}", "x".repeat(5000)))
        .await
        .expect(500, "5.5.6");
    client.send_raw(b"NOOP \x00\r\n").await;
    client.read_reply().await.expect(500, "5.5.2");
    // Still usable after all that.
    client.cmd("NOOP").await.expect(250, "2.0.0");
}

#[tokio::test]
async fn too_many_errors_close_the_session() {
    let server = TestServer::start_with(|c| c.smtp.max_errors = 3).await;
    let mut client = Client::ready(&server, Service::Smtp).await;
    client.cmd("FROB").await.expect(500, "5.5.1");
    client.cmd("FROB").await.expect(500, "5.5.1");
    client.send("FROB").await;
    client.read_reply().await.expect(500, "5.5.1");
    client.read_reply().await.expect(421, "4.7.0");
    assert!(client.closed().await);
}

#[tokio::test]
async fn idle_clients_get_421_and_are_closed() {
    let server = TestServer::start_with(|c| c.smtp.command_timeout = Duration::from_millis(300)).await;
    let mut client = Client::ready(&server, Service::Smtp).await;
    client.read_reply().await.expect(421, "4.4.2");
    assert!(client.closed().await);
}

#[tokio::test]
async fn pipelined_batch_gets_every_reply_in_order() {
    let server = TestServer::start().await;
    server.add_account("alice@example.com", "pw").await;
    server.add_account("bob@example.com", "pw").await;
    let (mut client, _) = Client::connect(&server, Service::Smtp).await;
    // RFC 2920 3.1: the whole batch in one write.
    client
        .send_raw(b"EHLO client.test\r\nMAIL FROM:<s@remote.test>\r\nRCPT TO:<alice@example.com>\r\nRCPT TO:<nobody@example.com>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n")
        .await;
    client.read_reply().await.expect(250, "");
    client.read_reply().await.expect(250, "2.1.0");
    client.read_reply().await.expect(250, "2.1.5");
    client.read_reply().await.expect(550, "5.1.1");
    client.read_reply().await.expect(250, "2.1.5");
    client.read_reply().await.expect(354, "");
    client.send_raw(message("pipelined").as_bytes()).await;
    client
        .send_raw(b".\r\nMAIL FROM:<t@remote.test>\r\nRCPT TO:<bob@example.com>\r\nRSET\r\nQUIT\r\n")
        .await;
    client.read_reply().await.expect(250, "2.0.0");
    client.read_reply().await.expect(250, "2.1.0");
    client.read_reply().await.expect(250, "2.1.5");
    client.read_reply().await.expect(250, "2.0.0");
    client.read_reply().await.expect(221, "2.0.0");
    assert_eq!(inbox(&server, "alice@example.com").await.len(), 1);
    assert_eq!(inbox(&server, "bob@example.com").await.len(), 1);
}

#[tokio::test]
async fn starttls_discards_commands_pipelined_behind_it() {
    let server = TestServer::start().await;
    let mut client = Client::ready(&server, Service::Smtp).await;
    // CVE-2011-0411: the injected NOOP must not be answered after TLS.
    client.send_raw(b"STARTTLS\r\nNOOP injected\r\n").await;
    client.read_reply().await.expect(220, "2.0.0");
    client.upgrade(&server).await;
    // The session starts over: EHLO again before MAIL.
    client.cmd("MAIL FROM:<a@remote.test>").await.expect(503, "5.5.1");
    client.cmd("EHLO client.test").await.expect(250, "");
    client.cmd("STARTTLS").await.expect(503, "5.5.1");
}

#[tokio::test]
async fn connections_over_the_per_ip_limit_get_421() {
    let server = TestServer::start_with(|c| c.limits.connections_per_ip = 1).await;
    let (_first, greeting) = Client::connect(&server, Service::Smtp).await;
    greeting.expect(220, "");
    let (mut second, refused) = Client::connect(&server, Service::Smtp).await;
    refused.expect(421, "4.7.0");
    assert!(second.closed().await);
}

#[tokio::test]
async fn shutdown_says_421_to_idle_sessions() {
    let server = TestServer::start().await;
    let mut client = Client::ready(&server, Service::Smtp).await;
    let stop = tokio::spawn(server.stop(Duration::from_secs(10)));
    client.read_reply().await.expect(421, "4.3.2");
    assert!(client.closed().await);
    assert!(stop.await.unwrap(), "every session ended within the grace period");
}

#[tokio::test]
async fn a_command_dripped_in_a_byte_at_a_time_is_cut_off() {
    // The idle timer restarts on every byte; the command's own deadline
    // does not, so a slow drip cannot hold a session for ever.
    let server = TestServer::start_with(|config| config.limits.command_time = Duration::from_secs(1)).await;
    let mut client = Client::ready(&server, Service::Smtp).await;
    // A wait between commands is no drip: the deadline starts at a
    // command's first byte.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    client.cmd("NOOP").await.expect(250, "2.0.0");
    client
        .drip(b"MAIL FROM:<slow@remote.test>\r\n", Duration::from_millis(100))
        .await;
    client.read_reply().await.expect(421, "4.4.2");
    assert!(client.closed().await);
}
