//! DANE (RFC 7672) on the simulated internet: the test DNS marks answers
//! of a "signed" zone authentic (AD), as a validating resolver on
//! loopback would, and publishes TLSA records for the MX hosts of
//! `dane.test`; the MX hosts are fake MTAs with STARTTLS. No CA is trusted
//! (`outbound.tls_ca_file` is unset): only the TLSA records authenticate.

use crate::common::world::*;
use estafeta_testkit::mta::{Behaviour, FakeMta, test_certificate};
use hickory_proto::rr::RData;
use hickory_proto::rr::rdata::tlsa::{CertUsage, Matching, Selector, TLSA};
use rcgen::PublicKeyData;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

const DOMAIN: &str = "dane.test";
const RECIPIENT: &str = "<bob@dane.test>";

fn sha256(data: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, data).as_ref().to_vec()
}

/// SHA-256 of the SubjectPublicKeyInfo of the key in `key_pem`.
fn spki_sha256(key_pem: &Path) -> Vec<u8> {
    let key = rcgen::KeyPair::from_pem(&std::fs::read_to_string(key_pem).unwrap()).unwrap();
    sha256(&key.subject_public_key_info())
}

fn tlsa(usage: CertUsage, selector: Selector, data: Vec<u8>) -> RData {
    RData::TLSA(TLSA::new(usage, selector, Matching::Sha256, data))
}

/// A world whose `dane.test` has MX `mx1.dane.test` at 127.0.0.2 (and
/// `mx2.dane.test` at 127.0.0.3), DNSSEC-signed when `signed`.
async fn world(signed: bool) -> World {
    let world = World::start(|_| {}).await;
    let dns = &world.server.dns;
    dns.mx(DOMAIN, 10, "mx1.dane.test");
    dns.ip("mx1.dane.test", ip(2));
    if signed {
        dns.sign(DOMAIN);
    }
    world
}

fn tlsa_name(world: &World, host: &str) -> String {
    format!("_{}._tcp.{host}", world.port)
}

/// A DANE-EE(3) record for mx1 naming the key whose SPKI digest is given.
fn publish_dane_ee(world: &World, spki_digest: Vec<u8>) {
    world.server.dns.add(
        &tlsa_name(world, "mx1.dane.test"),
        tlsa(CertUsage::DaneEe, Selector::Spki, spki_digest),
    );
}

