//! A whole server started through testkit, probed over real sockets.

use estafeta_core::config::Service;
use estafeta_testkit::TestServer;
use rustls::pki_types::ServerName;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::net::TcpStream;

#[tokio::test]
async fn health_metrics_and_not_found() {
    let server = TestServer::start().await;
    let (status, body) = server.http_get("/health").await;
    assert_eq!((status, body.as_str()), (200, r#"{"status":"ok"}"#));

    TcpStream::connect(server.addr(Service::Smtp)).await.unwrap();
    let mut seen = false;
    for _ in 0..100 {
        let (status, body) = server.http_get("/metrics").await;
        assert_eq!(status, 200);
        assert!(body.contains("# TYPE estafeta_auth_failures_total counter"), "{body}");
        assert!(
            body.contains("estafeta_auth_failures_total{protocol=\"imap\"} 0"),
            "{body}"
        );
        assert!(
            body.contains("estafeta_store_operations_total{op=\"domain_list\"}"),
            "{body}"
        );
        if body.contains("estafeta_connections_total{listener=\"smtp\"} 1") {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(seen, "the smtp connection was counted");

    let (status, body) = server.http_get("/no/such/page").await;
    assert_eq!(status, 404);
    assert!(body.contains("not found"), "{body}");
}

async fn first_line<S: AsyncRead + Unpin>(stream: S) -> String {
    let mut line = String::new();
    let mut reader = BufReader::new(stream);
    tokio::time::timeout(Duration::from_secs(10), reader.read_line(&mut line))
        .await
        .expect("greeting")
        .unwrap();
    line
}

#[tokio::test]
async fn every_listener_answers_in_its_protocol() {
    let server = TestServer::start().await;
    for (service, greeting) in [
        (Service::Smtp, "220 mx.test "),
        (Service::Submission, "220 mx.test "),
        (Service::Imap, "* OK [CAPABILITY "),
        (Service::Pop3, "+OK "),
    ] {
        let line = first_line(TcpStream::connect(server.addr(service)).await.unwrap()).await;
        assert!(line.starts_with(greeting), "{}: {line:?}", service.name());
    }
    let implicit = [
        (Service::Submissions, "220 mx.test "),
        (Service::Imaps, "* OK [CAPABILITY "),
        (Service::Pop3s, "+OK "),
    ];
    for (service, greeting) in implicit {
        let tcp = TcpStream::connect(server.addr(service)).await.unwrap();
        let tls = server
            .tls_connector()
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .unwrap();
        let line = first_line(tls).await;
        assert!(line.starts_with(greeting), "{}: {line:?}", service.name());
    }
}

#[tokio::test]
async fn a_second_server_on_the_same_data_dir_is_refused() {
    let first = TestServer::start().await;
    let mut config = first.server().shared.config.clone();
    config.listen = Some(estafeta_core::config::Listen::ephemeral());
    let error = estafeta_server::RunningServer::start(config)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains("already serving"), "{error}");
}

#[tokio::test]
async fn a_taken_port_stops_the_start_naming_the_listener() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = estafeta_core::Config {
        data_dir: dir.path().to_owned(),
        listen: Some(estafeta_core::config::Listen {
            smtp: Some("127.0.0.1:0".parse().unwrap()),
            pop3: Some(port),
            ..Default::default()
        }),
        ..Default::default()
    };
    let error = estafeta_server::RunningServer::start(config)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains("pop3") && error.contains(&port.to_string()), "{error}");
}

#[tokio::test]
async fn data_dir_is_private_and_the_store_is_ready() {
    let server = TestServer::start().await;
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(server.dir.path()).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "data dir mode {mode:o}");
    let account = server.add_account("user@example.com", "secret").await;
    let inbox = server.store().mailbox_get(account.id, "INBOX").await.unwrap();
    assert!(inbox.is_some());
}

#[tokio::test]
async fn shutdown_is_graceful() {
    let server = TestServer::start().await;
    let addr = server.addr(Service::Smtp);
    assert!(server.stop(Duration::from_secs(5)).await, "no session left hanging");
    assert!(TcpStream::connect(addr).await.is_err(), "no longer accepting");
}

/// Sent-message records past `deliverability.delivery_log` are forgotten
/// when the server starts (and hourly after); recent ones stay.
#[tokio::test]
async fn old_sent_message_records_are_forgotten() {
    use estafeta_store::{DEFAULT_TENANT, DeliveryRecord, Store};
    let dir = tempfile::tempdir().unwrap();
    let now = estafeta_core::time::now();
    let (old, recent) = {
        let store = estafeta_store::sqlite::SqliteStore::open(dir.path()).await.unwrap();
        let record = |recipient: &str, sent_at| DeliveryRecord {
            id: 0,
            queue_id: 1,
            queued_at: 1,
            recipient: recipient.into(),
            sender: "a@example.com".into(),
            tenant: DEFAULT_TENANT,
            sender_domain: "example.com".into(),
            sent_at,
            message_id: String::new(),
        };
        let old = store
            .delivery_record(&record("old@remote.test", now - 31 * 86_400))
            .await
            .unwrap();
        let recent = store
            .delivery_record(&record("new@remote.test", now - 86_400))
            .await
            .unwrap();
        store.shutdown();
        (old, recent)
    };
    let path = dir.path().to_owned();
    let server = TestServer::start_with(|config| config.data_dir = path).await;
    let store = server.store();
    for _ in 0..200 {
        if store.delivery_get(old).await.unwrap().is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(store.delivery_get(old).await.unwrap().is_none(), "a 31-day-old record");
    assert!(store.delivery_get(recent).await.unwrap().is_some());
}
