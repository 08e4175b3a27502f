//! Estafeta's storage.
//!
//! [`Store`] is the one interface the protocols use: typed operations shaped
//! for IMAP (UIDs, MODSEQs, flags, expunge) plus the directory (domains,
//! accounts, aliases) and the outbound queue. Protocol crates never see SQL.
//! Every allocation that must be unique or ordered (UID, MODSEQ,
//! UIDVALIDITY) is made inside a database transaction, never by an
//! in-memory counter, so a second backend or a second node can share it.

pub mod blob;
pub mod dav;
mod dkim;
mod error;
pub mod identity;
pub mod ip_pools;
pub mod learning;
mod lease;
pub mod login;
pub mod migrate;
pub mod postgres;
pub mod sqlite;
pub mod tenancy;
pub mod thread;
mod types;

use async_trait::async_trait;
use estafeta_core::Address;
use estafeta_core::bus::ChangeBus;
use estafeta_core::model::{AccountId, MailboxId, MailboxRole, QueueId, TenantId};
use std::sync::Arc;
use std::time::Duration;

pub use blob::BlobId;
pub use dav::{DavChanges, DavCollection, DavDelete, DavFile, DavKind, DavObject, DavPrecondition, DavProps, DavPut};
pub use dkim::DkimKey;
pub use error::{Result, StoreError};
pub use identity::Identity;
pub use ip_pools::{IpPool, NewPoolAddress, PoolAddress};
pub use learning::{Classifier, Greylisting, ModelScope, TokenCounts, Training};
pub use tenancy::{DEFAULT_TENANT, DeliveryRecord, StatKind, Stats, Suppression, SuppressionReason, Tenant};
pub use types::*;

#[async_trait]
pub trait Store: Send + Sync {
    // --- Directory -------------------------------------------------------

    async fn domain_add(&self, name: &str) -> Result<Domain>;
    async fn domain_list(&self) -> Result<Vec<Domain>>;
    /// Refused while accounts or aliases of the domain exist.
    async fn domain_remove(&self, name: &str) -> Result<()>;
    /// Whether we host this domain (mail to it is ours, not relayed).
    async fn domain_is_local(&self, name: &str) -> Result<bool>;

    /// Creates the account and its default mailboxes in one transaction.
    /// The domain must exist; the address must not be an account or alias.
    async fn account_add(&self, address: &Address, password_hash: &str) -> Result<Account>;
    async fn account_get(&self, address: &str) -> Result<Option<Account>>;
    async fn account_by_id(&self, id: AccountId) -> Result<Option<Account>>;
    async fn account_list(&self) -> Result<Vec<Account>>;
    async fn account_set_password(&self, address: &str, password_hash: &str) -> Result<()>;
    /// Bytes of mail the account holds, over all its mailboxes (quota).
    async fn account_usage(&self, account: AccountId) -> Result<u64>;
    /// Removes the account, its mailboxes and messages, and aliases to it.
    async fn account_remove(&self, address: &str) -> Result<()>;

    /// `alias` must be in a local domain and not an account; a local target
    /// must be an existing account.
    async fn alias_add(&self, alias: &Address, target: &Address) -> Result<Alias>;
    async fn alias_get(&self, address: &str) -> Result<Option<Alias>>;
    async fn alias_list(&self) -> Result<Vec<Alias>>;
    async fn alias_remove(&self, address: &str) -> Result<()>;

    // --- Mailboxes -------------------------------------------------------

