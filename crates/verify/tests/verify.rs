//! Verification against the testkit's simulated internet: a local DNS
//! serving MX, implicit MX, null MX, NXDOMAIN and SERVFAIL, and fake MTAs
//! on 127.0.0.x answering RCPT as real servers do.

use estafeta_core::config::{Config, Dns};
use estafeta_testkit::dns::TestDns;
use estafeta_testkit::mta::{Behaviour, FakeMta, common_port};
use estafeta_verify::{Report, Verdict, Verifier};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

struct World {
    dns: TestDns,
    port: u16,
    mtas: Vec<FakeMta>,
}

impl World {
    async fn new() -> World {
        let port = common_port(&(2..=14).map(ip).collect::<Vec<_>>()).await;
        World {
            dns: TestDns::start().await,
            port,
            mtas: Vec::new(),
        }
    }

    /// A domain whose one MX, on 127.0.0.`last`, behaves so.
    async fn domain(&mut self, domain: &str, last: u8, behaviour: Behaviour) {
        let host = format!("mx.{domain}");
        self.dns.mx(domain, 10, &host);
        self.dns.ip(&host, ip(last));
        self.mtas
            .push(FakeMta::start(SocketAddr::new(ip(last), self.port), behaviour).await);
    }

    fn verifier(&self, adjust: impl FnOnce(&mut Config)) -> Verifier {
        let mut config = Config {
            hostname: "verifier.test".into(),
            dns: Dns {
                nameservers: vec![self.dns.addr()],
                ..Dns::default()
            },
            ..Config::default()
        };
        config.verify.smtp_port = self.port;
        config.verify.retry_delay = Duration::from_millis(100);
        config.verify.connect_timeout = Duration::from_secs(2);
        config.verify.command_timeout = Duration::from_secs(2);
        adjust(&mut config);
        let resolver = estafeta_net::dns::resolver(&config.dns).unwrap();
        Verifier::new(Arc::new(config), resolver)
    }
}

#[track_caller]
fn expect(report: &Report, verdict: Verdict, reason: &str) {
    assert_eq!(report.verdict, verdict, "{}", report.human());
    assert!(report.reason.contains(reason), "`{reason}` not in: {}", report.human());
}

#[tokio::test]
async fn a_mailbox_that_exists_and_one_that_does_not() {
    let mut world = World::new().await;
    world
        .domain(
            "ok.test",
            2,
            Behaviour::Mailboxes(vec!["alice@ok.test".into(), "postmaster@ok.test".into()]),
        )
        .await;
    let verifier = world.verifier(|_| {});
    let alice = verifier.verify("Alice@OK.test").await;
    expect(&alice, Verdict::Deliverable, "takes mail");
    assert_eq!(alice.normalised.as_deref(), Some("Alice@ok.test"));
    assert_eq!(alice.domain_exists, Some(true));
    assert_eq!(alice.mx, ["mx.ok.test"]);
    assert!(!alice.implicit_mx);
    assert_eq!(alice.catch_all, Some(false));
    let smtp = alice.smtp.as_ref().unwrap();
    assert_eq!((smtp.code, smtp.enhanced.as_deref()), (250, Some("2.1.5")));
    assert!(smtp.host.starts_with("mx.ok.test [127.0.0.2]"), "{}", smtp.host);

    let bob = verifier.verify("bob@ok.test").await;
    expect(&bob, Verdict::Undeliverable, "no such mailbox: 550 5.1.1");
    // Nothing was ever sent: no DATA reached the server.
    assert!(world.mtas[0].received().is_empty());

    let role = verifier.verify("postmaster@ok.test").await;
    expect(&role, Verdict::Risky, "role account");
    assert!(role.role);
}

