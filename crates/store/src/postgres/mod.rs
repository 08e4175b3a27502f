//! The PostgreSQL backend, for several Estafeta nodes on one database.
//!
//! Everything that must be unique or ordered is decided by the database:
//! UIDs and MODSEQs by row locks on the mailbox, UIDVALIDITY by one locked
//! row. Message content is a column, so any node can serve any message.
//! Changes go out with NOTIFY inside the transaction (delivered at commit)
//! and come back to every other node's change bus through LISTEN; this
//! node publishes its own at once, so a session sees its own write as
//! soon as it is answered.

mod dav;
mod dav_files;
mod directory;
mod identities;
mod ip_pools;
mod learning;
mod mailboxes;
mod messages;
mod queue;
pub mod schema;
mod tenancy;
mod verify;

use crate::Identity;
use crate::blob::BlobId;
use crate::error::{Result, StoreError};
use crate::learning::{Greylisting, ModelScope, TokenCounts, Training};
use crate::types::*;
use crate::{
    DavChanges, DavCollection, DavDelete, DavFile, DavKind, DavObject, DavPrecondition, DavProps, DavPut,
    DeliveryRecord, DkimKey, IpPool, NewPoolAddress, StatKind, Stats, Store, Suppression, Tenant,
};
use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use estafeta_core::Address;
use estafeta_core::bus::{Change, ChangeBus};
use estafeta_core::model::{AccountId, Flags, MailboxId, MailboxRole, QueueId, TenantId};
use std::time::Duration;
use tokio_postgres::{AsyncMessage, NoTls};

pub(crate) type Db = deadpool_postgres::Object;
pub(crate) type Tx<'a> = deadpool_postgres::Transaction<'a>;

const CHANNEL: &str = "estafeta_changes";

impl From<tokio_postgres::Error> for StoreError {
    fn from(error: tokio_postgres::Error) -> Self {
        use tokio_postgres::error::SqlState;
        match error.code() {
            Some(code) if *code == SqlState::T_R_DEADLOCK_DETECTED || *code == SqlState::T_R_SERIALIZATION_FAILURE => {
                StoreError::Conflict(error.to_string())
            }
            // "db error" alone says nothing: the server's own message does.
            _ => StoreError::Database(match error.as_db_error() {
                Some(db) => format!("{}: {}", db.code().code(), db.message()),
                None => error.to_string(),
            }),
        }
    }
}

/// Writes the database aborted to break a collision are tried again this
/// often (e.g. two nodes moving messages between the same two mailboxes in
/// opposite directions lock them in opposite orders).
const WRITE_ATTEMPTS: u32 = 5;

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(error: deadpool_postgres::PoolError) -> Self {
        StoreError::Database(format!("postgres pool: {error}"))
    }
}

