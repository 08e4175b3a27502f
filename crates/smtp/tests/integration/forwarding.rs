//! Aliases that forward elsewhere: the mail is filtered as local mail is,
//! leaves with an SRS envelope sender, its bounces come back through the
//! SRS address to the original sender only, spam is not forwarded, and a
//! loop is stopped by counting Received fields (RFC 5321 6.3).

use crate::common::*;
use estafeta_core::config::Service;
use estafeta_testkit::TestServer;

const ALICE: &str = "alice@example.com";

async fn server_with(adjust: impl FnOnce(&mut estafeta_core::Config)) -> TestServer {
    let server = TestServer::start_with(adjust).await;
    server.add_account(ALICE, "pw").await;
    let address = |a: &str| estafeta_core::Address::parse(a).unwrap();
    server
        .store()
        .alias_add(&address("fwd@example.com"), &address("friend@remote.test"))
        .await
        .unwrap();
    server
}

async fn send(server: &TestServer, from: &str, to: &[&str], message: &str) -> Reply {
    let mut client = Client::ready(server, Service::Smtp).await;
    client.cmd(&format!("MAIL FROM:<{from}>")).await.expect(250, "2.1.0");
    for to in to {
        client.cmd(&format!("RCPT TO:<{to}>")).await.expect(250, "2.1.5");
    }
    client.data(message).await
}

#[tokio::test]
async fn forwarded_mail_leaves_with_an_srs_sender_and_its_bounce_comes_back() {
    let server = server_with(|_| {}).await;
    send(&server, "ann@origin.test", &["fwd@example.com"], &message("forward me"))
        .await
        .expect(250, "2.0.0");
    let queue = server.store().queue_list().await.unwrap();
    assert_eq!(queue.len(), 1);
    let srs = queue[0].sender.clone();
    assert!(
        srs.starts_with("SRS0=") && srs.ends_with("=origin.test=ann@example.com"),
        "{srs}"
    );
    assert_eq!(queue[0].recipients[0].recipient.address, "friend@remote.test");
    server.store().queue_remove(queue[0].id).await.unwrap();

    // The next hop bounces to the SRS address: passed back to ann.
    send(&server, "", &[&srs], "Subject: Undelivered\r\n\r\nfailed\r\n")
        .await
        .expect(250, "2.0.0");
    let queue = server.store().queue_list().await.unwrap();
    assert_eq!(queue.len(), 1);
    assert_eq!(queue[0].sender, "", "a bounce stays a bounce");
    assert_eq!(queue[0].recipients[0].recipient.address, "ann@origin.test");

    // Only bounces, and only addresses we made.
    let mut client = Client::ready(&server, Service::Smtp).await;
    client.cmd("MAIL FROM:<spammer@else.test>").await.expect(250, "2.1.0");
    client.cmd(&format!("RCPT TO:<{srs}>")).await.expect(550, "5.7.1");
    client.cmd("RSET").await.expect(250, "2.0.0");
    client.cmd("MAIL FROM:<>").await.expect(250, "2.1.0");
    let forged = srs.replace("=origin.test=ann@", "=victim.test=ann@");
    client.cmd(&format!("RCPT TO:<{forged}>")).await.expect(550, "5.1.1");
}

#[tokio::test]
async fn our_own_users_keep_their_address_when_an_alias_forwards() {
    let server = server_with(|_| {}).await;
    let mut client = submission_login(&server, ALICE, "pw").await;
    client.cmd(&format!("MAIL FROM:<{ALICE}>")).await.expect(250, "2.1.0");
    client.cmd("RCPT TO:<fwd@example.com>").await.expect(250, "2.1.5");
    client
        .data(&format!("From: {ALICE}\r\nSubject: hi\r\n\r\nhello\r\n"))
        .await
        .expect(250, "2.0.0");
    let queue = server.store().queue_list().await.unwrap();
    assert_eq!(queue[0].sender, ALICE, "SPF of our own domain passes as it is");
}

#[tokio::test]
async fn spam_is_not_forwarded() {
    let server = server_with(|_| {}).await;
    let gtube = format!("Subject: test\r\n\r\n{}\r\n", estafeta_filter::rules::GTUBE);
    // Only a forward: refused, so the sending server bounces, not we.
    let reply = send(&server, "sender@remote.test", &["fwd@example.com"], &gtube).await;
    reply.expect(550, "5.7.1");
    assert!(reply.text().contains("not forwarded"), "{reply:?}");
    // With a local recipient too: filed in her Junk, and not forwarded.
    send(&server, "sender@remote.test", &[ALICE, "fwd@example.com"], &gtube)
        .await
        .expect(250, "2.0.0");
    assert_eq!(mailbox(&server, ALICE, "Junk").await.len(), 1);
    assert!(server.store().queue_list().await.unwrap().is_empty(), "nothing relayed");
    // Mail that is not spam is forwarded as before.
    send(&server, "sender@remote.test", &["fwd@example.com"], &message("lunch"))
        .await
        .expect(250, "2.0.0");
    assert_eq!(server.store().queue_list().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_message_past_the_hop_limit_is_a_loop() {
    let server = server_with(|config| config.smtp.max_hops = 5).await;
    let hops = |n: usize| {
        let mut text = String::new();
        for i in 0..n {
            text.push_str(&format!(
                "Received: from hop{i}.test by hop{}.test; Thu, 26 Nov 2026 05:00:00 +0000\r\n",
                i + 1
            ));
        }
        text + "Subject: around\r\n\r\nand around\r\n"
    };
    send(&server, "sender@remote.test", &["fwd@example.com"], &hops(5))
        .await
        .expect(250, "2.0.0");
    send(&server, "sender@remote.test", &["fwd@example.com"], &hops(6))
        .await
        .expect(554, "5.4.6");
    assert_eq!(server.store().queue_list().await.unwrap().len(), 1);
}
