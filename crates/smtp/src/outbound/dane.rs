//! DANE for SMTP (RFC 7672): an MX host whose MX, address and TLSA
//! records are all DNSSEC-validated must be reached over STARTTLS and show
//! a certificate those TLSA records name. Unlike MTA-STS nothing is
//! fetched and no CA is trusted: the DNS zone owner says which key is
//! right, so an attacker on the path can neither strip STARTTLS nor show
//! another certificate.

use super::tls::verify_handshake_with;
use estafeta_net::dnssec::{Answer, SecureResolver};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RData;
use hickory_proto::rr::RecordType;
use hickory_proto::rr::rdata::tlsa::{CertUsage, Matching, Selector, TLSA};
use rustls::ClientConfig;
use rustls::client::danger::{ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use std::sync::Arc;

/// What DANE asks of one MX host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPolicy {
    /// No validated TLSA records: DANE does not apply (RFC 7672 2.2).
    None,
    /// Validated TLSA records, none of them usable for SMTP: TLS is
    /// mandatory, but nothing can authenticate the peer (RFC 7672 2.2,
    /// 3.1.3: PKIX-TA(0) and PKIX-EE(1) are unusable for SMTP).
    EncryptOnly,
    /// The peer must show a certificate one of these names.
    Authenticate(Vec<TLSA>),
    /// The TLSA lookup failed in a signed zone (bogus or indeterminate
    /// data look alike from here): the host must not be used now, since
    /// a downgrade is exactly what an attacker would cause (RFC 7672 2.1.1).
    Unusable(String),
}

/// RFC 7672 3.1.3, RFC 6698 2.1: what we can match. DANE-TA(2) and
/// DANE-EE(3) only; full certificate or SPKI; exact, SHA-256 or SHA-512
/// (a digest of the wrong length is malformed, hence unusable).
fn usable(record: &TLSA) -> bool {
    let usage = matches!(record.cert_usage, CertUsage::DaneTa | CertUsage::DaneEe);
    let selector = matches!(record.selector, Selector::Full | Selector::Spki);
    let matching = match record.matching {
        Matching::Raw => !record.cert_data.is_empty(),
        Matching::Sha256 => record.cert_data.len() == 32,
        Matching::Sha512 => record.cert_data.len() == 64,
        _ => false,
    };
    usage && selector && matching
}

/// Whether the MX RRset of `domain` (or its secure absence, for an
/// implicit MX) is validated. RFC 7672 2.2.1: with an insecure MX an
/// attacker picks the host, so that host's TLSA records prove nothing.
pub async fn mx_secure(dns: &SecureResolver, domain: &str) -> bool {
    dns.query(domain, RecordType::MX).await.is_ok_and(|a| a.secure)
}

/// The DANE policy of `host` on `port`, given that its MX was secure.
pub async fn host_policy(dns: &SecureResolver, host: &str, port: u16) -> HostPolicy {
    // RFC 7672 2.2.2: TLSA records count only for a host whose address
    // records are secure too.
    let (v4, v6) = tokio::join!(dns.query(host, RecordType::A), dns.query(host, RecordType::AAAA));
    let addresses_secure = [&v4, &v6]
        .into_iter()
        .filter_map(|lookup| lookup.as_ref().ok())
        .filter(|answer| !answer.records.is_empty())
        .all(|answer| answer.secure);
    if !addresses_secure || (v4.is_err() && v6.is_err()) {
        return HostPolicy::None;
    }
    // RFC 7672 2.3 / RFC 6698 3: the TLSA name is _PORT._tcp.HOST.
    let name = format!("_{port}._tcp.{}", host.trim_end_matches('.'));
    match dns.query(&name, RecordType::TLSA).await {
        Err(error) => HostPolicy::Unusable(format!("DANE: the TLSA lookup of {name} failed ({error})")),
        Ok(Answer { secure: false, .. }) => HostPolicy::None,
        Ok(Answer {
            code: ResponseCode::NXDomain,
            ..
        }) => HostPolicy::None,
        Ok(Answer { records, .. }) => {
            let all: Vec<TLSA> = records
                .into_iter()
                .filter_map(|data| match data {
                    RData::TLSA(tlsa) => Some(tlsa),
                    _ => None,
                })
                .collect();
            if all.is_empty() {
                return HostPolicy::None;
            }
            let usable: Vec<TLSA> = all.into_iter().filter(usable).collect();
            if usable.is_empty() {
                HostPolicy::EncryptOnly
            } else {
                HostPolicy::Authenticate(usable)
            }
        }
    }
}

