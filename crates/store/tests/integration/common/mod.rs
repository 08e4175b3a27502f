#![allow(dead_code)]

use estafeta_core::Address;
use estafeta_core::model::{Flags, MailboxRole};
use estafeta_store::sqlite::SqliteStore;
use estafeta_store::{Account, DeliveryTarget, Mailbox, Store};
use std::sync::Arc;

pub async fn store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).await.unwrap();
    (dir, store)
}

/// One store under test.
pub struct Backend {
    pub name: &'static str,
    pub store: Arc<dyn Store>,
    /// The SQLite data dir (also kept, empty, for PostgreSQL).
    pub dir: tempfile::TempDir,
}

/// Every backend available: SQLite always, PostgreSQL when configured.
pub async fn backends() -> Vec<Backend> {
    let dir = tempfile::tempdir().unwrap();
    let sqlite: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).await.unwrap());
    let mut all = vec![Backend {
        name: "sqlite",
        store: sqlite,
        dir,
    }];
    if let Some(url) = estafeta_testkit::postgres_url().await {
        let store = estafeta_store::postgres::PostgresStore::open(&url).await.unwrap();
        all.push(Backend {
            name: "postgres",
            store: Arc::new(store),
            dir: tempfile::tempdir().unwrap(),
        });
    }
    all
}

/// Blobs the store holds; on SQLite the contents kept in files and in the
/// database must together agree with the rows.
pub async fn blob_count(backend: &Backend) -> usize {
    let rows = backend.store.verify(false).await.unwrap().blobs_checked as usize;
    if backend.name == "sqlite" {
        let dir = backend.dir.path();
        assert_eq!(
            blob_files(dir) + blob_contents_in_database(dir),
            rows,
            "blob contents and rows disagree"
        );
    }
    rows
}

/// Blob contents the SQLite store keeps in its database.
pub fn blob_contents_in_database(dir: &std::path::Path) -> usize {
    let conn = rusqlite::Connection::open(dir.join("estafeta.db")).unwrap();
    conn.query_row("SELECT COUNT(*) FROM blob_contents", [], |row| row.get::<_, i64>(0))
        .unwrap() as usize
}

pub async fn account(store: &dyn Store, address: &str) -> Account {
    let address = Address::parse(address).unwrap();
    if !store.domain_is_local(address.domain()).await.unwrap() {
        store.domain_add(address.domain()).await.unwrap();
    }
    store.account_add(&address, "$argon2id$test").await.unwrap()
}

pub async fn inbox(store: &dyn Store, account: &Account) -> Mailbox {
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

/// A message too large for the SQLite store to keep in its database: its
/// content goes to a blob file.
pub fn large_message(n: usize) -> Vec<u8> {
    let mut message = message(n);
    message.extend(format!("{}\r\n", "x".repeat(78)).repeat(1_500).bytes());
    message
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
