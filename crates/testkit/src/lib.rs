//! Starts a whole Estafeta server in-process, on ephemeral loopback ports
//! in a temporary data dir, for integration tests of every crate.

use estafeta_core::Address;
pub mod dns;
pub mod imap;
pub mod mta;
pub mod smtp;
pub mod stream;

pub use dns::TestDns;
use estafeta_core::auth::hash_password;
use estafeta_core::config::{Config, Listen, Service};
use estafeta_server::RunningServer;
use estafeta_store::{Account, Store};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
pub use stream::Stream;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub struct TestServer {
    server: Option<RunningServer>,
    pub dir: tempfile::TempDir,
    /// The server's only nameserver: tests add the records they need.
    pub dns: TestDns,
}

impl TestServer {
    /// A server with every listener on an ephemeral port.
    pub async fn start() -> TestServer {
        TestServer::start_with(|_| {}).await
    }

    /// Same, after `adjust` has changed the config (limits, listeners...).
    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let dns = TestDns::start().await;
        let mut config = Config {
            data_dir: dir.path().to_owned(),
            hostname: "mx.test".to_owned(),
            listen: Some(Listen::ephemeral()),
            ..Config::default()
        };
        config.dns.nameservers = vec![dns.addr()];
        // Queued mail stays queued, where tests look for it, unless a test
        // of outbound delivery lets it go.
        config.outbound.hold = true;
        adjust(&mut config);
        let server = RunningServer::start(config).await.expect("start test server");
        TestServer {
            server: Some(server),
            dir,
            dns,
        }
    }

    fn running(&self) -> &RunningServer {
        self.server.as_ref().expect("server running")
    }

    /// A node on the shared PostgreSQL at `url` (several of these make a
    /// cluster: scale-out tests).
    /// Two nodes sharing the PostgreSQL at ESTAFETA_TEST_POSTGRES (and its
    /// URL); `None`, with the skip noted, when none is configured.
    pub async fn two_on_postgres() -> Option<(String, TestServer, TestServer)> {
        let url = postgres_url().await?;
        let a = TestServer::start_on_postgres(&url).await;
        let b = TestServer::start_on_postgres(&url).await;
        Some((url, a, b))
    }

    pub async fn start_on_postgres(url: &str) -> TestServer {
        let url = url.to_owned();
        TestServer::start_with(move |config| {
            config.store.backend = estafeta_core::config::Backend::Postgres;
            config.store.url = url;
        })
        .await
    }

    pub fn addr(&self, service: Service) -> SocketAddr {
        self.running()
            .addr(service)
            .unwrap_or_else(|| panic!("{} is not enabled", service.name()))
    }

    pub fn store(&self) -> Arc<dyn Store> {
        Arc::clone(&self.running().shared.store)
    }

    pub fn server(&self) -> &RunningServer {
        self.running()
    }

    /// Creates the domain if needed and an account with this password.
    pub async fn add_account(&self, address: &str, password: &str) -> Account {
        let address = Address::parse(address).expect("test address");
        let store = self.store();
        if !store.domain_is_local(address.domain()).await.unwrap() {
            store.domain_add(address.domain()).await.unwrap();
        }
        let hash = hash_password(password).unwrap();
        store.account_add(&address, &hash).await.unwrap()
    }

    /// A TLS client that trusts this server's certificate.
    pub fn tls_connector(&self) -> tokio_rustls::TlsConnector {
        estafeta_net::tls::client_trusting(&self.running().shared.tls.cert_path).expect("server certificate")
    }

    /// `GET path` on the http listener: (status, body).
    pub async fn http_get(&self, path: &str) -> (u16, String) {
        http_get(self.addr(Service::Http), path).await
    }

    /// Graceful stop; true when every session ended within `grace`.
    pub async fn stop(mut self, grace: Duration) -> bool {
        self.server.take().expect("server running").shutdown(grace).await
    }
}

/// A minimal HTTP/1.1 GET, so tests need no HTTP client crate.
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let response = http_request(addr, "GET", path, &[], b"").await;
    (response.status, response.body)
}

/// What [`http_request`] got back.
pub struct HttpResponse {
    pub status: u16,
    /// Header lines as sent, lowercased names: `name: value`.
    pub headers: Vec<String>,
    pub body: String,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        let prefix = format!("{}:", name.to_ascii_lowercase());
        self.headers
            .iter()
            .find_map(|line| line.strip_prefix(&prefix).map(str::trim))
    }
}

/// A minimal HTTP/1.1 request with the headers and body given.
pub async fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    let mut stream = TcpStream::connect(addr).await.expect("connect http");
    let mut request = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    // RFC 9112 3.2: one Host; the caller's when it gives one.
    if !headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("host")) {
        request.push_str(&format!("Host: {addr}\r\n"));
    }
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() || method != "GET" {
        request.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut raw))
        .await
        .expect("http timeout")
        .unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .expect("status line");
    let headers = lines
        .map(|line| match line.split_once(':') {
            Some((name, value)) => format!("{}:{value}", name.to_ascii_lowercase()),
            None => line.to_owned(),
        })
        .collect();
    HttpResponse {
        status,
        headers,
        body: body.to_owned(),
    }
}

/// The variable naming a PostgreSQL server (a URL to a database we may
/// create databases from) for the PostgreSQL half of the suite.
pub const POSTGRES_VARIABLE: &str = "ESTAFETA_TEST_POSTGRES";

/// A test that cannot run here says so, and returns. Under CI (where
/// .ci/run installs and starts everything) nothing may be skipped: a skip
/// there would pass a test that never ran, so it fails instead.
pub fn skip(why: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "SKIPPED under CI, where nothing may be: {why}"
    );
    eprintln!("SKIPPED: {why}");
}

/// A fresh, empty database on the test server, or `None` (with a message)
/// when none is configured. CI always configures one.
pub async fn postgres_url() -> Option<String> {
    let Ok(admin) = std::env::var(POSTGRES_VARIABLE) else {
        skip(&format!(
            "the PostgreSQL backend: set {POSTGRES_VARIABLE}=postgres://user@host:port/db to run it (.ci/run starts one)"
        ));
        return None;
    };
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let name = format!(
        "estafeta_test_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    Some(fresh_database(&admin, &name).await)
}

/// Creates (anew) database `name` on the PostgreSQL that `admin` (a URL
/// ending in `/database`) reaches; returns the URL of the new one.
pub async fn fresh_database(admin: &str, name: &str) -> String {
    let (client, connection) = tokio_postgres::connect(admin, tokio_postgres::NoTls)
        .await
        .expect("connect to PostgreSQL");
    tokio::spawn(connection);
    // One statement each: neither may run inside a transaction block.
    client
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
        .await
        .unwrap();
    client.batch_execute(&format!("CREATE DATABASE {name}")).await.unwrap();
    let (base, _) = admin.rsplit_once('/').expect("a URL ending in /database");
    format!("{base}/{name}")
}

/// Cuts every node's change listener off the PostgreSQL at `url` (as a
/// network blip or a database failover would); they reconnect on their own.
pub async fn drop_change_listeners(url: &str) {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect to the test database");
    tokio::spawn(connection);
    client
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND query LIKE 'LISTEN%'",
            &[],
        )
        .await
        .expect("terminate the listeners");
}
