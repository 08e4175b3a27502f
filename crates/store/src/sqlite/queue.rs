//! The durable outbound queue: what SMTP-in hands over before it answers
//! 250, claimed by delivery workers under a lease, recipients marked as
//! they are delivered, and removed when none is left pending.

use super::Effects;
use super::blobs::{self, NewBlob};
use super::messages::release_blobs;
use crate::blob::{BlobId, FileBlobStore};
use crate::error::{Result, StoreError};
use crate::types::{
    NewQueuedMessage, QueueRecipient, QueuedMessage, QueuedRecipient, RecipientOutcome, RecipientStatus,
};
use estafeta_core::model::QueueId;
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::BTreeMap;

pub fn insert(
    conn: &Connection,
    files: &FileBlobStore,
    blob: &NewBlob,
    size: u64,
    entry: &NewQueuedMessage,
) -> Result<QueueId> {
    if entry.recipients.is_empty() {
        return Err(StoreError::Invalid(
            "a queued message needs at least one recipient".into(),
        ));
    }
    blobs::reference(conn, files, blob, size, 1)?;
    let now = super::now();
    conn.prepare_cached(
        "INSERT INTO queue (blob_id, size, sender, envid, ret, created_at, next_attempt)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
    )?
    .execute(params![
        blob.id.as_str(),
        size,
        entry.sender,
        entry.envid,
        entry.ret,
        now
    ])?;
    let id = QueueId(conn.last_insert_rowid());
    let mut add = conn.prepare_cached(
        "INSERT INTO queue_recipients (queue_id, address, orcpt, notify, status, attempts)
         VALUES (?1, ?2, ?3, ?4, 'pending', 0)",
    )?;
    for recipient in &entry.recipients {
        add.execute(params![id.0, recipient.address, recipient.orcpt, recipient.notify])
            .map_err(|error| match error {
                rusqlite::Error::SqliteFailure(code, _) if code.code == rusqlite::ErrorCode::ConstraintViolation => {
                    StoreError::Invalid(format!("recipient {} given twice", recipient.address))
                }
                other => other.into(),
            })?;
    }
    Ok(id)
}

const COLUMNS: &str =
    "id, blob_id, size, sender, envid, ret, created_at, next_attempt, attempts, warned, lease_owner, lease_until";

fn message(row: &rusqlite::Row) -> rusqlite::Result<QueuedMessage> {
    let blob: String = row.get(1)?;
    Ok(QueuedMessage {
        id: QueueId(row.get(0)?),
        blob: BlobId::parse(&blob).unwrap_or_else(|| BlobId::of(b"")),
        size: row.get(2)?,
        sender: row.get(3)?,
        recipients: Vec::new(),
        envid: row.get(4)?,
        ret: row.get(5)?,
        created_at: row.get(6)?,
        next_attempt: row.get(7)?,
        attempts: row.get(8)?,
        warned: row.get::<_, i64>(9)? != 0,
        claimed_by: match (row.get::<_, Option<String>>(10)?, row.get::<_, Option<i64>>(11)?) {
            (Some(owner), Some(until)) => Some((owner, until)),
            _ => None,
        },
    })
}

