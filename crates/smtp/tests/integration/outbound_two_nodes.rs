//! Two Estafeta nodes on one PostgreSQL share one outbound queue: each
//! message is claimed by one node (a lease in the database), so every
//! recipient gets its message once. Skipped (with a message) without
//! ESTAFETA_TEST_POSTGRES.

use estafeta_testkit::TestServer;
use estafeta_testkit::mta::{Behaviour, FakeMta, common_port};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

const MESSAGES: usize = 200;

#[tokio::test]
async fn two_nodes_deliver_each_queued_message_once() {
    let Some(url) = estafeta_testkit::postgres_url().await else {
        return;
    };
    let mx = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let port = common_port(&[mx]).await;
    let mta = FakeMta::start(SocketAddr::new(mx, port), Behaviour::Accept).await;
    // Slow enough that both nodes are at it before the queue runs dry.
    mta.set_delay(Duration::from_millis(40));
    let node = |url: String| async move {
        let server = TestServer::start_with(move |config| {
            config.store.backend = estafeta_core::config::Backend::Postgres;
            config.store.url = url;
            config.outbound.hold = false;
            config.outbound.smtp_port = port;
        })
        .await;
        server.dns.mx("remote.test", 10, "mx1.remote.test");
        server.dns.ip("mx1.remote.test", mx);
        server
    };
    let (a, b) = (node(url.clone()).await, node(url).await);
    let store = a.store();
    estafeta_testkit::mta::queue_numbered(store.as_ref(), MESSAGES, "remote.test").await;
    for _ in 0..600 {
        if store.queue_list().await.unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(store.queue_list().await.unwrap().is_empty(), "the queue emptied");
    let mut counts: HashMap<String, usize> = HashMap::new();
    for received in mta.received() {
        for recipient in received.recipients() {
            *counts.entry(recipient).or_default() += 1;
        }
    }
    assert_eq!(counts.len(), MESSAGES);
    assert!(counts.values().all(|n| *n == 1), "no recipient twice");
    let delivered = |metrics: String| -> usize {
        metrics
            .lines()
            .find_map(|line| line.strip_prefix("estafeta_outbound_recipients_total{result=\"delivered\"} "))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    let (on_a, on_b) = (
        delivered(a.http_get("/metrics").await.1),
        delivered(b.http_get("/metrics").await.1),
    );
    assert_eq!(on_a + on_b, MESSAGES);
    assert!(on_a > 0 && on_b > 0, "both nodes delivered: {on_a} and {on_b}");
}
