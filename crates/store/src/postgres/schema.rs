//! The PostgreSQL schema: numbered migrations applied at open under an
//! advisory lock, so nodes starting together migrate once.

use super::Db;
use crate::error::{Result, StoreError};

pub const MIGRATIONS: &[(i32, &str)] = &[
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
    (16, V16),
];

/// Any fixed number: the advisory lock all nodes take to migrate.
const MIGRATION_LOCK: i64 = 0x4573_7461_6665_7461;

const V1: &str = r#"
-- RFC 9051 2.3.1.1: the last UIDVALIDITY handed out; one row.
CREATE TABLE last_uidvalidity (value BIGINT NOT NULL);
INSERT INTO last_uidvalidity (value) VALUES (0);

CREATE TABLE domains (
    id         BIGSERIAL PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE accounts (
    id            BIGSERIAL PRIMARY KEY,
    address       TEXT NOT NULL UNIQUE,
    domain_id     BIGINT NOT NULL REFERENCES domains(id),
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);
CREATE INDEX accounts_domain ON accounts(domain_id);

CREATE TABLE aliases (
    id         BIGSERIAL PRIMARY KEY,
    address    TEXT NOT NULL UNIQUE,
    domain_id  BIGINT NOT NULL REFERENCES domains(id),
    target     TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX aliases_domain ON aliases(domain_id);
CREATE INDEX aliases_target ON aliases(target);

CREATE TABLE mailboxes (
    id             BIGSERIAL PRIMARY KEY,
    account_id     BIGINT NOT NULL REFERENCES accounts(id),
    name           TEXT NOT NULL,
    role           TEXT,
    uidvalidity    BIGINT NOT NULL,
    uidnext        BIGINT NOT NULL,
    highest_modseq BIGINT NOT NULL,
    subscribed     BOOLEAN NOT NULL,
    UNIQUE (account_id, name)
);

-- Content lives here too, so every node can serve every message.
CREATE TABLE blobs (
    id       TEXT PRIMARY KEY,
    size     BIGINT NOT NULL,
    refcount BIGINT NOT NULL CHECK (refcount > 0),
    data     BYTEA NOT NULL
);

CREATE TABLE messages (
    mailbox_id    BIGINT NOT NULL REFERENCES mailboxes(id),
    uid           BIGINT NOT NULL,
    modseq        BIGINT NOT NULL,
    blob_id       TEXT NOT NULL REFERENCES blobs(id),
    size          BIGINT NOT NULL,
    internal_date BIGINT NOT NULL,
    flags         SMALLINT NOT NULL,
    keywords      TEXT NOT NULL,
    PRIMARY KEY (mailbox_id, uid)
);
CREATE INDEX messages_modseq ON messages(mailbox_id, modseq);
CREATE INDEX messages_blob ON messages(blob_id);

CREATE TABLE expunged (
    mailbox_id BIGINT NOT NULL REFERENCES mailboxes(id),
    uid        BIGINT NOT NULL,
    modseq     BIGINT NOT NULL,
    PRIMARY KEY (mailbox_id, uid)
);

CREATE TABLE queue (
    id           BIGSERIAL PRIMARY KEY,
    blob_id      TEXT NOT NULL REFERENCES blobs(id),
    size         BIGINT NOT NULL,
    sender       TEXT NOT NULL,
    envid        TEXT,
    ret          TEXT,
    created_at   BIGINT NOT NULL,
    next_attempt BIGINT NOT NULL,
    lease_owner  TEXT,
    lease_until  BIGINT
);
CREATE INDEX queue_due ON queue(next_attempt);

CREATE TABLE queue_recipients (
    queue_id   BIGINT NOT NULL REFERENCES queue(id),
    position   INT NOT NULL,
    address    TEXT NOT NULL,
    orcpt      TEXT,
    notify     TEXT,
    status     TEXT NOT NULL,
    attempts   INT NOT NULL,
    last_reply TEXT,
    PRIMARY KEY (queue_id, address)
);
"#;

/// POP3 maildrop locks as leases, so a session on any node excludes a
/// second one on another, and a crashed node's lock runs out.
const V2: &str = r#"
CREATE TABLE maildrop_locks (
    account_id BIGINT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    holder     TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
"#;

/// Outbound delivery: attempts per message for the retry schedule, the
/// delay warning sent, and DKIM keys per domain.
const V3: &str = r#"
ALTER TABLE queue ADD COLUMN attempts INT NOT NULL DEFAULT 0;
ALTER TABLE queue ADD COLUMN warned INT NOT NULL DEFAULT 0;
CREATE TABLE dkim_keys (
    domain      TEXT PRIMARY KEY,
    selector    TEXT NOT NULL,
    algorithm   TEXT NOT NULL,
    private_key TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
"#;

/// Failed logins counted for the whole cluster, so guessing a password
/// across several nodes locks out as fast as against one.
const V4: &str = r#"
CREATE TABLE login_failures (
    key          TEXT PRIMARY KEY,
    failures     INT NOT NULL,
    window_start BIGINT NOT NULL,
    locked_until BIGINT NOT NULL
);
"#;

/// The filter's knowledge: classifier token counts (scope 0 is the
/// server's, otherwise an account id), correspondents, greylisting.
const V5: &str = r#"
CREATE TABLE filter_tokens (
    classifier SMALLINT NOT NULL,
    scope      BIGINT NOT NULL,
    token      BIGINT NOT NULL,
    class      SMALLINT NOT NULL,
    count      BIGINT NOT NULL,
    PRIMARY KEY (classifier, scope, token, class)
);
CREATE TABLE filter_totals (
    classifier SMALLINT NOT NULL,
    scope      BIGINT NOT NULL,
    class      SMALLINT NOT NULL,
    count      BIGINT NOT NULL,
    PRIMARY KEY (classifier, scope, class)
);
CREATE TABLE correspondents (
    account_id BIGINT NOT NULL,
    address    TEXT NOT NULL,
    last_seen  BIGINT NOT NULL,
    PRIMARY KEY (account_id, address)
);
CREATE TABLE greylist (
    key        TEXT PRIMARY KEY,
    first_seen BIGINT NOT NULL,
    passed     BOOLEAN NOT NULL,
    last_seen  BIGINT NOT NULL
);
"#;

/// Tenants own domains; each has its suppression list.
const V6: &str = r#"
CREATE TABLE tenants (
    id         BIGSERIAL PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);
INSERT INTO tenants (id, name, created_at) VALUES (1, 'default', EXTRACT(EPOCH FROM now())::BIGINT);
SELECT setval('tenants_id_seq', 1);
ALTER TABLE domains ADD COLUMN tenant_id BIGINT NOT NULL DEFAULT 1 REFERENCES tenants(id);
CREATE INDEX domains_tenant ON domains(tenant_id);

CREATE TABLE suppressions (
    tenant_id     BIGINT NOT NULL REFERENCES tenants(id),
    sender_domain TEXT NOT NULL,
    address       TEXT NOT NULL,
    reason        TEXT NOT NULL,
    detail        TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT,
    PRIMARY KEY (tenant_id, address, sender_domain)
);
ALTER TABLE tenants ADD COLUMN paused TEXT;

CREATE TABLE deliveries (
    id            BIGSERIAL PRIMARY KEY,
    queue_id      BIGINT NOT NULL,
    queued_at     BIGINT NOT NULL,
    recipient     TEXT NOT NULL,
    sender        TEXT NOT NULL,
    tenant_id     BIGINT NOT NULL,
    sender_domain TEXT NOT NULL,
    sent_at       BIGINT NOT NULL,
    UNIQUE (queue_id, queued_at, recipient)
);
CREATE INDEX deliveries_sent ON deliveries(sent_at);

CREATE TABLE send_stats (
    tenant_id     BIGINT NOT NULL,
    sender_domain TEXT NOT NULL,
    bucket        BIGINT NOT NULL,
    kind          TEXT NOT NULL,
    count         BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, sender_domain, bucket, kind)
);

CREATE TABLE soft_bounces (
    tenant_id BIGINT NOT NULL,
    address   TEXT NOT NULL,
    at        BIGINT NOT NULL
);
CREATE INDEX soft_bounces_address ON soft_bounces(tenant_id, address);
"#;

const V7: &str = r#"
CREATE TABLE sent_message_ids (
    account_id BIGINT NOT NULL,
    message_id TEXT NOT NULL,
    sent_at    BIGINT NOT NULL,
    PRIMARY KEY (account_id, message_id)
);

ALTER TABLE deliveries ADD COLUMN message_id TEXT NOT NULL DEFAULT '';
CREATE INDEX deliveries_message ON deliveries(message_id, recipient);

CREATE TABLE ip_pools (
    id         BIGSERIAL PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    dedicated  BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE pool_addresses (
    address      TEXT PRIMARY KEY,
    pool_id      BIGINT NOT NULL REFERENCES ip_pools(id),
    ehlo         TEXT NOT NULL,
    weight       BIGINT NOT NULL,
    warmup_start BIGINT,
    listed       TEXT,
    listed_at    BIGINT,
    created_at   BIGINT NOT NULL
);
ALTER TABLE tenants ADD COLUMN pool_id BIGINT REFERENCES ip_pools(id);

CREATE TABLE warmup_counts (
    address  TEXT NOT NULL,
    provider TEXT NOT NULL,
    day      BIGINT NOT NULL,
    sent     BIGINT NOT NULL,
    PRIMARY KEY (address, provider, day)
);

CREATE TABLE source_stats (
    address TEXT NOT NULL,
    bucket  BIGINT NOT NULL,
    kind    TEXT NOT NULL,
    count   BIGINT NOT NULL,
    PRIMARY KEY (address, bucket, kind)
);
"#;

// RFC 3501 2.3.2: the highest UID some session has taken as \Recent.
const V8: &str = r#"
ALTER TABLE mailboxes ADD COLUMN recent_uid BIGINT NOT NULL DEFAULT 0;
"#;

// RFC 9051 6.3.7: a subscription outlives its mailbox, and a name may be
// subscribed before it exists. Subscriptions of existing mailboxes stay
// on their row; these are the others.
const V9: &str = r#"
CREATE TABLE dangling_subscriptions (
    account_id BIGINT NOT NULL REFERENCES accounts(id),
    name       TEXT NOT NULL,
    PRIMARY KEY (account_id, name)
);
"#;

// RFC 3501 2.3.3: INTERNALDATE keeps the zone APPEND gave it, in minutes
// east of UTC, for FETCH and for SEARCH BEFORE/ON/SINCE, whose dates are
// read in that zone.
const V10: &str = r#"
ALTER TABLE messages ADD COLUMN date_zone SMALLINT NOT NULL DEFAULT 0;
"#;

// RFC 8620 5.2: JMAP's Email/changes names what was removed by its
// content, which IMAP's VANISHED does not need; rows from before have none.
const V11: &str = r#"
ALTER TABLE expunged ADD COLUMN blob_id TEXT;
"#;

/// Calendars and address books, as SQLite's V11.
const V12: &str = r#"
CREATE TABLE dav_collections (
    id           BIGSERIAL PRIMARY KEY,
    account_id   BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    kind         TEXT NOT NULL,
    name         TEXT NOT NULL,
    display_name TEXT NOT NULL,
    description  TEXT NOT NULL,
    color        TEXT NOT NULL,
    components   TEXT NOT NULL,
    sync         BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    UNIQUE (account_id, kind, name)
);

CREATE TABLE dav_objects (
    collection_id BIGINT NOT NULL REFERENCES dav_collections(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    uid           TEXT NOT NULL,
    etag          TEXT NOT NULL,
    content       TEXT NOT NULL,
    sync          BIGINT NOT NULL,
    PRIMARY KEY (collection_id, name),
    UNIQUE (collection_id, uid)
);

CREATE TABLE dav_tombstones (
    collection_id BIGINT NOT NULL REFERENCES dav_collections(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    sync          BIGINT NOT NULL,
    PRIMARY KEY (collection_id, name)
);
"#;

/// Properties clients set on a collection, as SQLite's V12.
const V13: &str = r#"
ALTER TABLE dav_collections ADD COLUMN dead TEXT NOT NULL DEFAULT '';
"#;

/// The WebDAV file space, as SQLite's V13.
const V14: &str = r#"
CREATE TABLE dav_files (
    account_id   BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    -- Byte order, as SQLite's: a subtree is one range (dav::subtree_range).
    path         TEXT COLLATE "C" NOT NULL,
    collection   BOOLEAN NOT NULL,
    content      BYTEA NOT NULL,
    content_type TEXT NOT NULL,
    etag         TEXT NOT NULL,
    dead         TEXT NOT NULL,
    modified_at  BIGINT NOT NULL,
    PRIMARY KEY (account_id, path)
);
"#;

/// Identities, as SQLite's V14.
const V15: &str = r#"
CREATE TABLE identities (
    account_id     BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    slot           BIGINT NOT NULL,
    name           TEXT NOT NULL,
    email          TEXT NOT NULL,
    reply_to       TEXT NOT NULL,
    bcc            TEXT NOT NULL,
    text_signature TEXT NOT NULL,
    html_signature TEXT NOT NULL,
    PRIMARY KEY (account_id, slot)
);
"#;

/// Each content's conversation, as SQLite's V15.
const V16: &str = r#"
ALTER TABLE blobs ADD COLUMN thread_root BIGINT NOT NULL DEFAULT 0;
ALTER TABLE expunged ADD COLUMN thread_root BIGINT NOT NULL DEFAULT 0;
CREATE INDEX expunged_blob ON expunged(blob_id);
"#;

pub fn latest() -> i32 {
    MIGRATIONS.last().map_or(0, |(version, _)| *version)
}

/// Applies every migration the database lacks; returns its version.
pub async fn migrate(db: &mut Db) -> Result<i32> {
    let tx = db.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INT PRIMARY KEY, applied_at BIGINT NOT NULL)",
    )
    .await?;
    let current: i32 = tx
        .query_one("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", &[])
        .await?
        .get(0);
    if current > latest() {
        return Err(StoreError::Invalid(format!(
            "the database is at schema version {current}, newer than this build of estafeta knows ({}); \
             run a newer estafeta",
            latest()
        )));
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        tx.batch_execute(sql).await?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
            &[version, &crate::sqlite::now()],
        )
        .await?;
        tracing::info!(version, "applied store migration (postgres)");
    }
    tx.commit().await?;
    Ok(latest().max(current))
}
