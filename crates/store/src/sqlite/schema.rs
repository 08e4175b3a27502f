//! Numbered schema migrations, applied in order at open, each in its own
//! transaction. A migration is never edited once released: changes go in a
//! new one, so every older database upgrades along the same path.

use crate::error::{Result, StoreError};
use rusqlite::{Connection, params};

pub const MIGRATIONS: &[(u32, &str)] = &[
    (1, V1),
    (2, V2),
    (3, V3),
    (4, V4),
    (5, V5),
    (6, V6),
    (7, V7),
    (8, V8),
    (9, V9),
    (10, V10),
    (11, V11),
    (12, V12),
    (13, V13),
    (14, V14),
    (15, V15),
];

const V1: &str = r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE domains (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

CREATE TABLE accounts (
    id            INTEGER PRIMARY KEY,
    address       TEXT NOT NULL UNIQUE,
    domain_id     INTEGER NOT NULL REFERENCES domains(id),
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE INDEX accounts_domain ON accounts(domain_id);

CREATE TABLE aliases (
    id         INTEGER PRIMARY KEY,
    address    TEXT NOT NULL UNIQUE,
    domain_id  INTEGER NOT NULL REFERENCES domains(id),
    target     TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX aliases_domain ON aliases(domain_id);
CREATE INDEX aliases_target ON aliases(target);

CREATE TABLE mailboxes (
    id             INTEGER PRIMARY KEY,
    account_id     INTEGER NOT NULL REFERENCES accounts(id),
    name           TEXT NOT NULL,
    role           TEXT,
    uidvalidity    INTEGER NOT NULL,
    uidnext        INTEGER NOT NULL,
    highest_modseq INTEGER NOT NULL,
    subscribed     INTEGER NOT NULL,
    UNIQUE (account_id, name)
);

-- One row per distinct content; refcount counts messages and queue entries.
CREATE TABLE blobs (
    id       TEXT PRIMARY KEY,
    size     INTEGER NOT NULL,
    refcount INTEGER NOT NULL CHECK (refcount > 0)
) WITHOUT ROWID;

CREATE TABLE messages (
    mailbox_id    INTEGER NOT NULL REFERENCES mailboxes(id),
    uid           INTEGER NOT NULL,
    modseq        INTEGER NOT NULL,
    blob_id       TEXT NOT NULL REFERENCES blobs(id),
    size          INTEGER NOT NULL,
    internal_date INTEGER NOT NULL,
    flags         INTEGER NOT NULL,
    keywords      TEXT NOT NULL,
    PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;
CREATE INDEX messages_modseq ON messages(mailbox_id, modseq);
CREATE INDEX messages_blob ON messages(blob_id);

-- RFC 7162 3.2.10: what was expunged when, for QRESYNC VANISHED.
CREATE TABLE expunged (
    mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id),
    uid        INTEGER NOT NULL,
    modseq     INTEGER NOT NULL,
    PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;

CREATE TABLE queue (
    id           INTEGER PRIMARY KEY,
    blob_id      TEXT NOT NULL REFERENCES blobs(id),
    size         INTEGER NOT NULL,
    sender       TEXT NOT NULL,
    envid        TEXT,
    ret          TEXT,
    created_at   INTEGER NOT NULL,
    next_attempt INTEGER NOT NULL,
    lease_owner  TEXT,
    lease_until  INTEGER
);
CREATE INDEX queue_due ON queue(next_attempt);
CREATE INDEX queue_blob ON queue(blob_id);

CREATE TABLE queue_recipients (
    queue_id   INTEGER NOT NULL REFERENCES queue(id),
    address    TEXT NOT NULL,
    orcpt      TEXT,
    notify     TEXT,
    status     TEXT NOT NULL,
    attempts   INTEGER NOT NULL,
    last_reply TEXT,
    PRIMARY KEY (queue_id, address)
);
"#;

/// Outbound delivery: attempts per message for the retry schedule, the
/// delay warning sent, and DKIM keys per domain.
const V2: &str = r#"
ALTER TABLE queue ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE queue ADD COLUMN warned INTEGER NOT NULL DEFAULT 0;
CREATE TABLE dkim_keys (
    domain      TEXT PRIMARY KEY,
    selector    TEXT NOT NULL,
    algorithm   TEXT NOT NULL,
    private_key TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
"#;

/// The filter's knowledge: classifier token counts (scope 0 is the
/// server's, otherwise an account id), correspondents, greylisting.
const V3: &str = r#"
CREATE TABLE filter_tokens (
    classifier INTEGER NOT NULL,
    scope      INTEGER NOT NULL,
    token      INTEGER NOT NULL,
    class      INTEGER NOT NULL,
    count      INTEGER NOT NULL,
    PRIMARY KEY (classifier, scope, token, class)
) WITHOUT ROWID;
CREATE TABLE filter_totals (
    classifier INTEGER NOT NULL,
    scope      INTEGER NOT NULL,
    class      INTEGER NOT NULL,
    count      INTEGER NOT NULL,
    PRIMARY KEY (classifier, scope, class)
) WITHOUT ROWID;
CREATE TABLE correspondents (
    account_id INTEGER NOT NULL,
    address    TEXT NOT NULL,
    last_seen  INTEGER NOT NULL,
    PRIMARY KEY (account_id, address)
) WITHOUT ROWID;
CREATE TABLE greylist (
    key        TEXT PRIMARY KEY,
    first_seen INTEGER NOT NULL,
    passed     INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL
) WITHOUT ROWID;
"#;

/// Tenants own domains; each has its suppression list.
const V4: &str = r#"
CREATE TABLE tenants (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);
INSERT INTO tenants (id, name, created_at) VALUES (1, 'default', CAST(strftime('%s', 'now') AS INTEGER));
ALTER TABLE domains ADD COLUMN tenant_id INTEGER NOT NULL DEFAULT 1 REFERENCES tenants(id);
CREATE INDEX domains_tenant ON domains(tenant_id);

CREATE TABLE suppressions (
    tenant_id     INTEGER NOT NULL REFERENCES tenants(id),
    sender_domain TEXT NOT NULL,
    address       TEXT NOT NULL,
    reason        TEXT NOT NULL,
    detail        TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER,
    PRIMARY KEY (tenant_id, address, sender_domain)
) WITHOUT ROWID;
ALTER TABLE tenants ADD COLUMN paused TEXT;

-- One row per recipient of a message sent: what a bounce, a complaint
-- or an unsubscribe refers back to (its id is in the VERP token).
CREATE TABLE deliveries (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    queue_id      INTEGER NOT NULL,
    queued_at     INTEGER NOT NULL,
    recipient     TEXT NOT NULL,
    sender        TEXT NOT NULL,
    tenant_id     INTEGER NOT NULL,
    sender_domain TEXT NOT NULL,
    sent_at       INTEGER NOT NULL,
    UNIQUE (queue_id, queued_at, recipient)
);
CREATE INDEX deliveries_sent ON deliveries(sent_at);

-- Sending counters per tenant and sender domain, in hour buckets.
CREATE TABLE send_stats (
    tenant_id     INTEGER NOT NULL,
    sender_domain TEXT NOT NULL,
    bucket        INTEGER NOT NULL,
    kind          TEXT NOT NULL,
    count         INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, sender_domain, bucket, kind)
) WITHOUT ROWID;

-- Temporary failures per recipient, until enough of them suppress it.
CREATE TABLE soft_bounces (
    tenant_id INTEGER NOT NULL,
    address   TEXT NOT NULL,
    at        INTEGER NOT NULL
);
CREATE INDEX soft_bounces_address ON soft_bounces(tenant_id, address);
"#;

/// IP pools, their addresses' warm-up and the counters per source address.
const V5: &str = r#"
-- Message-IDs of mail each account sent: replies to it are the user's
-- own conversations.
CREATE TABLE sent_message_ids (
    account_id INTEGER NOT NULL,
    message_id TEXT NOT NULL,
    sent_at    INTEGER NOT NULL,
    PRIMARY KEY (account_id, message_id)
) WITHOUT ROWID;

-- Bounces quoting only the original's Message-ID are matched by it.
ALTER TABLE deliveries ADD COLUMN message_id TEXT NOT NULL DEFAULT '';
CREATE INDEX deliveries_message ON deliveries(message_id, recipient);

CREATE TABLE ip_pools (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    dedicated  INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE pool_addresses (
    address      TEXT PRIMARY KEY,
    pool_id      INTEGER NOT NULL REFERENCES ip_pools(id),
    ehlo         TEXT NOT NULL,
    weight       INTEGER NOT NULL,
    warmup_start INTEGER,
    listed       TEXT,
    listed_at    INTEGER,
    created_at   INTEGER NOT NULL
);
ALTER TABLE tenants ADD COLUMN pool_id INTEGER REFERENCES ip_pools(id);

-- Mail each address sent to each receiving provider on each day (UTC),
-- counted against its warm-up cap.
CREATE TABLE warmup_counts (
    address  TEXT NOT NULL,
    provider TEXT NOT NULL,
    day      INTEGER NOT NULL,
    sent     INTEGER NOT NULL,
    PRIMARY KEY (address, provider, day)
) WITHOUT ROWID;

CREATE TABLE source_stats (
    address TEXT NOT NULL,
    bucket  INTEGER NOT NULL,
    kind    TEXT NOT NULL,
    count   INTEGER NOT NULL,
    PRIMARY KEY (address, bucket, kind)
) WITHOUT ROWID;
"#;

// RFC 3501 2.3.2: the highest UID some session has taken as \Recent.
const V6: &str = r#"
ALTER TABLE mailboxes ADD COLUMN recent_uid INTEGER NOT NULL DEFAULT 0;
"#;

// RFC 9051 6.3.7: a subscription outlives its mailbox, and a name may be
// subscribed before it exists. Subscriptions of existing mailboxes stay
// on their row; these are the others.
const V7: &str = r#"
CREATE TABLE dangling_subscriptions (
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    name       TEXT NOT NULL,
    PRIMARY KEY (account_id, name)
) WITHOUT ROWID;
"#;

// RFC 3501 2.3.3: INTERNALDATE keeps the zone APPEND gave it, in minutes
// east of UTC, for FETCH and for SEARCH BEFORE/ON/SINCE, whose dates are
// read in that zone.
const V8: &str = r#"
ALTER TABLE messages ADD COLUMN date_zone INTEGER NOT NULL DEFAULT 0;
"#;

// Contents of blobs up to 100 KiB (blobs.rs), written in the transaction
// that first refers to them: one WAL fsync per group commit instead of a
// file's and its directory's per message. Larger contents stay in files
// (`content` NULL). Contents are found by their row's number, so each new
// one is appended at the end of its table rather than placed by a random
// hash in an index of its own; numbers are never given twice, so a
// damaged reference cannot come to point at another message.
const V9: &str = r#"
CREATE TABLE blob_contents (
    id   INTEGER PRIMARY KEY AUTOINCREMENT,
    data BLOB NOT NULL
);
ALTER TABLE blobs ADD COLUMN content INTEGER;
"#;

// RFC 8620 5.2: JMAP's Email/changes names what was removed by its
// content, which IMAP's VANISHED does not need; rows from before have none.
const V10: &str = r#"
ALTER TABLE expunged ADD COLUMN blob_id TEXT;
"#;

/// Calendars and address books (see `crate::dav`). A collection counts its
/// changes in `sync`; each resource keeps the number of its last write, and
/// a removed one leaves a tombstone with the number of its removal.
const V11: &str = r#"
CREATE TABLE dav_collections (
    id           INTEGER PRIMARY KEY,
    account_id   INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    kind         TEXT NOT NULL,
    name         TEXT NOT NULL,
    display_name TEXT NOT NULL,
    description  TEXT NOT NULL,
    color        TEXT NOT NULL,
    components   TEXT NOT NULL,
    sync         INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    UNIQUE (account_id, kind, name)
);

CREATE TABLE dav_objects (
    collection_id INTEGER NOT NULL REFERENCES dav_collections(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    uid           TEXT NOT NULL,
    etag          TEXT NOT NULL,
    content       TEXT NOT NULL,
    sync          INTEGER NOT NULL,
    PRIMARY KEY (collection_id, name),
    UNIQUE (collection_id, uid)
) WITHOUT ROWID;

CREATE TABLE dav_tombstones (
    collection_id INTEGER NOT NULL REFERENCES dav_collections(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    sync          INTEGER NOT NULL,
    PRIMARY KEY (collection_id, name)
) WITHOUT ROWID;
"#;

/// RFC 4918 4.3: a client may set properties of its own on a collection
/// (a calendar's order, its time zone) and must read them back.
const V12: &str = r#"
ALTER TABLE dav_collections ADD COLUMN dead TEXT NOT NULL DEFAULT '';
"#;

/// The WebDAV file space (see `crate::dav::DavFile`): a tree of
/// collections and files per account, each keyed by its path.
const V13: &str = r#"
CREATE TABLE dav_files (
    account_id   INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    path         TEXT NOT NULL,
    collection   INTEGER NOT NULL,
    content      BLOB NOT NULL,
    content_type TEXT NOT NULL,
    etag         TEXT NOT NULL,
    dead         TEXT NOT NULL,
    modified_at  INTEGER NOT NULL,
    UNIQUE (account_id, path)
);
"#;

/// The identities an account sends as (see `crate::identity::Identity`).
const V14: &str = r#"
CREATE TABLE identities (
    account_id     INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    slot           INTEGER NOT NULL,
    name           TEXT NOT NULL,
    email          TEXT NOT NULL,
    reply_to       TEXT NOT NULL,
    bcc            TEXT NOT NULL,
    text_signature TEXT NOT NULL,
    html_signature TEXT NOT NULL,
    PRIMARY KEY (account_id, slot)
) WITHOUT ROWID;
"#;

/// Each content's conversation (`crate::thread`); 0 for content stored
/// before, which stays a thread of its own.
const V15: &str = r#"
ALTER TABLE blobs ADD COLUMN thread_root INTEGER NOT NULL DEFAULT 0;
ALTER TABLE expunged ADD COLUMN thread_root INTEGER NOT NULL DEFAULT 0;
CREATE INDEX expunged_blob ON expunged(blob_id);
"#;

/// The newest schema this build knows.
pub fn latest() -> u32 {
    MIGRATIONS.last().map(|(version, _)| *version).unwrap_or(0)
}

pub fn current_version(conn: &Connection) -> Result<u32> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    INTEGER PRIMARY KEY,
             applied_at INTEGER NOT NULL
         )",
    )?;
    Ok(
        conn.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |row| {
            row.get(0)
        })?,
    )
}

/// Applies every migration newer than the database, up to `target`.
pub fn migrate_to(conn: &mut Connection, target: u32) -> Result<u32> {
    let current = current_version(conn)?;
    if current > latest() {
        return Err(StoreError::Invalid(format!(
            "the database is at schema version {current}, newer than this build of estafeta knows ({}); \
             run a newer estafeta",
            latest()
        )));
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current && *v <= target) {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // Another process may have migrated while we waited for the lock.
        let now_current: u32 = tx.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |row| {
            row.get(0)
        })?;
        if now_current >= *version {
            continue;
        }
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
            params![version, super::now()],
        )?;
        tx.commit()?;
        tracing::info!(version, "applied store migration");
    }
    current_version(conn)
}