#[tokio::test]
async fn catch_all_full_and_disposable_are_risky() {
    let mut world = World::new().await;
    world.domain("any.test", 3, Behaviour::Accept).await;
    world.domain("full.test", 4, Behaviour::Full).await;
    world.domain("mailinator.com", 5, Behaviour::Accept).await;
    let verifier = world.verifier(|_| {});
    let any = verifier.verify("whoever@any.test").await;
    expect(&any, Verdict::Risky, "catch-all");
    assert_eq!(any.catch_all, Some(true));
    expect(
        &verifier.verify("a@full.test").await,
        Verdict::Risky,
        "mailbox is full: 552 5.2.2",
    );
    let throwaway = world
        .verifier(|c| c.verify.catch_all_check = false)
        .verify("x@mailinator.com")
        .await;
    expect(&throwaway, Verdict::Risky, "disposable");
    assert!(throwaway.disposable && throwaway.catch_all.is_none());
}

#[tokio::test]
async fn dns_answers_decide_before_any_probe() {
    let world = World::new().await;
    world.dns.mx("nullmx.test", 0, ".");
    world.dns.ip("nullmx.test", ip(9));
    world.dns.servfail("broken.test");
    world.dns.txt("nomail.test", "v=spf1 -all");
    let verifier = world.verifier(|_| {});

    let null = verifier.verify("a@nullmx.test").await;
    expect(&null, Verdict::Undeliverable, "null MX");
    assert!(null.null_mx && null.smtp.is_none());
    let missing = verifier.verify("a@gmial.com").await;
    expect(
        &missing,
        Verdict::Undeliverable,
        "does not exist; did you mean gmail.com?",
    );
    assert_eq!(missing.domain_exists, Some(false));
    assert_eq!(missing.suggestion.as_deref(), Some("gmail.com"));
    expect(
        &verifier.verify("a@broken.test").await,
        Verdict::Unknown,
        "DNS did not answer",
    );
    expect(
        &verifier.verify("a@nomail.test").await,
        Verdict::Undeliverable,
        "no mail server",
    );
    let bad = verifier.verify("not an address").await;
    expect(&bad, Verdict::Undeliverable, "invalid address");
    assert!(bad.syntax_error.is_some() && bad.domain_exists.is_none());
}

#[tokio::test]
async fn implicit_mx_and_failover_to_the_next_host() {
    let mut world = World::new().await;
    // No MX: the domain's own address is the mail host.
    world.dns.ip("implicit.test", ip(6));
    world.mtas.push(
        FakeMta::start(
            SocketAddr::new(ip(6), world.port),
            Behaviour::Mailboxes(vec!["a@implicit.test".into()]),
        )
        .await,
    );
    // The best MX is too busy (421); the next one answers.
    world.dns.mx("two.test", 10, "busy.two.test");
    world.dns.ip("busy.two.test", ip(7));
    world.dns.mx("two.test", 20, "good.two.test");
    world.dns.ip("good.two.test", ip(8));
    world
        .mtas
        .push(FakeMta::start(SocketAddr::new(ip(7), world.port), Behaviour::Busy).await);
    world.mtas.push(
        FakeMta::start(
            SocketAddr::new(ip(8), world.port),
            Behaviour::Mailboxes(vec!["a@two.test".into()]),
        )
        .await,
    );
    let verifier = world.verifier(|_| {});

    let implicit = verifier.verify("a@implicit.test").await;
    expect(&implicit, Verdict::Deliverable, "takes mail");
    assert!(implicit.implicit_mx);
    let two = verifier.verify("a@two.test").await;
    expect(&two, Verdict::Deliverable, "takes mail");
    assert_eq!(two.mx, ["busy.two.test", "good.two.test"]);
    assert!(
        two.smtp.as_ref().unwrap().host.starts_with("good.two.test"),
        "{}",
        two.human()
    );
}

