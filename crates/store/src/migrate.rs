//! `estafeta migrate`: a whole embedded installation (SQLite and blob
//! files) copied into an empty PostgreSQL store, with every id, UID,
//! MODSEQ, UIDVALIDITY and flag kept, so clients see no difference; then
//! counted and checked on both sides.

use crate::blob::{BlobId, FileBlobStore};
use crate::error::{Result, StoreError};
use crate::postgres::PostgresStore;
use crate::{Store, VerifyReport};
use rusqlite::{Connection, OpenFlags};
use std::path::Path;

/// Rows copied, per table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationReport {
    pub domains: u64,
    pub accounts: u64,
    pub aliases: u64,
    pub mailboxes: u64,
    pub messages: u64,
    pub expunged: u64,
    pub blobs: u64,
    pub queued: u64,
    /// The target store's own check after the copy.
    pub verified: VerifyReport,
}

/// One value of a row, as both databases can take it.
#[derive(Debug, Clone)]
enum Value {
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
    Null,
}

impl Value {
    fn read(row: &rusqlite::Row, i: usize) -> rusqlite::Result<Value> {
        use rusqlite::types::ValueRef;
        Ok(match row.get_ref(i)? {
            ValueRef::Integer(n) => Value::Int(n),
            ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
            ValueRef::Null => Value::Null,
            ValueRef::Real(f) => Value::Int(f as i64),
            ValueRef::Blob(b) => Value::Bytes(b.to_vec()),
        })
    }
}

/// A table to copy: its columns in SQLite and the PostgreSQL type of each.
struct Table {
    name: &'static str,
    columns: &'static [(&'static str, &'static str)],
}

/// In dependency order. Blobs go first, their content read from the
/// database or from the files.
/// A blob row of the SQLite store: id, size, references, its bytes when
/// kept in the database, and its conversation number.
type SourceBlob = (String, i64, i64, Option<Vec<u8>>, i64);