pub struct PostgresStore {
    pool: Pool,
    bus: ChangeBus,
    /// Tags this node's notifications, which it has published already.
    node: String,
    listener: tokio::task::JoinHandle<()>,
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

fn encode(node: &str, change: &Change) -> String {
    match change {
        Change::Mailbox {
            account,
            mailbox,
            highest_modseq,
        } => format!("{node} m {} {} {highest_modseq}", account.0, mailbox.0),
        Change::MailboxList { account } => format!("{node} l {}", account.0),
        Change::Account { account } => format!("{node} a {}", account.0),
        // Local to each node; never sent.
        Change::Resync => format!("{node} r 0"),
    }
}

/// A notification from another node as a change; `None` for our own or
/// for anything we do not understand.
fn decode(own: &str, payload: &str) -> Option<Change> {
    let mut parts = payload.split(' ');
    let (node, kind) = (parts.next()?, parts.next()?);
    if node == own {
        return None;
    }
    let mut number = || parts.next()?.parse::<i64>().ok();
    let account = AccountId(number()?);
    Some(match kind {
        "m" => Change::Mailbox {
            account,
            mailbox: MailboxId(number()?),
            highest_modseq: number()? as u64,
        },
        "l" => Change::MailboxList { account },
        "a" => Change::Account { account },
        _ => return None,
    })
}

/// LISTENs on its own connection for as long as the store lives,
/// reconnecting after a failure.
async fn listen(config: tokio_postgres::Config, bus: ChangeBus, node: String) {
    loop {
        match config.connect(NoTls).await {
            Ok((client, mut connection)) => {
                let (sender, mut received) = tokio::sync::mpsc::unbounded_channel();
                let driver = tokio::spawn(async move {
                    while let Some(message) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                        match message {
                            Ok(AsyncMessage::Notification(note)) => {
                                if sender.send(note.payload().to_owned()).is_err() {
                                    return;
                                }
                            }
                            Ok(_) => {}
                            Err(error) => {
                                tracing::warn!(%error, "postgres change listener lost its connection");
                                return;
                            }
                        }
                    }
                });
                if let Err(error) = client.batch_execute(&format!("LISTEN {CHANNEL}")).await {
                    tracing::warn!(%error, "postgres LISTEN failed");
                } else {
                    // What other nodes did while we were not listening was
                    // not heard: every session looks at the store again.
                    bus.publish(Change::Resync);
                    while let Some(payload) = received.recv().await {
                        if let Some(change) = decode(&node, &payload) {
                            bus.publish(change);
                        }
                    }
                }
                driver.abort();
            }
            Err(error) => tracing::warn!(%error, "postgres change listener cannot connect"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

impl PostgresStore {
    /// Connects, applies migrations and starts listening for other nodes'
    /// changes.
    pub async fn open(url: &str) -> Result<PostgresStore> {
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|error| StoreError::Invalid(format!("store.url: {error}")))?;
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(32)
            .build()
            .map_err(|error| StoreError::Invalid(format!("postgres pool: {error}")))?;
        let mut db = pool.get().await?;
        schema::migrate(&mut db).await?;
        drop(db);
        let bus = ChangeBus::default();
        let node = format!(
            "{:x}-{:x}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        );
        let listener = tokio::spawn(listen(config, bus.clone(), node.clone()));
        Ok(PostgresStore {
            pool,
            bus,
            node,
            listener,
        })
    }

    async fn db(&self) -> Result<Db> {
        Ok(self.pool.get().await?)
    }

    /// A pooled connection, for the migration's one big transaction.
    pub(crate) async fn pool_object(&self) -> Result<Db> {
        self.db().await
    }

    /// Rows per table, for checking a migration.
    pub(crate) async fn count_rows(&self) -> Result<std::collections::HashMap<&'static str, u64>> {
        let db = self.db().await?;
        let mut counts = std::collections::HashMap::new();
        for table in [
            "domains",
            "accounts",
            "aliases",
            "mailboxes",
            "messages",
            "expunged",
            "blobs",
            "queue",
        ] {
            let count: i64 = db
                .query_one(&format!("SELECT COUNT(*) FROM {table}"), &[])
                .await?
                .get(0);
            counts.insert(table, count as u64);
        }
        Ok(counts)
    }

    /// NOTIFY the other nodes (sent at commit), commit, then tell this one.
    async fn commit(&self, tx: Tx<'_>, changes: Vec<Change>) -> Result<()> {
        for change in &changes {
            tx.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &encode(&self.node, change)])
                .await?;
        }
        tx.commit().await?;
        for change in changes {
            self.bus.publish(change);
        }
        Ok(())
    }
}

/// The content's id; a large message is hashed off the async runtime
/// (SHA-256 of 50 MiB takes long enough to stall other sessions).
async fn content_id(data: &[u8]) -> BlobId {
    if data.len() < 64 * 1024 {
        return BlobId::of(data);
    }
    let owned = data.to_vec();
    tokio::task::spawn_blocking(move || BlobId::of(&owned))
        .await
        .unwrap_or_else(|_| BlobId::of(data))
}

/// Runs `$body` in a transaction with `$tx` and `$changes` in scope,
/// commits (announcing the changes) and returns its value.
macro_rules! write_tx {
    ($self:ident, |$tx:ident, $changes:ident| $body:expr) => {{
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome: Result<_> = async {
                let mut db = $self.db().await?;
                let $tx = db.transaction().await?;
                #[allow(unused_mut)]
                let mut $changes: Vec<Change> = Vec::new();
                let value = $body;
                $self.commit($tx, $changes).await?;
                Ok(value)
            }
            .await;
            match outcome {
                Err(StoreError::Conflict(why)) if attempt < WRITE_ATTEMPTS => {
                    tracing::debug!(%why, attempt, "write conflict, retrying");
                }
                other => break other,
            }
        }
    }};
}

/// Runs `$body` in a read-only transaction with `$tx` in scope.
macro_rules! read_tx {
    ($self:ident, |$tx:ident| $body:expr) => {{
        let mut db = $self.db().await?;
        let $tx = db.build_transaction().read_only(true).start().await?;
        let value = $body;
        $tx.commit().await?;
        Ok(value)
    }};
}