    async fn mailbox_list(&self, account: AccountId) -> Result<Vec<Mailbox>>;
    /// `INBOX` matches case-insensitively (RFC 9051 5.1); other names exactly.
    async fn mailbox_get(&self, account: AccountId, name: &str) -> Result<Option<Mailbox>>;
    async fn mailbox_by_role(&self, account: AccountId, role: MailboxRole) -> Result<Option<Mailbox>>;
    async fn mailbox_by_id(&self, id: MailboxId) -> Result<Option<Mailbox>>;
    async fn mailbox_create(&self, account: AccountId, name: &str) -> Result<Mailbox>;
    /// RFC 9051 6.3.6: renames the mailbox and every mailbox below it
    /// (`from/...`), keeping their UIDVALIDITY. Renaming INBOX moves its
    /// messages to a new mailbox `to` and leaves INBOX empty.
    async fn mailbox_rename(&self, account: AccountId, from: &str, to: &str) -> Result<()>;
    /// Removes one mailbox and its messages; INBOX cannot be deleted.
    async fn mailbox_delete(&self, account: AccountId, name: &str) -> Result<()>;
    /// Subscribes or unsubscribes any name, existing or not (RFC 9051
    /// 6.3.7); unsubscribing a name that is neither is `NotFound`.
    async fn mailbox_subscribe(&self, account: AccountId, name: &str, subscribed: bool) -> Result<()>;
    /// Subscribed names that are no mailbox (any more, or yet), sorted;
    /// existing mailboxes carry their own `subscribed`.
    async fn dangling_subscriptions(&self, account: AccountId) -> Result<Vec<String>>;
    /// RFC 3501 2.3.2 \Recent: the highest UID of `mailbox` that a session
    /// has taken as recent (0: none). Messages above it are recent.
    async fn recent_mark(&self, mailbox: MailboxId) -> Result<u32>;
    /// Raises the recent mark to `up_to` and returns what it was: the
    /// messages above the old mark, up to `up_to`, are recent to the
    /// caller's session and to no other.
    async fn recent_claim(&self, mailbox: MailboxId, up_to: u32) -> Result<u32>;

    // --- Messages --------------------------------------------------------

    /// Stores `message` once (durably) and adds it to every target mailbox
    /// in one transaction; returns when that transaction is durable.
    async fn deliver(&self, message: &[u8], internal_date: i64, targets: &[DeliveryTarget]) -> Result<Vec<Delivered>>;
    /// The end of an SMTP transaction: every local copy and the queue
    /// entry in one transaction, durable when this returns.
    async fn accept(&self, acceptance: Acceptance) -> Result<Option<QueueId>>;
    /// Several messages into one mailbox in one transaction: all or none
    /// (MULTIAPPEND, RFC 3502 6.3.11). Returns their UIDs, in order.
    async fn append_messages(&self, mailbox: MailboxId, messages: Vec<NewMessage>) -> Result<Vec<u32>>;
    /// Messages of a mailbox in UID order.
    async fn messages(&self, mailbox: MailboxId) -> Result<Vec<MessageMeta>>;
    async fn message_content(&self, blob: &BlobId) -> Result<Vec<u8>>;
    /// The messages of `account`, in any mailbox, whose content is one of
    /// `blobs` (JMAP reads Emails by content).
    async fn messages_holding(&self, account: AccountId, blobs: &[BlobId]) -> Result<Vec<MessageMeta>>;
    /// The conversation number (`thread::thread_root`) of each content
    /// `account` holds in any mailbox; 0 for content stored before they
    /// were kept.
    async fn account_thread_roots(&self, account: AccountId) -> Result<Vec<(BlobId, i64)>>;
    /// The conversation number of each of `blobs`, 0 for one gone or
    /// unknown.
    async fn thread_roots(&self, blobs: &[BlobId]) -> Result<Vec<i64>>;
    /// Whether a message of `account` has this content: what it may
    /// download (RFC 8620 6.2), whoever else holds the same bytes.
    async fn account_holds(&self, account: AccountId, blob: &BlobId) -> Result<bool>;
    /// Several messages' content in one go (one trip off the runtime), each
    /// with its own outcome: a message expunged meanwhile is an error for
    /// that one only.
    async fn message_contents(&self, blobs: &[BlobId]) -> Vec<Result<Vec<u8>>> {
        let mut out = Vec::with_capacity(blobs.len());
        for blob in blobs {
            out.push(self.message_content(blob).await);
        }
        out
    }
    /// For each blob, whether its message is not empty and does not end
    /// in a line break (an APPEND keeps the client's last line as it was
    /// written). A blob that cannot be read counts as ending in one.
    async fn messages_lacking_final_line_break(&self, blobs: &[BlobId]) -> Vec<bool> {
        self.message_contents(blobs)
            .await
            .into_iter()
            .map(|content| content.is_ok_and(|content| content.last().is_some_and(|&last| last != b'\n')))
            .collect()
    }
    /// Changes flags of `uids`; each changed message gets a new MODSEQ.
    /// With `unchanged_since` (RFC 7162 3.1.3) a message whose MODSEQ is
    /// greater is left alone and not in the result.
    async fn store_flags(
        &self,
        mailbox: MailboxId,
        uids: &[u32],
        operation: FlagOperation,
        flags: &estafeta_core::model::Flags,
        unchanged_since: Option<u64>,
    ) -> Result<Vec<FlagChange>>;
    /// Removes the messages among `uids` (all when `None`) that carry
    /// `\Deleted`; returns the UIDs removed. Blobs nobody refers to any
    /// more are deleted.
    async fn expunge(&self, mailbox: MailboxId, uids: Option<&[u32]>) -> Result<Vec<u32>>;
    /// Copies `uids` (those that exist, in UID order) to `target` with their
    /// flags and dates, in one transaction; with `remove`, it is MOVE
    /// (RFC 6851): the originals are expunged in the same transaction.
    async fn copy_messages(&self, source: MailboxId, uids: &[u32], target: MailboxId, remove: bool) -> Result<Copied>;
    /// What changed after `modseq`: for CONDSTORE FETCH CHANGEDSINCE and
    /// QRESYNC's VANISHED (RFC 7162 3.1.4, 3.2.5).
    async fn changes_since(&self, mailbox: MailboxId, modseq: u64) -> Result<ChangesSince>;
    /// The messages that left `mailbox` after `modseq`, with their content
    /// where it was recorded: for JMAP's Email/changes (RFC 8620 5.2).
    async fn vanished_since(&self, mailbox: MailboxId, modseq: u64) -> Result<Vec<Vanished>>;

