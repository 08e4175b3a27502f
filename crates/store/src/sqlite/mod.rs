//! The embedded backend: SQLite in WAL mode, with the contents of large
//! messages in a directory of blob files beside it.

mod blobs;
mod dav;
mod dav_files;
mod directory;
mod identities;
mod learning;
mod mailboxes;
mod messages;
pub(crate) use messages::apply_flags;
mod ip_pools;
mod pool;
mod queue;
pub mod schema;
mod tenancy;
mod verify;

use crate::Identity;
use crate::blob::{BlobId, FileBlobStore};
use crate::error::{Result, StoreError};
use crate::learning::{Greylisting, ModelScope, TokenCounts, Training};
use crate::types::*;
use crate::{
    DavChanges, DavCollection, DavDelete, DavFile, DavKind, DavObject, DavPrecondition, DavProps, DavPut,
    DeliveryRecord, DkimKey, IpPool, NewPoolAddress, StatKind, Stats, Store, Suppression, Tenant,
};
use async_trait::async_trait;
use blobs::NewBlob;
use estafeta_core::Address;
use estafeta_core::bus::{Change, ChangeBus};
use estafeta_core::metrics::{Counter, Metrics};
use estafeta_core::model::{AccountId, Flags, MailboxId, MailboxRole, QueueId, TenantId};
use pool::{Readers, Writer};
use rusqlite::OptionalExtension as _;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What a write leaves to do once its transaction is durable.
#[derive(Default)]
pub struct Effects {
    changes: Vec<Change>,
    unreferenced: Vec<BlobId>,
}

impl Effects {
    fn absorb(&mut self, other: Effects) {
        self.changes.extend(other.changes);
        self.unreferenced.extend(other.unreferenced);
    }
}

fn operation_counter(metrics: &Metrics, operation: &str) -> Counter {
    metrics.counter(
        "estafeta_store_operations_total",
        "Store operations by kind.",
        &[("op", operation)],
    )
}

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The id for a new row of `table` (`accounts` or `mailboxes`), inside the
/// caller's transaction. SQLite gives a deleted table's highest rowid to
/// the next row, so without this a session still holding a deleted
/// mailbox or account by id would find someone else's in its place; the
/// high-water mark in `meta` makes an id mean one row for good, as
/// PostgreSQL's sequences do.
pub(crate) fn next_row_id(conn: &rusqlite::Connection, table: &'static str) -> rusqlite::Result<i64> {
    use rusqlite::OptionalExtension as _;
    let key = format!("last_{table}_id");
    let mark: i64 = conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [&key], |row| row.get(0))
        .optional()?
        .unwrap_or(0);
    let highest: i64 = conn.query_row(&format!("SELECT COALESCE(MAX(id), 0) FROM {table}"), [], |row| {
        row.get(0)
    })?;
    let next = mark.max(highest) + 1;
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        rusqlite::params![key, next],
    )?;
    Ok(next)
}

/// Every operation the store counts, so their counters are made once and
/// the hot path is one atomic add, not a registry lookup.
const OPERATIONS: &[&str] = &[
    "accept",
    "account_add",
    "account_get",
    "account_list",
    "account_remove",
    "account_set_password",
    "alias_add",
    "alias_get",
    "alias_list",
    "alias_remove",
    "changes_since",
    "copy",
    "deliver",
    "domain_add",
    "domain_is_local",
    "domain_list",
    "domain_remove",
    "expunge",
    "mailbox_create",
    "mailbox_delete",
    "mailbox_get",
    "mailbox_list",
    "mailbox_rename",
    "mailbox_subscribe",
    "message_content",
    "messages",
    "messages_lacking_final_line_break",
    "move",
    "queue_insert",
    "queue_list",
    "store_flags",
    "verify",
];

pub struct SqliteStore {
    writer: Writer,
    readers: Arc<Readers>,
    blobs: Arc<FileBlobStore>,
    bus: ChangeBus,
    metrics: Arc<Metrics>,
    operations: HashMap<&'static str, Counter>,
    path: PathBuf,
    maildrop_locks: crate::lease::MemoryLeases,
}

impl SqliteStore {
    /// Opens (creating if need be) the store in `data_dir`, applying every
    /// pending migration.
    pub async fn open(data_dir: &Path) -> Result<SqliteStore> {
        SqliteStore::open_with(data_dir, Metrics::new()).await
    }

    pub async fn open_with(data_dir: &Path, metrics: Arc<Metrics>) -> Result<SqliteStore> {
        let data_dir = data_dir.to_owned();
        tokio::task::spawn_blocking(move || SqliteStore::open_blocking(&data_dir, metrics))
            .await
            .map_err(|error| StoreError::Io(error.to_string()))?
    }

    fn open_blocking(data_dir: &Path, metrics: Arc<Metrics>) -> Result<SqliteStore> {
        // Mail is personal data: the data dir is the owner's alone.
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(data_dir)
            .map_err(|error| StoreError::Io(format!("cannot create {}: {error}", data_dir.display())))?;
        let path = data_dir.join("estafeta.db");
        let blobs = Arc::new(FileBlobStore::open(&data_dir.join("blobs"))?);
        let mut conn = pool::open_connection(&path)?;
        schema::migrate_to(&mut conn, schema::latest())?;
        let bus = ChangeBus::default();
        conn.pragma_update(None, "wal_autocheckpoint", pool::CHECKPOINT_PAGES)?;
        let writer = Writer::start(conn, Arc::clone(&blobs), bus.clone(), &metrics);
        let readers = Readers::open(&path)?;
        let operations = OPERATIONS
            .iter()
            .map(|&op| (op, operation_counter(&metrics, op)))
            .collect();
        Ok(SqliteStore {
            writer,
            readers,
            blobs,
            bus,
            metrics,
            operations,
            path,
            maildrop_locks: Default::default(),
        })
    }

