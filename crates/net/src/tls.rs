//! TLS for every listener: the operator's certificate, or a self-signed one
//! made once and kept in the data dir, so a zero-config server still offers
//! encryption (and so can take passwords) from its first start.

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;
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
    /// The certificates the acceptor shows, read again by `reload`.
    pub certificates: Arc<Certificates>,
}

impl TlsSetup {
    /// From the `[tls]` table when given, else the kept self-signed pair.
    pub fn load(
        config: Option<&estafeta_core::config::Tls>,
        data_dir: &Path,
        hostname: &str,
    ) -> Result<TlsSetup, TlsError> {
        let (pairs, self_signed) = match config {
            Some(tls) => {
                let mut pairs = vec![(tls.cert.clone(), tls.key.clone())];
                pairs.extend(tls.extra.iter().map(|pair| (pair.cert.clone(), pair.key.clone())));
                (pairs, false)
            }
            None => (vec![self_signed(&data_dir.join("tls"), hostname)?], true),
        };
        let cert_path = pairs[0].0.clone();
        let certificates = Arc::new(Certificates::load(pairs)?);
        let config = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|error| TlsError::Config(error.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(Arc::clone(&certificates) as Arc<dyn ResolvesServerCert>);
        Ok(TlsSetup {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            cert_path,
            self_signed,
            certificates,
        })
    }
}

/// Every certificate the listeners may show, chosen per handshake by the
/// name the client asks for (SNI), and replaced when its files change, so
/// a renewed certificate is used without a restart.
pub struct Certificates {
    pairs: Vec<(PathBuf, PathBuf)>,
    loaded: RwLock<Loaded>,
}

struct Loaded {
    keys: Vec<Arc<CertifiedKey>>,
    stamps: Vec<Option<SystemTime>>,
}

impl std::fmt::Debug for Certificates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificates").field("pairs", &self.pairs).finish()
    }
}

/// When a pair's files last changed (the later of the two).
fn stamp(cert: &Path, key: &Path) -> Option<SystemTime> {
    let modified = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    modified(cert).max(modified(key))
}

fn certified(cert: &Path, key: &Path) -> Result<Arc<CertifiedKey>, TlsError> {
    let certs = read_certs(cert)?;
    let key = read_key(key)?;
    CertifiedKey::from_der(certs, key, &provider())
        .map(Arc::new)
        .map_err(|error| TlsError::Config(format!("{}: {error}", cert.display())))
}

impl Certificates {
    fn load(pairs: Vec<(PathBuf, PathBuf)>) -> Result<Certificates, TlsError> {
        let loaded = Self::read(&pairs)?;
        Ok(Certificates {
            pairs,
            loaded: RwLock::new(loaded),
        })
    }

    fn read(pairs: &[(PathBuf, PathBuf)]) -> Result<Loaded, TlsError> {
        let mut keys = Vec::with_capacity(pairs.len());
        let mut stamps = Vec::with_capacity(pairs.len());
        for (cert, key) in pairs {
            stamps.push(stamp(cert, key));
            keys.push(certified(cert, key)?);
        }
        Ok(Loaded { keys, stamps })
    }

    /// Reads the files again if any changed since they were read: true
    /// when new certificates are in use. A pair that does not load (a
    /// renewal half written, a key that does not fit) leaves the old ones
    /// serving, and the error says why.
    pub fn reload(&self) -> Result<bool, TlsError> {
        let now: Vec<Option<SystemTime>> = self.pairs.iter().map(|(c, k)| stamp(c, k)).collect();
        if self.loaded.read().unwrap_or_else(|e| e.into_inner()).stamps == now {
            return Ok(false);
        }
        let fresh = Self::read(&self.pairs)?;
        *self.loaded.write().unwrap_or_else(|e| e.into_inner()) = fresh;
        Ok(true)
    }