const TABLES: &[Table] = &[
    Table {
        name: "ip_pools",
        columns: &[
            ("id", "BIGINT"),
            ("name", "TEXT"),
            ("dedicated", "BOOLEAN"),
            ("created_at", "BIGINT"),
        ],
    },
    Table {
        name: "pool_addresses",
        columns: &[
            ("address", "TEXT"),
            ("pool_id", "BIGINT"),
            ("ehlo", "TEXT"),
            ("weight", "BIGINT"),
            ("warmup_start", "BIGINT"),
            ("listed", "TEXT"),
            ("listed_at", "BIGINT"),
            ("created_at", "BIGINT"),
        ],
    },
    Table {
        name: "tenants",
        columns: &[
            ("id", "BIGINT"),
            ("name", "TEXT"),
            ("created_at", "BIGINT"),
            ("paused", "TEXT"),
            ("pool_id", "BIGINT"),
        ],
    },
    Table {
        name: "domains",
        columns: &[
            ("id", "BIGINT"),
            ("name", "TEXT"),
            ("created_at", "BIGINT"),
            ("tenant_id", "BIGINT"),
        ],
    },
    Table {
        name: "accounts",
        columns: &[
            ("id", "BIGINT"),
            ("address", "TEXT"),
            ("domain_id", "BIGINT"),
            ("password_hash", "TEXT"),
            ("created_at", "BIGINT"),
        ],
    },
    Table {
        name: "aliases",
        columns: &[
            ("id", "BIGINT"),
            ("address", "TEXT"),
            ("domain_id", "BIGINT"),
            ("target", "TEXT"),
            ("created_at", "BIGINT"),
        ],
    },
    Table {
        name: "mailboxes",
        columns: &[
            ("id", "BIGINT"),
            ("account_id", "BIGINT"),
            ("name", "TEXT"),
            ("role", "TEXT"),
            ("uidvalidity", "BIGINT"),
            ("uidnext", "BIGINT"),
            ("highest_modseq", "BIGINT"),
            ("subscribed", "BOOLEAN"),
            ("recent_uid", "BIGINT"),
        ],
    },
    Table {
        name: "dangling_subscriptions",
        columns: &[("account_id", "BIGINT"), ("name", "TEXT")],
    },
    Table {
        name: "messages",
        columns: &[
            ("mailbox_id", "BIGINT"),
            ("uid", "BIGINT"),
            ("modseq", "BIGINT"),
            ("blob_id", "TEXT"),
            ("size", "BIGINT"),
            ("internal_date", "BIGINT"),
            ("date_zone", "SMALLINT"),
            ("flags", "SMALLINT"),
            ("keywords", "TEXT"),
        ],
    },
    Table {
        name: "expunged",
        columns: &[
            ("mailbox_id", "BIGINT"),
            ("uid", "BIGINT"),
            ("modseq", "BIGINT"),
            ("blob_id", "TEXT"),
            ("thread_root", "BIGINT"),
        ],
    },
    Table {
        name: "queue",
        columns: &[
            ("id", "BIGINT"),
            ("blob_id", "TEXT"),
            ("size", "BIGINT"),
            ("sender", "TEXT"),
            ("envid", "TEXT"),
            ("ret", "TEXT"),
            ("created_at", "BIGINT"),
            ("next_attempt", "BIGINT"),
            ("lease_owner", "TEXT"),
            ("lease_until", "BIGINT"),
            ("attempts", "INT"),
            ("warned", "INT"),
        ],
    },
    Table {
        name: "queue_recipients",
        columns: &[
            ("queue_id", "BIGINT"),
            (
                "rowid - (SELECT MIN(rowid) FROM queue_recipients r WHERE r.queue_id = queue_recipients.queue_id)",
                "INT",
            ),
            ("address", "TEXT"),
            ("orcpt", "TEXT"),
            ("notify", "TEXT"),
            ("status", "TEXT"),
            ("attempts", "INT"),
            ("last_reply", "TEXT"),
        ],
    },
    Table {
        name: "dkim_keys",
        columns: &[
            ("domain", "TEXT"),
            ("selector", "TEXT"),
            ("algorithm", "TEXT"),
            ("private_key", "TEXT"),
            ("created_at", "BIGINT"),
        ],
    },
    Table {
        name: "filter_tokens",
        columns: &[
            ("classifier", "SMALLINT"),
            ("scope", "BIGINT"),
            ("token", "BIGINT"),
            ("class", "SMALLINT"),
            ("count", "BIGINT"),
        ],
    },
    Table {
        name: "filter_totals",
        columns: &[
            ("classifier", "SMALLINT"),
            ("scope", "BIGINT"),
            ("class", "SMALLINT"),
            ("count", "BIGINT"),
        ],
    },
    Table {
        name: "sent_message_ids",
        columns: &[("account_id", "BIGINT"), ("message_id", "TEXT"), ("sent_at", "BIGINT")],
    },
    Table {
        name: "correspondents",
        columns: &[("account_id", "BIGINT"), ("address", "TEXT"), ("last_seen", "BIGINT")],
    },
    Table {
        name: "suppressions",
        columns: &[
            ("tenant_id", "BIGINT"),
            ("sender_domain", "TEXT"),
            ("address", "TEXT"),
            ("reason", "TEXT"),
            ("detail", "TEXT"),
            ("created_at", "BIGINT"),
            ("expires_at", "BIGINT"),
        ],
    },
    Table {
        name: "deliveries",
        columns: &[
            ("id", "BIGINT"),
            ("queue_id", "BIGINT"),
            ("queued_at", "BIGINT"),
            ("recipient", "TEXT"),
            ("sender", "TEXT"),
            ("tenant_id", "BIGINT"),
            ("sender_domain", "TEXT"),
            ("sent_at", "BIGINT"),
            ("message_id", "TEXT"),
        ],
    },
    Table {
        name: "soft_bounces",
        columns: &[("tenant_id", "BIGINT"), ("address", "TEXT"), ("at", "BIGINT")],
    },
    Table {
        name: "warmup_counts",
        columns: &[
            ("address", "TEXT"),
            ("provider", "TEXT"),
            ("day", "BIGINT"),
            ("sent", "BIGINT"),
        ],
    },
    Table {
        name: "source_stats",
        columns: &[
            ("address", "TEXT"),
            ("bucket", "BIGINT"),
            ("kind", "TEXT"),
            ("count", "BIGINT"),
        ],
    },
    Table {
        name: "dav_collections",
        columns: &[
            ("id", "BIGINT"),
            ("account_id", "BIGINT"),
            ("kind", "TEXT"),
            ("name", "TEXT"),
            ("display_name", "TEXT"),
            ("description", "TEXT"),
            ("color", "TEXT"),
            ("components", "TEXT"),
            ("sync", "BIGINT"),
            ("created_at", "BIGINT"),
            ("dead", "TEXT"),
        ],
    },
    Table {
        name: "dav_objects",
        columns: &[
            ("collection_id", "BIGINT"),
            ("name", "TEXT"),
            ("uid", "TEXT"),
            ("etag", "TEXT"),
            ("content", "TEXT"),
            ("sync", "BIGINT"),
        ],
    },
    Table {
        name: "dav_files",
        columns: &[
            ("account_id", "BIGINT"),
            ("path", "TEXT"),
            ("collection", "BOOLEAN"),
            ("content", "BYTEA"),
            ("content_type", "TEXT"),
            ("etag", "TEXT"),
            ("dead", "TEXT"),
            ("modified_at", "BIGINT"),
        ],
    },
    Table {
        name: "identities",
        columns: &[
            ("account_id", "BIGINT"),
            ("slot", "BIGINT"),
            ("name", "TEXT"),
            ("email", "TEXT"),
            ("reply_to", "TEXT"),
            ("bcc", "TEXT"),
            ("text_signature", "TEXT"),
            ("html_signature", "TEXT"),
        ],
    },
    Table {
        name: "dav_tombstones",
        columns: &[("collection_id", "BIGINT"), ("name", "TEXT"), ("sync", "BIGINT")],
    },
    Table {
        name: "send_stats",
        columns: &[
            ("tenant_id", "BIGINT"),
            ("sender_domain", "TEXT"),
            ("bucket", "BIGINT"),
            ("kind", "TEXT"),
            ("count", "BIGINT"),
        ],
    },
];