/// The bytes a record's selector picks from a certificate.
fn selected(cert: &CertificateDer<'_>, selector: Selector) -> Option<Vec<u8>> {
    match selector {
        Selector::Full => Some(cert.as_ref().to_vec()),
        Selector::Spki => {
            let anchor = webpki::anchor_from_trusted_cert(cert).ok()?;
            Some(webpki::spki_for_anchor(&anchor).as_ref().to_vec())
        }
        _ => None,
    }
}

fn matches(record: &TLSA, cert: &CertificateDer<'_>) -> bool {
    let Some(data) = selected(cert, record.selector) else {
        return false;
    };
    let digest = match record.matching {
        Matching::Raw => data,
        Matching::Sha256 => ring::digest::digest(&ring::digest::SHA256, &data).as_ref().to_vec(),
        Matching::Sha512 => ring::digest::digest(&ring::digest::SHA512, &data).as_ref().to_vec(),
        _ => return false,
    };
    // The association data is public: no need for a constant-time compare.
    digest == record.cert_data
}

/// A trust anchor made of a bare SubjectPublicKeyInfo (DER) and the
/// issuer name of `top`, the certificate it is to have signed. `None`
/// when either does not parse.
fn key_anchor(spki: &[u8], top: &CertificateDer<'_>) -> Option<rustls::pki_types::TrustAnchor<'static>> {
    use x509_parser::prelude::FromDer;
    let (rest, key) = x509_parser::x509::SubjectPublicKeyInfo::from_der(spki).ok()?;
    if !rest.is_empty() {
        return None;
    }
    let (_, certificate) = x509_parser::parse_x509_certificate(top.as_ref()).ok()?;
    // A trust anchor holds the contents of both fields, without their
    // outer SEQUENCE tag and length (as webpki's own anchors do).
    Some(rustls::pki_types::TrustAnchor {
        subject: contents(certificate.issuer().as_raw())?.to_vec().into(),
        subject_public_key_info: contents(key.raw)?.to_vec().into(),
        name_constraints: None,
    })
}

/// The contents of one DER TLV (X.690 8.1.3: short or long length form).
fn contents(tlv: &[u8]) -> Option<&[u8]> {
    let first = *tlv.get(1)?;
    let header = if first < 0x80 { 2 } else { 2 + usize::from(first & 0x7f) };
    tlv.get(header..)
}

/// Checks the server's chain against the host's TLSA records.
#[derive(Debug)]
struct DaneVerifier {
    records: Vec<TLSA>,
    /// RFC 7672 3.2.2: for DANE-TA(2) the certificate must name the MX
    /// host (the TLSA base domain, sent as SNI) or the next-hop domain.
    domain: String,
    provider: Arc<CryptoProvider>,
}

impl DaneVerifier {
    /// DANE-TA(2): `anchor`, found in the chain the server sent, is the
    /// trust anchor for an ordinary path validation with name checks.
    fn chain_to(
        &self,
        anchor: &CertificateDer<'_>,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        now: UnixTime,
    ) -> bool {
        match webpki::anchor_from_trusted_cert(anchor) {
            Ok(anchor) => self.validate(anchor.to_owned(), end_entity, intermediates, server_name, now),
            Err(_) => false,
        }
    }

    /// DANE-TA(2) by the full public key ("2 1 0"): the anchor need not be
    /// in the chain (RFC 7671 5.2.2, RFC 7672 3.1.2), so it is the key
    /// itself, under the name the top of the chain gives as its issuer.
    fn chain_to_key(
        &self,
        spki: &[u8],
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        now: UnixTime,
    ) -> bool {
        let top = intermediates.last().unwrap_or(end_entity);
        let Some(anchor) = key_anchor(spki, top) else {
            return false;
        };
        self.validate(anchor, end_entity, intermediates, server_name, now)
    }

    /// An ordinary path validation, with name checks, from `anchor`.
    fn validate(
        &self,
        anchor: rustls::pki_types::TrustAnchor<'static>,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        now: UnixTime,
    ) -> bool {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend([anchor]);
        let Ok(verifier) =
            rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&self.provider))
                .build()
        else {
            return false;
        };
        let domain = ServerName::try_from(self.domain.clone()).ok();
        [Some(server_name.to_owned()), domain]
            .into_iter()
            .flatten()
            .any(|name| {
                verifier
                    .verify_server_cert(end_entity, intermediates, &name, &[], now)
                    .is_ok()
            })
    }
}