    // --- Maildrop lock ---------------------------------------------------

    /// Takes (or renews) the POP3 lock on `account`'s maildrop for
    /// `holder`, for `lease` unless renewed (RFC 1939 8: one session per
    /// maildrop). False while another holder's lease runs; a lease left by
    /// a crashed node runs out on its own.
    async fn maildrop_lock(&self, account: AccountId, holder: &str, lease: std::time::Duration) -> Result<bool>;
    /// Gives the lock up, if `holder` holds it.
    async fn maildrop_unlock(&self, account: AccountId, holder: &str) -> Result<()>;

    // --- Outbound queue --------------------------------------------------

    async fn queue_insert(&self, message: &[u8], entry: &NewQueuedMessage) -> Result<QueueId>;
    async fn queue_list(&self) -> Result<Vec<QueuedMessage>>;
    async fn queue_get(&self, id: QueueId) -> Result<Option<QueuedMessage>>;
    /// Claims up to `limit` messages that are due and that no live lease
    /// holds, for `owner`, for `lease` (queue ownership lives in the
    /// database, so several nodes share one queue). Oldest due first.
    async fn queue_claim(&self, owner: &str, limit: usize, lease: std::time::Duration) -> Result<Vec<QueuedMessage>>;
    /// Extends `owner`'s running lease on `id` to `lease` from now.
    /// `StoreError::InUse` when the lease is no longer `owner`'s or has
    /// run out: the worker must stop, another claim may be sending.
    async fn queue_renew(&self, id: QueueId, owner: &str, lease: std::time::Duration) -> Result<()>;
    /// Records what an attempt did for some recipients of a message
    /// `owner` holds; durable when this returns, so a delivery is marked
    /// before the SMTP session with the remote host is closed.
    /// `StoreError::InUse` when the lease was lost.
    async fn queue_record(&self, id: QueueId, owner: &str, outcomes: &[RecipientOutcome]) -> Result<()>;
    /// Ends `owner`'s claim. With no recipient pending the message leaves
    /// the queue (true); otherwise it is due again at `next_attempt`, one
    /// more attempt counted, `warned` kept.
    async fn queue_release(&self, id: QueueId, owner: &str, next_attempt: i64, warned: bool) -> Result<bool>;
    /// Makes a message (all when `None`) due now, leases aside; how many.
    async fn queue_retry(&self, id: Option<QueueId>) -> Result<u64>;
    /// Takes a message out of the queue; false when there was none.
    async fn queue_remove(&self, id: QueueId) -> Result<bool>;

