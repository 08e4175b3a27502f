//! `estafeta migrate`: an installation copied from SQLite to PostgreSQL
//! answers an IMAP client exactly as before (UIDVALIDITY, UIDs, flags).

use crate::common::{estafeta, run};
use estafeta_core::config::{Backend, Service};
use estafeta_testkit::TestServer;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const USER: &str = "ann@one.test";
const PASSWORD: &str = "migrate me please";

/// What a client sees: STATUS of two mailboxes and every message's UID,
/// flags and size.
async fn client_view(server: &TestServer) -> Vec<String> {
    let stream = tokio::net::TcpStream::connect(server.addr(Service::Imap))
        .await
        .unwrap();
    let mut imap = BufReader::new(stream);
    let mut lines = Vec::new();
    let mut line = String::new();
    imap.read_line(&mut line).await.unwrap();
    for (tag, command) in [
        ("a", format!("LOGIN {USER} \"{PASSWORD}\"")),
        (
            "b",
            "STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN HIGHESTMODSEQ)".to_owned(),
        ),
        ("c", "STATUS Archive (MESSAGES UIDNEXT UIDVALIDITY)".to_owned()),
        ("d", "EXAMINE INBOX".to_owned()),
        ("e", "UID FETCH 1:* (FLAGS RFC822.SIZE INTERNALDATE MODSEQ)".to_owned()),
    ] {
        imap.get_mut()
            .write_all(format!("{tag} {command}\r\n").as_bytes())
            .await
            .unwrap();
        loop {
            line.clear();
            tokio::time::timeout(Duration::from_secs(10), imap.read_line(&mut line))
                .await
                .unwrap()
                .unwrap();
            if line.starts_with(&format!("{tag} ")) {
                assert!(line.starts_with(&format!("{tag} OK")), "{command}: {line}");
                break;
            }
            if tag != "a" {
                lines.push(line.trim_end().to_owned());
            }
        }
    }
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migrated_installation_looks_the_same_to_imap_clients() {
    let Some(url) = estafeta_testkit::postgres_url().await else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().to_owned();
    let embedded = TestServer::start_with(|config| {
        config.data_dir = data_dir.clone();
        config.auth.allow_plaintext = true;
    })
    .await;
    let account = embedded.add_account(USER, PASSWORD).await;
    let store = embedded.store();
    let inbox = store.mailbox_get(account.id, "INBOX").await.unwrap().unwrap();
    let archive = store.mailbox_get(account.id, "Archive").await.unwrap().unwrap();
    for n in 0..40 {
        let message = format!("From: x@remote.test\r\nSubject: m{n}\r\n\r\nbody {n}\r\n");
        let target = estafeta_store::DeliveryTarget {
            mailbox: if n % 4 == 0 { archive.id } else { inbox.id },
            flags: if n % 3 == 0 {
                estafeta_core::model::Flags::seen()
            } else {
                Default::default()
            },
        };
        store
            .deliver(message.as_bytes(), 1_700_000_000 + n, &[target])
            .await
            .unwrap();
    }
    let before = client_view(&embedded).await;
    assert!(before.len() > 30, "{before:?}");
    assert!(embedded.stop(Duration::from_secs(5)).await);

    let mut command = estafeta();
    command
        .arg("migrate")
        .arg("--from")
        .arg(format!("sqlite:{}", data.path().display()))
        .arg("--to")
        .arg(&url);
    let output = run(command, None);
    assert!(
        output.ok().starts_with("migrated 1 domains, 1 accounts"),
        "{}",
        output.stdout
    );

    let url_for_server = url.clone();
    let scaled = TestServer::start_with(move |config| {
        config.store.backend = Backend::Postgres;
        config.store.url = url_for_server;
        config.auth.allow_plaintext = true;
    })
    .await;
    assert_eq!(client_view(&scaled).await, before);
}

#[test]
fn migrate_refuses_what_it_cannot_copy() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = estafeta();
    command.args([
        "migrate",
        "--from",
        "/var/lib/estafeta",
        "--to",
        "postgres://x@127.0.0.1/db",
    ]);
    run(command, None).refused("--from must be sqlite:DATA_DIR");
    let mut command = estafeta();
    command
        .args(["migrate", "--from"])
        .arg(format!("sqlite:{}", dir.path().display()))
        .args(["--to", "mysql://x"]);
    run(command, None).refused("--to must be a postgres://");
    let mut command = estafeta();
    command
        .args(["migrate", "--from"])
        .arg(format!("sqlite:{}", dir.path().display()))
        .args(["--to", "postgres://nobody@127.0.0.1:1/none"]);
    run(command, None).refused("no Estafeta store");
}
