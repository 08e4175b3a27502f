//! Moving mail into or out of Junk, or between tabs, tells the filter's
//! learning hook.

use crate::common;

use crate::common::{PASSWORD, USER};
use async_trait::async_trait;
use estafeta_core::Address;
use estafeta_core::auth::{LoginLimiter, hash_password};
use estafeta_core::config::{Config, Service};
use estafeta_core::metrics::Metrics;
use estafeta_core::model::AccountId;
use estafeta_core::model::MailboxRole;
use estafeta_imap::{ImapContext, ImapService, Learning, Lesson};
use estafeta_net::{CancellationToken, ConnectionLimiter, Listener, ListenerContext, TaskTracker};
use estafeta_store::BlobId;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

#[derive(Default)]
struct Recorder(Mutex<Vec<(usize, Lesson)>>);

#[async_trait]
impl Learning for Recorder {
    async fn learn(&self, _: AccountId, messages: &[BlobId], lesson: Lesson) {
        self.0.lock().unwrap().push((messages.len(), lesson));
    }
}

async fn command(reader: &mut BufReader<tokio::net::TcpStream>, tag: &str, text: &str) -> String {
    reader
        .get_mut()
        .write_all(format!("{tag} {text}\r\n").as_bytes())
        .await
        .unwrap();
    let mut line = String::new();
    loop {
        line.clear();
        tokio::time::timeout(Duration::from_secs(10), reader.read_line(&mut line))
            .await
            .unwrap()
            .unwrap();
        if line.starts_with(tag) {
            return line;
        }
    }
}

#[tokio::test]
async fn moves_into_and_out_of_junk_are_learned() {
    let dir = tempfile::tempdir().unwrap();
    let store = estafeta_store::open_sqlite(dir.path()).await.unwrap();
    let address = Address::parse(USER).unwrap();
    store.domain_add(address.domain()).await.unwrap();
    store
        .account_add(&address, &hash_password(PASSWORD).unwrap())
        .await
        .unwrap();
    let mut config = Config::default();
    // This test's listener has no TLS; the server's default forbids that.
    config.auth.allow_plaintext = true;
    let recorder = Arc::new(Recorder::default());
    let mut context = ImapContext::new(
        Arc::new(config.clone()),
        Arc::clone(&store),
        Arc::new(LoginLimiter::from_config(&config.auth)),
        Metrics::new(),
    );
    context.learning = recorder.clone();
    let listener = Listener::bind(Service::Imap, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let addr = listener.local_addr();
    listener.spawn(
        ImapService::new(Arc::new(context)),
        ListenerContext {
            limiter: ConnectionLimiter::new(10, 10),
            metrics: Metrics::new(),
            shutdown: CancellationToken::new(),
            tracker: TaskTracker::new(),
            idle_timeout: Duration::from_secs(60),
            tls: None,
        },
    );
    let mut imap = BufReader::new(tokio::net::TcpStream::connect(addr).await.unwrap());
    let mut greeting = String::new();
    imap.read_line(&mut greeting).await.unwrap();
    assert!(
        command(&mut imap, "a", &format!("LOGIN {USER} \"{PASSWORD}\""))
            .await
            .starts_with("a OK")
    );
    for subject in ["one", "two"] {
        common::deliver_into(&*store, &common::message(subject, "x")).await;
    }
    command(&mut imap, "b", "SELECT INBOX").await;
    assert!(command(&mut imap, "c", "MOVE 1:2 Junk").await.starts_with("c OK"));
    command(&mut imap, "d", "SELECT Junk").await;
    assert!(command(&mut imap, "e", "COPY 1 INBOX").await.starts_with("e OK"));
    // Out of Junk into Trash is tidying up, not a verdict.
    assert!(command(&mut imap, "f", "MOVE 2 Trash").await.starts_with("f OK"));
    // Within INBOX-to-Archive nothing is said.
    command(&mut imap, "g", "SELECT INBOX").await;
    command(&mut imap, "h", "COPY 1 Archive").await;
    // A copy between tabs says nothing; a move does.
    command(&mut imap, "i", "COPY 1 Promotions").await;
    assert!(command(&mut imap, "j", "MOVE 1 Promotions").await.starts_with("j OK"));
    command(&mut imap, "k", "SELECT Promotions").await;
    assert!(command(&mut imap, "l", "MOVE 1 Junk").await.starts_with("l OK"));
    command(&mut imap, "m", "SELECT Junk").await;
    assert!(
        command(&mut imap, "n", "UID MOVE 1:* Updates")
            .await
            .starts_with("n OK")
    );
    let lessons = recorder.0.lock().unwrap().clone();
    assert_eq!(
        lessons,
        [
            (2, Lesson::Spam),
            (
                1,
                Lesson::Ham {
                    to: Some(MailboxRole::Inbox)
                }
            ),
            (
                1,
                Lesson::Tab {
                    from: MailboxRole::Inbox,
                    to: MailboxRole::Promotions
                }
            ),
            (1, Lesson::Spam),
            (
                2,
                Lesson::Ham {
                    to: Some(MailboxRole::Updates)
                }
            ),
        ]
    );
}
