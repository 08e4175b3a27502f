//! `estafeta verify` against the testkit's DNS and a fake MTA.

mod common;

use common::*;
use estafeta_testkit::dns::TestDns;
use estafeta_testkit::mta::{Behaviour, FakeMta, common_port};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

#[tokio::test]
async fn verify_prints_a_report_per_address_as_text_or_json() {
    let host = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let port = common_port(&[host]).await;
    let dns = TestDns::start().await;
    dns.mx("ok.test", 10, "mx.ok.test");
    dns.ip("mx.ok.test", host);
    let _mta = FakeMta::start(
        SocketAddr::new(host, port),
        Behaviour::Mailboxes(vec!["a@ok.test".into()]),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "[dns]\nnameservers = [\"{}\"]\n[verify]\nsmtp_port = {port}\n",
        dns.addr()
    );

    let mut command = configured(dir.path(), &toml);
    command.args(["verify", "a@ok.test", "b@ok.test", "bad address"]);
    let done = tokio::task::spawn_blocking(move || run(command, None)).await.unwrap();
    let out = done.ok();
    assert!(
        out.contains("a@ok.test: deliverable (the server takes mail for it)"),
        "{out}"
    );
    assert!(
        out.contains("b@ok.test: undeliverable (no such mailbox: 550 5.1.1"),
        "{out}"
    );
    assert!(out.contains("bad address: undeliverable (invalid address"), "{out}");
    assert!(out.contains("  mx           mx.ok.test"), "{out}");

    let mut command = configured(dir.path(), &toml);
    command.args(["verify", "--json", "a@ok.test"]);
    let done = tokio::task::spawn_blocking(move || run(command, None)).await.unwrap();
    let json: serde_json::Value = serde_json::from_str(done.ok()).unwrap();
    assert_eq!(json[0]["verdict"], "deliverable");
    assert_eq!(json[0]["catch_all"], false);
}
