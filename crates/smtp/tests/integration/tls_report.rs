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
