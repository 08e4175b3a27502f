//! MTA-STS (RFC 8461) on the simulated internet: the test DNS publishes
//! `_mta-sts.sts.test`, a small HTTPS server on 127.0.0.10 serves the
//! policy for `mta-sts.sts.test`, and the MX is a fake MTA whose
//! certificate is for `smarthost.test`.

use crate::common::world::*;
use estafeta_testkit::mta::{Behaviour, CERTIFICATE_NAME, FakeMta, test_certificate};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const POLICY_HOST: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 10));

/// Serves `body` as the policy over TLS with a certificate for
/// `mta-sts.sts.test`; returns its port and the PEM file trusting both it
/// and the fake MTAs' certificate.
async fn policy_server(dir: &std::path::Path, body: &'static str) -> (u16, std::path::PathBuf) {
    let (cert, key) = estafeta_net::tls::self_signed(dir, "mta-sts.sts.test").unwrap();
    let acceptor = estafeta_net::tls::acceptor(&cert, &key).unwrap();
    let listener = tokio::net::TcpListener::bind((POLICY_HOST, 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut byte = [0u8; 1];
                while !request.ends_with(b"\r\n\r\n") && tls.read(&mut byte).await.unwrap_or(0) == 1 {
                    request.push(byte[0]);
                }
                assert!(request.starts_with(b"GET /.well-known/mta-sts.txt HTTP/1.1\r\n"));
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    let mut trusted = std::fs::read(&cert).unwrap();
    trusted.extend(std::fs::read(test_certificate().0).unwrap());
    let ca = dir.join("trusted.pem");
    std::fs::write(&ca, trusted).unwrap();
    (port, ca)
}

/// A world whose sts.test has `policy` and MX `mx_name` at 127.0.0.2.
async fn world(policy: &'static str, mx_name: &str) -> (World, FakeMta, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let (port, ca) = policy_server(dir.path(), policy).await;
    let world = World::start(move |config| {
        config.outbound.mta_sts_port = port;
        config.outbound.tls_ca_file = Some(ca);
    })
    .await;
    let dns = &world.server.dns;
    dns.txt("_mta-sts.sts.test", "v=STSv1; id=20261204T000000;");
    dns.ip("mta-sts.sts.test", POLICY_HOST);
    dns.mx("sts.test", 10, mx_name);
    dns.ip(mx_name, ip(2));
    let mta = FakeMta::start_with(SocketAddr::new(ip(2), world.port), Behaviour::Accept, &["STARTTLS"]).await;
    (world, mta, dir)
}

#[tokio::test]
async fn an_enforced_policy_delivers_over_verified_tls_to_its_mx() {
    let policy = "version: STSv1\r\nmode: enforce\r\nmx: smarthost.test\r\nmax_age: 86400\r\n";
    let (world, mta, _dir) = world(policy, CERTIFICATE_NAME).await;
    world.send(ALICE, &["<bob@sts.test>"], "sts").await;
    world.eventually("delivery", async || !mta.received().is_empty()).await;
    assert!(mta.received()[0].tls);
}

#[tokio::test]
async fn an_enforced_policy_refuses_mx_hosts_it_does_not_name() {
    // DNS says the MX is smarthost.test, the policy names only
    // mx.elsewhere.test: a spoofed MX record, as far as we can tell.
    let policy = "version: STSv1\r\nmode: enforce\r\nmx: mx.elsewhere.test\r\nmax_age: 86400\r\n";
    let (world, mta, _dir) = world(policy, CERTIFICATE_NAME).await;
    world.send(ALICE, &["<bob@sts.test>"], "sts").await;
    world
        .eventually("a deferral", async || {
            world.last_reply().await.is_some_and(|r| r.contains("MTA-STS"))
        })
        .await;
    assert!(mta.received().is_empty() && mta.attempts("bob@sts.test") == 0);
}

#[tokio::test]
async fn an_enforced_policy_needs_a_certificate_for_the_mx_name() {
    let policy = "version: STSv1\r\nmode: enforce\r\nmx: *.sts.test\r\nmax_age: 86400\r\n";
    let (world, mta, _dir) = world(policy, "mx1.sts.test").await;
    world.send(ALICE, &["<bob@sts.test>"], "sts").await;
    world
        .eventually("a deferral", async || {
            world
                .last_reply()
                .await
                .is_some_and(|r| r.to_lowercase().contains("certificate"))
        })
        .await;
    assert!(mta.received().is_empty());
}

#[tokio::test]
async fn a_testing_policy_delivers_as_before() {
    let policy = "version: STSv1\r\nmode: testing\r\nmx: mx.elsewhere.test\r\nmax_age: 86400\r\n";
    let (world, mta, _dir) = world(policy, "mx1.sts.test").await;
    world.send(ALICE, &["<bob@sts.test>"], "sts").await;
    world.eventually("delivery", async || !mta.received().is_empty()).await;
}