async fn mta(world: &World, n: u8, extensions: &[&'static str]) -> FakeMta {
    FakeMta::start_with(SocketAddr::new(ip(n), world.port), Behaviour::Accept, extensions).await
}

/// Waits until the queue shows a reply containing `needle`.
async fn deferred_with(world: &World, needle: &str) -> String {
    world
        .eventually(&format!("a deferral saying {needle:?}"), async || {
            world.last_reply().await.is_some_and(|r| r.contains(needle))
        })
        .await;
    world.last_reply().await.unwrap_or_default()
}

#[tokio::test]
async fn a_dane_ee_record_authenticates_the_mx_whatever_name_its_certificate_has() {
    // RFC 7672 3.1.1: DANE-EE(3) binds the key; the certificate is for
    // smarthost.test, self-signed and trusted by no CA, and that is fine.
    let world = world(true).await;
    let key = test_certificate().1;
    publish_dane_ee(&world, spki_sha256(&key));
    let mx = mta(&world, 2, &["STARTTLS", "PIPELINING"]).await;
    world.send(ALICE, &[RECIPIENT], "dane-ee").await;
    world.eventually("delivery", async || !mx.received().is_empty()).await;
    assert!(mx.received()[0].tls, "DANE mail goes over TLS");
}

#[tokio::test]
async fn a_certificate_no_tlsa_record_names_gets_no_mail_and_the_message_waits() {
    let world = world(true).await;
    publish_dane_ee(
        &world,
        sha256(&rcgen::KeyPair::generate().unwrap().subject_public_key_info()),
    );
    let mx = mta(&world, 2, &["STARTTLS", "PIPELINING"]).await;
    world.send(ALICE, &[RECIPIENT], "dane-mismatch").await;
    let reply = deferred_with(&world, "DANE").await;
    assert!(
        reply.starts_with("451 4.7.5"),
        "a temporary failure, not a bounce: {reply}"
    );
    assert_eq!(mx.attempts("bob@dane.test"), 0, "nothing was offered to the impostor");
    assert!(mx.received().is_empty());
    assert_eq!(world.queue_len().await, 1, "the message waits in the queue");
}

#[tokio::test]
async fn stripping_starttls_from_a_dane_host_cannot_downgrade_it_to_plaintext() {
    // An attacker on the path removes STARTTLS from the EHLO reply: with
    // validated TLSA records TLS is mandatory (RFC 7672 2.2).
    let world = world(true).await;
    publish_dane_ee(&world, spki_sha256(&test_certificate().1));
    let mx = mta(&world, 2, &["PIPELINING"]).await;
    world.send(ALICE, &[RECIPIENT], "dane-strip").await;
    let reply = deferred_with(&world, "STARTTLS").await;
    assert!(reply.starts_with("451 4.7.5"), "{reply}");
    assert_eq!(mx.attempts("bob@dane.test"), 0);
}

#[tokio::test]
async fn tlsa_records_of_an_unsigned_zone_change_nothing() {
    // Without DNSSEC anyone could have forged the record: it is ignored
    // and delivery is opportunistic as before (RFC 7672 2.2).
    let world = world(false).await;
    publish_dane_ee(
        &world,
        sha256(&rcgen::KeyPair::generate().unwrap().subject_public_key_info()),
    );
    let mx = mta(&world, 2, &["STARTTLS", "PIPELINING"]).await;
    world.send(ALICE, &[RECIPIENT], "dane-unsigned").await;
    world.eventually("delivery", async || !mx.received().is_empty()).await;
}

#[tokio::test]
async fn a_failed_tlsa_lookup_in_a_signed_zone_skips_that_mx_for_the_next() {
    // RFC 7672 2.1.1: SERVFAIL for the TLSA question (bogus data, or an
    // attacker dropping it) must not become plaintext to that host.
    let world = world(true).await;
    let dns = &world.server.dns;
    dns.mx(DOMAIN, 20, "mx2.dane.test");
    dns.ip("mx2.dane.test", ip(3));
    dns.servfail(&tlsa_name(&world, "mx1.dane.test"));
    let first = mta(&world, 2, &["STARTTLS", "PIPELINING"]).await;
    let second = mta(&world, 3, &["STARTTLS", "PIPELINING"]).await;
    world.send(ALICE, &[RECIPIENT], "dane-servfail").await;
    world
        .eventually("delivery to mx2", async || !second.received().is_empty())
        .await;
    assert_eq!(first.connections(), 0, "the host whose TLSA lookup failed is not used");
}

#[tokio::test]
async fn unusable_tlsa_records_still_make_tls_mandatory() {
    // RFC 7672 3.1.3: PKIX-EE(1) is not used for SMTP, but the domain
    // said its host does TLS, so plaintext is not an option.
    let world = world(true).await;
    world.server.dns.add(
        &tlsa_name(&world, "mx1.dane.test"),
        tlsa(CertUsage::PkixEe, Selector::Spki, spki_sha256(&test_certificate().1)),
    );
    let mx = mta(&world, 2, &["PIPELINING"]).await;
    world.send(ALICE, &[RECIPIENT], "dane-unusable").await;
    deferred_with(&world, "STARTTLS").await;
    assert_eq!(mx.attempts("bob@dane.test"), 0);
}

/// A CA and a server certificate for `name` it issued; the PEM chain
/// (server first, then the CA), the server key, and the CA's DER.
fn issued_chain(dir: &Path, name: &str) -> (PathBuf, PathBuf, Vec<u8>) {
    let (chain, key, anchor, _) = issued(dir, name, true);
    (chain, key, anchor)
}

/// The same, with the CA's certificate in the chain or not, and the CA's
/// public key (DER SubjectPublicKeyInfo) too.
fn issued(dir: &Path, name: &str, with_anchor: bool) -> (PathBuf, PathBuf, Vec<u8>, Vec<u8>) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Test Anchor");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::from_params(&ca_params, &ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let server = rcgen::CertificateParams::new(vec![name.to_owned()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    let chain = dir.join(format!("{name}.chain.pem"));
    let key_file = dir.join(format!("{name}.key.pem"));
    let anchor_pem = if with_anchor { ca.pem() } else { String::new() };
    std::fs::write(&chain, format!("{}{anchor_pem}", server.pem())).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    (chain, key_file, ca.der().to_vec(), ca_key.subject_public_key_info())
}