    // --- Failed logins, shared by the nodes --------------------------------

    /// Counts a failed login against each of `keys` (an IP, an account);
    /// `max` failures within `window` lock a key for `lockout`. The
    /// embedded store serves one node, whose in-memory limiter is the
    /// whole truth, so by default this counts nothing.
    async fn login_failure(&self, keys: &[String], max: u32, window: Duration, lockout: Duration) -> Result<()> {
        let _ = (keys, max, window, lockout);
        Ok(())
    }
    /// The longest lockout in force on any of `keys`.
    async fn login_locked(&self, keys: &[String]) -> Result<Option<Duration>> {
        let _ = keys;
        Ok(None)
    }
    /// A good login clears `key`'s failures.
    async fn login_cleared(&self, key: &str) -> Result<()> {
        let _ = key;
        Ok(())
    }

    // --- DKIM keys ---------------------------------------------------------

    /// Sets `key.domain`'s key, replacing the one it had.
    async fn dkim_key_set(&self, key: &DkimKey) -> Result<()>;
    async fn dkim_key_get(&self, domain: &str) -> Result<Option<DkimKey>>;
    async fn dkim_key_list(&self) -> Result<Vec<DkimKey>>;

    // --- What the filter learns ---------------------------------------------

    /// The message totals of `scope` and the counts of those of `tokens` it knows.
    async fn tokens_get(&self, scope: ModelScope, tokens: &[u64]) -> Result<TokenCounts>;
    /// Applies `training` in one transaction; counts never go below zero.
    async fn tokens_learn(&self, scope: ModelScope, training: &Training) -> Result<()>;
    /// Remembers addresses `account` corresponds with (wrote to, rescued from Junk).
    async fn correspondents_add(&self, account: AccountId, addresses: &[String], now: i64) -> Result<()>;
    async fn correspondent_known(&self, account: AccountId, address: &str) -> Result<bool>;
    /// Remembers the Message-IDs of mail the account sent...
    async fn sent_ids_add(&self, account: AccountId, message_ids: &[String], now: i64) -> Result<()>;
    /// ...so a message naming one of them (In-Reply-To, References) is
    /// known to answer the account's own mail.
    async fn sent_id_known(&self, account: AccountId, message_ids: &[String]) -> Result<bool>;
    /// Records an attempt of the greylisting triplet `key`; whether it may pass now.
    async fn greylist_check(&self, key: &str, now: i64, rules: Greylisting) -> Result<bool>;

    // --- Tenants and suppression lists -------------------------------------

