//! SMTP TLS reports (RFC 8460): how the TLS of each delivery went reaches
//! the domain that asks for it at `_smtp._tls`, once the period is over.

use crate::common::world::*;
use estafeta_testkit::mta::{Behaviour, FakeMta, test_certificate};
use hickory_proto::rr::RData;
use hickory_proto::rr::rdata::tlsa::{CertUsage, Matching, Selector, TLSA};
use mail_auth::report::tlsrpt::{PolicyType, ResultType, TlsReport};
use rcgen::PublicKeyData;
use std::net::SocketAddr;
use std::time::Duration;

const RECIPIENT: &str = "<bob@dane.test>";

fn sha256(data: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, data).as_ref().to_vec()
}

/// `dane.test` (MX mx1.dane.test at 127.0.0.2, signed when `signed`)
/// asks for reports at tlsrpt@reports.test, whose MX is 127.0.0.3.
/// Reports cover two seconds, so a test sees one.
async fn reporting_world(signed: bool) -> (World, FakeMta) {
    let world = World::start(|c| c.outbound.tls_report_period = Duration::from_secs(2)).await;
    let dns = &world.server.dns;
    dns.mx("dane.test", 10, "mx1.dane.test");
    dns.ip("mx1.dane.test", ip(2));
    if signed {
        dns.sign("dane.test");
    }
    dns.txt("_smtp._tls.dane.test", "v=TLSRPTv1; rua=mailto:tlsrpt@reports.test");
    world.mx("reports.test", 3);
    let reports = world.mta(3, Behaviour::Accept).await;
    (world, reports)
}

fn publish_dane_ee(world: &World, key_der: &[u8]) {
    world.server.dns.add(
        &format!("_{}._tcp.mx1.dane.test", world.port),
        RData::TLSA(TLSA::new(
            CertUsage::DaneEe,
            Selector::Spki,
            Matching::Sha256,
            sha256(key_der),
        )),
    );
}

/// The report that reached reports.test, with the message it came in.
async fn report(world: &World, reports: &FakeMta) -> (TlsReport, String) {
    world
        .eventually("a TLS report", async || !reports.received().is_empty())
        .await;
    let received = &reports.received()[0];
    assert!(
        received.mail_from.starts_with("MAIL FROM:<> "),
        "a null reverse-path: {}",
        received.mail_from
    );
    let report = TlsReport::parse_rfc5322(&received.data, 1 << 20).expect("an RFC 8460 report");
    (report, String::from_utf8_lossy(&received.data).into_owned())
}

fn spki_of(key_pem: &std::path::Path) -> Vec<u8> {
    let pem = std::fs::read_to_string(key_pem).unwrap();
    rcgen::KeyPair::from_pem(&pem).unwrap().subject_public_key_info()
}

#[tokio::test]
async fn a_dane_session_is_reported_as_a_success_under_the_tlsa_policy() {
    let (world, reports) = reporting_world(true).await;
    publish_dane_ee(&world, &spki_of(&test_certificate().1));
    let mx = FakeMta::start_with(SocketAddr::new(ip(2), world.port), Behaviour::Accept, &["STARTTLS"]).await;
    world.send(ALICE, &[RECIPIENT], "reported").await;
    world.eventually("delivery", async || !mx.received().is_empty()).await;

    let (report, message) = report(&world, &reports).await;
    // RFC 8460 5.3: the fields and the subject a report is known by.
    assert!(message.contains("TLS-Report-Domain: dane.test\r\n"), "{message}");
    assert!(message.contains("TLS-Report-Submitter: mx.test\r\n"), "{message}");
    let parsed = mail_parser::MessageParser::default().parse(message.as_bytes()).unwrap();
    let subject = parsed.subject().unwrap_or_default();
    assert!(
        subject.starts_with(&format!(
            "Report Domain: dane.test Submitter: mx.test Report-ID: <{}>",
            report.report_id
        )),
        "{subject}"
    );
    assert!(
        message.contains("report-type=tlsrpt") || message.contains("report-type=\"tlsrpt\""),
        "{message}"
    );
    assert!(message.contains("application/tlsrpt+gzip"), "{message}");
    assert_eq!(report.policies.len(), 1, "{report:?}");
    let policy = &report.policies[0];
    assert_eq!(policy.policy.policy_type, PolicyType::Tlsa);
    // RFC 8460 3: for DANE the policy domain is the TLSA base domain.
    assert_eq!(policy.policy.policy_domain, "mx1.dane.test");
    assert!(
        policy.policy.policy_string[0].starts_with("3 1 1 "),
        "{:?}",
        policy.policy
    );
    assert_eq!((policy.summary.total_success, policy.summary.total_failure), (1, 0));
    assert!(policy.failure_details.is_empty());
}

#[tokio::test]
async fn a_certificate_the_tlsa_records_do_not_name_is_reported_as_a_validation_failure() {
    let (world, reports) = reporting_world(true).await;
    publish_dane_ee(&world, &rcgen::KeyPair::generate().unwrap().subject_public_key_info());
    let mx = FakeMta::start_with(SocketAddr::new(ip(2), world.port), Behaviour::Accept, &["STARTTLS"]).await;
    world.send(ALICE, &[RECIPIENT], "refused").await;

    let (report, _) = report(&world, &reports).await;
    assert!(mx.received().is_empty());
    let policy = &report.policies[0];
    assert_eq!(policy.policy.policy_type, PolicyType::Tlsa);
    assert_eq!(policy.summary.total_success, 0);
    assert!(policy.summary.total_failure >= 1);
    let failure = &policy.failure_details[0];
    assert_eq!(failure.result_type, ResultType::ValidationFailure);
    assert_eq!(failure.receiving_mx_hostname.as_deref(), Some("mx1.dane.test"));
    assert_eq!(failure.receiving_ip, Some(ip(2)));
    assert_eq!(failure.failed_session_count, policy.summary.total_failure);
}

