#![allow(dead_code)]

use estafeta_core::Address;
use estafeta_core::model::{Flags, MailboxRole};
use estafeta_store::sqlite::SqliteStore;
use estafeta_store::{Account, DeliveryTarget, Mailbox, Store};

pub async fn store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).await.unwrap();
    (dir, store)
}

pub async fn account(store: &SqliteStore, address: &str) -> Account {
    let address = Address::parse(address).unwrap();
    if !store.domain_is_local(address.domain()).await.unwrap() {
        store.domain_add(address.domain()).await.unwrap();
    }
    store.account_add(&address, "$argon2id$test").await.unwrap()
}

pub async fn inbox(store: &SqliteStore, account: &Account) -> Mailbox {
    store
        .mailbox_by_role(account.id, MailboxRole::Inbox)
        .await
        .unwrap()
        .unwrap()
}

pub fn to(mailbox: &Mailbox) -> DeliveryTarget {
    DeliveryTarget {
        mailbox: mailbox.id,
        flags: Flags::default(),
    }
}

pub fn message(n: usize) -> Vec<u8> {
    format!("From: a@example.com\r\nSubject: test {n}\r\n\r\nBody {n}\r\n").into_bytes()
}

/// Blob files on disk, excluding temporaries.
pub fn blob_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir.join("blobs"))
        .unwrap()
        .map(|shard| shard.unwrap())
        .filter(|shard| shard.file_name() != "tmp")
        .map(|shard| std::fs::read_dir(shard.path()).unwrap().count())
        .sum()
}