/// mx1 at 127.0.0.2, showing the PEM `chain` with its `key`.
async fn mx1_showing(world: &World, chain: &Path, key: &Path) -> FakeMta {
    FakeMta::start_with_certificate(
        SocketAddr::new(ip(2), world.port),
        Behaviour::Accept,
        &["STARTTLS", "PIPELINING"],
        chain,
        key,
    )
    .await
}

async fn dane_ta_world(certificate_name: &str) -> (World, FakeMta, tempfile::TempDir) {
    let world = world(true).await;
    let dir = tempfile::tempdir().unwrap();
    let (chain, key, anchor) = issued_chain(dir.path(), certificate_name);
    world.server.dns.add(
        &tlsa_name(&world, "mx1.dane.test"),
        tlsa(CertUsage::DaneTa, Selector::Full, sha256(&anchor)),
    );
    let mx = mx1_showing(&world, &chain, &key).await;
    (world, mx, dir)
}

#[tokio::test]
async fn a_dane_ta_record_authenticates_a_chain_to_that_anchor_for_the_mx_name() {
    // RFC 7672 3.1.2: the anchor is in the chain the server sends and the
    // certificate names the MX host.
    let (world, mx, _dir) = dane_ta_world("mx1.dane.test").await;
    world.send(ALICE, &[RECIPIENT], "dane-ta").await;
    world.eventually("delivery", async || !mx.received().is_empty()).await;
    assert!(mx.received()[0].tls);
}

#[tokio::test]
async fn a_dane_ta_chain_for_another_name_is_refused() {
    // RFC 7672 3.2.2: with DANE-TA(2) the name matters (the MX host, or
    // the next-hop domain); a certificate the anchor issued for some other
    // host is not this one's.
    let (world, mx, _dir) = dane_ta_world("elsewhere.test").await;
    world.send(ALICE, &[RECIPIENT], "dane-ta-name").await;
    deferred_with(&world, "DANE").await;
    assert!(mx.received().is_empty());
}

/// A server that sends only its own certificate, and a "2 1 0" record:
/// the anchor's whole public key. RFC 7671 5.2.2 and RFC 7672 3.1.2: with
/// the full key published, the anchor need not be in the chain.
async fn bare_key_world(published_key: impl FnOnce(Vec<u8>) -> Vec<u8>) -> (World, FakeMta, tempfile::TempDir) {
    let world = world(true).await;
    let dir = tempfile::tempdir().unwrap();
    let (chain, key, _, anchor_key) = issued(dir.path(), "mx1.dane.test", false);
    world.server.dns.add(
        &tlsa_name(&world, "mx1.dane.test"),
        RData::TLSA(TLSA::new(
            CertUsage::DaneTa,
            Selector::Spki,
            Matching::Raw,
            published_key(anchor_key),
        )),
    );
    let mx = mx1_showing(&world, &chain, &key).await;
    (world, mx, dir)
}

#[tokio::test]
async fn a_dane_ta_bare_key_authenticates_a_chain_that_leaves_the_anchor_out() {
    let (world, mx, _dir) = bare_key_world(|key| key).await;
    world.send(ALICE, &[RECIPIENT], "dane-ta-key").await;
    world.eventually("delivery", async || !mx.received().is_empty()).await;
    assert!(mx.received()[0].tls);
}

#[tokio::test]
async fn a_dane_ta_bare_key_that_did_not_sign_the_chain_is_refused() {
    // Another key, of the same kind: the chain's issuer name is the same,
    // but the signature on the server's certificate does not verify.
    let (world, mx, _dir) = bare_key_world(|_| rcgen::KeyPair::generate().unwrap().subject_public_key_info()).await;
    world.send(ALICE, &[RECIPIENT], "dane-ta-other-key").await;
    deferred_with(&world, "DANE").await;
    assert!(mx.received().is_empty());
}
