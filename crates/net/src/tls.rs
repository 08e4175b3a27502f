//! TLS for every listener: the operator's certificate, or a self-signed one
//! made once and kept in the data dir, so a zero-config server still offers
//! encryption (and so can take passwords) from its first start.

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_rustls::TlsAcceptor;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("`{key}`: cannot read {path}: {source}")]
    Read {
        key: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{key}`: {path} holds no {what}")]
    Empty {
        key: &'static str,
        path: PathBuf,
        what: &'static str,
    },
    #[error("`tls`: certificate and key do not fit together: {0}")]
    Config(String),
    #[error("cannot make a self-signed certificate in {path}: {message}")]
    SelfSigned { path: PathBuf, message: String },
}

/// The server side of TLS, and where its certificate came from.
#[derive(Clone)]
pub struct TlsSetup {
    pub acceptor: TlsAcceptor,
    pub cert_path: PathBuf,
    pub self_signed: bool,
}

impl TlsSetup {
    /// From the `[tls]` table when given, else the kept self-signed pair.
    pub fn load(
        config: Option<&estafeta_core::config::Tls>,
        data_dir: &Path,
        hostname: &str,
    ) -> Result<TlsSetup, TlsError> {
        match config {
            Some(tls) => Ok(TlsSetup {
                acceptor: acceptor(&tls.cert, &tls.key)?,
                cert_path: tls.cert.clone(),
                self_signed: false,
            }),
            None => {
                let (cert, key) = self_signed(&data_dir.join("tls"), hostname)?;
                Ok(TlsSetup {
                    acceptor: acceptor(&cert, &key)?,
                    cert_path: cert,
                    self_signed: true,
                })
            }
        }
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

pub fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let read = |source| TlsError::Read {
        key: "tls.cert",
        path: path.to_owned(),
        source,
    };
    let pem = std::fs::read(path).map_err(read)?;
    let certs: Vec<_> = rustls_pemfile::certs(&mut pem.as_slice())
        .collect::<Result<_, _>>()
        .map_err(read)?;
    if certs.is_empty() {
        return Err(TlsError::Empty {
            key: "tls.cert",
            path: path.to_owned(),
            what: "PEM certificate",
        });
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let read = |source| TlsError::Read {
        key: "tls.key",
        path: path.to_owned(),
        source,
    };
    let pem = std::fs::read(path).map_err(read)?;
    rustls_pemfile::private_key(&mut pem.as_slice())
        .map_err(read)?
        .ok_or_else(|| TlsError::Empty {
            key: "tls.key",
            path: path.to_owned(),
            what: "PEM private key",
        })
}

/// A TLS 1.2/1.3 acceptor (RFC 8996 retired older versions; RFC 8314 4.1).
pub fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, TlsError> {
    let certs = read_certs(cert)?;
    let key = read_key(key)?;
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|error| TlsError::Config(error.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|error| TlsError::Config(error.to_string()))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Makes `cert.pem` and `key.pem` in `dir` unless both already exist. The
/// key file is written owner-only.
pub fn self_signed(dir: &Path, hostname: &str) -> Result<(PathBuf, PathBuf), TlsError> {
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    if cert_path.exists() && key_path.exists() {
        return Ok((cert_path, key_path));
    }
    let fail = |message: String| TlsError::SelfSigned {
        path: dir.to_owned(),
        message,
    };
    let mut names = vec![hostname.to_owned()];
    if hostname != "localhost" {
        names.push("localhost".to_owned());
    }
    let certified = rcgen::generate_simple_self_signed(names).map_err(|e| fail(e.to_string()))?;
    std::fs::create_dir_all(dir).map_err(|e| fail(e.to_string()))?;
    write_private(&key_path, certified.signing_key.serialize_pem().as_bytes()).map_err(|e| fail(e.to_string()))?;
    std::fs::write(&cert_path, certified.cert.pem()).map_err(|e| fail(e.to_string()))?;
    tracing::info!(path = %cert_path.display(), "made a self-signed certificate");
    Ok((cert_path, key_path))
}

/// A client that trusts exactly the certificates in `cert` (PEM): how
/// tests and tools talk TLS to a server with a self-signed certificate.
pub fn client_trusting(cert: &Path) -> Result<tokio_rustls::TlsConnector, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    for der in read_certs(cert)? {
        roots.add(der).map_err(|error| TlsError::Config(error.to_string()))?;
    }
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|error| TlsError::Config(error.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(data)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_signed_is_made_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = TlsSetup::load(None, dir.path(), "mail.example.com").unwrap();
        assert!(first.self_signed);
        let pem = std::fs::read(&first.cert_path).unwrap();
        let again = TlsSetup::load(None, dir.path(), "mail.example.com").unwrap();
        assert_eq!(std::fs::read(&again.cert_path).unwrap(), pem, "kept, not remade");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("tls/key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "key readable by owner only");
    }

    #[test]
    fn configured_files_must_exist_and_hold_pem() {
        let dir = tempfile::tempdir().unwrap();
        let missing = estafeta_core::config::Tls {
            cert: dir.path().join("nope.pem"),
            key: dir.path().join("key.pem"),
        };
        let error = TlsSetup::load(Some(&missing), dir.path(), "x")
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("`tls.cert`") && error.contains("nope.pem"), "{error}");

        let (cert, key) = self_signed(&dir.path().join("made"), "x").unwrap();
        let garbage = dir.path().join("garbage.pem");
        std::fs::write(&garbage, "not pem").unwrap();
        let bad_key = estafeta_core::config::Tls {
            cert: cert.clone(),
            key: garbage.clone(),
        };
        let error = TlsSetup::load(Some(&bad_key), dir.path(), "x")
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("`tls.key`"), "{error}");
        let good = estafeta_core::config::Tls { cert, key };
        assert!(!TlsSetup::load(Some(&good), dir.path(), "x").unwrap().self_signed);
    }
}
