//! mbsync (isync) keeping a Maildir in two-way sync with an Estafeta
//! account of 500 messages: the first sync, a flag change on each side,
//! a second sync after which both sides agree.

use estafeta_core::config::Service;
use estafeta_core::model::{Flags, SystemFlags};
use estafeta_interop::{require, run, text};
use estafeta_store::{DeliveryTarget, FlagOperation};
use estafeta_testkit::TestServer;
use std::path::{Path, PathBuf};
use std::process::Command;

const USER: &str = "alice@example.test";
const COUNT: usize = 500;

fn maildir_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for sub in ["cur", "new"] {
        if let Ok(entries) = std::fs::read_dir(dir.join(sub)) {
            files.extend(entries.map(|e| e.unwrap().path()));
        }
    }
    files
}

/// The Maildir file mbsync keeps for server UID `uid` (`,U=<uid>:` in its name).
fn file_of(dir: &Path, uid: u32) -> PathBuf {
    let mark = format!(",U={uid}:");
    maildir_files(dir)
        .into_iter()
        .find(|p| p.file_name().unwrap().to_string_lossy().contains(&mark))
        .unwrap_or_else(|| panic!("no file for UID {uid}"))
}

fn maildir_flags(path: &Path) -> String {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    name.rsplit_once(":2,").map(|(_, f)| f.to_owned()).unwrap_or_default()
}

async fn sync(rc: &Path) {
    let mut command = Command::new("mbsync");
    command.arg("-c").arg(rc).arg("-a");
    let output = run(command).await;
    assert!(output.status.success(), "mbsync failed:\n{}", text(&output));
}

#[tokio::test]
async fn two_way_sync_of_500_messages_and_flag_changes() {
    if !require("mbsync") {
        return;
    }
    let server = TestServer::start().await;
    let account = server.add_account(USER, "correct horse").await;
    let store = server.store();
    let inbox = store.mailbox_get(account.id, "INBOX").await.unwrap().unwrap();
    let target = DeliveryTarget {
        mailbox: inbox.id,
        flags: Flags::default(),
    };
    let deliveries = (0..COUNT).map(|i| {
        let store = store.clone();
        let target = target.clone();
        async move {
            let message = format!(
                "From: sender{i}@remote.test\r\nTo: {USER}\r\nSubject: message {i}\r\nMessage-ID: <{i}@remote.test>\r\n\r\nBody {i}.\r\n"
            );
            store.deliver(message.as_bytes(), 1_764_000_000 + i as i64, &[target]).await.unwrap();
        }
    });
    futures_join(deliveries).await;

    let dir = tempfile::tempdir().unwrap();
    let mail = dir.path().join("mail");
    std::fs::create_dir_all(&mail).unwrap();
    let rc = dir.path().join("mbsyncrc");
    let cert = server.server().shared.tls.cert_path.clone();
    std::fs::write(
        &rc,
        format!(
            "IMAPAccount estafeta\nHost 127.0.0.1\nPort {port}\nUser {USER}\nPass \"correct horse\"\n\
SSLType IMAPS\nCertificateFile {cert}\nAuthMechs LOGIN\n\n\
IMAPStore remote\nAccount estafeta\n\n\
MaildirStore local\nPath {mail}/\nInbox {mail}/INBOX\nSubFolders Verbatim\n\n\
Channel sync\nFar :remote:\nNear :local:\nPatterns *\nCreate Near\nSyncState *\nSync All\n",
            port = server.addr(Service::Imaps).port(),
            cert = cert.display(),
            mail = mail.display(),
        ),
    )
    .unwrap();

    sync(&rc).await;
    let local_inbox = mail.join("INBOX");
    assert_eq!(maildir_files(&local_inbox).len(), COUNT);
    // Every default mailbox came across (LIST with patterns).
    for name in ["Sent", "Junk", "Trash", "Promotions"] {
        assert!(mail.join(name).join("cur").is_dir(), "{name} not synced");
    }

    // Far side: flag UID 1. Near side: mark UID 2 as read.
    store
        .store_flags(
            inbox.id,
            &[1],
            FlagOperation::Add,
            &Flags::new(SystemFlags::FLAGGED, []),
            None,
        )
        .await
        .unwrap();
    let local = file_of(&local_inbox, 2);
    let name = local.file_name().unwrap().to_string_lossy().into_owned();
    let base = name.split(":2,").next().unwrap();
    let flags = maildir_flags(&local);
    std::fs::rename(&local, local_inbox.join("cur").join(format!("{base}:2,{flags}S"))).unwrap();

    sync(&rc).await;
    assert!(maildir_flags(&file_of(&local_inbox, 1)).contains('F'));
    let messages = store.messages(inbox.id).await.unwrap();
    assert_eq!(messages.len(), COUNT);
    let seen: Vec<u32> = messages
        .iter()
        .filter(|m| m.flags.system.contains(SystemFlags::SEEN))
        .map(|m| m.uid)
        .collect();
    assert_eq!(seen, [2], "only the message read locally is \\Seen on the server");
    let flagged: Vec<u32> = messages
        .iter()
        .filter(|m| m.flags.system.contains(SystemFlags::FLAGGED))
        .map(|m| m.uid)
        .collect();
    assert_eq!(flagged, [1]);
    // A third sync finds nothing to do: both sides agree.
    let before: Vec<String> = maildir_files(&local_inbox)
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    sync(&rc).await;
    let mut after: Vec<String> = maildir_files(&local_inbox)
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let mut before = before;
    before.sort();
    after.sort();
    assert_eq!(before, after);
}

/// Runs the futures concurrently (the store batches them into few commits).
async fn futures_join<F: std::future::Future<Output = ()> + Send + 'static>(futures: impl Iterator<Item = F>) {
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    for handle in handles {
        handle.await.unwrap();
    }
}
