//! IP pools on the simulated internet: the fake MTAs see which 127.0.0.x
//! address each connection came from and the EHLO name it gave. Two
//! tenants share a pool and a third has its own; a pool address found
//! on a blocklist (the test DNS answers for it) stops being used; a new
//! address sends no more than its warm-up cap to a provider in a day.

use crate::common::world::*;
use crate::common::*;
use estafeta_store::{NewPoolAddress, Store};
use estafeta_testkit::mta::{Behaviour, FakeMta};
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::Duration;

const SHARED_A: u8 = 101;
const SHARED_B: u8 = 102;
const DEDICATED: u8 = 103;
const FRESH: u8 = 104;
const WARM: u8 = 105;

fn ehlo_of(n: u8) -> String {
    format!("mta{n}.pool.test")
}

async fn add_address(store: &dyn Store, pool: &str, n: u8, warmup: bool) {
    store
        .pool_address_add(
            pool,
            &NewPoolAddress {
                address: ip(n).to_string(),
                ehlo: ehlo_of(n),
                weight: 1,
                warmup,
            },
        )
        .await
        .unwrap();
}

/// `user` sends one message from its own address to `recipients`.
async fn send_as(world: &World, user: &str, recipients: &[String], subject: &str) {
    let mut client = submission_login(&world.server, user, PASSWORD).await;
    client.cmd(&format!("MAIL FROM:<{user}>")).await.expect(250, "2.1.0");
    for recipient in recipients {
        client.cmd(&format!("RCPT TO:<{recipient}>")).await.expect(250, "2.1.5");
    }
    let message = format!("From: {user}\r\nSubject: {subject}\r\nMessage-ID: <{subject}@pool.test>\r\n\r\nHello.\r\n");
    client.data(&message).await.expect(250, "2.0.0");
}

/// The (source address, EHLO name) pairs `mta` saw for mail whose
/// return path is at `domain`.
fn seen_from(mta: &FakeMta, domain: &str) -> BTreeSet<(IpAddr, String)> {
    mta.received()
        .iter()
        .filter(|t| t.mail_from.to_ascii_lowercase().contains(&format!("@{domain}>")))
        .map(|t| (t.peer, t.helo.clone()))
        .collect()
}

fn from(addresses: &[u8]) -> BTreeSet<(IpAddr, String)> {
    addresses.iter().map(|n| (ip(*n), ehlo_of(*n))).collect()
}

#[tokio::test]
async fn shared_and_dedicated_pools_send_from_their_own_addresses() {
    let world = World::start(|config| {
        // A new connection each message, so each picks its address.
        config.outbound.max_messages_per_connection = 1;
    })
    .await;
    let store = world.server.store();
    for (tenant, domain) in [
        ("acme", "example.com"),
        ("globex", "globex.test"),
        ("initech", "initech.test"),
    ] {
        let tenant = store.tenant_add(tenant).await.unwrap();
        if domain != "example.com" {
            world.server.add_account(&format!("sales@{domain}"), PASSWORD).await;
        }
        store.domain_set_tenant(domain, tenant.id).await.unwrap();
    }
    store.pool_add("shared", false).await.unwrap();
    store.pool_add("vip", true).await.unwrap();
    add_address(store.as_ref(), "shared", SHARED_A, false).await;
    add_address(store.as_ref(), "shared", SHARED_B, false).await;
    add_address(store.as_ref(), "vip", DEDICATED, false).await;
    store.pool_assign(Some("shared"), "acme").await.unwrap();
    store.pool_assign(Some("shared"), "globex").await.unwrap();
    store.pool_assign(Some("vip"), "initech").await.unwrap();
    // A dedicated pool is one tenant's alone.
    let refused = store.pool_assign(Some("vip"), "acme").await.unwrap_err();
    assert!(refused.to_string().contains("dedicated to tenant initech"), "{refused}");
    // And an address belongs to one pool.
    let twice = store
        .pool_address_add(
            "vip",
            &NewPoolAddress {
                address: ip(SHARED_A).to_string(),
                ehlo: ehlo_of(SHARED_A),
                weight: 1,
                warmup: false,
            },
        )
        .await
        .unwrap_err();
    assert!(twice.to_string().contains("in pool shared"), "{twice}");

    world.mx("dest.test", 2);
    let mta = world.mta(2, Behaviour::Accept).await;
    let senders = [
        ALICE.to_owned(),
        "sales@globex.test".to_owned(),
        "sales@initech.test".to_owned(),
    ];
    for round in 0..12 {
        for sender in &senders {
            let to = [format!("user{round}@dest.test")];
            send_as(&world, sender, &to, &format!("r{round}-{}", &sender[..5])).await;
        }
    }
    world
        .eventually("all 36 delivered", async || {
            mta.received().len() == 36 && world.queue_len().await == 0
        })
        .await;

    // The shared pool's two addresses carry both its tenants' mail; the
    // dedicated one carries its tenant's alone.
    assert_eq!(seen_from(&mta, "example.com"), from(&[SHARED_A, SHARED_B]));
    assert_eq!(seen_from(&mta, "globex.test"), from(&[SHARED_A, SHARED_B]));
    assert_eq!(seen_from(&mta, "initech.test"), from(&[DEDICATED]));

    // Counted per source address for `estafeta reputation`.
    let stats = store.source_stats_sum(&ip(DEDICATED).to_string(), 0).await.unwrap();
    assert_eq!(stats.get(&estafeta_store::StatKind::Delivered), Some(&12));
    let (_, metrics) = world.server.http_get("/metrics").await;
    assert!(
        metrics.contains("estafeta_source_events_total{source=\"127.0.0.103\",kind=\"delivered\"} 12"),
        "{metrics}"
    );
}