#[tokio::test]
async fn a_domain_without_a_policy_hears_of_its_tls_sessions_too() {
    // Unsigned and no MTA-STS: opportunistic TLS, reported under
    // "no-policy-found" (RFC 8460 4.4).
    let (world, reports) = reporting_world(false).await;
    let mx = FakeMta::start_with(SocketAddr::new(ip(2), world.port), Behaviour::Accept, &["STARTTLS"]).await;
    world.send(ALICE, &[RECIPIENT], "opportunistic").await;
    world.eventually("delivery", async || !mx.received().is_empty()).await;
    let (report, _) = report(&world, &reports).await;
    let policy = &report.policies[0];
    assert_eq!(policy.policy.policy_type, PolicyType::NoPolicyFound);
    assert_eq!(policy.policy.policy_domain, "dane.test");
    assert_eq!((policy.summary.total_success, policy.summary.total_failure), (1, 0));
}

/// An HTTPS server for `reports.test` on 127.0.0.10 that answers 201 to
/// a POST and hands over its head and body; and a PEM trusting it.
async fn report_server(
    dir: &std::path::Path,
) -> (
    u16,
    std::path::PathBuf,
    tokio::sync::mpsc::UnboundedReceiver<(String, Vec<u8>)>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (cert, key) = estafeta_net::tls::self_signed(dir, "reports.test").unwrap();
    let acceptor = estafeta_net::tls::acceptor(&cert, &key).unwrap();
    let listener = tokio::net::TcpListener::bind((ip(10), 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (posted, received) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let Ok(mut tls) = acceptor.accept(tcp).await else {
                continue;
            };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && tls.read(&mut byte).await.unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            let head = String::from_utf8_lossy(&head).into_owned();
            let length: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            let mut body = vec![0u8; length];
            tls.read_exact(&mut body).await.unwrap();
            let _ = tls
                .write_all(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .await;
            let _ = tls.shutdown().await;
            let _ = posted.send((head, body));
        }
    });
    (port, cert, received)
}

#[tokio::test]
async fn a_report_goes_by_https_post_to_an_https_address() {
    // RFC 8460 5.4: POST of the gzipped JSON, application/tlsrpt+gzip,
    // over TLS verified for the report server's name.
    let dir = tempfile::tempdir().unwrap();
    let (port, trusted, mut posted) = report_server(dir.path()).await;
    let world = World::start(move |c| {
        c.outbound.tls_report_period = Duration::from_secs(2);
        c.outbound.tls_ca_file = Some(trusted);
    })
    .await;
    let dns = &world.server.dns;
    dns.mx("dane.test", 10, "mx1.dane.test");
    dns.ip("mx1.dane.test", ip(2));
    dns.ip("reports.test", ip(10));
    dns.txt(
        "_smtp._tls.dane.test",
        &format!("v=TLSRPTv1; rua=https://reports.test:{port}/tlsrpt"),
    );
    let mx = FakeMta::start_with(SocketAddr::new(ip(2), world.port), Behaviour::Accept, &["STARTTLS"]).await;
    world.send(ALICE, &[RECIPIENT], "posted").await;
    world.eventually("delivery", async || !mx.received().is_empty()).await;
    let (head, body) = tokio::time::timeout(Duration::from_secs(30), posted.recv())
        .await
        .expect("a report within the period and a little")
        .unwrap();
    assert!(head.starts_with("POST /tlsrpt HTTP/1.1\r\n"), "{head}");
    assert!(head.contains("Content-Type: application/tlsrpt+gzip\r\n"), "{head}");
    let mut json = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&body[..]), &mut json).unwrap();
    let report = TlsReport::parse_json(&json).unwrap();
    assert_eq!(report.policies[0].policy.policy_type, PolicyType::NoPolicyFound);
    assert_eq!(report.policies[0].summary.total_success, 1);
}

#[tokio::test]
async fn an_mta_sts_policy_that_cannot_be_fetched_is_reported() {
    // RFC 8460 4.3.2 sts-policy-fetch-error: the domain publishes
    // _mta-sts, but nothing answers at mta-sts.dane.test. The mail goes
    // out as without a policy, and that session is reported too.
    let (world, reports) = reporting_world(false).await;
    let dns = &world.server.dns;
    dns.txt("_mta-sts.dane.test", "v=STSv1; id=1;");
    dns.ip("mta-sts.dane.test", ip(11));
    let mx = FakeMta::start_with(SocketAddr::new(ip(2), world.port), Behaviour::Accept, &["STARTTLS"]).await;
    world.send(ALICE, &[RECIPIENT], "no policy to be had").await;
    world.eventually("delivery", async || !mx.received().is_empty()).await;
    let (report, _) = report(&world, &reports).await;
    let sts = report
        .policies
        .iter()
        .find(|p| p.policy.policy_type == PolicyType::Sts)
        .expect("an sts policy entry");
    assert_eq!(sts.failure_details[0].result_type, ResultType::StsPolicyFetchError);
    assert_eq!(sts.failure_details[0].receiving_mx_hostname, None);
    let none = report
        .policies
        .iter()
        .find(|p| p.policy.policy_type == PolicyType::NoPolicyFound)
        .expect("the session itself");
    assert_eq!(none.summary.total_success, 1);
}