    /// The default tenant exists from the start; names are unique.
    async fn tenant_add(&self, name: &str) -> Result<Tenant>;
    async fn tenant_list(&self) -> Result<Vec<Tenant>>;
    async fn tenant_get(&self, name: &str) -> Result<Option<Tenant>>;
    /// Refused for the default tenant and while it owns domains; its
    /// suppression list goes with it.
    async fn tenant_remove(&self, name: &str) -> Result<()>;
    /// Gives a local domain (and so its accounts) to another tenant.
    async fn domain_set_tenant(&self, domain: &str, tenant: TenantId) -> Result<()>;
    /// The tenant owning a local domain; `None` when not ours.
    async fn domain_tenant(&self, domain: &str) -> Result<Option<TenantId>>;
    /// Adds or replaces the entry for (tenant, sender domain, address).
    async fn suppression_add(&self, entry: &Suppression) -> Result<()>;
    /// The entry stopping mail from `sender_domain` to `address` at `now`:
    /// one for the tenant's whole mail or for that sender domain.
    async fn suppression_check(
        &self,
        tenant: TenantId,
        sender_domain: &str,
        address: &str,
        now: i64,
    ) -> Result<Option<Suppression>>;
    /// The tenant's entries in force at `now`, by address.
    async fn suppression_list(&self, tenant: TenantId, now: i64) -> Result<Vec<Suppression>>;
    /// Removes the address's entries (for one sender domain, or all when
    /// `None`); how many went.
    async fn suppression_remove(&self, tenant: TenantId, sender_domain: Option<&str>, address: &str) -> Result<u64>;

    /// Pauses a tenant's bulk sending with a reason, or (`None`) resumes it.
    async fn tenant_pause(&self, tenant: TenantId, reason: Option<&str>) -> Result<()>;
    /// Records a recipient sent to (once per message and recipient); its id.
    async fn delivery_record(&self, record: &DeliveryRecord) -> Result<i64>;
    async fn delivery_get(&self, id: i64) -> Result<Option<DeliveryRecord>>;
    /// The latest delivery of the message with this Message-ID to `recipient`.
    async fn delivery_find(&self, message_id: &str, recipient: &str) -> Result<Option<DeliveryRecord>>;
    /// Forgets deliveries sent before `before`; how many.
    async fn deliveries_expire(&self, before: i64) -> Result<u64>;
    /// Counts a temporary failure of `address` at `at`; how many it has
    /// had since `since` (older ones are forgotten). `clear` forgets all.
    async fn soft_bounce(&self, tenant: TenantId, address: &str, at: i64, since: i64, clear: bool) -> Result<u32>;
    /// Adds to the counters of the hour holding `at`.
    async fn stats_add(&self, tenant: TenantId, sender_domain: &str, at: i64, counts: &[(StatKind, u64)])
    -> Result<()>;
    /// Sums the counters from `since` on, for one sender domain or all.
    async fn stats_sum(&self, tenant: TenantId, sender_domain: Option<&str>, since: i64) -> Result<Stats>;

    // --- IP pools ----------------------------------------------------------

    async fn pool_add(&self, name: &str, dedicated: bool) -> Result<()>;
    /// Refused while a tenant sends from it; its addresses go with it.
    async fn pool_remove(&self, name: &str) -> Result<()>;
    /// Every pool with its addresses and tenants, by name.
    async fn pool_list(&self) -> Result<Vec<IpPool>>;
    /// An address belongs to one pool at most.
    async fn pool_address_add(&self, pool: &str, address: &NewPoolAddress) -> Result<()>;
    async fn pool_address_remove(&self, address: &str) -> Result<()>;
    /// Gives a tenant a pool, or (`None`) takes it away. A dedicated pool
    /// serves one tenant.
    async fn pool_assign(&self, pool: Option<&str>, tenant: &str) -> Result<()>;
    /// Marks an address as on a blocklist (`listed` names it) or clean;
    /// whether that changed anything.
    async fn pool_address_listed(&self, address: &str, listed: Option<&str>, at: i64) -> Result<bool>;
    /// Takes up to `want` of the `cap` messages `address` may send to
    /// `provider` on `day`; how many it got (every node counts together).
    async fn warmup_take(&self, address: &str, provider: &str, day: i64, want: u32, cap: u32) -> Result<u32>;
    /// Adds to the counters of a source address for the hour holding `at`.
    async fn source_stats_add(&self, address: &str, at: i64, counts: &[(StatKind, u64)]) -> Result<()>;
    async fn source_stats_sum(&self, address: &str, since: i64) -> Result<Stats>;

    // --- Calendars and address books (see `dav`) ---------------------------

