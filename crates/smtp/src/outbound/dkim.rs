//! DKIM (RFC 6376) for mail leaving from our domains: keys made by
//! `estafeta dkim generate` (RSA 2048 for rsa-sha256, which every receiver
//! checks, or Ed25519 for ed25519-sha256, RFC 8463), and the signature
//! added at delivery by mail-auth.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use estafeta_store::DkimKey;
use mail_auth::common::crypto::{Ed25519Key, RsaKey, Sha256};
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::DkimSigner;
use rustls::pki_types::PrivateKeyDer;

#[derive(Debug, thiserror::Error)]
pub enum DkimError {
    #[error("unknown DKIM algorithm `{0}` (use rsa or ed25519)")]
    Algorithm(String),
    #[error("cannot make a key: {0}")]
    Generate(String),
    #[error("the stored key of {0} is unusable: {1}")]
    Key(String, String),
    #[error("signing failed: {0}")]
    Sign(String),
}

/// The header fields signed (RFC 6376 5.4.1: those that matter to the
/// reader and to list handling), when the message has them.
const SIGNED: &[&str] = &[
    "From",
    "Reply-To",
    "Subject",
    "Date",
    "To",
    "Cc",
    "Message-ID",
    "In-Reply-To",
    "References",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
];

/// A new key: its PKCS#8 PEM, and the TXT record that publishes it.
pub struct Generated {
    pub private_key: String,
    pub record: String,
}

fn pem(der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut out = String::from("-----BEGIN PRIVATE KEY-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END PRIVATE KEY-----\n");
    out
}

pub fn generate(algorithm: &str) -> Result<Generated, DkimError> {
    match algorithm {
        "ed25519" => {
            use ring::signature::KeyPair;
            let rng = ring::rand::SystemRandom::new();
            let pkcs8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng)
                .map_err(|error| DkimError::Generate(error.to_string()))?;
            let pair = ring::signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
                .map_err(|error| DkimError::Generate(error.to_string()))?;
            Ok(Generated {
                private_key: pem(pkcs8.as_ref()),
                // RFC 8463 4.2: the raw 32-byte public key.
                record: format!("v=DKIM1; k=ed25519; p={}", STANDARD.encode(pair.public_key().as_ref())),
            })
        }
        "rsa" => {
            use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey};
            let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048)
                .map_err(|error| DkimError::Generate(error.to_string()))?;
            let private = key
                .to_pkcs8_der()
                .map_err(|error| DkimError::Generate(error.to_string()))?;
            let public = key
                .to_public_key()
                .to_public_key_der()
                .map_err(|error| DkimError::Generate(error.to_string()))?;
            Ok(Generated {
                private_key: pem(private.as_bytes()),
                record: format!("v=DKIM1; k=rsa; p={}", STANDARD.encode(public.as_bytes())),
            })
        }
        other => Err(DkimError::Algorithm(other.to_owned())),
    }
}

/// The DNS name the record goes under (RFC 6376 3.6.2.1).
pub fn record_name(selector: &str, domain: &str) -> String {
    format!("{selector}._domainkey.{domain}")
}

/// The TXT record that publishes `key` (for `estafeta dkim show`).
pub fn record_of(key: &DkimKey) -> Result<String, DkimError> {
    let der = der(key)?;
    let unusable = |why: String| DkimError::Key(key.domain.clone(), why);
    match key.algorithm.as_str() {
        "ed25519" => {
            use ring::signature::KeyPair;
            let pair = ring::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der)
                .map_err(|error| unusable(error.to_string()))?;
            Ok(format!(
                "v=DKIM1; k=ed25519; p={}",
                STANDARD.encode(pair.public_key().as_ref())
            ))
        }
        "rsa" => {
            use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey};
            let private = rsa::RsaPrivateKey::from_pkcs8_der(&der).map_err(|error| unusable(error.to_string()))?;
            let public = private
                .to_public_key()
                .to_public_key_der()
                .map_err(|error| unusable(error.to_string()))?;
            Ok(format!("v=DKIM1; k=rsa; p={}", STANDARD.encode(public.as_bytes())))
        }
        other => Err(DkimError::Algorithm(other.to_owned())),
    }
}

fn der(key: &DkimKey) -> Result<Vec<u8>, DkimError> {
    let unusable = |why: &str| DkimError::Key(key.domain.clone(), why.to_owned());
    match rustls_pemfile::private_key(&mut key.private_key.as_bytes()) {
        Ok(Some(PrivateKeyDer::Pkcs8(der))) => Ok(der.secret_pkcs8_der().to_vec()),
        Ok(_) => Err(unusable("not a PKCS#8 private key")),
        Err(error) => Err(unusable(&error.to_string())),
    }
}

/// The DKIM-Signature header field for `message`, CRLF-terminated.
pub fn sign(key: &DkimKey, message: &[u8]) -> Result<String, DkimError> {
    let der = der(key)?;
    let unusable = |error: mail_auth::Error| DkimError::Key(key.domain.clone(), error.to_string());
    let signature = match key.algorithm.as_str() {
        "rsa" => DkimSigner::from_key(
            RsaKey::<Sha256>::from_key_der(PrivateKeyDer::Pkcs8(der.as_slice().into())).map_err(unusable)?,
        )
        .domain(key.domain.clone())
        .selector(key.selector.clone())
        .headers(SIGNED.iter().copied())
        .sign(message),
        "ed25519" => DkimSigner::from_key(Ed25519Key::from_pkcs8_der(&der).map_err(unusable)?)
            .domain(key.domain.clone())
            .selector(key.selector.clone())
            .headers(SIGNED.iter().copied())
            .sign(message),
        other => return Err(DkimError::Algorithm(other.to_owned())),
    }
    .map_err(|error| DkimError::Sign(error.to_string()))?;
    Ok(signature.to_header())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(algorithm: &str) -> (DkimKey, String) {
        let generated = generate(algorithm).unwrap();
        let key = DkimKey {
            domain: "example.com".into(),
            selector: "s1".into(),
            algorithm: algorithm.into(),
            private_key: generated.private_key,
            created_at: 0,
        };
        (key, generated.record)
    }

    #[test]
    fn both_algorithms_make_keys_that_sign() {
        for algorithm in ["ed25519", "rsa"] {
            let (key, record) = key(algorithm);
            assert!(record.starts_with(&format!("v=DKIM1; k={algorithm}; p=")), "{record}");
            assert_eq!(
                record_of(&key).unwrap(),
                record,
                "the record is derived back from the key"
            );
            let header = sign(&key, b"From: a@example.com\r\nSubject: x\r\n\r\nbody\r\n").unwrap();
            assert!(header.starts_with("DKIM-Signature:"), "{header}");
            assert!(header.contains("d=example.com") && header.contains("s=s1"), "{header}");
            assert!(header.contains(&format!("a={algorithm}-sha256")), "{header}");
            assert!(header.ends_with("\r\n"));
        }
        assert!(matches!(generate("dsa"), Err(DkimError::Algorithm(_))));
    }
}
