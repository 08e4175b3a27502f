//! Outbound delivery on a simulated internet: the test DNS server maps
//! domains to MX hosts that are fake MTAs on 127.0.0.x, which accept,
//! greylist, reject, drop the connection in DATA, stall, or are not there.
//! Each case checks the final queue state, the attempts the MTAs saw, and
//! the DSN the sender got, field by field.

use crate::common::world::*;
use crate::common::*;
use estafeta_testkit::mta::{Behaviour, FakeMta};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// The message/delivery-status part of a DSN: its per-message block, then
/// one block per recipient, as field maps.
fn delivery_status(dsn: &str) -> Vec<HashMap<String, String>> {
    let start = dsn
        .find("Content-Type: message/delivery-status")
        .expect("a delivery-status part");
    let body = &dsn[start..];
    let body = &body[body.find("\r\n\r\n").unwrap() + 4..];
    let body = &body[..body.find("\r\n--").unwrap()];
    body.split("\r\n\r\n")
        .map(|block| {
            block
                .lines()
                .filter_map(|line| line.split_once(": "))
                .map(|(name, value)| (name.to_owned(), value.to_owned()))
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn accepted_mail_is_delivered_once_and_leaves_the_queue() {
    // Without VERP, one transaction carries every recipient of a domain
    // (with VERP each has its own: crates/smtp/tests/deliverability.rs).
    let world = World::start(|c| c.deliverability.verp = false).await;
    let mta = world.mta(2, Behaviour::Accept).await;
    world.mx("remote.test", 2);
    world
        .send(
            ALICE,
            &["<bob@remote.test>", "<carol@remote.test> NOTIFY=FAILURE"],
            "hello",
        )
        .await;
    world.eventually("delivery", async || !mta.received().is_empty()).await;
    world
        .eventually("an empty queue", async || world.queue_len().await == 0)
        .await;
    let received = mta.received();
    assert_eq!(received.len(), 1, "one transaction for both recipients");
    assert_eq!(received[0].recipients(), ["bob@remote.test", "carol@remote.test"]);
    assert!(received[0].mail_from.starts_with(&format!("MAIL FROM:<{ALICE}>")));
    assert!(
        received[0].rcpt_to[1].contains("NOTIFY=FAILURE"),
        "DSN parameters passed on"
    );
    let data = String::from_utf8(received[0].data.clone()).unwrap();
    assert!(data.starts_with("Received: from client.test"), "{data}");
    assert!(data.contains("\r\n.dot line\r\n"), "dot-stuffing undone exactly");
    assert_eq!(mta.attempts("bob@remote.test"), 1);
    assert!(world.reports().await.is_empty(), "no DSN for a plain success");
}

#[tokio::test]
async fn greylisting_is_retried_until_accepted() {
    let world = World::start(|_| {}).await;
    let mta = world.mta(2, Behaviour::Greylist(2)).await;
    world.mx("remote.test", 2);
    world.send(ALICE, &["<bob@remote.test>"], "grey").await;
    world
        .eventually("delivery after the greylist", async || !mta.received().is_empty())
        .await;
    world
        .eventually("an empty queue", async || world.queue_len().await == 0)
        .await;
    assert_eq!(mta.attempts("bob@remote.test"), 3, "two 451s, then accepted");
    assert_eq!(mta.received().len(), 1);
    assert!(world.reports().await.is_empty());
}

#[tokio::test]
async fn a_deferral_past_the_delay_warning_tells_the_sender_once() {
    let world = World::start(|config| config.outbound.delay_warning = Duration::ZERO).await;
    let mta = world.mta(2, Behaviour::Greylist(3)).await;
    world.mx("remote.test", 2);
    world.send(ALICE, &["<bob@remote.test>"], "slow").await;
    world.eventually("delivery", async || !mta.received().is_empty()).await;
    let reports = world.reports().await;
    assert_eq!(reports.len(), 1, "one delay warning, not one per attempt");
    let fields = delivery_status(&reports[0]);
    assert_eq!(fields[1]["Action"], "delayed");
    assert_eq!(fields[1]["Status"], "4.7.1");
    assert!(
        fields[1]["Diagnostic-Code"].starts_with("smtp; 451 4.7.1"),
        "{fields:?}"
    );
    assert!(fields[1].contains_key("Will-Retry-Until"));
    assert!(reports[0].contains("Subject: Delayed Mail"), "{}", reports[0]);
}

#[tokio::test]
async fn a_rejection_fails_at_once_with_a_full_dsn() {
    let world = World::start(|_| {}).await;
    let mta = world.mta(2, Behaviour::Reject).await;
    world.mx("remote.test", 2);
    world
        .send(ALICE, &["<bob@remote.test> ORCPT=rfc822;bob@remote.test"], "bounce-me")
        .await;
    world
        .eventually("a DSN", async || !world.reports().await.is_empty())
        .await;
    world
        .eventually("an empty queue", async || world.queue_len().await == 0)
        .await;
    assert_eq!(mta.attempts("bob@remote.test"), 1, "a 5xx is not retried");
    let dsn = &world.reports().await[0];
    let parsed = mail_parser::MessageParser::default().parse(dsn.as_bytes()).unwrap();
    assert_eq!(parsed.subject(), Some("Undelivered Mail Returned to Sender"));
    use mail_parser::MimeHeaders;
    let content_type = parsed.root_part().content_type().unwrap();
    assert_eq!(
        (content_type.ctype(), content_type.subtype()),
        ("multipart", Some("report"))
    );
    assert_eq!(content_type.attribute("report-type"), Some("delivery-status"));
    assert!(dsn.starts_with("Return-Path: <>"), "a DSN has a null sender");
    assert!(dsn.contains("Auto-Submitted: auto-replied"));
    let fields = delivery_status(dsn);
    assert_eq!(fields[0]["Reporting-MTA"], "dns; mx.test");
    assert!(fields[0].contains_key("Arrival-Date"));
    let recipient = &fields[1];
    assert_eq!(recipient["Final-Recipient"], "rfc822; bob@remote.test");
    assert_eq!(recipient["Original-Recipient"], "rfc822; bob@remote.test");
    assert_eq!(recipient["Action"], "failed");
    assert_eq!(recipient["Status"], "5.1.1");
    assert_eq!(recipient["Remote-MTA"], "dns; mx1.remote.test");
    assert_eq!(recipient["Diagnostic-Code"], "smtp; 550 5.1.1 no such user here");
    assert!(dsn.contains("Content-Type: message/rfc822"), "the original comes back");
    assert!(dsn.contains("Subject: bounce-me"));
}

#[tokio::test]
async fn the_next_mx_is_tried_when_the_first_refuses_connections() {
    let world = World::start(|_| {}).await;
    // mx1 at 127.0.0.3 has nothing listening; mx2 at 127.0.0.4 accepts.
    world.server.dns.mx("remote.test", 10, "mx1.remote.test");
    world.server.dns.ip("mx1.remote.test", ip(3));
    world.server.dns.mx("remote.test", 20, "mx2.remote.test");
    world.server.dns.ip("mx2.remote.test", ip(4));
    let second = world.mta(4, Behaviour::Accept).await;
    world.send(ALICE, &["<bob@remote.test>"], "failover").await;
    world
        .eventually("delivery by the second MX", async || !second.received().is_empty())
        .await;
    world
        .eventually("an empty queue", async || world.queue_len().await == 0)
        .await;
}

#[tokio::test]
async fn a_refused_greeting_moves_on_to_the_next_mx() {
    let world = World::start(|_| {}).await;
    let first = world.mta(5, Behaviour::RefuseGreeting).await;
    world.server.dns.mx("remote.test", 10, "mx1.remote.test");
    world.server.dns.ip("mx1.remote.test", ip(5));
    world.server.dns.mx("remote.test", 20, "mx2.remote.test");
    world.server.dns.ip("mx2.remote.test", ip(6));
    let second = world.mta(6, Behaviour::Accept).await;
    world.send(ALICE, &["<bob@remote.test>"], "greeting").await;
    world
        .eventually("delivery by the second MX", async || !second.received().is_empty())
        .await;
    assert_eq!(first.connections(), 1);
}

#[tokio::test]
async fn a_null_mx_or_a_missing_domain_fails_without_a_connection() {
    let world = World::start(|_| {}).await;
    world.server.dns.mx("nomail.test", 0, ".");
    world.send(ALICE, &["<bob@nomail.test>"], "null-mx").await;
    world
        .eventually("a DSN", async || !world.reports().await.is_empty())
        .await;
    let fields = delivery_status(&world.reports().await[0]);
    assert_eq!(fields[1]["Status"], "5.1.10");
    assert!(!fields[1].contains_key("Remote-MTA"), "no server was talked to");

    world.send(ALICE, &["<bob@nowhere.test>"], "nxdomain").await;
    world
        .eventually("a second DSN", async || world.reports().await.len() == 2)
        .await;
    let fields = delivery_status(&world.reports().await[1]);
    assert_eq!(fields[1]["Status"], "5.1.2");
    world
        .eventually("an empty queue", async || world.queue_len().await == 0)
        .await;
}

#[tokio::test]
async fn a_domain_without_mx_is_reached_at_its_own_address() {
    let world = World::start(|_| {}).await;
    let mta = world.mta(7, Behaviour::Accept).await;
    world.server.dns.ip("implicit.test", ip(7));
    world.send(ALICE, &["<bob@implicit.test>"], "implicit").await;
    world.eventually("delivery", async || !mta.received().is_empty()).await;
}

#[tokio::test]
async fn a_connection_dropped_in_data_is_retried_and_delivered_once() {
    let world = World::start(|_| {}).await;
    let mta = world.mta(2, Behaviour::DropMidData).await;
    world.mx("remote.test", 2);
    world.send(ALICE, &["<bob@remote.test>"], "dropped").await;
    world
        .eventually("a first attempt", async || mta.attempts("bob@remote.test") >= 1)
        .await;
    mta.set_behaviour(Behaviour::Accept);
    world.eventually("delivery", async || !mta.received().is_empty()).await;
    world
        .eventually("an empty queue", async || world.queue_len().await == 0)
        .await;
    assert_eq!(mta.received().len(), 1);
    assert!(world.reports().await.is_empty());
}

#[tokio::test]
async fn a_stalled_server_times_out_and_the_message_waits() {
    let world = World::start(|_| {}).await;
    let mta = world.mta(2, Behaviour::Stall).await;
    world.mx("remote.test", 2);
    world.send(ALICE, &["<bob@remote.test>"], "stalled").await;
    let store = world.server.store();
    world
        .eventually("an attempt recorded", async || {
            store
                .queue_list()
                .await
                .unwrap()
                .first()
                .is_some_and(|m| m.recipients[0].attempts >= 1)
        })
        .await;
    let queued = store.queue_list().await.unwrap();
    let reply = queued[0].recipients[0].last_reply.clone().unwrap();
    assert!(reply.starts_with("451 4.4.2") && reply.contains("no reply"), "{reply}");
    assert!(mta.connections() >= 1);
    assert!(world.reports().await.is_empty());
}

#[tokio::test]
async fn mail_too_old_fails_as_expired() {
    let world = World::start(|config| config.outbound.max_age = Duration::from_secs(2)).await;
    let mta = world.mta(2, Behaviour::Greylist(1000)).await;
    world.mx("remote.test", 2);
    world.send(ALICE, &["<bob@remote.test>"], "expiring").await;
    world
        .eventually("a DSN", async || !world.reports().await.is_empty())
        .await;
    let fields = delivery_status(&world.reports().await[0]);
    assert_eq!(fields[1]["Action"], "failed");
    assert_eq!(fields[1]["Status"], "5.4.7");
    assert!(
        fields[1]["Diagnostic-Code"].contains("451 4.7.1"),
        "the last error is kept: {fields:?}"
    );
    world
        .eventually("an empty queue", async || world.queue_len().await == 0)
        .await;
    assert!(mta.attempts("bob@remote.test") >= 2);
}

#[tokio::test]
async fn consecutive_messages_share_one_connection() {
    let world = World::start(|config| config.outbound.max_connections_per_domain = 1).await;
    let mta = world.mta(2, Behaviour::Accept).await;
    world.mx("remote.test", 2);
    for n in 0..3 {
        world.send(ALICE, &["<bob@remote.test>"], &format!("m{n}")).await;
    }
    world
        .eventually("three deliveries", async || mta.received().len() == 3)
        .await;
    assert_eq!(mta.connections(), 1, "one connection carried all three");
}

#[tokio::test]
async fn success_is_reported_when_asked_and_the_peer_cannot() {
    let world = World::start(|_| {}).await;
    // A peer without DSN: we report "relayed" ourselves.
    let plain = FakeMta::start_with(SocketAddr::new(ip(8), world.port), Behaviour::Accept, &["PIPELINING"]).await;
    world.mx("plain.test", 8);
    world.send(ALICE, &["<bob@plain.test> NOTIFY=SUCCESS"], "relayed").await;
    world
        .eventually("a success DSN", async || !world.reports().await.is_empty())
        .await;
    let dsn = &world.reports().await[0];
    assert!(dsn.contains("Subject: Successful Mail Delivery Report"), "{dsn}");
    assert_eq!(delivery_status(dsn)[1]["Action"], "relayed");
    assert!(
        !plain.received()[0].rcpt_to[0].contains("NOTIFY"),
        "not sent to a peer without DSN"
    );
    // A peer with DSN reports itself: nothing from us.
    let dsn_peer = world.mta(2, Behaviour::Accept).await;
    world.mx("remote.test", 2);
    world
        .send(ALICE, &["<bob@remote.test> NOTIFY=SUCCESS"], "passed-on")
        .await;
    world
        .eventually("delivery", async || !dsn_peer.received().is_empty())
        .await;
    assert!(dsn_peer.received()[0].rcpt_to[0].contains("NOTIFY=SUCCESS"));
    world
        .eventually("an empty queue", async || world.queue_len().await == 0)
        .await;
    assert_eq!(world.reports().await.len(), 1);
}

#[tokio::test]
async fn a_utf8_address_needs_a_peer_with_smtputf8() {
    let world = World::start(|_| {}).await;
    let plain = FakeMta::start_with(SocketAddr::new(ip(8), world.port), Behaviour::Accept, &["PIPELINING"]).await;
    world.mx("plain.test", 8);
    world.send(ALICE, &["<josé@plain.test>"], "utf8").await;
    world
        .eventually("a DSN", async || !world.reports().await.is_empty())
        .await;
    let fields = delivery_status(&world.reports().await[0]);
    assert_eq!(fields[1]["Status"], "5.6.7");
    assert!(plain.received().is_empty());
}

#[tokio::test]
async fn a_route_overrides_mx_and_can_require_tls() {
    let world = World::start(|config| {
        config.outbound.routes.insert(
            "routed.test".into(),
            estafeta_core::config::Route {
                host: "127.0.0.9".into(),
                ..Default::default()
            },
        );
        config.outbound.routes.insert(
            "secure.test".into(),
            estafeta_core::config::Route {
                host: "127.0.0.9".into(),
                require_tls: true,
                ..Default::default()
            },
        );
    })
    .await;
    let relay = world.mta(9, Behaviour::Accept).await;
    world.send(ALICE, &["<bob@routed.test>"], "routed").await;
    world
        .eventually("delivery through the route", async || !relay.received().is_empty())
        .await;
    // The fake MTA offers no STARTTLS: a route that requires it waits.
    world.send(ALICE, &["<bob@secure.test>"], "secure").await;
    let store = world.server.store();
    world
        .eventually("a deferral", async || {
            store.queue_list().await.unwrap().iter().any(|m| {
                m.recipients[0]
                    .last_reply
                    .as_deref()
                    .is_some_and(|r| r.contains("TLS is required"))
            })
        })
        .await;
    assert_eq!(relay.received().len(), 1, "nothing sent in the clear");
}

#[tokio::test]
async fn a_bounce_is_never_bounced() {
    let world = World::start(|_| {}).await;
    world.mx("remote.test", 2);
    let mta = world.mta(2, Behaviour::Reject).await;
    // A DSN of ours going out (null sender) meets a rejection.
    let store = world.server.store();
    store
        .queue_insert(
            b"From: MAILER-DAEMON@mx.test\r\nSubject: a report\r\n\r\nx\r\n",
            &estafeta_store::NewQueuedMessage {
                sender: String::new(),
                recipients: vec![estafeta_store::QueueRecipient {
                    address: "bob@remote.test".into(),
                    ..Default::default()
                }],
                envid: None,
                ret: None,
            },
        )
        .await
        .unwrap();
    world
        .eventually("the attempt", async || mta.attempts("bob@remote.test") == 1)
        .await;
    world
        .eventually("an empty queue", async || world.queue_len().await == 0)
        .await;
    assert!(world.reports().await.is_empty());
}

#[tokio::test]
async fn mail_from_a_domain_with_a_key_is_dkim_signed() {
    use estafeta_smtp::outbound::dkim;
    let world = World::start(|_| {}).await;
    let mta = world.mta(2, Behaviour::Accept).await;
    world.mx("remote.test", 2);
    let generated = dkim::generate("ed25519").unwrap();
    let key = estafeta_store::DkimKey {
        domain: "example.com".into(),
        selector: "s1".into(),
        algorithm: "ed25519".into(),
        private_key: generated.private_key,
        created_at: 0,
    };
    world.server.store().dkim_key_set(&key).await.unwrap();
    world
        .server
        .dns
        .txt(&dkim::record_name("s1", "example.com"), &generated.record);
    world.send(ALICE, &["<bob@remote.test>"], "signed").await;
    world.eventually("delivery", async || !mta.received().is_empty()).await;
    let data = mta.received()[0].data.clone();
    assert!(
        data.starts_with(b"DKIM-Signature:"),
        "{}",
        String::from_utf8_lossy(&data)
    );
    let resolver = estafeta_net::dns::resolver(&estafeta_core::config::Dns {
        nameservers: vec![world.server.dns.addr()],
        ..Default::default()
    })
    .unwrap();
    let message = mail_auth::AuthenticatedMessage::parse(&data).unwrap();
    let results = resolver.verify_dkim(&message).await;
    assert!(
        results.iter().any(|r| r.result() == &mail_auth::DkimResult::Pass),
        "{results:?}"
    );
}

#[tokio::test]
async fn starttls_when_offered_and_a_smarthost_with_auth() {
    use estafeta_testkit::mta::{AUTH_PASSWORD, AUTH_USER};
    let world = World::start(|config| {
        config.outbound.routes.insert(
            "relayed.test".into(),
            estafeta_core::config::Route {
                host: estafeta_testkit::mta::CERTIFICATE_NAME.into(),
                require_tls: true,
                username: AUTH_USER.into(),
                password: AUTH_PASSWORD.into(),
                ..Default::default()
            },
        );
        config.outbound.tls_ca_file = Some(estafeta_testkit::mta::test_certificate().0);
    })
    .await;
    world.server.dns.ip(estafeta_testkit::mta::CERTIFICATE_NAME, ip(3));
    let secure = FakeMta::start_with(
        SocketAddr::new(ip(2), world.port),
        Behaviour::Accept,
        &["PIPELINING", "STARTTLS"],
    )
    .await;
    world.mx("remote.test", 2);
    world.send(ALICE, &["<bob@remote.test>"], "tls").await;
    world
        .eventually("delivery", async || !secure.received().is_empty())
        .await;
    assert!(secure.received()[0].tls, "STARTTLS was used when offered");
    assert_eq!(secure.received()[0].auth, None);

    let smarthost = FakeMta::start_with(
        SocketAddr::new(ip(3), world.port),
        Behaviour::Accept,
        &["PIPELINING", "STARTTLS", "AUTH PLAIN"],
    )
    .await;
    world.send(ALICE, &["<carol@relayed.test>"], "smarthost").await;
    world
        .eventually("delivery through the smarthost", async || {
            !smarthost.received().is_empty()
        })
        .await;
    let received = &smarthost.received()[0];
    assert!(
        received.tls && received.auth.as_deref() == Some(AUTH_USER),
        "{received:?}"
    );
}

#[tokio::test]
async fn an_old_server_gets_helo_and_a_chunking_one_gets_bdat() {
    let world = World::start(|_| {}).await;
    let old = FakeMta::start_with(SocketAddr::new(ip(2), world.port), Behaviour::Accept, &["NO-EHLO"]).await;
    world.mx("old.test", 2);
    let chunking = FakeMta::start_with(
        SocketAddr::new(ip(3), world.port),
        Behaviour::Accept,
        &["PIPELINING", "CHUNKING", "8BITMIME"],
    )
    .await;
    world.mx("chunking.test", 3);
    world
        .send(ALICE, &["<bob@old.test>", "<bob@chunking.test>"], "versions")
        .await;
    world
        .eventually("both deliveries", async || {
            !old.received().is_empty() && !chunking.received().is_empty()
        })
        .await;
    assert!(
        !old.received()[0].mail_from.contains("SIZE="),
        "no extensions after HELO: {}",
        old.received()[0].mail_from
    );
    let data = String::from_utf8(chunking.received()[0].data.clone()).unwrap();
    assert!(
        data.contains("\r\n.dot line\r\n"),
        "BDAT carries the bytes unstuffed: {data}"
    );
}

#[tokio::test]
async fn bdat_sends_lines_with_crlf_whatever_the_queue_holds() {
    // A queued message with bare line ends (one written by an older
    // version, or by hand) leaves in the form DATA would give it.
    let world = World::start(|_| {}).await;
    let chunking = FakeMta::start_with(
        SocketAddr::new(ip(2), world.port),
        Behaviour::Accept,
        &["PIPELINING", "CHUNKING", "8BITMIME"],
    )
    .await;
    world.mx("chunking.test", 2);
    let entry = estafeta_store::NewQueuedMessage {
        sender: ALICE.into(),
        recipients: vec![estafeta_store::QueueRecipient {
            address: "bob@chunking.test".into(),
            ..Default::default()
        }],
        envid: None,
        ret: None,
    };
    world
        .server
        .store()
        .queue_insert(b"Subject: bare\n\nline one\nline two\rend", &entry)
        .await
        .unwrap();
    world
        .eventually("delivery", async || !chunking.received().is_empty())
        .await;
    let data = chunking.received()[0].data.clone();
    assert_eq!(data, b"Subject: bare\r\n\r\nline one\r\nline two\r\nend\r\n");
}

#[tokio::test]
async fn a_message_over_the_peers_size_limit_fails_without_being_sent() {
    let world = World::start(|_| {}).await;
    let small = FakeMta::start_with(SocketAddr::new(ip(2), world.port), Behaviour::Accept, &["SIZE 100"]).await;
    world.mx("small.test", 2);
    world.send(ALICE, &["<bob@small.test>"], "too-big").await;
    world
        .eventually("a DSN", async || !world.reports().await.is_empty())
        .await;
    let fields = delivery_status(&world.reports().await[0]);
    assert_eq!(fields[1]["Status"], "5.3.4");
    assert!(small.received().is_empty() && small.attempts("bob@small.test") == 0);
}

#[tokio::test]
async fn ret_hdrs_returns_only_the_header() {
    let world = World::start(|_| {}).await;
    let _mta = world.mta(2, Behaviour::Reject).await;
    world.mx("remote.test", 2);
    let mut client = submission_login(&world.server, ALICE, PASSWORD).await;
    client
        .cmd(&format!("MAIL FROM:<{ALICE}> RET=HDRS ENVID=QQ314159"))
        .await
        .expect(250, "2.1.0");
    client.cmd("RCPT TO:<bob@remote.test>").await.expect(250, "2.1.5");
    client
        .data(&format!(
            "From: {ALICE}\r\nSubject: headers only\r\n\r\nsecret body\r\n"
        ))
        .await
        .expect(250, "2.0.0");
    world
        .eventually("a DSN", async || !world.reports().await.is_empty())
        .await;
    let dsn = &world.reports().await[0];
    assert!(dsn.contains("Content-Type: text/rfc822-headers"), "{dsn}");
    assert!(
        dsn.contains("Subject: headers only") && !dsn.contains("secret body"),
        "{dsn}"
    );
    assert_eq!(delivery_status(dsn)[0]["Original-Envelope-Id"], "QQ314159");
}

#[tokio::test]
async fn mx_hosts_behind_cnames_and_on_ipv6() {
    let v6 = IpAddr::V6(std::net::Ipv6Addr::LOCALHOST);
    if std::net::TcpListener::bind((v6, 0)).is_err() {
        estafeta_testkit::skip("no IPv6 loopback here");
        return;
    }
    let world = World::start(|_| {}).await;
    let aliased = world.mta(2, Behaviour::Accept).await;
    world.server.dns.mx("alias.test", 10, "mail.alias.test");
    world.server.dns.cname("mail.alias.test", "real-host.test");
    world.server.dns.ip("real-host.test", ip(2));
    let six = FakeMta::start(SocketAddr::new(v6, world.port), Behaviour::Accept).await;
    world.server.dns.mx("six.test", 10, "mx.six.test");
    world.server.dns.ip("mx.six.test", v6);
    world
        .send(ALICE, &["<bob@alias.test>", "<bob@six.test>"], "names")
        .await;
    world
        .eventually("both deliveries", async || {
            !aliased.received().is_empty() && !six.received().is_empty()
        })
        .await;
}

#[tokio::test]
async fn a_failed_handshake_falls_back_to_plain_unless_tls_is_required() {
    let world = World::start(|config| {
        let strict = estafeta_core::config::Route {
            require_tls: true,
            ..Default::default()
        };
        config.outbound.routes.insert("strict.test".into(), strict);
    })
    .await;
    let broken = FakeMta::start_with(
        SocketAddr::new(ip(2), world.port),
        Behaviour::Accept,
        &["PIPELINING", "BROKEN-TLS"],
    )
    .await;
    world.mx("broken.test", 2);
    world.mx("strict.test", 2);
    world.send(ALICE, &["<bob@broken.test>"], "fallback").await;
    world
        .eventually("delivery in the clear", async || !broken.received().is_empty())
        .await;
    assert!(!broken.received()[0].tls);
    world.send(ALICE, &["<bob@strict.test>"], "strict").await;
    let store = world.server.store();
    world
        .eventually("a deferral for the strict route", async || {
            store.queue_list().await.unwrap().iter().any(|m| {
                m.recipients[0]
                    .last_reply
                    .as_deref()
                    .is_some_and(|r| r.contains("TLS handshake failed"))
            })
        })
        .await;
    assert_eq!(
        broken.received().len(),
        1,
        "nothing sent in the clear to the strict route"
    );
}

#[tokio::test]
async fn a_peer_slower_than_the_lease_still_gets_one_copy() {
    // The worker renews its lease while the peer sits on the DATA; without
    // renewal the queue runner claims the message again once the lease
    // has run out and a second copy goes out beside the first.
    let world = World::start(|config| {
        config.outbound.lease = Duration::from_secs(1);
        config.outbound.data_timeout = Duration::from_secs(10);
    })
    .await;
    let mta = world.mta(2, Behaviour::Accept).await;
    mta.set_delay(Duration::from_secs(4));
    world.mx("remote.test", 2);
    world.send(ALICE, &["<bob@remote.test>"], "slow peer").await;
    world
        .eventually("an empty queue", async || world.queue_len().await == 0)
        .await;
    // Give a second claim, if one had been made, time to finish too.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(mta.received().len(), 1, "one copy only");
    assert_eq!(mta.attempts("bob@remote.test"), 1);
}

#[tokio::test]
async fn a_3xx_at_the_end_of_data_is_not_a_delivery() {
    let world = World::start(|_| {}).await;
    let mta = world.mta(2, Behaviour::IntermediateAfterData).await;
    world.mx("remote.test", 2);
    world.send(ALICE, &["<bob@remote.test>"], "odd peer").await;
    world
        .eventually("an attempt", async || mta.attempts("bob@remote.test") >= 1)
        .await;
    world
        .eventually("the attempt recorded", async || {
            world.server.store().queue_list().await.unwrap().iter().any(|m| {
                m.recipients
                    .iter()
                    .any(|r| r.last_reply.as_deref().is_some_and(|t| t.starts_with("354")))
            })
        })
        .await;
    let queue = world.server.store().queue_list().await.unwrap();
    assert_eq!(queue.len(), 1, "still queued, to be tried again");
    assert_eq!(queue[0].recipients[0].status, estafeta_store::RecipientStatus::Pending);
}

#[tokio::test]
async fn a_smarthost_whose_certificate_does_not_verify_gets_neither_password_nor_mail() {
    use estafeta_testkit::mta::{AUTH_PASSWORD, AUTH_USER, CERTIFICATE_NAME, test_certificate};
    // The certificate is for smarthost.test. Reached as an IP or another
    // name, or with nobody trusting it, the peer is not the one named.
    let cases = [
        ("127.0.0.3", true, "by IP"),
        ("other.test", true, "by another name"),
        (CERTIFICATE_NAME, false, "untrusted"),
    ];
    for (host, trusted, case) in cases {
        let world = World::start(|config| {
            config.outbound.relay = Some(estafeta_core::config::Route {
                host: host.into(),
                username: AUTH_USER.into(),
                password: AUTH_PASSWORD.into(),
                ..Default::default()
            });
            if trusted {
                config.outbound.tls_ca_file = Some(test_certificate().0);
            }
        })
        .await;
        world.server.dns.ip("other.test", ip(3));
        world.server.dns.ip(CERTIFICATE_NAME, ip(3));
        let smarthost = FakeMta::start_with(
            SocketAddr::new(ip(3), world.port),
            Behaviour::Accept,
            &["PIPELINING", "STARTTLS", "AUTH PLAIN"],
        )
        .await;
        world.send(ALICE, &["<carol@anywhere.test>"], "guarded").await;
        world
            .eventually(case, async || {
                world.last_reply().await.is_some_and(|r| r.starts_with('4'))
            })
            .await;
        assert!(smarthost.received().is_empty(), "{case}: nothing delivered");
        let reply = world.last_reply().await.unwrap_or_default();
        assert!(reply.to_lowercase().contains("certificate"), "{case}: {reply}");
    }
}

#[tokio::test]
async fn a_require_tls_route_verifies_the_mx_certificate() {
    let world = World::start(|config| {
        let strict = estafeta_core::config::Route {
            require_tls: true,
            ..Default::default()
        };
        config.outbound.routes.insert("strict.test".into(), strict);
        config.outbound.tls_ca_file = Some(estafeta_testkit::mta::test_certificate().0);
    })
    .await;
    // The MX host's name is not the certificate's: encrypted, but not
    // with the host we meant, so nothing is sent.
    let mx = FakeMta::start_with(SocketAddr::new(ip(2), world.port), Behaviour::Accept, &["STARTTLS"]).await;
    world.mx("strict.test", 2);
    world.send(ALICE, &["<bob@strict.test>"], "strict").await;
    world
        .eventually("a deferral", async || {
            world
                .last_reply()
                .await
                .is_some_and(|r| r.to_lowercase().contains("certificate"))
        })
        .await;
    assert!(mx.received().is_empty());
    // Opportunistic delivery to the same host still encrypts unverified.
    world.mx("plain.test", 2);
    world.send(ALICE, &["<bob@plain.test>"], "opportunistic").await;
    world.eventually("delivery", async || !mx.received().is_empty()).await;
    assert!(mx.received()[0].tls);
}