/// PostgreSQL column names where they differ from the SQLite expression.
fn target_column(table: &str, i: usize, source: &'static str) -> &'static str {
    match (table, i) {
        ("queue_recipients", 1) => "position",
        _ => source,
    }
}

fn read_table(conn: &Connection, table: &Table) -> Result<Vec<Vec<Value>>> {
    let columns: Vec<&str> = table.columns.iter().map(|(c, _)| *c).collect();
    let mut statement = conn.prepare(&format!("SELECT {} FROM {}", columns.join(", "), table.name))?;
    let rows = statement.query_map([], |row| (0..columns.len()).map(|i| Value::read(row, i)).collect())?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

/// Copies the installation in `data_dir` into the PostgreSQL at `url`,
/// which must hold no mail yet. One transaction: all or nothing.
pub async fn sqlite_to_postgres(data_dir: &Path, url: &str) -> Result<MigrationReport> {
    let db_path = data_dir.join("estafeta.db");
    if !db_path.exists() {
        return Err(StoreError::NotFound(format!(
            "no Estafeta store at {}",
            db_path.display()
        )));
    }
    // A consistent snapshot of the source, read off the async runtime.
    let (tables, blobs, last_uidvalidity) = tokio::task::spawn_blocking(move || -> Result<_> {
        // A store last opened by an older build is brought up to this
        // build's schema first, as the server would on start.
        crate::sqlite::schema::migrate_to(&mut Connection::open(&db_path)?, crate::sqlite::schema::latest())?;
        let mut conn = Connection::open_with_flags(&db_path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        let tx = conn.transaction()?;
        let mut tables = Vec::with_capacity(TABLES.len());
        for table in TABLES {
            tables.push(read_table(&tx, table)?);
        }
        // The thread number is carried as it is (0 stays 0): a thread id
        // a client has seen must not change.
        let blobs: Vec<SourceBlob> = tx
            .prepare(
                "SELECT blobs.id, size, refcount, data, thread_root FROM blobs
                 LEFT JOIN blob_contents ON blob_contents.rowid = blobs.content",
            )?
            .query_map([], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?))
            })?
            .collect::<std::result::Result<_, _>>()?;
        let last: i64 = tx
            .query_row(
                "SELECT COALESCE(MAX(value), 0) FROM meta WHERE key = 'last_uidvalidity'",
                [],
                |row| row.get(0),
            )
            .unwrap_or(0);
        Ok((tables, blobs, last))
    })
    .await
    .map_err(|error| StoreError::Io(error.to_string()))??;
    let files = FileBlobStore::open(&data_dir.join("blobs"))?;

    let target = PostgresStore::open(url).await?;
    if !target.domain_list().await?.is_empty() {
        return Err(StoreError::InUse(
            "the PostgreSQL store already holds domains; migrate into an empty database".into(),
        ));
    }
    let mut db = target.pool_object().await?;
    let tx = db.transaction().await?;
    let mut report = MigrationReport::default();
    for (id, size, refcount, in_database, thread_root) in blobs {
        let blob = BlobId::parse(&id).ok_or_else(|| StoreError::Database(format!("bad blob id {id}")))?;
        let data = match in_database {
            Some(data) => data,
            None => files.get(&blob)?,
        };
        if BlobId::of(&data) != blob {
            return Err(StoreError::Database(format!(
                "blob {id} does not match its content; run verify-data"
            )));
        }
        tx.execute(
            "INSERT INTO blobs (id, size, refcount, data, thread_root) VALUES ($1, $2, $3, $4, $5)",
            &[&id, &size, &refcount, &data, &thread_root],
        )
        .await?;
        report.blobs += 1;
    }
    for (table, rows) in TABLES.iter().zip(&tables) {
        let names: Vec<&str> = (0..table.columns.len())
            .map(|i| target_column(table.name, i, table.columns[i].0))
            .collect();
        let placeholders: Vec<String> = table
            .columns
            .iter()
            .enumerate()
            .map(|(i, (_, kind))| format!("${}::TEXT::{kind}", i + 1))
            .collect();
        // The default tenant is made by the target's migrations; what it
        // was given (a pause, a pool) comes over.
        let conflict = if table.name == "tenants" {
            " ON CONFLICT (id) DO UPDATE SET paused = EXCLUDED.paused, pool_id = EXCLUDED.pool_id"
        } else {
            ""
        };
        let sql = format!(
            "INSERT INTO {} ({}) VALUES ({}){conflict}",
            table.name,
            names.join(", "),
            placeholders.join(", ")
        );
        let statement = tx.prepare(&sql).await?;
        for row in rows {
            // Sent as text and cast by the server to each column's type.
            let texts: Vec<Option<String>> = row
                .iter()
                .zip(table.columns)
                .map(|(value, (_, kind))| match value {
                    Value::Null => None,
                    Value::Int(n) if *kind == "BOOLEAN" => Some((*n != 0).to_string()),
                    Value::Int(n) => Some(n.to_string()),
                    Value::Text(t) => Some(t.clone()),
                    // PostgreSQL reads `\x` and hex as bytea.
                    Value::Bytes(b) if *kind == "BYTEA" => Some(format!("\\x{}", hex::encode(b))),
                    Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
                })
                .collect();
            let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = texts
                .iter()
                .map(|t| t as &(dyn tokio_postgres::types::ToSql + Sync))
                .collect();
            tx.execute_raw(&statement, params).await?;
        }
        let count = rows.len() as u64;
        match table.name {
            "domains" => report.domains = count,
            "accounts" => report.accounts = count,
            "aliases" => report.aliases = count,
            "mailboxes" => report.mailboxes = count,
            "messages" => report.messages = count,
            "expunged" => report.expunged = count,
            "queue" => report.queued = count,
            _ => {}
        }
    }
    // New rows continue after the copied ids; UIDVALIDITY never goes back.
    for table in [
        "ip_pools",
        "tenants",
        "domains",
        "accounts",
        "aliases",
        "mailboxes",
        "queue",
        "deliveries",
        "dav_collections",
    ] {
        tx.batch_execute(&format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), GREATEST((SELECT MAX(id) FROM {table}), 1))"
        ))
        .await?;
    }
    tx.execute(
        "UPDATE last_uidvalidity SET value = GREATEST(value, $1, (SELECT COALESCE(MAX(uidvalidity), 0) FROM mailboxes))",
        &[&last_uidvalidity],
    )
    .await?;
    tx.commit().await?;
    drop(db);

    report.verified = target.verify(false).await?;
    let counted = target.count_rows().await?;
    let expected = [
        ("domains", report.domains),
        ("accounts", report.accounts),
        ("aliases", report.aliases),
        ("mailboxes", report.mailboxes),
        ("messages", report.messages),
        ("expunged", report.expunged),
        ("blobs", report.blobs),
        ("queue", report.queued),
    ];
    for (table, count) in expected {
        let found = counted.get(table).copied().unwrap_or(0);
        if found != count {
            return Err(StoreError::Database(format!(
                "after the copy {table} has {found} rows in PostgreSQL, {count} in SQLite"
            )));
        }
    }
    if !report.verified.is_healthy() {
        return Err(StoreError::Database(format!(
            "the copy does not verify: {:?}",
            report.verified
        )));
    }
    Ok(report)
}
