//! Python's smtplib, as scripts and mail clients use it.

use estafeta_core::config::Service;
use estafeta_interop::{require, run, text};
use estafeta_testkit::TestServer;
use std::process::Command;

const SCRIPT: &str = r#"
import smtplib, ssl, sys
from email.message import EmailMessage
mode, port, cafile = sys.argv[1], int(sys.argv[2]), sys.argv[3]
context = ssl.create_default_context(cafile=cafile)
msg = EmailMessage()
msg["From"] = "alice@example.com" if mode != "mx" else "someone@remote.test"
msg["To"] = "bob@example.com, friend@elsewhere.test"
msg["Subject"] = "from smtplib " + mode
msg.set_content("Olá from Python.\n.leading dot line\n")
if mode == "smtps":
    s = smtplib.SMTP_SSL("localhost", port, context=context)
else:
    s = smtplib.SMTP("localhost", port)
    if mode == "submission":
        s.starttls(context=context)
if mode != "mx":
    s.login("alice@example.com", "correct horse")
    refused = s.send_message(msg)
else:
    refused = s.send_message(msg, to_addrs=["bob@example.com"])
print("refused:", refused)
s.quit()
"#;

async fn server() -> TestServer {
    let server = TestServer::start().await;
    server.add_account("alice@example.com", "correct horse").await;
    server.add_account("bob@example.com", "pw").await;
    server
}

async fn python(server: &TestServer, mode: &str, service: Service) -> String {
    let cert = server.server().shared.tls.cert_path.clone();
    let mut command = Command::new("python3");
    command
        .arg("-c")
        .arg(SCRIPT)
        .arg(mode)
        .arg(server.addr(service).port().to_string())
        .arg(cert);
    let output = run(command).await;
    assert!(output.status.success(), "python failed:\n{}", text(&output));
    text(&output)
}

async fn inbox_subjects(server: &TestServer, address: &str) -> Vec<String> {
    let store = server.store();
    let account = store.account_get(address).await.unwrap().unwrap();
    let inbox = store.mailbox_get(account.id, "INBOX").await.unwrap().unwrap();
    let mut subjects = Vec::new();
    for message in store.messages(inbox.id).await.unwrap() {
        let content = String::from_utf8(store.message_content(&message.blob).await.unwrap()).unwrap();
        subjects.extend(
            content
                .lines()
                .filter_map(|l| l.strip_prefix("Subject: "))
                .map(str::to_owned),
        );
        assert!(
            content.contains("\r\n..leading dot line") || content.contains("\r\n.leading dot line"),
            "{content}"
        );
    }
    subjects
}

#[tokio::test]
async fn submission_with_starttls_and_login() {
    if !require("python3") {
        return;
    }
    let server = server().await;
    let out = python(&server, "submission", Service::Submission).await;
    assert!(out.contains("refused: {}"), "{out}");
    assert_eq!(
        inbox_subjects(&server, "bob@example.com").await,
        vec!["from smtplib submission"]
    );
    let queued = server.store().queue_list().await.unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].recipients[0].recipient.address, "friend@elsewhere.test");
}

#[tokio::test]
async fn submissions_with_implicit_tls() {
    if !require("python3") {
        return;
    }
    let server = server().await;
    python(&server, "smtps", Service::Submissions).await;
    assert_eq!(
        inbox_subjects(&server, "bob@example.com").await,
        vec!["from smtplib smtps"]
    );
}

#[tokio::test]
async fn plain_mx_delivery() {
    if !require("python3") {
        return;
    }
    let server = server().await;
    python(&server, "mx", Service::Smtp).await;
    assert_eq!(
        inbox_subjects(&server, "bob@example.com").await,
        vec!["from smtplib mx"]
    );
}