    pub fn database_path(&self) -> &Path {
        &self.path
    }

    /// Removes blob temporaries a crash left behind (older than `age`).
    pub fn clear_temporaries(&self, age: std::time::Duration) -> Result<usize> {
        self.blobs.clear_temporaries(age)
    }

    /// Frees queue leases left by an earlier run; only for the server
    /// that holds the data dir's lock.
    pub async fn clear_queue_leases(&self) -> Result<u64> {
        self.write("queue_clear_leases", |conn, _| queue::clear_leases(conn))
            .await
    }

    /// Lets queued writes finish and stops the writer thread.
    pub fn shutdown(&self) {
        self.writer.shutdown();
    }

    fn count(&self, operation: &'static str) {
        match self.operations.get(operation) {
            Some(counter) => counter.inc(),
            None => operation_counter(&self.metrics, operation).inc(),
        }
    }

    async fn read<F, R>(&self, operation: &'static str, work: F) -> Result<R>
    where
        F: FnOnce(&rusqlite::Connection) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        self.count(operation);
        self.readers.run(work).await
    }

    /// A point lookup by key, answered on the caller's thread (see
    /// `Readers::lookup`); anything that scans uses `read`.
    async fn lookup<F, R>(&self, operation: &'static str, work: F) -> Result<R>
    where
        F: FnOnce(&rusqlite::Connection) -> Result<R>,
    {
        self.count(operation);
        self.readers.lookup(work).await
    }

    async fn write<F, R>(&self, operation: &'static str, work: F) -> Result<R>
    where
        F: FnOnce(&rusqlite::Connection, &mut Effects) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        self.count(operation);
        self.writer.run(work).await
    }

    /// Prepares `parts` as one blob: small contents on this thread (only
    /// a hash), larger ones into a file on a blocking thread.
    async fn put_parts(&self, parts: &[&[u8]]) -> Result<NewBlob> {
        let size = parts.iter().map(|part| part.len()).sum();
        if NewBlob::kept_in_database(size) {
            return NewBlob::prepare(&self.blobs, parts);
        }
        let files = Arc::clone(&self.blobs);
        let data = parts.concat();
        tokio::task::spawn_blocking(move || NewBlob::prepare(&files, &[&data]))
            .await
            .map_err(|error| StoreError::Io(error.to_string()))?
    }

    async fn put_blob(&self, message: &[u8]) -> Result<NewBlob> {
        self.put_parts(&[message]).await
    }

    /// A received copy's blob, written from its shared parts.
    async fn put_composed(&self, message: &Composed) -> Result<NewBlob> {
        self.put_parts(&message.parts()).await
    }

    /// Writes the blob, then runs `work` referencing it. If the file was
    /// removed in between (its last reference went away concurrently), the
    /// write reports `BlobMissing`; writing the blob again settles it.
    async fn with_blob<F, R>(&self, operation: &'static str, message: &[u8], work: F) -> Result<R>
    where
        F: Fn(&rusqlite::Connection, &mut Effects, &FileBlobStore, &NewBlob) -> Result<R> + Send + Sync + 'static,
        R: Send + 'static,
    {
        let work = Arc::new(work);
        let mut attempts = 0;
        loop {
            attempts += 1;
            let blob = self.put_blob(message).await?;
            let (files, work) = (Arc::clone(&self.blobs), Arc::clone(&work));
            match self
                .write(operation, move |conn, effects| work(conn, effects, &files, &blob))
                .await
            {
                Err(StoreError::BlobMissing(_)) if attempts < 3 => continue,
                other => return other,
            }
        }
    }
}

fn owned(text: &str) -> String {
    text.to_owned()
}

fn dkim_row(row: &rusqlite::Row) -> rusqlite::Result<DkimKey> {
    Ok(DkimKey {
        domain: row.get(0)?,
        selector: row.get(1)?,
        algorithm: row.get(2)?,
        private_key: row.get(3)?,
        created_at: row.get(4)?,
    })
}

#[async_trait]
impl Store for SqliteStore {
    async fn domain_add(&self, name: &str) -> Result<Domain> {
        let name = estafeta_core::address::normalise_domain(name)
            .ok_or_else(|| StoreError::Invalid(format!("`{name}` is not a valid domain name")))?;
        self.write("domain_add", move |conn, _| directory::domain_add(conn, &name))
            .await
    }

    async fn domain_list(&self) -> Result<Vec<Domain>> {
        self.lookup("domain_list", directory::domain_list).await
    }

    async fn domain_remove(&self, name: &str) -> Result<()> {
        let name = name.to_ascii_lowercase();
        self.write("domain_remove", move |conn, _| directory::domain_remove(conn, &name))
            .await
    }

    async fn domain_is_local(&self, name: &str) -> Result<bool> {
        let name = owned(name);
        self.lookup("domain_is_local", move |conn| directory::domain_is_local(conn, &name))
            .await
    }

    async fn account_add(&self, address: &Address, password_hash: &str) -> Result<Account> {
        let (address, hash) = (address.clone(), owned(password_hash));
        self.write("account_add", move |conn, _| {
            directory::account_add(conn, &address, &hash)
        })
        .await
    }

    async fn account_get(&self, address: &str) -> Result<Option<Account>> {
        let address = owned(address);
        self.lookup("account_get", move |conn| directory::account_get(conn, &address))
            .await
    }

    async fn account_by_id(&self, id: AccountId) -> Result<Option<Account>> {
        self.lookup("account_get", move |conn| directory::account_by_id(conn, id))
            .await
    }

    async fn account_usage(&self, account: AccountId) -> Result<u64> {
        self.read("account_usage", move |conn| directory::account_usage(conn, account))
            .await
    }

    async fn account_list(&self) -> Result<Vec<Account>> {
        self.read("account_list", directory::account_list).await
    }

    async fn account_set_password(&self, address: &str, password_hash: &str) -> Result<()> {
        let (address, hash) = (owned(address), owned(password_hash));
        self.write("account_set_password", move |conn, effects| {
            directory::account_set_password(conn, effects, &address, &hash)
        })
        .await
    }

    async fn account_remove(&self, address: &str) -> Result<()> {
        let address = owned(address);
        self.write("account_remove", move |conn, effects| {
            directory::account_remove(conn, effects, &address)
        })
        .await
    }

    async fn alias_add(&self, alias: &Address, target: &Address) -> Result<Alias> {
        let (alias, target) = (alias.clone(), target.clone());
        self.write("alias_add", move |conn, _| directory::alias_add(conn, &alias, &target))
            .await
    }

    async fn alias_get(&self, address: &str) -> Result<Option<Alias>> {
        let address = owned(address);
        self.lookup("alias_get", move |conn| directory::alias_get(conn, &address))
            .await
    }

    async fn alias_list(&self) -> Result<Vec<Alias>> {
        self.read("alias_list", directory::alias_list).await
    }

    async fn alias_remove(&self, address: &str) -> Result<()> {
        let address = owned(address);
        self.write("alias_remove", move |conn, _| directory::alias_remove(conn, &address))
            .await
    }

    async fn mailbox_list(&self, account: AccountId) -> Result<Vec<Mailbox>> {
        self.read("mailbox_list", move |conn| mailboxes::list(conn, account))
            .await
    }

    async fn mailbox_get(&self, account: AccountId, name: &str) -> Result<Option<Mailbox>> {
        let name = owned(name);
        self.lookup("mailbox_get", move |conn| mailboxes::get(conn, account, &name))
            .await
    }

    async fn mailbox_by_role(&self, account: AccountId, role: MailboxRole) -> Result<Option<Mailbox>> {
        self.lookup("mailbox_get", move |conn| mailboxes::by_role(conn, account, role))
            .await
    }

    async fn mailbox_by_id(&self, id: MailboxId) -> Result<Option<Mailbox>> {
        self.lookup("mailbox_get", move |conn| mailboxes::by_id(conn, id)).await
    }

    async fn mailbox_create(&self, account: AccountId, name: &str) -> Result<Mailbox> {
        let name = owned(name);
        self.write("mailbox_create", move |conn, effects| {
            let mailbox = mailboxes::create(conn, account, &name, None)?;
            effects.changes.push(Change::MailboxList { account });
            Ok(mailbox)
        })
        .await
    }

    async fn mailbox_rename(&self, account: AccountId, from: &str, to: &str) -> Result<()> {
        let (from, to) = (owned(from), owned(to));
        self.write("mailbox_rename", move |conn, effects| {
            mailboxes::rename(conn, account, &from, &to)?;
            if from.eq_ignore_ascii_case("INBOX")
                && let Some(inbox) = mailboxes::get(conn, account, "INBOX")?
            {
                let highest_modseq = inbox.highest_modseq;
                effects.changes.push(Change::Mailbox {
                    account,
                    mailbox: inbox.id,
                    highest_modseq,
                });
            }
            effects.changes.push(Change::MailboxList { account });
            Ok(())
        })
        .await
    }

    async fn mailbox_delete(&self, account: AccountId, name: &str) -> Result<()> {
        let name = owned(name);
        self.write("mailbox_delete", move |conn, effects| {
            let mailbox = mailboxes::deletable(conn, account, &name)?;
            mailboxes::keep_subscription(conn, &mailbox)?;
            messages::remove_all(conn, effects, mailbox.id)?;
            conn.execute("DELETE FROM expunged WHERE mailbox_id = ?1", [mailbox.id.0])?;
            conn.execute("DELETE FROM mailboxes WHERE id = ?1", [mailbox.id.0])?;
            effects.changes.push(Change::MailboxList { account });
            Ok(())
        })
        .await
    }

    async fn mailbox_subscribe(&self, account: AccountId, name: &str, subscribed: bool) -> Result<()> {
        let name = owned(name);
        self.write("mailbox_subscribe", move |conn, effects| {
            mailboxes::subscribe(conn, account, &name, subscribed)?;
            effects.changes.push(Change::MailboxList { account });
            Ok(())
        })
        .await
    }

    async fn dangling_subscriptions(&self, account: AccountId) -> Result<Vec<String>> {
        self.read("dangling_subscriptions", move |conn| {
            mailboxes::dangling_subscriptions(conn, account)
        })
        .await
    }

    async fn recent_mark(&self, mailbox: MailboxId) -> Result<u32> {
        self.lookup("recent_mark", move |conn| mailboxes::recent_mark(conn, mailbox))
            .await
    }

    async fn recent_claim(&self, mailbox: MailboxId, up_to: u32) -> Result<u32> {
        self.write("recent_claim", move |conn, _| {
            mailboxes::recent_claim(conn, mailbox, up_to)
        })
        .await
    }

    async fn deliver(&self, message: &[u8], internal_date: i64, targets: &[DeliveryTarget]) -> Result<Vec<Delivered>> {
        let targets = targets.to_vec();
        let size = message.len() as u64;
        self.with_blob("deliver", message, move |conn, effects, files, blob| {
            messages::deliver(conn, effects, files, blob, size, (internal_date, 0), &targets)
        })
        .await
    }

    async fn accept(&self, acceptance: Acceptance) -> Result<Option<QueueId>> {
        let acceptance = Arc::new(acceptance);
        let mut attempts = 0;
        loop {
            attempts += 1;
            // Large contents go to files first (each fsynced), then one
            // transaction refers to all of them and holds the small ones.
            let mut blobs = Vec::with_capacity(acceptance.local.len());
            for copy in &acceptance.local {
                blobs.push(self.put_composed(&copy.message).await?);
            }
            let queued_blob = match &acceptance.queued {
                Some(copy) => Some(self.put_composed(&copy.message).await?),
                None => None,
            };
            let (files, accepted) = (Arc::clone(&self.blobs), Arc::clone(&acceptance));
            let written = self
                .write("accept", move |conn, effects| {
                    for (copy, blob) in accepted.local.iter().zip(&blobs) {
                        let size = copy.message.len() as u64;
                        messages::deliver(
                            conn,
                            effects,
                            &files,
                            blob,
                            size,
                            (accepted.internal_date, 0),
                            &copy.targets,
                        )?;
                    }
                    match (&accepted.queued, &queued_blob) {
                        (Some(copy), Some(blob)) => {
                            let size = copy.message.len() as u64;
                            queue::insert(conn, &files, blob, size, &copy.entry).map(Some)
                        }
                        _ => Ok(None),
                    }
                })
                .await;
            match written {
                Err(StoreError::BlobMissing(_)) if attempts < 3 => continue,
                other => return other,
            }
        }
    }

    async fn append_messages(&self, mailbox: MailboxId, messages: Vec<NewMessage>) -> Result<Vec<u32>> {
        let messages = Arc::new(messages);
        let mut attempts = 0;
        loop {
            attempts += 1;
            let mut blobs = Vec::with_capacity(messages.len());
            for message in messages.iter() {
                blobs.push(self.put_blob(&message.data).await?);
            }
            let (files, batch) = (Arc::clone(&self.blobs), Arc::clone(&messages));
            let appended = self
                .write("append_messages", move |conn, effects| {
                    let mut uids = Vec::with_capacity(batch.len());
                    for (message, blob) in batch.iter().zip(&blobs) {
                        let target = DeliveryTarget {
                            mailbox,
                            flags: message.flags.clone(),
                        };
                        let size = message.data.len() as u64;
                        let delivered = messages::deliver(
                            conn,
                            effects,
                            &files,
                            blob,
                            size,
                            (message.internal_date, message.date_zone),
                            std::slice::from_ref(&target),
                        )?;
                        uids.extend(delivered.iter().map(|d| d.uid));
                    }
                    Ok(uids)
                })
                .await;
            match appended {
                // A blob removed by a concurrent expunge before we used it.
                Err(StoreError::BlobMissing(_)) if attempts < 3 => continue,
                other => return other,
            }
        }
    }

    async fn messages(&self, mailbox: MailboxId) -> Result<Vec<MessageMeta>> {
        self.read("messages", move |conn| messages::list(conn, mailbox)).await
    }

    async fn message_content(&self, blob: &BlobId) -> Result<Vec<u8>> {
        let (files, blob) = (Arc::clone(&self.blobs), blob.clone());
        self.read("message_content", move |conn| blobs::read(conn, &files, &blob))
            .await
    }

    async fn account_thread_roots(&self, account: AccountId) -> Result<Vec<(BlobId, i64)>> {
        self.read("account_thread_roots", move |conn| {
            let mut statement = conn.prepare_cached(
                "SELECT DISTINCT blobs.id, blobs.thread_root FROM mailboxes \
                 JOIN messages ON messages.mailbox_id = mailboxes.id \
                 JOIN blobs ON blobs.id = messages.blob_id WHERE mailboxes.account_id = ?1",
            )?;
            let rows = statement.query_map([account.0], |row| Ok((row.get::<_, String>(0)?, row.get(1)?)))?;
            let mut found = Vec::new();
            for row in rows {
                let (id, root) = row?;
                if let Some(blob) = BlobId::parse(&id) {
                    found.push((blob, root));
                }
            }
            Ok(found)
        })
        .await
    }

    async fn thread_roots(&self, blobs: &[BlobId]) -> Result<Vec<i64>> {
        let blobs = blobs.to_vec();
        self.read("thread_roots", move |conn| {
            // Content gone with its last message is remembered where the
            // message left its mailbox.
            let mut statement = conn.prepare_cached(
                "SELECT COALESCE((SELECT thread_root FROM blobs WHERE id = ?1), \
                 (SELECT MAX(thread_root) FROM expunged WHERE blob_id = ?1), 0)",
            )?;
            blobs
                .iter()
                .map(|blob| {
                    Ok(statement
                        .query_row([blob.as_str()], |row| row.get(0))
                        .optional()?
                        .unwrap_or(0))
                })
                .collect()
        })
        .await
    }

    async fn messages_holding(&self, account: AccountId, blobs: &[BlobId]) -> Result<Vec<MessageMeta>> {
        let blobs = blobs.to_vec();
        self.read("messages_holding", move |conn| messages::holding(conn, account, &blobs))
            .await
    }

    async fn account_holds(&self, account: AccountId, blob: &BlobId) -> Result<bool> {
        let blob = blob.clone();
        self.read("account_holds", move |conn| {
            messages::account_holds(conn, account, &blob)
        })
        .await
    }

    async fn message_contents(&self, wanted: &[BlobId]) -> Vec<Result<Vec<u8>>> {
        let (files, wanted) = (Arc::clone(&self.blobs), wanted.to_vec());
        let count = wanted.len();
        self.read("message_content", move |conn| {
            Ok(wanted.iter().map(|blob| blobs::read(conn, &files, blob)).collect())
        })
        .await
        .unwrap_or_else(|error| (0..count).map(|_| Err(error.clone())).collect())
    }

    async fn messages_lacking_final_line_break(&self, wanted: &[BlobId]) -> Vec<bool> {
        let (files, wanted) = (Arc::clone(&self.blobs), wanted.to_vec());
        let count = wanted.len();
        self.read("messages_lacking_final_line_break", move |conn| {
            Ok(wanted
                .iter()
                .map(|blob| blobs::lacks_final_line_break(conn, &files, blob).unwrap_or(false))
                .collect())
        })
        .await
        .unwrap_or_else(|_| vec![false; count])
    }

    async fn store_flags(
        &self,
        mailbox: MailboxId,
        uids: &[u32],
        operation: FlagOperation,
        flags: &Flags,
        unchanged_since: Option<u64>,
    ) -> Result<Vec<FlagChange>> {
        let (uids, flags) = (uids.to_vec(), flags.clone());
        self.write("store_flags", move |conn, effects| {
            messages::store_flags(conn, effects, mailbox, &uids, operation, &flags, unchanged_since)
        })
        .await
    }

    async fn expunge(&self, mailbox: MailboxId, uids: Option<&[u32]>) -> Result<Vec<u32>> {
        let uids = uids.map(<[u32]>::to_vec);
        self.write("expunge", move |conn, effects| {
            messages::expunge(conn, effects, mailbox, uids.as_deref())
        })
        .await
    }

    async fn copy_messages(&self, source: MailboxId, uids: &[u32], target: MailboxId, remove: bool) -> Result<Copied> {
        let uids = uids.to_vec();
        let operation = if remove { "move" } else { "copy" };
        self.write(operation, move |conn, effects| {
            messages::copy(conn, effects, source, &uids, target, remove)
        })
        .await
    }

    async fn changes_since(&self, mailbox: MailboxId, modseq: u64) -> Result<ChangesSince> {
        self.read("changes_since", move |conn| {
            messages::changes_since(conn, mailbox, modseq)
        })
        .await
    }

    async fn vanished_since(&self, mailbox: MailboxId, modseq: u64) -> Result<Vec<Vanished>> {
        self.read("vanished_since", move |conn| {
            messages::vanished_since(conn, mailbox, modseq)
        })
        .await
    }

    async fn queue_insert(&self, message: &[u8], entry: &NewQueuedMessage) -> Result<QueueId> {
        let entry = entry.clone();
        let size = message.len() as u64;
        self.with_blob("queue_insert", message, move |conn, _, files, blob| {
            queue::insert(conn, files, blob, size, &entry)
        })
        .await
    }

    async fn maildrop_lock(&self, account: AccountId, holder: &str, lease: std::time::Duration) -> Result<bool> {
        Ok(self.maildrop_locks.acquire(account, holder, lease))
    }

    async fn maildrop_unlock(&self, account: AccountId, holder: &str) -> Result<()> {
        self.maildrop_locks.release(account, holder);
        Ok(())
    }

    async fn tokens_get(&self, scope: ModelScope, tokens: &[u64]) -> Result<TokenCounts> {
        let tokens = tokens.to_vec();
        self.lookup("tokens_get", move |conn| learning::tokens_get(conn, scope, &tokens))
            .await
    }

    async fn tokens_learn(&self, scope: ModelScope, training: &Training) -> Result<()> {
        let training = training.clone();
        self.write("tokens_learn", move |conn, _| {
            learning::tokens_learn(conn, scope, &training)
        })
        .await
    }

    async fn correspondents_add(&self, account: AccountId, addresses: &[String], now: i64) -> Result<()> {
        let addresses = addresses.to_vec();
        self.write("correspondents_add", move |conn, _| {
            learning::correspondents_add(conn, account, &addresses, now)
        })
        .await
    }

    async fn sent_ids_add(&self, account: AccountId, message_ids: &[String], now: i64) -> Result<()> {
        let ids = message_ids.to_vec();
        self.write("sent_ids_add", move |conn, _| {
            learning::sent_ids_add(conn, account, &ids, now)
        })
        .await
    }

    async fn sent_id_known(&self, account: AccountId, message_ids: &[String]) -> Result<bool> {
        let ids = message_ids.to_vec();
        self.lookup("sent_id_known", move |conn| {
            learning::sent_id_known(conn, account, &ids)
        })
        .await
    }

    async fn correspondent_known(&self, account: AccountId, address: &str) -> Result<bool> {
        let address = owned(address);
        self.lookup("correspondent_known", move |conn| {
            learning::correspondent_known(conn, account, &address)
        })
        .await
    }

    async fn tenant_add(&self, name: &str) -> Result<Tenant> {
        let name = owned(name);
        self.write("tenant_add", move |conn, _| tenancy::tenant_add(conn, &name))
            .await
    }

    async fn tenant_list(&self) -> Result<Vec<Tenant>> {
        self.read("tenant_list", tenancy::tenant_list).await
    }

    async fn tenant_get(&self, name: &str) -> Result<Option<Tenant>> {
        let name = owned(name);
        self.read("tenant_get", move |conn| tenancy::tenant_get(conn, &name))
            .await
    }

    async fn tenant_remove(&self, name: &str) -> Result<()> {
        let name = owned(name);
        self.write("tenant_remove", move |conn, _| tenancy::tenant_remove(conn, &name))
            .await
    }

    async fn domain_set_tenant(&self, domain: &str, tenant: TenantId) -> Result<()> {
        let domain = owned(domain);
        self.write("domain_set_tenant", move |conn, _| {
            tenancy::domain_set_tenant(conn, &domain, tenant)
        })
        .await
    }

    async fn domain_tenant(&self, domain: &str) -> Result<Option<TenantId>> {
        let domain = owned(domain);
        self.read("domain_tenant", move |conn| tenancy::domain_tenant(conn, &domain))
            .await
    }

    async fn suppression_add(&self, entry: &Suppression) -> Result<()> {
        let entry = entry.clone();
        self.write("suppression_add", move |conn, _| tenancy::suppression_add(conn, &entry))
            .await
    }

    async fn suppression_check(
        &self,
        tenant: TenantId,
        sender_domain: &str,
        address: &str,
        now: i64,
    ) -> Result<Option<Suppression>> {
        let (sender_domain, address) = (owned(sender_domain), owned(address));
        self.lookup("suppression_check", move |conn| {
            tenancy::suppression_check(conn, tenant, &sender_domain, &address, now)
        })
        .await
    }

    async fn suppression_list(&self, tenant: TenantId, now: i64) -> Result<Vec<Suppression>> {
        self.read("suppression_list", move |conn| {
            tenancy::suppression_list(conn, tenant, now)
        })
        .await
    }

    async fn suppression_remove(&self, tenant: TenantId, sender_domain: Option<&str>, address: &str) -> Result<u64> {
        let (sender_domain, address) = (sender_domain.map(owned), owned(address));
        self.write("suppression_remove", move |conn, _| {
            tenancy::suppression_remove(conn, tenant, sender_domain.as_deref(), &address)
        })
        .await
    }

    async fn tenant_pause(&self, tenant: TenantId, reason: Option<&str>) -> Result<()> {
        let reason = reason.map(owned);
        self.write("tenant_pause", move |conn, _| {
            tenancy::tenant_pause(conn, tenant, reason.as_deref())
        })
        .await
    }

    async fn delivery_record(&self, record: &DeliveryRecord) -> Result<i64> {
        let record = record.clone();
        self.write("delivery_record", move |conn, _| {
            tenancy::delivery_record(conn, &record)
        })
        .await
    }

    async fn delivery_get(&self, id: i64) -> Result<Option<DeliveryRecord>> {
        self.read("delivery_get", move |conn| tenancy::delivery_get(conn, id))
            .await
    }

    async fn delivery_find(&self, message_id: &str, recipient: &str) -> Result<Option<DeliveryRecord>> {
        let (message_id, recipient) = (owned(message_id), owned(recipient));
        self.read("delivery_find", move |conn| {
            tenancy::delivery_find(conn, &message_id, &recipient)
        })
        .await
    }

    async fn deliveries_expire(&self, before: i64) -> Result<u64> {
        self.write("deliveries_expire", move |conn, _| {
            tenancy::deliveries_expire(conn, before)
        })
        .await
    }

    async fn soft_bounce(&self, tenant: TenantId, address: &str, at: i64, since: i64, clear: bool) -> Result<u32> {
        let address = owned(address);
        self.write("soft_bounce", move |conn, _| {
            tenancy::soft_bounce(conn, tenant, &address, at, since, clear)
        })
        .await
    }

    async fn stats_add(
        &self,
        tenant: TenantId,
        sender_domain: &str,
        at: i64,
        counts: &[(StatKind, u64)],
    ) -> Result<()> {
        let (sender_domain, counts) = (owned(sender_domain), counts.to_vec());
        self.write("stats_add", move |conn, _| {
            tenancy::stats_add(conn, tenant, &sender_domain, at, &counts)
        })
        .await
    }

    async fn stats_sum(&self, tenant: TenantId, sender_domain: Option<&str>, since: i64) -> Result<Stats> {
        let sender_domain = sender_domain.map(owned);
        self.read("stats_sum", move |conn| {
            tenancy::stats_sum(conn, tenant, sender_domain.as_deref(), since)
        })
        .await
    }

    async fn dav_collections(&self, account: AccountId, kind: DavKind) -> Result<Vec<DavCollection>> {
        self.read("dav_collections", move |conn| dav::collections(conn, account, kind))
            .await
    }

    async fn dav_collection(&self, account: AccountId, kind: DavKind, name: &str) -> Result<Option<DavCollection>> {
        let name = name.to_owned();
        self.read("dav_collection", move |conn| {
            dav::collection(conn, account, kind, &name)
        })
        .await
    }

    async fn dav_collection_create(
        &self,
        account: AccountId,
        kind: DavKind,
        name: &str,
        props: &DavProps,
    ) -> Result<DavCollection> {
        let (name, props) = (name.to_owned(), props.clone());
        self.write("dav_collection_create", move |conn, _| {
            dav::collection_create(conn, account, kind, &name, &props)
        })
        .await
    }

    async fn dav_collection_update(&self, collection: i64, props: &DavProps) -> Result<()> {
        let props = props.clone();
        self.write("dav_collection_update", move |conn, _| {
            dav::collection_update(conn, collection, &props)
        })
        .await
    }

    async fn dav_collection_delete(&self, collection: i64) -> Result<()> {
        self.write("dav_collection_delete", move |conn, _| {
            dav::collection_delete(conn, collection)
        })
        .await
    }

    async fn dav_objects(&self, collection: i64) -> Result<Vec<DavObject>> {
        self.read("dav_objects", move |conn| dav::objects(conn, collection))
            .await
    }

    async fn dav_object(&self, collection: i64, name: &str) -> Result<Option<DavObject>> {
        let name = name.to_owned();
        self.read("dav_object", move |conn| dav::object(conn, collection, &name))
            .await
    }

    async fn dav_put(
        &self,
        collection: i64,
        name: &str,
        uid: &str,
        content: &str,
        precondition: &DavPrecondition,
    ) -> Result<DavPut> {
        let (name, uid, content, precondition) = (
            name.to_owned(),
            uid.to_owned(),
            content.to_owned(),
            precondition.clone(),
        );
        self.write("dav_put", move |conn, _| {
            dav::put(conn, collection, &name, &uid, &content, &precondition)
        })
        .await
    }

    async fn dav_delete(&self, collection: i64, name: &str, if_match: Option<&str>) -> Result<DavDelete> {
        let (name, if_match) = (name.to_owned(), if_match.map(str::to_owned));
        self.write("dav_delete", move |conn, _| {
            dav::delete(conn, collection, &name, if_match.as_deref())
        })
        .await
    }

    async fn dav_changes(&self, collection: i64, since: i64) -> Result<DavChanges> {
        self.read("dav_changes", move |conn| dav::changes(conn, collection, since))
            .await
    }

    async fn dav_file(&self, account: AccountId, path: &str) -> Result<Option<DavFile>> {
        let path = path.to_owned();
        self.read("dav_file", move |conn| dav_files::file(conn, account, &path))
            .await
    }

    async fn dav_file_tree(&self, account: AccountId, path: &str) -> Result<Vec<DavFile>> {
        let path = path.to_owned();
        self.read("dav_file_tree", move |conn| dav_files::tree(conn, account, &path))
            .await
    }

    async fn dav_file_write(
        &self,
        account: AccountId,
        path: &str,
        collection: bool,
        content: &[u8],
        content_type: &str,
        precondition: &DavPrecondition,
    ) -> Result<DavPut> {
        let (path, content, content_type, precondition) = (
            path.to_owned(),
            content.to_vec(),
            content_type.to_owned(),
            precondition.clone(),
        );
        self.write("dav_file_write", move |conn, _| {
            dav_files::write(conn, account, &path, collection, &content, &content_type, &precondition)
        })
        .await
    }

    async fn dav_file_set_dead(&self, account: AccountId, path: &str, dead: &str) -> Result<()> {
        let (path, dead) = (path.to_owned(), dead.to_owned());
        self.write("dav_file_set_dead", move |conn, _| {
            dav_files::set_dead(conn, account, &path, &dead)
        })
        .await
    }

    async fn dav_file_delete(&self, account: AccountId, path: &str) -> Result<bool> {
        let path = path.to_owned();
        self.write("dav_file_delete", move |conn, _| {
            dav_files::delete(conn, account, &path)
        })
        .await
    }

    async fn dav_file_copy(
        &self,
        account: AccountId,
        from: &str,
        to: &str,
        recursive: bool,
        moving: bool,
    ) -> Result<bool> {
        let (from, to) = (from.to_owned(), to.to_owned());
        self.write("dav_file_copy", move |conn, _| {
            dav_files::copy(conn, account, &from, &to, recursive, moving)
        })
        .await
    }

    async fn identities(&self, account: AccountId) -> Result<Vec<Identity>> {
        self.read("identities", move |conn| identities::list(conn, account))
            .await
    }

    async fn identity_put(&self, account: AccountId, identity: &Identity) -> Result<i64> {
        let identity = identity.clone();
        self.write("identity_put", move |conn, _| identities::put(conn, account, &identity))
            .await
    }

    async fn identity_delete(&self, account: AccountId, slot: i64) -> Result<bool> {
        self.write("identity_delete", move |conn, _| {
            identities::delete(conn, account, slot)
        })
        .await
    }

    async fn pool_add(&self, name: &str, dedicated: bool) -> Result<()> {
        let name = owned(name);
        self.write("pool_add", move |conn, _| ip_pools::pool_add(conn, &name, dedicated))
            .await
    }

    async fn pool_remove(&self, name: &str) -> Result<()> {
        let name = owned(name);
        self.write("pool_remove", move |conn, _| ip_pools::pool_remove(conn, &name))
            .await
    }

    async fn pool_list(&self) -> Result<Vec<IpPool>> {
        self.read("pool_list", ip_pools::pool_list).await
    }

    async fn pool_address_add(&self, pool: &str, address: &NewPoolAddress) -> Result<()> {
        let (pool, address) = (owned(pool), address.clone());
        self.write("pool_address_add", move |conn, _| {
            ip_pools::pool_address_add(conn, &pool, &address)
        })
        .await
    }

    async fn pool_address_remove(&self, address: &str) -> Result<()> {
        let address = owned(address);
        self.write("pool_address_remove", move |conn, _| {
            ip_pools::pool_address_remove(conn, &address)
        })
        .await
    }

    async fn pool_assign(&self, pool: Option<&str>, tenant: &str) -> Result<()> {
        let (pool, tenant) = (pool.map(owned), owned(tenant));
        self.write("pool_assign", move |conn, _| {
            ip_pools::pool_assign(conn, pool.as_deref(), &tenant)
        })
        .await
    }

    async fn pool_address_listed(&self, address: &str, listed: Option<&str>, at: i64) -> Result<bool> {
        let (address, listed) = (owned(address), listed.map(owned));
        self.write("pool_address_listed", move |conn, _| {
            ip_pools::pool_address_listed(conn, &address, listed.as_deref(), at)
        })
        .await
    }

    async fn warmup_take(&self, address: &str, provider: &str, day: i64, want: u32, cap: u32) -> Result<u32> {
        let (address, provider) = (owned(address), owned(provider));
        self.write("warmup_take", move |conn, _| {
            ip_pools::warmup_take(conn, &address, &provider, day, want, cap)
        })
        .await
    }

    async fn source_stats_add(&self, address: &str, at: i64, counts: &[(StatKind, u64)]) -> Result<()> {
        let (address, counts) = (owned(address), counts.to_vec());
        self.write("source_stats_add", move |conn, _| {
            ip_pools::source_stats_add(conn, &address, at, &counts)
        })
        .await
    }

    async fn source_stats_sum(&self, address: &str, since: i64) -> Result<Stats> {
        let address = owned(address);
        self.read("source_stats_sum", move |conn| {
            ip_pools::source_stats_sum(conn, &address, since)
        })
        .await
    }

    async fn greylist_check(&self, key: &str, now: i64, rules: Greylisting) -> Result<bool> {
        let key = owned(key);
        self.write("greylist_check", move |conn, _| {
            learning::greylist_check(conn, &key, now, &rules)
        })
        .await
    }

    async fn dkim_key_set(&self, key: &DkimKey) -> Result<()> {
        let key = key.clone();
        self.write("dkim_key_set", move |conn, _| {
            conn.prepare_cached(
                "INSERT INTO dkim_keys (domain, selector, algorithm, private_key, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (domain) DO UPDATE SET selector = excluded.selector,
                    algorithm = excluded.algorithm, private_key = excluded.private_key,
                    created_at = excluded.created_at",
            )?
            .execute(rusqlite::params![
                key.domain,
                key.selector,
                key.algorithm,
                key.private_key,
                key.created_at
            ])?;
            Ok(())
        })
        .await
    }

    async fn dkim_key_get(&self, domain: &str) -> Result<Option<DkimKey>> {
        let domain = domain.to_ascii_lowercase();
        self.read("dkim_key_get", move |conn| {
            use rusqlite::OptionalExtension;
            Ok(conn
                .prepare_cached(
                    "SELECT domain, selector, algorithm, private_key, created_at FROM dkim_keys WHERE domain = ?1",
                )?
                .query_row([domain], dkim_row)
                .optional()?)
        })
        .await
    }

    async fn dkim_key_list(&self) -> Result<Vec<DkimKey>> {
        self.read("dkim_key_list", |conn| {
            let mut statement = conn.prepare_cached(
                "SELECT domain, selector, algorithm, private_key, created_at FROM dkim_keys ORDER BY domain",
            )?;
            let keys = statement.query_map([], dkim_row)?.collect::<rusqlite::Result<_>>()?;
            Ok(keys)
        })
        .await
    }

    async fn queue_list(&self) -> Result<Vec<QueuedMessage>> {
        self.read("queue_list", queue::list).await
    }

    async fn queue_get(&self, id: QueueId) -> Result<Option<QueuedMessage>> {
        self.read("queue_get", move |conn| queue::get(conn, id)).await
    }

    async fn queue_renew(&self, id: QueueId, owner: &str, lease: std::time::Duration) -> Result<()> {
        let owner = owner.to_owned();
        self.write("queue_renew", move |conn, _| {
            queue::renew(conn, id, &owner, lease.as_secs().max(1))
        })
        .await
    }

    async fn queue_claim(&self, owner: &str, limit: usize, lease: std::time::Duration) -> Result<Vec<QueuedMessage>> {
        let owner = owner.to_owned();
        self.write("queue_claim", move |conn, _| {
            queue::claim(conn, &owner, limit, lease.as_secs().max(1))
        })
        .await
    }

    async fn queue_record(&self, id: QueueId, owner: &str, outcomes: &[RecipientOutcome]) -> Result<()> {
        let owner = owner.to_owned();
        let outcomes = outcomes.to_vec();
        self.write("queue_record", move |conn, _| {
            queue::record(conn, id, &owner, &outcomes)
        })
        .await
    }

    async fn queue_release(&self, id: QueueId, owner: &str, next_attempt: i64, warned: bool) -> Result<bool> {
        let owner = owner.to_owned();
        self.write("queue_release", move |conn, effects| {
            queue::release(conn, effects, id, &owner, next_attempt, warned)
        })
        .await
    }

    async fn queue_retry(&self, id: Option<QueueId>) -> Result<u64> {
        self.write("queue_retry", move |conn, _| queue::retry(conn, id)).await
    }

    async fn queue_remove(&self, id: QueueId) -> Result<bool> {
        self.write("queue_remove", move |conn, effects| queue::remove(conn, effects, id))
            .await
    }

    async fn verify(&self, repair: bool) -> Result<VerifyReport> {
        let files = Arc::clone(&self.blobs);
        let mut report = self
            .read("verify", move |conn| {
                let mut report = VerifyReport::default();
                verify::check_files(conn, &files, &mut report)?;
                Ok(report)
            })
            .await?;
        let files = Arc::clone(&self.blobs);
        let rows = self
            .write("verify", move |conn, _| {
                let mut rows = VerifyReport::default();
                verify::check_rows(conn, &files, repair, &mut rows)?;
                Ok(rows)
            })
            .await?;
        report.messages_checked = rows.messages_checked;
        report.refcount_mismatches = rows.refcount_mismatches;
        report.counter_errors = rows.counter_errors;
        report.dav_errors = rows.dav_errors;
        report.orphan_files = rows.orphan_files;
        report.repaired = rows.repaired;
        Ok(report)
    }

    fn changes(&self) -> &ChangeBus {
        &self.bus
    }
}
