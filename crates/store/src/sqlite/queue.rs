//! The durable outbound queue. Delivery workers (claiming with a lease,
//! retries, DSNs) are the outbound issue's; this holds what SMTP-in hands
//! over, durably, before it answers 250.

use super::messages::reference_blob;
use crate::blob::{BlobId, FileBlobStore};
use crate::error::{Result, StoreError};
use crate::types::{NewQueuedMessage, QueueRecipient, QueuedMessage, QueuedRecipient};
use estafeta_core::model::QueueId;
use rusqlite::{Connection, params};

pub fn insert(
    conn: &Connection,
    files: &FileBlobStore,
    blob: &BlobId,
    size: u64,
    entry: &NewQueuedMessage,
) -> Result<QueueId> {
    if entry.recipients.is_empty() {
        return Err(StoreError::Invalid(
            "a queued message needs at least one recipient".into(),
        ));
    }
    reference_blob(conn, files, blob, size, 1)?;
    let now = super::now();
    conn.prepare_cached(
        "INSERT INTO queue (blob_id, size, sender, envid, ret, created_at, next_attempt)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
    )?
    .execute(params![blob.as_str(), size, entry.sender, entry.envid, entry.ret, now])?;
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

pub fn list(conn: &Connection) -> Result<Vec<QueuedMessage>> {
    let mut statement = conn.prepare_cached(
        "SELECT id, blob_id, size, sender, envid, ret, created_at, next_attempt FROM queue ORDER BY id",
    )?;
    let mut messages: Vec<QueuedMessage> = statement
        .query_map([], |row| {
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
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut recipients = conn.prepare_cached(
        "SELECT address, orcpt, notify, status, attempts, last_reply
         FROM queue_recipients WHERE queue_id = ?1 ORDER BY rowid",
    )?;
    for message in &mut messages {
        message.recipients = recipients
            .query_map([message.id.0], |row| {
                Ok(QueuedRecipient {
                    recipient: QueueRecipient {
                        address: row.get(0)?,
                        orcpt: row.get(1)?,
                        notify: row.get(2)?,
                    },
                    status: row.get(3)?,
                    attempts: row.get(4)?,
                    last_reply: row.get(5)?,
                })
            })?
            .collect::<Result<_, _>>()?;
    }
    Ok(messages)
}
