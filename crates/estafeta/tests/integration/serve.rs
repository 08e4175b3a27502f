use crate::common::*;

#[tokio::test]
async fn serve_banner_health_and_sigterm_exit_zero() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn_serve(dir.path(), ALL_EPHEMERAL);
    let (banner, _log) = banner(&mut child);
    for service in [
        "smtp",
        "submission",
        "submissions",
        "imap",
        "imaps",
        "pop3",
        "pop3s",
        "http",
    ] {
        endpoint(&banner, service);
    }
    let (status, body) = estafeta_testkit::http_get(endpoint(&banner, "http"), "/health").await;
    assert_eq!((status, body.as_str()), (200, r#"{"status":"ok"}"#));
    assert!(
        dir.path().join("data/tls/cert.pem").exists(),
        "self-signed certificate kept in the data dir"
    );

    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert_eq!(wait_exit(&mut child), 0);
    assert!(tokio::net::TcpStream::connect(endpoint(&banner, "smtp")).await.is_err());
}

#[test]
fn sigint_also_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn_serve(dir.path(), "[listen]\nsmtp = \"127.0.0.1:0\"\n");
    let (banner, _log) = banner(&mut child);
    assert!(!banner.contains(" imap="), "only the listed listener runs: {banner}");
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    assert_eq!(wait_exit(&mut child), 0);
}

#[test]
fn a_taken_port_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap();
    let mut child = spawn_serve(
        dir.path(),
        &format!("[listen]\nsmtp = \"127.0.0.1:0\"\nimaps = \"{port}\"\n"),
    );
    let code = wait_exit(&mut child);
    let mut log = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut log).unwrap();
    assert_ne!(code, 0);
    let last = log.lines().last().unwrap();
    assert!(
        last.starts_with("error: ") && last.contains("imaps") && last.contains(&port.to_string()),
        "{log}"
    );
}

#[tokio::test]
async fn a_running_server_sees_cli_changes_at_once() {
    let server = estafeta_testkit::TestServer::start().await;
    let store = server.store();
    let d = server.dir.path();
    run_in(d, &["domain", "add", "live.test"], None).ok();
    assert!(store.domain_is_local("live.test").await.unwrap());
    run_in(
        d,
        &["account", "add", "new@live.test", "--password-stdin"],
        Some("first\n"),
    )
    .ok();
    let account = store
        .account_get("new@live.test")
        .await
        .unwrap()
        .expect("server sees the new account");
    assert!(estafeta_core::auth::verify_password("first", &account.password_hash));
    run_in(
        d,
        &["account", "passwd", "new@live.test", "--password-stdin"],
        Some("second\n"),
    )
    .ok();
    let account = store.account_get("new@live.test").await.unwrap().unwrap();
    assert!(
        estafeta_core::auth::verify_password("second", &account.password_hash),
        "no stale password"
    );
    run_in(d, &["alias", "add", "hi@live.test", "new@live.test"], None).ok();
    assert_eq!(
        store.alias_get("hi@live.test").await.unwrap().unwrap().target,
        "new@live.test"
    );
    run_in(d, &["account", "remove", "new@live.test"], None).ok();
    assert!(store.account_get("new@live.test").await.unwrap().is_none());
}