    /// The certificate for `name`: the first valid for it, else the default.
    fn for_name(&self, name: Option<&str>) -> Option<Arc<CertifiedKey>> {
        let loaded = self.loaded.read().unwrap_or_else(|e| e.into_inner());
        let wanted = name.and_then(|name| rustls::pki_types::ServerName::try_from(name).ok());
        if let Some(wanted) = wanted {
            let valid = |key: &&Arc<CertifiedKey>| {
                key.cert.first().is_some_and(|leaf| {
                    webpki::EndEntityCert::try_from(leaf)
                        .is_ok_and(|cert| cert.verify_is_valid_for_subject_name(&wanted).is_ok())
                })
            };
            if let Some(key) = loaded.keys.iter().find(valid) {
                return Some(Arc::clone(key));
            }
        }
        loaded.keys.first().cloned()
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.for_name(hello.server_name())
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
            extra: Vec::new(),
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
            extra: Vec::new(),
        };
        let error = TlsSetup::load(Some(&bad_key), dir.path(), "x")
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("`tls.key`"), "{error}");
        let good = estafeta_core::config::Tls {
            cert,
            key,
            extra: Vec::new(),
        };
        assert!(!TlsSetup::load(Some(&good), dir.path(), "x").unwrap().self_signed);
    }

    /// The leaf certificate a handshake asking for `name` is shown.
    async fn shown(setup: &TlsSetup, trust: &Path, name: &str) -> Vec<u8> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let acceptor = setup.acceptor.clone();
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let _ = acceptor.accept(tcp).await;
        });
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let connector = client_trusting(trust).unwrap();
        let name = rustls::pki_types::ServerName::try_from(name.to_owned()).unwrap();
        let tls = connector.connect(name, tcp).await.unwrap();
        let leaf = tls.get_ref().1.peer_certificates().unwrap()[0].to_vec();
        drop(tls);
        let _ = server.await;
        leaf
    }

    fn der(path: &Path) -> Vec<u8> {
        read_certs(path).unwrap()[0].to_vec()
    }

    /// A PEM file trusting all of `certs`.
    fn trusting(dir: &Path, certs: &[&Path]) -> PathBuf {
        let pem: Vec<u8> = certs.iter().flat_map(|c| std::fs::read(c).unwrap()).collect();
        let path = dir.join("trust.pem");
        std::fs::write(&path, pem).unwrap();
        path
    }

    #[tokio::test]
    async fn each_client_gets_the_certificate_for_the_name_it_asks() {
        // RFC 6066 3: SNI picks among the configured certificates.
        let dir = tempfile::tempdir().unwrap();
        let (a_cert, a_key) = self_signed(&dir.path().join("a"), "mail.a.test").unwrap();
        let (b_cert, b_key) = self_signed(&dir.path().join("b"), "mail.b.test").unwrap();
        let config = estafeta_core::config::Tls {
            cert: a_cert.clone(),
            key: a_key,
            extra: vec![estafeta_core::config::CertPair {
                cert: b_cert.clone(),
                key: b_key,
            }],
        };
        let setup = TlsSetup::load(Some(&config), dir.path(), "x").unwrap();
        let trust = trusting(dir.path(), &[&a_cert, &b_cert]);
        assert_eq!(shown(&setup, &trust, "mail.b.test").await, der(&b_cert));
        assert_eq!(shown(&setup, &trust, "mail.a.test").await, der(&a_cert));
    }

    #[tokio::test]
    async fn a_renewed_certificate_is_served_after_reload_without_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = self_signed(&dir.path().join("live"), "mail.example.test").unwrap();
        let config = estafeta_core::config::Tls {
            cert: cert.clone(),
            key: key.clone(),
            extra: Vec::new(),
        };
        let setup = TlsSetup::load(Some(&config), dir.path(), "x").unwrap();
        let old = der(&cert);
        assert!(!setup.certificates.reload().unwrap(), "nothing changed");
        // The renewal: new files in place of the old.
        let (new_cert, new_key) = self_signed(&dir.path().join("renewed"), "mail.example.test").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::copy(&new_key, &key).unwrap();
        std::fs::copy(&new_cert, &cert).unwrap();
        assert!(setup.certificates.reload().unwrap());
        let trust = trusting(dir.path(), &[&cert]);
        let shown_now = shown(&setup, &trust, "mail.example.test").await;
        assert_eq!(shown_now, der(&new_cert));
        assert_ne!(shown_now, old);
        // A half-written renewal keeps the working certificate serving.
        std::fs::write(&cert, b"-----BEGIN CERTIFICATE-----\ntruncated").unwrap();
        assert!(setup.certificates.reload().is_err());
        assert_eq!(shown(&setup, &trust, "mail.example.test").await, der(&new_cert));
    }
}