impl ServerCertVerifier for DaneVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        for record in &self.records {
            let found = match record.cert_usage {
                // RFC 7672 3.1.1: DANE-EE(3) binds the key itself; names
                // and validity dates are not checked.
                CertUsage::DaneEe => matches(record, end_entity),
                // RFC 7672 3.1.2: the anchor is in the chain the server
                // sends; the path from it is validated as usual.
                CertUsage::DaneTa => {
                    intermediates
                        .iter()
                        .chain(std::iter::once(end_entity))
                        .filter(|cert| matches(record, cert))
                        .any(|anchor| self.chain_to(anchor, end_entity, intermediates, server_name, now))
                        || (record.selector == Selector::Spki
                            && record.matching == Matching::Raw
                            && self.chain_to_key(&record.cert_data, end_entity, intermediates, server_name, now))
                }
                _ => false,
            };
            if found {
                return Ok(ServerCertVerified::assertion());
            }
        }
        Err(rustls::Error::General(
            "DANE: no TLSA record of the MX host matches the certificate it showed".into(),
        ))
    }

    verify_handshake_with!(provider);
}

/// A client configuration that accepts only a peer the records name.
pub fn client_config(records: Vec<TLSA>, domain: &str) -> Arc<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = DaneVerifier {
        records,
        domain: domain.trim_end_matches('.').to_owned(),
        provider: Arc::clone(&provider),
    };
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Arc::new(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(name: &str) -> CertificateDer<'static> {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec![name.to_owned()]).unwrap();
        params.self_signed(&key).unwrap().der().clone()
    }

    fn tlsa(usage: CertUsage, selector: Selector, matching: Matching, data: Vec<u8>) -> TLSA {
        TLSA::new(usage, selector, matching, data)
    }

    #[test]
    fn records_match_by_certificate_or_key_and_by_each_digest() {
        let shown = cert("mx.example");
        let other = cert("mx.example");
        let spki = selected(&shown, Selector::Spki).unwrap();
        let sha256 = |d: &[u8]| ring::digest::digest(&ring::digest::SHA256, d).as_ref().to_vec();
        let sha512 = |d: &[u8]| ring::digest::digest(&ring::digest::SHA512, d).as_ref().to_vec();
        for record in [
            tlsa(CertUsage::DaneEe, Selector::Spki, Matching::Sha256, sha256(&spki)),
            tlsa(CertUsage::DaneEe, Selector::Spki, Matching::Sha512, sha512(&spki)),
            tlsa(CertUsage::DaneEe, Selector::Spki, Matching::Raw, spki.clone()),
            tlsa(
                CertUsage::DaneEe,
                Selector::Full,
                Matching::Sha256,
                sha256(shown.as_ref()),
            ),
            tlsa(
                CertUsage::DaneEe,
                Selector::Full,
                Matching::Raw,
                shown.as_ref().to_vec(),
            ),
        ] {
            assert!(usable(&record) && matches(&record, &shown), "{record:?}");
            assert!(!matches(&record, &other), "another key must not match: {record:?}");
        }
    }

    #[test]
    fn pkix_usages_and_malformed_digests_are_unusable_for_smtp() {
        // RFC 7672 3.1.3: PKIX-TA(0) and PKIX-EE(1) are not for SMTP.
        assert!(!usable(&tlsa(
            CertUsage::PkixEe,
            Selector::Spki,
            Matching::Sha256,
            vec![0; 32]
        )));
        assert!(!usable(&tlsa(
            CertUsage::PkixTa,
            Selector::Spki,
            Matching::Sha256,
            vec![0; 32]
        )));
        assert!(!usable(&tlsa(
            CertUsage::DaneEe,
            Selector::Spki,
            Matching::Sha256,
            vec![0; 31]
        )));
        assert!(!usable(&tlsa(
            CertUsage::DaneEe,
            Selector::Spki,
            Matching::Sha512,
            vec![0; 32]
        )));
        assert!(usable(&tlsa(
            CertUsage::DaneTa,
            Selector::Full,
            Matching::Sha512,
            vec![0; 64]
        )));
    }
}