#[tokio::test]
async fn greylisting_is_retried_and_silence_is_unknown() {
    let mut world = World::new().await;
    world.domain("grey.test", 10, Behaviour::Greylist(1)).await;
    world.domain("stubborn.test", 11, Behaviour::Greylist(10)).await;
    world.domain("stall.test", 12, Behaviour::Stall).await;
    let verifier = world.verifier(|c| c.verify.catch_all_check = false);

    let grey = verifier.verify("a@grey.test").await;
    expect(&grey, Verdict::Deliverable, "takes mail");
    assert_eq!(world.mtas[0].attempts("a@grey.test"), 2, "asked again after the delay");
    // Postgrey's 450 likewise.
    world.domain("postgrey.test", 14, Behaviour::Greylist450(1)).await;
    expect(
        &verifier.verify("a@postgrey.test").await,
        Verdict::Deliverable,
        "takes mail",
    );
    assert_eq!(world.mtas[3].attempts("a@postgrey.test"), 2);
    expect(
        &verifier.verify("a@stubborn.test").await,
        Verdict::Risky,
        "still deferred after 1 retries",
    );
    expect(
        &verifier.verify("a@stall.test").await,
        Verdict::Unknown,
        "no answer to EHLO in time",
    );
    // Nothing listens here at all.
    world.dns.mx("closed.test", 10, "mx.closed.test");
    world.dns.ip("mx.closed.test", ip(13));
    expect(
        &verifier.verify("a@closed.test").await,
        Verdict::Unknown,
        "cannot connect",
    );
}

#[tokio::test]
async fn reports_serialise_for_the_json_output() {
    let mut world = World::new().await;
    world
        .domain("ok.test", 2, Behaviour::Mailboxes(vec!["a@ok.test".into()]))
        .await;
    let report = world.verifier(|_| {}).verify("a@ok.test").await;
    let json: serde_json::Value = serde_json::to_value(&report).unwrap();
    assert_eq!(json["verdict"], "deliverable");
    assert_eq!(json["smtp"]["code"], 250);
    assert_eq!(json["mx"][0], "mx.ok.test");
}

async fn all(verifier: Arc<Verifier>, addresses: &[&str], window: usize) -> Vec<Report> {
    let mut receiver = estafeta_verify::batch::verify_all(
        verifier,
        addresses.iter().map(|a| a.to_string()).collect(),
        estafeta_verify::batch::Batch {
            window,
            retries: estafeta_verify::batch::Retries::Wait,
            tenant: None,
        },
    );
    let mut reports = Vec::new();
    while let Some(report) = receiver.recv().await {
        reports.push(report);
    }
    reports.sort_by(|a, b| a.address.cmp(&b.address));
    reports
}

#[tokio::test]
async fn one_host_gets_few_connections_reused_and_paced_rcpts() {
    let mut world = World::new().await;
    let known: Vec<String> = ["a", "b", "c", "d", "e"]
        .iter()
        .map(|l| format!("{l}@many.test"))
        .collect();
    world.domain("many.test", 2, Behaviour::Mailboxes(known)).await;
    let verifier = Arc::new(world.verifier(|c| {
        c.verify.host_connections = 1;
        c.verify.rcpts_per_connection = 4;
        c.verify.host_rate = 600;
    }));
    let addresses = [
        "a@many.test",
        "b@many.test",
        "c@many.test",
        "d@many.test",
        "e@many.test",
        "f@many.test",
    ];
    let reports = all(Arc::clone(&verifier), &addresses, 6).await;
    assert_eq!(reports.len(), 6);
    for report in &reports[..5] {
        expect(report, Verdict::Deliverable, "takes mail");
        assert_eq!(report.catch_all, Some(false), "learned once for the domain");
    }
    expect(&reports[5], Verdict::Undeliverable, "no such mailbox");

    let mta = &world.mtas[0];
    // One made-up address for the domain, then each address once.
    let times = mta.rcpt_times();
    assert_eq!(times.len(), 7);
    // Four RCPTs a connection, one connection at a time, RSET between.
    assert_eq!(mta.connections(), 2);
    assert_eq!(mta.peak_connections(), 1);
    assert!(mta.resets() >= 4, "{} RSETs", mta.resets());
    // 600 a minute: the seven RCPTs spread over at least six intervals.
    let span = *times.last().unwrap() - times[0];
    assert!(span >= Duration::from_millis(550), "{span:?}");

    // Asked again: the kept verdict, nothing sent to the server.
    let again = verifier.verify("a@MANY.test").await;
    expect(&again, Verdict::Deliverable, "takes mail");
    assert!(again.cached && again.address == "a@MANY.test");
    assert_eq!(mta.rcpt_times().len(), 7);
    let fresh = world
        .verifier(|c| c.verify.cache_ttl = Duration::ZERO)
        .verify("a@many.test")
        .await;
    assert!(!fresh.cached);
    assert_eq!(mta.rcpt_times().len(), 9);
}