/// The recipients of `id` in the order they were given; with
/// `pending_only`, those still to be delivered.
fn recipients(conn: &Connection, id: QueueId, pending_only: bool) -> Result<Vec<QueuedRecipient>> {
    let sql = if pending_only {
        "SELECT address, orcpt, notify, status, attempts, last_reply
         FROM queue_recipients WHERE queue_id = ?1 AND status = 'pending' ORDER BY rowid"
    } else {
        "SELECT address, orcpt, notify, status, attempts, last_reply
         FROM queue_recipients WHERE queue_id = ?1 ORDER BY rowid"
    };
    let mut statement = conn.prepare_cached(sql)?;
    let rows = statement.query_map([id.0], |row| {
        Ok(QueuedRecipient {
            recipient: QueueRecipient {
                address: row.get(0)?,
                orcpt: row.get(1)?,
                notify: row.get(2)?,
            },
            status: RecipientStatus::parse(&row.get::<_, String>(3)?),
            attempts: row.get(4)?,
            last_reply: row.get(5)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn list(conn: &Connection) -> Result<Vec<QueuedMessage>> {
    let mut messages: Vec<QueuedMessage> = conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM queue ORDER BY id"))?
        .query_map([], message)?
        .collect::<Result<_, _>>()?;
    for message in &mut messages {
        message.recipients = recipients(conn, message.id, false)?;
    }
    Ok(messages)
}

pub fn get(conn: &Connection, id: QueueId) -> Result<Option<QueuedMessage>> {
    let found = conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM queue WHERE id = ?1"))?
        .query_row([id.0], message)
        .optional()?;
    let Some(mut found) = found else {
        return Ok(None);
    };
    found.recipients = recipients(conn, id, false)?;
    Ok(Some(found))
}

pub fn claim(conn: &Connection, owner: &str, limit: usize, lease: u64) -> Result<Vec<QueuedMessage>> {
    let now = super::now();
    let mut claimed: Vec<QueuedMessage> = conn
        .prepare_cached(&format!(
            "UPDATE queue SET lease_owner = ?1, lease_until = ?2
             WHERE id IN (SELECT id FROM queue
                          WHERE next_attempt <= ?3 AND (lease_until IS NULL OR lease_until < ?3)
                          ORDER BY next_attempt, id LIMIT ?4)
             RETURNING {COLUMNS}"
        ))?
        .query_map(params![owner, now + lease as i64, now, limit as i64], message)?
        .collect::<Result<_, _>>()?;
    claimed.sort_by_key(|m| (m.next_attempt, m.id));
    for message in &mut claimed {
        message.recipients = recipients(conn, message.id, true)?;
    }
    Ok(claimed)
}

/// The lease check every change by a worker starts with: the lease must
/// be `owner`'s and still running, since once it has run out another
/// claim may already be sending the same message.
fn held(conn: &Connection, id: QueueId, owner: &str) -> Result<()> {
    let holder: Option<(Option<String>, Option<i64>)> = conn
        .prepare_cached("SELECT lease_owner, lease_until FROM queue WHERE id = ?1")?
        .query_row([id.0], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    match holder {
        Some((Some(holder), Some(until))) if holder == owner && until >= super::now() => Ok(()),
        Some(_) => Err(StoreError::InUse(format!(
            "queue message {id} is not leased to {owner}"
        ))),
        None => Err(StoreError::NotFound(format!("queue message {id}"))),
    }
}

/// Extends a running lease: a worker renews while it delivers, so a slow
/// peer does not let the lease run out under it.
pub fn renew(conn: &Connection, id: QueueId, owner: &str, lease: u64) -> Result<()> {
    held(conn, id, owner)?;
    conn.prepare_cached("UPDATE queue SET lease_until = ?2 WHERE id = ?1")?
        .execute(params![id.0, super::now() + lease as i64])?;
    Ok(())
}

pub fn record(conn: &Connection, id: QueueId, owner: &str, outcomes: &[RecipientOutcome]) -> Result<()> {
    held(conn, id, owner)?;
    let mut update = conn.prepare_cached(
        "UPDATE queue_recipients SET status = ?3, attempts = attempts + 1, last_reply = ?4
         WHERE queue_id = ?1 AND address = ?2 AND status = 'pending'",
    )?;
    for outcome in outcomes {
        update.execute(params![id.0, outcome.address, outcome.status.as_str(), outcome.reply])?;
    }
    Ok(())
}

pub fn release(
    conn: &Connection,
    effects: &mut Effects,
    id: QueueId,
    owner: &str,
    next_attempt: i64,
    warned: bool,
) -> Result<bool> {
    held(conn, id, owner)?;
    let pending: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM queue_recipients WHERE queue_id = ?1 AND status = 'pending'")?
        .query_row([id.0], |row| row.get(0))?;
    if pending == 0 {
        return remove(conn, effects, id);
    }
    conn.prepare_cached(
        "UPDATE queue SET next_attempt = ?2, warned = ?3, attempts = attempts + 1,
                          lease_owner = NULL, lease_until = NULL
         WHERE id = ?1",
    )?
    .execute(params![id.0, next_attempt, warned as i64])?;
    Ok(false)
}

pub fn retry(conn: &Connection, id: Option<QueueId>) -> Result<u64> {
    let now = super::now();
    let changed = match id {
        Some(id) => conn
            .prepare_cached("UPDATE queue SET next_attempt = ?2 WHERE id = ?1")?
            .execute(params![id.0, now])?,
        None => conn
            .prepare_cached("UPDATE queue SET next_attempt = ?1 WHERE next_attempt > ?1")?
            .execute([now])?,
    };
    Ok(changed as u64)
}

pub fn remove(conn: &Connection, effects: &mut Effects, id: QueueId) -> Result<bool> {
    conn.prepare_cached("DELETE FROM queue_recipients WHERE queue_id = ?1")?
        .execute([id.0])?;
    let blob: Option<String> = conn
        .prepare_cached("DELETE FROM queue WHERE id = ?1 RETURNING blob_id")?
        .query_row([id.0], |row| row.get(0))
        .optional()?;
    let Some(blob) = blob else {
        return Ok(false);
    };
    let blob = BlobId::parse(&blob).ok_or_else(|| StoreError::Database("bad blob id".into()))?;
    release_blobs(conn, effects, BTreeMap::from([(blob, 1)]))?;
    Ok(true)
}

/// Leases left by an earlier run of this node: void once it holds the
/// data dir again (one server per data dir).
pub fn clear_leases(conn: &Connection) -> Result<u64> {
    Ok(conn
        .prepare_cached("UPDATE queue SET lease_owner = NULL, lease_until = NULL WHERE lease_owner IS NOT NULL")?
        .execute([])? as u64)
}