#[tokio::test]
async fn an_address_on_a_blocklist_leaves_its_pool() {
    let world = World::start(|config| {
        config.outbound.max_messages_per_connection = 1;
        let rules = &mut config.deliverability;
        rules.blocklists = vec!["bl.test".into()];
        rules.domain_blocklists = vec!["dbl.test".into()];
        rules.blocklist_interval = Duration::from_secs(1);
    })
    .await;
    let store = world.server.store();
    store.pool_add("shared", false).await.unwrap();
    add_address(store.as_ref(), "shared", SHARED_A, false).await;
    add_address(store.as_ref(), "shared", SHARED_B, false).await;
    store.pool_assign(Some("shared"), "default").await.unwrap();
    // RFC 5782: the address reversed under the list's zone; 127.0.0.2 is
    // a listing. The list refuses to say about the other (127.255.255.254),
    // which is not a listing.
    let dns = &world.server.dns;
    dns.ip(&format!("{SHARED_A}.0.0.127.bl.test"), "127.0.0.2".parse().unwrap());
    dns.ip(
        &format!("{SHARED_B}.0.0.127.bl.test"),
        "127.255.255.254".parse().unwrap(),
    );
    dns.ip("example.com.dbl.test", "127.0.1.2".parse().unwrap());

    world
        .eventually("the listed address taken out", async || {
            let pools = store.pool_list().await.unwrap();
            pools[0].addresses.iter().any(|a| a.listed.is_some())
        })
        .await;
    let pools = store.pool_list().await.unwrap();
    let listed: Vec<(&str, Option<&str>)> = pools[0]
        .addresses
        .iter()
        .map(|a| (a.address.as_str(), a.listed.as_deref()))
        .collect();
    assert_eq!(
        listed,
        [("127.0.0.101", Some("bl.test (127.0.0.2)")), ("127.0.0.102", None)]
    );
    let (_, metrics) = world.server.http_get("/metrics").await;
    assert!(metrics.contains("estafeta_pool_address_listed{pool=\"shared\",address=\"127.0.0.101\"} 1"));
    assert!(metrics.contains("estafeta_pool_address_listed{pool=\"shared\",address=\"127.0.0.102\"} 0"));

    world.mx("dest.test", 2);
    let mta = world.mta(2, Behaviour::Accept).await;
    for n in 0..10 {
        world
            .send(ALICE, &[&format!("<user{n}@dest.test>")], &format!("after-{n}"))
            .await;
    }
    world
        .eventually("all delivered", async || mta.received().len() == 10)
        .await;
    assert_eq!(seen_from(&mta, "example.com"), from(&[SHARED_B]));

    // The domain that sent is checked too, and its listing shown.
    world
        .eventually("the sending domain's listing seen", async || {
            let (_, metrics) = world.server.http_get("/metrics").await;
            metrics.contains("estafeta_domain_listed{domain=\"example.com\"} 1")
        })
        .await;
}

