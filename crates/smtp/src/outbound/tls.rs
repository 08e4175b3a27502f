//! TLS for the outbound client. RFC 3207 STARTTLS between MTAs is
//! opportunistic (RFC 7435): most MX certificates would not verify against
//! a name the sender can trust without DANE or MTA-STS, and refusing them
//! would only push mail to plaintext. So for plain MX delivery the channel
//! is encrypted and the certificate is not checked. Where the operator
//! named the peer (a `require_tls` route, a smarthost we log in to), its
//! certificate must verify for that name: otherwise anyone on the path
//! could take the mail, or the password.

use rustls::ClientConfig;
use rustls::client::danger::{ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use std::sync::Arc;

/// The handshake half of a `ServerCertVerifier`, the same whatever the
/// certificate policy: the peer must prove it holds the key of the
/// certificate it shows, checked with the algorithms of the verifier's
/// `CryptoProvider` field.
macro_rules! verify_handshake_with {
    ($provider:ident) => {
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &rustls::pki_types::CertificateDer<'_>,
            dss: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(
                message,
                cert,
                dss,
                &self.$provider.signature_verification_algorithms,
            )
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &rustls::pki_types::CertificateDer<'_>,
            dss: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(
                message,
                cert,
                dss,
                &self.$provider.signature_verification_algorithms,
            )
        }

        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            self.$provider
                .signature_verification_algorithms
                .supported_schemes()
        }
    };
}
pub(crate) use verify_handshake_with;

#[derive(Debug)]
struct Opportunistic {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Opportunistic {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    // The handshake itself is still checked.
    verify_handshake_with!(provider);
}

/// The verifying configuration: the system's trust anchors and those of
/// `extra` (PEM). Errors name what could not be read.
pub fn verified_config(extra: Option<&std::path::Path>) -> Result<Arc<ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for cert in native.certs {
        // A system certificate rustls cannot use is skipped, not fatal.
        let _ = roots.add(cert);
    }
    if let Some(path) = extra {
        let pem = std::fs::read(path).map_err(|error| format!("{}: {error}", path.display()))?;
        for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
            let cert = cert.map_err(|error| format!("{}: {error}", path.display()))?;
            roots
                .add(cert)
                .map_err(|error| format!("{}: {error}", path.display()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| error.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The client configuration every opportunistic connection shares.
pub fn client_config() -> Arc<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Opportunistic { provider }))
        .with_no_client_auth();
    Arc::new(config)
}
