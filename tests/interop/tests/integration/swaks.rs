//! swaks, the SMTP test tool, in its pipelining and TLS modes.

use estafeta_core::config::Service;
use estafeta_interop::{require, run, text};
use estafeta_testkit::TestServer;
use std::process::Command;

async fn server() -> TestServer {
    let server = TestServer::start().await;
    server.add_account("alice@example.com", "correct horse").await;
    server.add_account("bob@example.com", "pw").await;
    server
}

fn swaks(server: &TestServer, service: Service, args: &[&str]) -> Command {
    let mut command = Command::new("swaks");
    command
        .arg("--server")
        .arg(server.addr(service).to_string())
        .args(["--helo", "client.test", "--timeout", "20"])
        .args(args);
    command
}

/// Arguments for alice to log in with `mechanism` and send to bob.
fn login_as_alice(tls: &'static str, mechanism: &'static str, password: &'static str) -> Vec<&'static str> {
    vec![
        tls,
        "--auth",
        mechanism,
        "--auth-user",
        "alice@example.com",
        "--auth-password",
        password,
        "--from",
        "alice@example.com",
        "--h-From",
        "alice@example.com",
        "--to",
        "bob@example.com",
    ]
}

async fn inbox_count(server: &TestServer, address: &str) -> usize {
    let store = server.store();
    let account = store.account_get(address).await.unwrap().unwrap();
    let inbox = store.mailbox_get(account.id, "INBOX").await.unwrap().unwrap();
    store.messages(inbox.id).await.unwrap().len()
}

#[tokio::test]
async fn pipelined_delivery_to_the_mx() {
    if !require("swaks") {
        return;
    }
    let server = server().await;
    let out = run(swaks(
        &server,
        Service::Smtp,
        &[
            "--pipeline",
            "--from",
            "s@remote.test",
            "--to",
            "alice@example.com,bob@example.com",
        ],
    ))
    .await;
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    // swaks sends MAIL, both RCPTs and DATA in one batch.
    assert!(
        log.contains("PIPELINING") && log.contains("250 2.0.0 Message accepted"),
        "{log}"
    );
    assert_eq!(inbox_count(&server, "alice@example.com").await, 1);
    assert_eq!(inbox_count(&server, "bob@example.com").await, 1);
}

#[tokio::test]
async fn starttls_and_auth_on_submission() {
    if !require("swaks") {
        return;
    }
    let server = server().await;
    let args = login_as_alice("--tls", "PLAIN", "correct horse");
    let out = run(swaks(&server, Service::Submission, &args)).await;
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    assert!(
        log.contains("235 2.7.0") && log.contains("250 2.0.0 Message accepted"),
        "{log}"
    );
    assert_eq!(inbox_count(&server, "bob@example.com").await, 1);
}

#[tokio::test]
async fn implicit_tls_with_auth_login_and_a_refused_password() {
    if !require("swaks") {
        return;
    }
    let server = server().await;
    let good = login_as_alice("--tls-on-connect", "LOGIN", "correct horse");
    let out = run(swaks(&server, Service::Submissions, &good)).await;
    assert!(out.status.success(), "{}", text(&out));
    let bad = login_as_alice("--tls-on-connect", "LOGIN", "wrong");
    let out = run(swaks(&server, Service::Submissions, &bad)).await;
    assert!(
        !out.status.success() && text(&out).contains("535 5.7.8"),
        "{}",
        text(&out)
    );
    assert_eq!(inbox_count(&server, "bob@example.com").await, 1);
}

#[tokio::test]
async fn swaks_without_tls_cannot_authenticate() {
    if !require("swaks") {
        return;
    }
    let server = server().await;
    let args = [
        "--auth",
        "PLAIN",
        "--auth-user",
        "alice@example.com",
        "--auth-password",
        "correct horse",
        "--from",
        "alice@example.com",
        "--to",
        "bob@example.com",
    ];
    let out = run(swaks(&server, Service::Submission, &args)).await;
    assert!(!out.status.success(), "{}", text(&out));
    assert_eq!(inbox_count(&server, "bob@example.com").await, 0);
}

/// The GTUBE test string (SpamAssassin's; our filter knows it too), as an
/// operator sends it with swaks to check the filter.
const GTUBE: &str = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";

async fn mailbox_count(server: &TestServer, address: &str, name: &str) -> usize {
    let store = server.store();
    let account = store.account_get(address).await.unwrap().unwrap();
    let mailbox = store.mailbox_get(account.id, name).await.unwrap().unwrap();
    store.messages(mailbox.id).await.unwrap().len()
}

#[tokio::test]
async fn gtube_from_swaks_is_filed_in_junk_or_refused() {
    if !require("swaks") {
        return;
    }
    let gtube = |server: &TestServer| {
        swaks(
            server,
            Service::Smtp,
            &[
                "--from",
                "tester@remote.test",
                "--to",
                "alice@example.com",
                "--header",
                "Subject: filter test",
                "--body",
                GTUBE,
            ],
        )
    };
    let server = server().await;
    let out = run(gtube(&server)).await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(mailbox_count(&server, "alice@example.com", "Junk").await, 1);
    assert_eq!(inbox_count(&server, "alice@example.com").await, 0);

    // With a reject score set, the same message is refused at DATA and
    // swaks says why.
    let strict = TestServer::start_with(|config| config.filter.reject_score = Some(15.0)).await;
    strict.add_account("alice@example.com", "pw").await;
    let out = run(gtube(&strict)).await;
    let log = text(&out);
    assert!(!out.status.success(), "{log}");
    assert!(log.contains("<** 550 5.7.1"), "{log}");
    assert!(log.contains("GTUBE"), "{log}");
}