    async fn dav_collections(&self, account: AccountId, kind: DavKind) -> Result<Vec<DavCollection>>;
    async fn dav_collection(&self, account: AccountId, kind: DavKind, name: &str) -> Result<Option<DavCollection>>;
    /// Fails with `AlreadyExists` when the account has one by that name.
    async fn dav_collection_create(
        &self,
        account: AccountId,
        kind: DavKind,
        name: &str,
        props: &DavProps,
    ) -> Result<DavCollection>;
    async fn dav_collection_update(&self, collection: i64, props: &DavProps) -> Result<()>;
    /// Removes it with everything in it.
    async fn dav_collection_delete(&self, collection: i64) -> Result<()>;
    async fn dav_objects(&self, collection: i64) -> Result<Vec<DavObject>>;
    async fn dav_object(&self, collection: i64, name: &str) -> Result<Option<DavObject>>;
    /// Creates or replaces a resource when `precondition` holds and no
    /// other resource of the collection has its UID.
    async fn dav_put(
        &self,
        collection: i64,
        name: &str,
        uid: &str,
        content: &str,
        precondition: &DavPrecondition,
    ) -> Result<DavPut>;
    async fn dav_delete(&self, collection: i64, name: &str, if_match: Option<&str>) -> Result<DavDelete>;
    /// What was written and removed after change number `since`; `Invalid`
    /// for a number the collection never gave.
    async fn dav_changes(&self, collection: i64, since: i64) -> Result<DavChanges>;

    // --- WebDAV file space (see `dav::DavFile`) -------------------------

    async fn dav_file(&self, account: AccountId, path: &str) -> Result<Option<DavFile>>;
    /// The file at `path` and everything under it ("" for the whole
    /// space), by path, without contents.
    async fn dav_file_tree(&self, account: AccountId, path: &str) -> Result<Vec<DavFile>>;
    /// Writes a file, or makes a collection, when `precondition` holds;
    /// `NotFound` when the parent is not a collection, `Invalid` when a
    /// resource of the other kind is there. A write keeps its properties.
    async fn dav_file_write(
        &self,
        account: AccountId,
        path: &str,
        collection: bool,
        content: &[u8],
        content_type: &str,
        precondition: &DavPrecondition,
    ) -> Result<DavPut>;
    async fn dav_file_set_dead(&self, account: AccountId, path: &str, dead: &str) -> Result<()>;
    /// Removes it with everything under it; false when nothing was there.
    async fn dav_file_delete(&self, account: AccountId, path: &str) -> Result<bool>;
    /// Copies (or moves) `from` to `to`, its subtree too when `recursive`,
    /// replacing what was at `to`; true when something was replaced.
    async fn dav_file_copy(
        &self,
        account: AccountId,
        from: &str,
        to: &str,
        recursive: bool,
        moving: bool,
    ) -> Result<bool>;

    // --- Identities (see `identity::Identity`) ---------------------------

    /// The account's stored identities, by slot.
    async fn identities(&self, account: AccountId) -> Result<Vec<Identity>>;
    /// Writes `identity` at its slot, or (`slot` below 0) at the next free
    /// one above 0; returns the slot. `Invalid` past `MAX_IDENTITIES`.
    async fn identity_put(&self, account: AccountId, identity: &Identity) -> Result<i64>;
    /// False when nothing was at that slot.
    async fn identity_delete(&self, account: AccountId, slot: i64) -> Result<bool>;

    // --- Operations ------------------------------------------------------

    /// Checks blobs, reference counts and mailbox counters; with `repair`,
    /// fixes what can be fixed without guessing (counts, orphans).
    async fn verify(&self, repair: bool) -> Result<VerifyReport>;
    /// The bus on which this store publishes every committed change.
    fn changes(&self) -> &ChangeBus;
}

/// Opens the embedded store under `data_dir`.
pub async fn open_sqlite(data_dir: &std::path::Path) -> Result<Arc<dyn Store>> {
    Ok(Arc::new(sqlite::SqliteStore::open(data_dir).await?))
}