fn dkim_row(row: &tokio_postgres::Row) -> DkimKey {
    DkimKey {
        domain: row.get(0),
        selector: row.get(1),
        algorithm: row.get(2),
        private_key: row.get(3),
        created_at: row.get(4),
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn domain_add(&self, name: &str) -> Result<Domain> {
        let name = estafeta_core::address::normalise_domain(name)
            .ok_or_else(|| StoreError::Invalid(format!("`{name}` is not a valid domain name")))?;
        write_tx!(self, |tx, changes| directory::domain_add(&tx, &name).await?)
    }

    async fn domain_list(&self) -> Result<Vec<Domain>> {
        read_tx!(self, |tx| directory::domain_list(&tx).await?)
    }

    async fn domain_remove(&self, name: &str) -> Result<()> {
        write_tx!(self, |tx, changes| directory::domain_remove(&tx, name).await?)
    }

    async fn domain_is_local(&self, name: &str) -> Result<bool> {
        read_tx!(self, |tx| directory::domain_id(&tx, name).await?.is_some())
    }

    async fn account_add(&self, address: &Address, password_hash: &str) -> Result<Account> {
        write_tx!(self, |tx, changes| directory::account_add(&tx, address, password_hash)
            .await?)
    }

    async fn account_get(&self, address: &str) -> Result<Option<Account>> {
        read_tx!(self, |tx| directory::account_get(&tx, address).await?)
    }

    async fn account_by_id(&self, id: AccountId) -> Result<Option<Account>> {
        read_tx!(self, |tx| directory::account_by_id(&tx, id).await?)
    }

    async fn account_list(&self) -> Result<Vec<Account>> {
        read_tx!(self, |tx| directory::account_list(&tx).await?)
    }

    async fn account_usage(&self, account: AccountId) -> Result<u64> {
        read_tx!(self, |tx| directory::account_usage(&tx, account).await?)
    }

    async fn account_set_password(&self, address: &str, password_hash: &str) -> Result<()> {
        write_tx!(self, |tx, changes| directory::account_set_password(
            &tx,
            &mut changes,
            address,
            password_hash
        )
        .await?)
    }

    async fn account_remove(&self, address: &str) -> Result<()> {
        write_tx!(self, |tx, changes| directory::account_remove(
            &tx,
            &mut changes,
            address
        )
        .await?)
    }

    async fn alias_add(&self, alias: &Address, target: &Address) -> Result<Alias> {
        write_tx!(self, |tx, changes| directory::alias_add(&tx, alias, target).await?)
    }

    async fn alias_get(&self, address: &str) -> Result<Option<Alias>> {
        read_tx!(self, |tx| directory::alias_get(&tx, address).await?)
    }

    async fn alias_list(&self) -> Result<Vec<Alias>> {
        read_tx!(self, |tx| directory::alias_list(&tx).await?)
    }

    async fn alias_remove(&self, address: &str) -> Result<()> {
        write_tx!(self, |tx, changes| directory::alias_remove(&tx, address).await?)
    }

    async fn mailbox_list(&self, account: AccountId) -> Result<Vec<Mailbox>> {
        read_tx!(self, |tx| mailboxes::list(&tx, account).await?)
    }

    async fn mailbox_get(&self, account: AccountId, name: &str) -> Result<Option<Mailbox>> {
        read_tx!(self, |tx| mailboxes::get(&tx, account, name).await?)
    }

    async fn mailbox_by_role(&self, account: AccountId, role: MailboxRole) -> Result<Option<Mailbox>> {
        read_tx!(self, |tx| mailboxes::by_role(&tx, account, role).await?)
    }

    async fn mailbox_by_id(&self, id: MailboxId) -> Result<Option<Mailbox>> {
        read_tx!(self, |tx| mailboxes::by_id(&tx, id).await?)
    }

    async fn mailbox_create(&self, account: AccountId, name: &str) -> Result<Mailbox> {
        write_tx!(self, |tx, changes| {
            let mailbox = mailboxes::create(&tx, account, name, None).await?;
            changes.push(Change::MailboxList { account });
            mailbox
        })
    }

    async fn mailbox_rename(&self, account: AccountId, from: &str, to: &str) -> Result<()> {
        write_tx!(self, |tx, changes| mailboxes::rename(
            &tx,
            &mut changes,
            account,
            from,
            to
        )
        .await?)
    }

    async fn mailbox_delete(&self, account: AccountId, name: &str) -> Result<()> {
        write_tx!(self, |tx, changes| mailboxes::delete(&tx, &mut changes, account, name)
            .await?)
    }

    async fn mailbox_subscribe(&self, account: AccountId, name: &str, subscribed: bool) -> Result<()> {
        write_tx!(self, |tx, changes| {
            mailboxes::subscribe(&tx, account, name, subscribed).await?;
            changes.push(Change::MailboxList { account });
        })
    }

    async fn dangling_subscriptions(&self, account: AccountId) -> Result<Vec<String>> {
        read_tx!(self, |tx| mailboxes::dangling_subscriptions(&tx, account).await?)
    }

    async fn recent_mark(&self, mailbox: MailboxId) -> Result<u32> {
        read_tx!(self, |tx| mailboxes::recent_mark(&tx, mailbox).await?)
    }

    async fn recent_claim(&self, mailbox: MailboxId, up_to: u32) -> Result<u32> {
        write_tx!(self, |tx, _changes| mailboxes::recent_claim(&tx, mailbox, up_to)
            .await?)
    }

    async fn deliver(&self, message: &[u8], internal_date: i64, targets: &[DeliveryTarget]) -> Result<Vec<Delivered>> {
        let blob = content_id(message).await;
        write_tx!(self, |tx, changes| messages::deliver(
            &tx,
            &mut changes,
            &blob,
            message,
            (internal_date, 0),
            targets
        )
        .await?)
    }

    async fn accept(&self, acceptance: Acceptance) -> Result<Option<QueueId>> {
        // The content goes to the database whole, so each copy is joined
        // here, once, for the ids and the write alike.
        let local: Vec<Vec<u8>> = acceptance.local.iter().map(|copy| copy.message.to_vec()).collect();
        let queued = acceptance.queued.as_ref().map(|copy| copy.message.to_vec());
        let mut blobs = Vec::with_capacity(local.len());
        for content in &local {
            blobs.push(content_id(content).await);
        }
        let queued_blob = match &queued {
            Some(content) => Some(content_id(content).await),
            None => None,
        };
        write_tx!(self, |tx, changes| {
            for ((copy, content), blob) in acceptance.local.iter().zip(&local).zip(&blobs) {
                messages::deliver(
                    &tx,
                    &mut changes,
                    blob,
                    content,
                    (acceptance.internal_date, 0),
                    &copy.targets,
                )
                .await?;
            }
            match (&acceptance.queued, &queued, &queued_blob) {
                (Some(copy), Some(content), Some(blob)) => Some(queue::insert(&tx, blob, content, &copy.entry).await?),
                _ => None,
            }
        })
    }

    async fn append_messages(&self, mailbox: MailboxId, batch: Vec<NewMessage>) -> Result<Vec<u32>> {
        write_tx!(self, |tx, changes| {
            let mut uids = Vec::with_capacity(batch.len());
            for message in &batch {
                let target = DeliveryTarget {
                    mailbox,
                    flags: message.flags.clone(),
                };
                let blob = content_id(&message.data).await;
                let delivered = messages::deliver(
                    &tx,
                    &mut changes,
                    &blob,
                    &message.data,
                    (message.internal_date, message.date_zone),
                    std::slice::from_ref(&target),
                )
                .await?;
                uids.extend(delivered.iter().map(|d| d.uid));
            }
            uids
        })
    }

    async fn messages(&self, mailbox: MailboxId) -> Result<Vec<MessageMeta>> {
        read_tx!(self, |tx| messages::list_changed_after(&tx, mailbox, 0).await?)
    }

    async fn message_content(&self, blob: &BlobId) -> Result<Vec<u8>> {
        read_tx!(self, |tx| messages::content(&tx, blob).await?)
    }

    async fn account_thread_roots(&self, account: AccountId) -> Result<Vec<(BlobId, i64)>> {
        read_tx!(self, |tx| {
            let rows = tx
                .query(
                    "SELECT DISTINCT blobs.id, blobs.thread_root FROM mailboxes \
                     JOIN messages ON messages.mailbox_id = mailboxes.id \
                     JOIN blobs ON blobs.id = messages.blob_id WHERE mailboxes.account_id = $1",
                    &[&account.0],
                )
                .await?;
            rows.iter()
                .filter_map(|row| BlobId::parse(row.get::<_, &str>(0)).map(|blob| (blob, row.get(1))))
                .collect()
        })
    }

    async fn thread_roots(&self, blobs: &[BlobId]) -> Result<Vec<i64>> {
        read_tx!(self, |tx| {
            let ids: Vec<&str> = blobs.iter().map(BlobId::as_str).collect();
            let rows = tx
                .query(
                    "SELECT id, thread_root FROM blobs WHERE id = ANY($1) \
                     UNION ALL SELECT blob_id, MAX(thread_root) FROM expunged WHERE blob_id = ANY($1) GROUP BY blob_id",
                    &[&ids],
                )
                .await?;
            let mut found: std::collections::HashMap<&str, i64> = std::collections::HashMap::new();
            for row in &rows {
                let root = found.entry(row.get::<_, &str>(0)).or_default();
                *root = (*root).max(row.get(1));
            }
            ids.iter().map(|id| found.get(id).copied().unwrap_or(0)).collect()
        })
    }

    async fn message_contents(&self, blobs: &[BlobId]) -> Vec<Result<Vec<u8>>> {
        let fetched: Result<std::collections::HashMap<String, Vec<u8>>> = async {
            let ids: Vec<&str> = blobs.iter().map(BlobId::as_str).collect();
            read_tx!(self, |tx| tx
                .query("SELECT id, data FROM blobs WHERE id = ANY($1)", &[&ids])
                .await?
                .into_iter()
                .map(|row| (row.get::<_, String>(0), row.get::<_, Vec<u8>>(1)))
                .collect())
        }
        .await;
        match fetched {
            Ok(found) => blobs
                .iter()
                .map(|blob| {
                    found
                        .get(blob.as_str())
                        .cloned()
                        .ok_or_else(|| StoreError::BlobMissing(blob.to_string()))
                })
                .collect(),
            Err(error) => blobs.iter().map(|_| Err(error.clone())).collect(),
        }
    }

    async fn messages_lacking_final_line_break(&self, blobs: &[BlobId]) -> Vec<bool> {
        let open: Result<std::collections::HashSet<String>> = async {
            let ids: Vec<&str> = blobs.iter().map(BlobId::as_str).collect();
            read_tx!(self, |tx| tx
                .query(
                    "SELECT id FROM blobs WHERE id = ANY($1)
                     AND length(data) > 0 AND get_byte(data, length(data) - 1) <> 10",
                    &[&ids],
                )
                .await?
                .into_iter()
                .map(|row| row.get::<_, String>(0))
                .collect())
        }
        .await;
        match open {
            Ok(open) => blobs.iter().map(|blob| open.contains(blob.as_str())).collect(),
            Err(_) => vec![false; blobs.len()],
        }
    }

    async fn store_flags(
        &self,
        mailbox: MailboxId,
        uids: &[u32],
        operation: FlagOperation,
        flags: &Flags,
        unchanged_since: Option<u64>,
    ) -> Result<Vec<FlagChange>> {
        write_tx!(self, |tx, changes| messages::store_flags(
            &tx,
            &mut changes,
            mailbox,
            uids,
            operation,
            flags,
            unchanged_since
        )
        .await?)
    }

    async fn expunge(&self, mailbox: MailboxId, uids: Option<&[u32]>) -> Result<Vec<u32>> {
        write_tx!(self, |tx, changes| messages::expunge(&tx, &mut changes, mailbox, uids)
            .await?)
    }

    async fn copy_messages(&self, source: MailboxId, uids: &[u32], target: MailboxId, remove: bool) -> Result<Copied> {
        write_tx!(self, |tx, changes| messages::copy(
            &tx,
            &mut changes,
            source,
            uids,
            target,
            remove
        )
        .await?)
    }

    async fn changes_since(&self, mailbox: MailboxId, modseq: u64) -> Result<ChangesSince> {
        read_tx!(self, |tx| messages::changes_since(&tx, mailbox, modseq).await?)
    }

    async fn messages_holding(&self, account: AccountId, blobs: &[BlobId]) -> Result<Vec<MessageMeta>> {
        read_tx!(self, |tx| messages::holding(&tx, account, blobs).await?)
    }

    async fn account_holds(&self, account: AccountId, blob: &BlobId) -> Result<bool> {
        read_tx!(self, |tx| messages::account_holds(&tx, account, blob).await?)
    }

    async fn vanished_since(&self, mailbox: MailboxId, modseq: u64) -> Result<Vec<Vanished>> {
        read_tx!(self, |tx| messages::vanished_since(&tx, mailbox, modseq).await?)
    }

    async fn queue_insert(&self, message: &[u8], entry: &NewQueuedMessage) -> Result<QueueId> {
        let blob = content_id(message).await;
        write_tx!(self, |tx, changes| queue::insert(&tx, &blob, message, entry).await?)
    }

    async fn maildrop_lock(&self, account: AccountId, holder: &str, lease: std::time::Duration) -> Result<bool> {
        // Taken when free, expired, or already ours (a renewal); the
        // database clock decides, so nodes need not agree on the time.
        let row = self
            .db()
            .await?
            .query_opt(
                "INSERT INTO maildrop_locks (account_id, holder, expires_at)
                 VALUES ($1, $2, now() + make_interval(secs => $3))
                 ON CONFLICT (account_id) DO UPDATE
                    SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
                    WHERE maildrop_locks.expires_at < now() OR maildrop_locks.holder = EXCLUDED.holder
                 RETURNING holder",
                &[&account.0, &holder, &lease.as_secs_f64()],
            )
            .await?;
        Ok(row.is_some())
    }

    async fn maildrop_unlock(&self, account: AccountId, holder: &str) -> Result<()> {
        self.db()
            .await?
            .execute(
                "DELETE FROM maildrop_locks WHERE account_id = $1 AND holder = $2",
                &[&account.0, &holder],
            )
            .await?;
        Ok(())
    }

    async fn login_failure(&self, keys: &[String], max: u32, window: Duration, lockout: Duration) -> Result<()> {
        let now = crate::sqlite::now();
        let (window, lockout) = (window.as_secs() as i64, lockout.as_secs() as i64);
        let db = self.db().await?;
        for key in keys {
            // One fixed window per key: a failure after it ends starts a
            // new count; reaching `max` locks and starts over.
            db.execute(
                "INSERT INTO login_failures (key, failures, window_start, locked_until)
                 VALUES ($1, 1, $2::BIGINT, 0)
                 ON CONFLICT (key) DO UPDATE SET
                    failures = CASE WHEN login_failures.window_start < $2::BIGINT - $3::BIGINT THEN 1
                                    ELSE login_failures.failures + 1 END,
                    window_start = CASE WHEN login_failures.window_start < $2::BIGINT - $3::BIGINT
                                        THEN $2::BIGINT ELSE login_failures.window_start END",
                &[key, &now, &window],
            )
            .await?;
            db.execute(
                "UPDATE login_failures SET locked_until = $2::BIGINT + $4::BIGINT, failures = 0,
                        window_start = $2::BIGINT
                 WHERE key = $1 AND failures >= $3::INT",
                &[key, &now, &(max as i32), &lockout],
            )
            .await?;
        }
        // Now and then, forget keys whose window and lockout are long past.
        if rand::random::<u8>() == 0 {
            db.execute(
                "DELETE FROM login_failures WHERE window_start < $1 AND locked_until < $2",
                &[&(now - window), &now],
            )
            .await?;
        }
        Ok(())
    }

    async fn login_locked(&self, keys: &[String]) -> Result<Option<Duration>> {
        let now = crate::sqlite::now();
        let until: Option<i64> = self
            .db()
            .await?
            .query_one(
                "SELECT MAX(locked_until) FROM login_failures WHERE key = ANY($1)",
                &[&keys],
            )
            .await?
            .get(0);
        Ok(until
            .filter(|until| *until > now)
            .map(|until| Duration::from_secs((until - now) as u64)))
    }

    async fn login_cleared(&self, key: &str) -> Result<()> {
        self.db()
            .await?
            .execute("DELETE FROM login_failures WHERE key = $1", &[&key])
            .await?;
        Ok(())
    }

    async fn tenant_add(&self, name: &str) -> Result<Tenant> {
        write_tx!(self, |tx, changes| tenancy::tenant_add(&tx, name).await?)
    }

    async fn tenant_list(&self) -> Result<Vec<Tenant>> {
        read_tx!(self, |tx| tenancy::tenant_list(&tx).await?)
    }

    async fn tenant_get(&self, name: &str) -> Result<Option<Tenant>> {
        read_tx!(self, |tx| tenancy::tenant_get(&tx, name).await?)
    }

    async fn tenant_remove(&self, name: &str) -> Result<()> {
        write_tx!(self, |tx, changes| tenancy::tenant_remove(&tx, name).await?)
    }

    async fn domain_set_tenant(&self, domain: &str, tenant: TenantId) -> Result<()> {
        write_tx!(self, |tx, changes| tenancy::domain_set_tenant(&tx, domain, tenant)
            .await?)
    }

    async fn domain_tenant(&self, domain: &str) -> Result<Option<TenantId>> {
        read_tx!(self, |tx| tenancy::domain_tenant(&tx, domain).await?)
    }

    async fn suppression_add(&self, entry: &Suppression) -> Result<()> {
        write_tx!(self, |tx, changes| tenancy::suppression_add(&tx, entry).await?)
    }

    async fn suppression_check(
        &self,
        tenant: TenantId,
        sender_domain: &str,
        address: &str,
        now: i64,
    ) -> Result<Option<Suppression>> {
        read_tx!(self, |tx| tenancy::suppression_check(
            &tx,
            tenant,
            sender_domain,
            address,
            now
        )
        .await?)
    }

    async fn suppression_list(&self, tenant: TenantId, now: i64) -> Result<Vec<Suppression>> {
        read_tx!(self, |tx| tenancy::suppression_list(&tx, tenant, now).await?)
    }

    async fn suppression_remove(&self, tenant: TenantId, sender_domain: Option<&str>, address: &str) -> Result<u64> {
        write_tx!(self, |tx, changes| tenancy::suppression_remove(
            &tx,
            tenant,
            sender_domain,
            address
        )
        .await?)
    }

    async fn tenant_pause(&self, tenant: TenantId, reason: Option<&str>) -> Result<()> {
        write_tx!(self, |tx, changes| tenancy::tenant_pause(&tx, tenant, reason).await?)
    }

    async fn delivery_record(&self, record: &DeliveryRecord) -> Result<i64> {
        write_tx!(self, |tx, changes| tenancy::delivery_record(&tx, record).await?)
    }

    async fn delivery_get(&self, id: i64) -> Result<Option<DeliveryRecord>> {
        read_tx!(self, |tx| tenancy::delivery_get(&tx, id).await?)
    }

    async fn delivery_find(&self, message_id: &str, recipient: &str) -> Result<Option<DeliveryRecord>> {
        read_tx!(self, |tx| tenancy::delivery_find(&tx, message_id, recipient).await?)
    }

    async fn deliveries_expire(&self, before: i64) -> Result<u64> {
        write_tx!(self, |tx, changes| tenancy::deliveries_expire(&tx, before).await?)
    }

    async fn soft_bounce(&self, tenant: TenantId, address: &str, at: i64, since: i64, clear: bool) -> Result<u32> {
        write_tx!(self, |tx, changes| tenancy::soft_bounce(
            &tx, tenant, address, at, since, clear
        )
        .await?)
    }

    async fn stats_add(
        &self,
        tenant: TenantId,
        sender_domain: &str,
        at: i64,
        counts: &[(StatKind, u64)],
    ) -> Result<()> {
        write_tx!(self, |tx, changes| tenancy::stats_add(
            &tx,
            tenant,
            sender_domain,
            at,
            counts
        )
        .await?)
    }

    async fn stats_sum(&self, tenant: TenantId, sender_domain: Option<&str>, since: i64) -> Result<Stats> {
        read_tx!(self, |tx| tenancy::stats_sum(&tx, tenant, sender_domain, since).await?)
    }

    async fn dav_collections(&self, account: AccountId, kind: DavKind) -> Result<Vec<DavCollection>> {
        read_tx!(self, |tx| dav::collections(&tx, account, kind).await?)
    }

    async fn dav_collection(&self, account: AccountId, kind: DavKind, name: &str) -> Result<Option<DavCollection>> {
        read_tx!(self, |tx| dav::collection(&tx, account, kind, name).await?)
    }

    async fn dav_collection_create(
        &self,
        account: AccountId,
        kind: DavKind,
        name: &str,
        props: &DavProps,
    ) -> Result<DavCollection> {
        write_tx!(self, |tx, changes| dav::collection_create(
            &tx, account, kind, name, props
        )
        .await?)
    }

    async fn dav_collection_update(&self, collection: i64, props: &DavProps) -> Result<()> {
        write_tx!(self, |tx, changes| dav::collection_update(&tx, collection, props)
            .await?)
    }

    async fn dav_collection_delete(&self, collection: i64) -> Result<()> {
        write_tx!(self, |tx, changes| dav::collection_delete(&tx, collection).await?)
    }

    async fn dav_objects(&self, collection: i64) -> Result<Vec<DavObject>> {
        read_tx!(self, |tx| dav::objects(&tx, collection).await?)
    }

    async fn dav_object(&self, collection: i64, name: &str) -> Result<Option<DavObject>> {
        read_tx!(self, |tx| dav::object(&tx, collection, name).await?)
    }

    async fn dav_put(
        &self,
        collection: i64,
        name: &str,
        uid: &str,
        content: &str,
        precondition: &DavPrecondition,
    ) -> Result<DavPut> {
        write_tx!(self, |tx, changes| dav::put(
            &tx,
            collection,
            name,
            uid,
            content,
            precondition
        )
        .await?)
    }

    async fn dav_delete(&self, collection: i64, name: &str, if_match: Option<&str>) -> Result<DavDelete> {
        write_tx!(self, |tx, changes| dav::delete(&tx, collection, name, if_match).await?)
    }

    async fn dav_changes(&self, collection: i64, since: i64) -> Result<DavChanges> {
        read_tx!(self, |tx| dav::changes(&tx, collection, since).await?)
    }

    async fn dav_file(&self, account: AccountId, path: &str) -> Result<Option<DavFile>> {
        read_tx!(self, |tx| dav_files::file(&tx, account, path).await?)
    }

    async fn dav_file_tree(&self, account: AccountId, path: &str) -> Result<Vec<DavFile>> {
        read_tx!(self, |tx| dav_files::tree(&tx, account, path).await?)
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
        write_tx!(self, |tx, changes| dav_files::write(
            &tx,
            account,
            path,
            collection,
            content,
            content_type,
            precondition
        )
        .await?)
    }

    async fn dav_file_set_dead(&self, account: AccountId, path: &str, dead: &str) -> Result<()> {
        write_tx!(self, |tx, changes| dav_files::set_dead(&tx, account, path, dead)
            .await?)
    }

    async fn dav_file_delete(&self, account: AccountId, path: &str) -> Result<bool> {
        write_tx!(self, |tx, changes| dav_files::delete(&tx, account, path).await?)
    }

    async fn dav_file_copy(
        &self,
        account: AccountId,
        from: &str,
        to: &str,
        recursive: bool,
        moving: bool,
    ) -> Result<bool> {
        write_tx!(self, |tx, changes| dav_files::copy(
            &tx, account, from, to, recursive, moving
        )
        .await?)
    }

    async fn identities(&self, account: AccountId) -> Result<Vec<Identity>> {
        read_tx!(self, |tx| identities::list(&tx, account).await?)
    }

    async fn identity_put(&self, account: AccountId, identity: &Identity) -> Result<i64> {
        write_tx!(self, |tx, changes| identities::put(&tx, account, identity).await?)
    }

    async fn identity_delete(&self, account: AccountId, slot: i64) -> Result<bool> {
        write_tx!(self, |tx, changes| identities::delete(&tx, account, slot).await?)
    }

    async fn pool_add(&self, name: &str, dedicated: bool) -> Result<()> {
        write_tx!(self, |tx, changes| ip_pools::pool_add(&tx, name, dedicated).await?)
    }

    async fn pool_remove(&self, name: &str) -> Result<()> {
        write_tx!(self, |tx, changes| ip_pools::pool_remove(&tx, name).await?)
    }

    async fn pool_list(&self) -> Result<Vec<IpPool>> {
        read_tx!(self, |tx| ip_pools::pool_list(&tx).await?)
    }

    async fn pool_address_add(&self, pool: &str, address: &NewPoolAddress) -> Result<()> {
        write_tx!(self, |tx, changes| ip_pools::pool_address_add(&tx, pool, address)
            .await?)
    }

    async fn pool_address_remove(&self, address: &str) -> Result<()> {
        write_tx!(self, |tx, changes| ip_pools::pool_address_remove(&tx, address).await?)
    }

    async fn pool_assign(&self, pool: Option<&str>, tenant: &str) -> Result<()> {
        write_tx!(self, |tx, changes| ip_pools::pool_assign(&tx, pool, tenant).await?)
    }

    async fn pool_address_listed(&self, address: &str, listed: Option<&str>, at: i64) -> Result<bool> {
        write_tx!(self, |tx, changes| ip_pools::pool_address_listed(
            &tx, address, listed, at
        )
        .await?)
    }

    async fn warmup_take(&self, address: &str, provider: &str, day: i64, want: u32, cap: u32) -> Result<u32> {
        write_tx!(self, |tx, changes| ip_pools::warmup_take(
            &tx, address, provider, day, want, cap
        )
        .await?)
    }

    async fn source_stats_add(&self, address: &str, at: i64, counts: &[(StatKind, u64)]) -> Result<()> {
        write_tx!(self, |tx, changes| ip_pools::source_stats_add(&tx, address, at, counts)
            .await?)
    }

    async fn source_stats_sum(&self, address: &str, since: i64) -> Result<Stats> {
        read_tx!(self, |tx| ip_pools::source_stats_sum(&tx, address, since).await?)
    }

    async fn tokens_get(&self, scope: ModelScope, tokens: &[u64]) -> Result<TokenCounts> {
        read_tx!(self, |tx| learning::tokens_get(&tx, scope, tokens).await?)
    }

    async fn tokens_learn(&self, scope: ModelScope, training: &Training) -> Result<()> {
        write_tx!(self, |tx, changes| learning::tokens_learn(&tx, scope, training).await?)
    }

    async fn correspondents_add(&self, account: AccountId, addresses: &[String], now: i64) -> Result<()> {
        write_tx!(self, |tx, changes| learning::correspondents_add(
            &tx, account, addresses, now
        )
        .await?)
    }

    async fn sent_ids_add(&self, account: AccountId, message_ids: &[String], now: i64) -> Result<()> {
        write_tx!(self, |tx, changes| learning::sent_ids_add(
            &tx,
            account,
            message_ids,
            now
        )
        .await?)
    }

    async fn sent_id_known(&self, account: AccountId, message_ids: &[String]) -> Result<bool> {
        read_tx!(self, |tx| learning::sent_id_known(&tx, account, message_ids).await?)
    }

    async fn correspondent_known(&self, account: AccountId, address: &str) -> Result<bool> {
        read_tx!(self, |tx| learning::correspondent_known(&tx, account, address).await?)
    }

    async fn greylist_check(&self, key: &str, now: i64, rules: Greylisting) -> Result<bool> {
        write_tx!(self, |tx, changes| learning::greylist_check(&tx, key, now, &rules)
            .await?)
    }

    async fn dkim_key_set(&self, key: &DkimKey) -> Result<()> {
        self.db()
            .await?
            .execute(
                "INSERT INTO dkim_keys (domain, selector, algorithm, private_key, created_at)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (domain) DO UPDATE SET selector = EXCLUDED.selector,
                    algorithm = EXCLUDED.algorithm, private_key = EXCLUDED.private_key,
                    created_at = EXCLUDED.created_at",
                &[
                    &key.domain,
                    &key.selector,
                    &key.algorithm,
                    &key.private_key,
                    &key.created_at,
                ],
            )
            .await?;
        Ok(())
    }

    async fn dkim_key_get(&self, domain: &str) -> Result<Option<DkimKey>> {
        let row = self
            .db()
            .await?
            .query_opt(
                "SELECT domain, selector, algorithm, private_key, created_at FROM dkim_keys WHERE domain = $1",
                &[&domain.to_ascii_lowercase()],
            )
            .await?;
        Ok(row.map(|row| dkim_row(&row)))
    }

    async fn dkim_key_list(&self) -> Result<Vec<DkimKey>> {
        let rows = self
            .db()
            .await?
            .query(
                "SELECT domain, selector, algorithm, private_key, created_at FROM dkim_keys ORDER BY domain",
                &[],
            )
            .await?;
        Ok(rows.iter().map(dkim_row).collect())
    }

    async fn queue_list(&self) -> Result<Vec<QueuedMessage>> {
        read_tx!(self, |tx| queue::list(&tx).await?)
    }

    async fn queue_get(&self, id: QueueId) -> Result<Option<QueuedMessage>> {
        read_tx!(self, |tx| queue::get(&tx, id).await?)
    }

    async fn queue_claim(&self, owner: &str, limit: usize, lease: std::time::Duration) -> Result<Vec<QueuedMessage>> {
        let lease = lease.as_secs().max(1) as i64;
        write_tx!(self, |tx, changes| queue::claim(&tx, owner, limit, lease).await?)
    }

    async fn queue_renew(&self, id: QueueId, owner: &str, lease: std::time::Duration) -> Result<()> {
        let lease = lease.as_secs().max(1) as i64;
        write_tx!(self, |tx, changes| queue::renew(&tx, id, owner, lease).await?)
    }

    async fn queue_record(&self, id: QueueId, owner: &str, outcomes: &[RecipientOutcome]) -> Result<()> {
        write_tx!(self, |tx, changes| queue::record(&tx, id, owner, outcomes).await?)
    }

    async fn queue_release(&self, id: QueueId, owner: &str, next_attempt: i64, warned: bool) -> Result<bool> {
        write_tx!(self, |tx, changes| queue::release(&tx, id, owner, next_attempt, warned)
            .await?)
    }

    async fn queue_retry(&self, id: Option<QueueId>) -> Result<u64> {
        write_tx!(self, |tx, changes| queue::retry(&tx, id).await?)
    }

    async fn queue_remove(&self, id: QueueId) -> Result<bool> {
        write_tx!(self, |tx, changes| queue::remove(&tx, id).await?)
    }

    async fn verify(&self, repair: bool) -> Result<VerifyReport> {
        write_tx!(self, |tx, changes| {
            let mut report = VerifyReport::default();
            verify::check(&tx, repair, &mut report).await?;
            report
        })
    }

    fn changes(&self) -> &ChangeBus {
        &self.bus
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_round_trip_and_skip_our_own() {
        let change = Change::Mailbox {
            account: AccountId(3),
            mailbox: MailboxId(7),
            highest_modseq: 42,
        };
        let payload = encode("node-a", &change);
        assert_eq!(decode("node-b", &payload), Some(change));
        assert_eq!(decode("node-a", &payload), None);
        assert_eq!(decode("node-b", "node-a x 1"), None);
        assert_eq!(decode("node-b", "garbage"), None);
    }
}
