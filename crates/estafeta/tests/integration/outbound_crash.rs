//! kill -9 in the middle of delivering 1,000 queued messages: after the
//! restart every recipient gets its message, and none twice beyond the one
//! window the protocol forces (the remote said 250, our mark of it was not
//! yet on disk), at most one message per open connection.

use crate::common::*;
use estafeta_store::sqlite::SqliteStore;
use estafeta_store::{NewQueuedMessage, QueueRecipient, Store};
use estafeta_testkit::TestDns;
use estafeta_testkit::mta::{Behaviour, FakeMta, common_port};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

const MESSAGES: usize = 1000;
const CONNECTIONS: usize = 5;

fn spawn(dir: &std::path::Path, toml: &str, log: &str) -> Child {
    let mut command = configured(dir, toml);
    let log = std::fs::File::create(dir.join(log)).unwrap();
    command.arg("serve").stdout(Stdio::null()).stderr(log);
    command.spawn().unwrap()
}

async fn wait_for(what: &str, seconds: u64, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_mid_delivery_loses_nothing_and_repeats_almost_nothing() {
    let mx = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let port = common_port(&[mx]).await;
    let mta = FakeMta::start(SocketAddr::new(mx, port), Behaviour::Accept).await;
    mta.set_delay(Duration::from_millis(5));
    let dns = TestDns::start().await;
    dns.mx("remote.test", 10, "mx1.remote.test");
    dns.ip("mx1.remote.test", mx);

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let store = SqliteStore::open(&data).await.unwrap();
    for i in 0..MESSAGES {
        let entry = NewQueuedMessage {
            sender: "alice@example.com".into(),
            recipients: vec![QueueRecipient {
                address: format!("r{i}@remote.test"),
                ..Default::default()
            }],
            envid: None,
            ret: None,
        };
        let body = format!("From: alice@example.com\r\nSubject: crash {i}\r\n\r\nmessage {i}\r\n");
        store.queue_insert(body.as_bytes(), &entry).await.unwrap();
    }
    store.shutdown();
    drop(store);

    let toml = format!(
        "[listen]\nsmtp = \"127.0.0.1:0\"\n\n[dns]\nnameservers = [\"{}\"]\n\n[outbound]\nsmtp_port = {port}\nretry_schedule = [\"1s\"]\nmax_connections_per_domain = {CONNECTIONS}\n",
        dns.addr()
    );
    let mut first = spawn(dir.path(), &toml, "first.log");
    wait_for("a third of the messages", 120, || mta.received().len() >= MESSAGES / 3).await;
    first.kill().unwrap();
    first.wait().unwrap();
    let at_kill = mta.received().len();
    assert!(at_kill < MESSAGES, "the kill came part way through ({at_kill})");

    let mut second = spawn(dir.path(), &toml, "second.log");
    let unique = || {
        let mut seen = std::collections::HashSet::new();
        for received in mta.received() {
            seen.extend(received.recipients());
        }
        seen.len()
    };
    wait_for("every recipient", 180, || unique() == MESSAGES).await;
    // The queue empties once every delivery is marked.
    let mut empty = false;
    for _ in 0..500 {
        let store = SqliteStore::open(&data).await.unwrap();
        empty = store.queue_list().await.unwrap().is_empty();
        store.shutdown();
        if empty {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    second.kill().unwrap();
    second.wait().unwrap();
    assert!(empty, "the queue emptied after the restart");

    let mut counts: HashMap<String, usize> = HashMap::new();
    for received in mta.received() {
        for recipient in received.recipients() {
            *counts.entry(recipient).or_default() += 1;
        }
    }
    assert_eq!(counts.len(), MESSAGES, "every recipient got its message");
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.len() <= CONNECTIONS && twice.iter().all(|(_, n)| **n == 2),
        "at most one message per open connection twice: {twice:?}"
    );
    eprintln!("killed after {at_kill} deliveries; {} delivered twice", twice.len());
}

/// Two nodes on one PostgreSQL: node A (a process) is killed with SIGKILL
/// while it holds queued messages in delivery; node B delivers them once
/// A's leases run out, each recipient once (beyond the one window per
/// connection the protocol forces). Skipped without ESTAFETA_TEST_POSTGRES.
#[tokio::test(flavor = "multi_thread")]
async fn a_killed_nodes_claims_pass_to_another_node_after_the_lease() {
    let Some(url) = estafeta_testkit::postgres_url().await else {
        return;
    };
    const QUEUED: usize = 300;
    let mx = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let port = common_port(&[mx]).await;
    let mta = FakeMta::start(SocketAddr::new(mx, port), Behaviour::Accept).await;
    mta.set_delay(Duration::from_millis(20));
    let dns = TestDns::start().await;
    dns.mx("remote.test", 10, "mx1.remote.test");
    dns.ip("mx1.remote.test", mx);

    let store = estafeta_store::postgres::PostgresStore::open(&url).await.unwrap();
    estafeta_testkit::mta::queue_numbered(&store, QUEUED, "remote.test").await;

    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "hostname = \"node-a.test\"\n[listen]\nsmtp = \"127.0.0.1:0\"\n\n[dns]\nnameservers = [\"{}\"]\n\n\
         [store]\nbackend = \"postgres\"\nurl = \"{url}\"\n\n\
         [outbound]\nsmtp_port = {port}\nlease = \"4s\"\nretry_schedule = [\"1s\"]\nmax_connections_per_domain = {CONNECTIONS}\n",
        dns.addr()
    );
    let mut node_a = spawn(dir.path(), &toml, "node-a.log");
    wait_for("node A at work", 120, || mta.received().len() >= QUEUED / 5).await;
    node_a.kill().unwrap();
    node_a.wait().unwrap();
    let held = store.queue_list().await.unwrap().len();
    assert!(held > 0 && mta.received().len() < QUEUED, "killed part way through");

    let node_b = estafeta_testkit::TestServer::start_with(|config| {
        config.hostname = "node-b.test".into();
        config.store.backend = estafeta_core::config::Backend::Postgres;
        config.store.url = url.clone();
        config.dns.nameservers = vec![dns.addr()];
        config.outbound.hold = false;
        config.outbound.smtp_port = port;
        config.outbound.lease = Duration::from_secs(4);
    })
    .await;
    let mut empty = false;
    for _ in 0..600 {
        if store.queue_list().await.unwrap().is_empty() {
            empty = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(empty, "node B emptied the queue");
    let mut counts: HashMap<String, usize> = HashMap::new();
    for received in mta.received() {
        for recipient in received.recipients() {
            *counts.entry(recipient).or_default() += 1;
        }
    }
    assert_eq!(counts.len(), QUEUED, "every recipient got its message");
    let twice = counts.values().filter(|n| **n > 1).count();
    assert!(twice <= CONNECTIONS, "{twice} delivered twice");
    drop(node_b);
}