#[tokio::test]
async fn a_new_address_keeps_to_its_warmup_cap_per_provider() {
    let world = World::start(|config| {
        let rules = &mut config.deliverability;
        // Day one: three messages to each provider.
        rules.warmup = vec![3, 6];
        rules.providers.insert("bigmail".into(), vec!["bigmail.test".into()]);
    })
    .await;
    let store = world.server.store();
    store.pool_add("new", false).await.unwrap();
    add_address(store.as_ref(), "new", FRESH, true).await;
    store.pool_assign(Some("new"), "default").await.unwrap();
    // Two domains hosted by one provider (their MX hosts end alike), and
    // one elsewhere.
    for (domain, host) in [("one.test", "mx.one.bigmail.test"), ("two.test", "mx.two.bigmail.test")] {
        world.server.dns.mx(domain, 10, host);
        world.server.dns.ip(host, ip(2));
    }
    world.mx("solo.test", 3);
    let bigmail = world.mta(2, Behaviour::Accept).await;
    let solo = world.mta(3, Behaviour::Accept).await;

    let five: Vec<String> = (0..5).map(|n| format!("<u{n}@one.test>")).collect();
    let five: Vec<&str> = five.iter().map(String::as_str).collect();
    world.send(ALICE, &five, "five").await;
    world.send(ALICE, &["<a@two.test>", "<b@two.test>"], "two").await;
    world.send(ALICE, &["<x@solo.test>", "<y@solo.test>"], "solo").await;

    world
        .eventually("solo's two delivered and bigmail's cap used", async || {
            solo.received().iter().map(|t| t.recipients().len()).sum::<usize>() == 2
                && bigmail.received().iter().map(|t| t.recipients().len()).sum::<usize>() == 3
        })
        .await;
    // Retries come every second: the cap still holds after several.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let delivered: usize = bigmail.received().iter().map(|t| t.recipients().len()).sum();
    assert_eq!(delivered, 3, "bigmail got more than the day's cap");
    assert!(bigmail.received().iter().all(|t| t.peer == ip(FRESH)));
    let queued = store.queue_list().await.unwrap();
    let held: Vec<&str> = queued
        .iter()
        .flat_map(|m| m.recipients.iter())
        .filter(|r| r.status == estafeta_store::RecipientStatus::Pending)
        .filter_map(|r| r.last_reply.as_deref())
        .collect();
    assert_eq!(held.len(), 4, "{held:?}");
    assert!(
        held.iter()
            .all(|reply| reply.starts_with("451 4.7.0") && reply.contains("warm-up share to bigmail")),
        "{held:?}"
    );
    // Held back, not failed: no bounce reports, nothing counted.
    assert!(world.reports().await.is_empty());
    let stats = store.source_stats_sum(&ip(FRESH).to_string(), 0).await.unwrap();
    assert_eq!(stats.get(&estafeta_store::StatKind::Deferred), None);
    assert_eq!(stats.get(&estafeta_store::StatKind::Delivered), Some(&5));

    // A warm address joins the pool: the rest leaves from it.
    add_address(store.as_ref(), "new", WARM, false).await;
    world
        .eventually("the held four delivered", async || world.queue_len().await == 0)
        .await;
    let peers: Vec<IpAddr> = bigmail.received().iter().map(|t| t.peer).collect();
    assert!(peers.contains(&ip(WARM)), "{peers:?}");
    let from_fresh: usize = bigmail
        .received()
        .iter()
        .filter(|t| t.peer == ip(FRESH))
        .map(|t| t.recipients().len())
        .sum();
    assert_eq!(from_fresh, 3, "the new address stayed within its cap");
}

#[tokio::test]
async fn a_provider_deferring_most_mail_gets_it_more_slowly() {
    let world = World::start(|config| {
        let rules = &mut config.deliverability;
        rules.throttle_sample = 4;
        rules.throttle_max = Duration::from_millis(200);
    })
    .await;
    world.mx("slow.test", 4);
    // Every recipient's first attempt is deferred, as a provider slowing
    // a sender down answers.
    let mta = world.mta(4, Behaviour::Greylist(1)).await;
    estafeta_testkit::mta::queue_numbered(world.server.store().as_ref(), 20, "slow.test").await;
    world
        .eventually("deliveries slowed by the throttle", async || {
            let (_, metrics) = world.server.http_get("/metrics").await;
            metrics.contains("estafeta_outbound_throttled_total{provider=\"slow.test\"}")
        })
        .await;
    // Nothing is lost to the throttle: everything arrives in the end, each
    // recipient asked once while deferred and once more.
    world
        .eventually("all 20 delivered", async || mta.received().len() == 20)
        .await;
    for i in 0..20 {
        assert_eq!(mta.attempts(&format!("r{i}@slow.test")), 2);
    }
}