#[tokio::test]
async fn the_overall_bound_closes_idle_connections_for_other_hosts() {
    let mut world = World::new().await;
    world.domain("x.test", 3, Behaviour::Accept).await;
    world.domain("y.test", 4, Behaviour::Accept).await;
    world.domain("z.test", 5, Behaviour::Accept).await;
    // One session in all; idle ones would otherwise wait an hour.
    let verifier = Arc::new(world.verifier(|c| {
        c.verify.max_probes = 1;
        c.verify.host_connections = 4;
        c.verify.idle_timeout = Duration::from_secs(3600);
        c.verify.catch_all_check = false;
    }));
    let addresses = ["a@x.test", "b@x.test", "a@y.test", "b@y.test", "a@z.test", "c@x.test"];
    let reports = tokio::time::timeout(Duration::from_secs(30), all(verifier, &addresses, 6))
        .await
        .expect("idle connections give way");
    assert_eq!(reports.len(), 6);
    assert!(reports.iter().all(|r| r.verdict == Verdict::Deliverable));
    for mta in &world.mtas {
        assert_eq!(mta.peak_connections(), 1);
    }
}

#[tokio::test]
async fn dropped_connections_and_slow_banners() {
    let mut world = World::new().await;
    world.domain("drop.test", 6, Behaviour::DropAtRcpt).await;
    world
        .domain("slow.test", 7, Behaviour::SlowBanner(Duration::from_millis(800)))
        .await;
    world
        .domain("slower.test", 8, Behaviour::SlowBanner(Duration::from_secs(4)))
        .await;
    let verifier = world.verifier(|c| c.verify.catch_all_check = false);
    expect(
        &verifier.verify("a@drop.test").await,
        Verdict::Unknown,
        "closed the connection at RCPT TO",
    );
    expect(
        &verifier.verify("a@slow.test").await,
        Verdict::Deliverable,
        "takes mail",
    );
    expect(
        &verifier.verify("a@slower.test").await,
        Verdict::Unknown,
        "no answer to the greeting in time",
    );
    // Unknown verdicts are not kept: the next ask goes to the server.
    world.mtas[0].set_behaviour(Behaviour::Accept);
    expect(
        &verifier.verify("a@drop.test").await,
        Verdict::Deliverable,
        "takes mail",
    );
}

#[tokio::test]
async fn utf8_addresses_need_smtputf8() {
    let mut world = World::new().await;
    world
        .domain("utf.test", 9, Behaviour::Mailboxes(vec!["josé@utf.test".into()]))
        .await;
    world.dns.mx("old.test", 10, "mx.old.test");
    world.dns.ip("mx.old.test", ip(10));
    world.mtas.push(
        FakeMta::start_with(
            SocketAddr::new(ip(10), world.port),
            Behaviour::Accept,
            &["PIPELINING", "8BITMIME"],
        )
        .await,
    );
    let verifier = world.verifier(|c| c.verify.catch_all_check = false);
    expect(
        &verifier.verify("josé@utf.test").await,
        Verdict::Deliverable,
        "takes mail",
    );
    assert!(
        world.mtas[0].mail_commands()[0].ends_with("> SMTPUTF8"),
        "{:?}",
        world.mtas[0].mail_commands()
    );
    expect(
        &verifier.verify("josé@old.test").await,
        Verdict::Undeliverable,
        "no SMTPUTF8",
    );
    // Nothing asked of a server that could not take the address.
    assert!(world.mtas[1].mail_commands().is_empty());
    // ASCII addresses do not ask for it.
    expect(
        &verifier.verify("jose@old.test").await,
        Verdict::Deliverable,
        "takes mail",
    );
    assert_eq!(world.mtas[1].mail_commands(), ["MAIL FROM:<postmaster@verifier.test>"]);
}
