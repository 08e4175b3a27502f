//! The durable outbound queue (PostgreSQL).

use super::Tx;
use super::messages::{reference_blob, release_blobs};
use crate::blob::BlobId;
use crate::error::{Result, StoreError};
use crate::sqlite::now;
use crate::types::{
    NewQueuedMessage, QueueRecipient, QueuedMessage, QueuedRecipient, RecipientOutcome, RecipientStatus,
};
use estafeta_core::model::QueueId;

pub async fn insert(tx: &Tx<'_>, blob: &BlobId, data: &[u8], entry: &NewQueuedMessage) -> Result<QueueId> {
    if entry.recipients.is_empty() {
        return Err(StoreError::Invalid(
            "a queued message needs at least one recipient".into(),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(twice) = entry.recipients.iter().find(|r| !seen.insert(r.address.as_str())) {
        return Err(StoreError::Invalid(format!("recipient {} given twice", twice.address)));
    }
    reference_blob(tx, blob, data, 1).await?;
    let now = now();
    let id: i64 = tx
        .query_one(
            "INSERT INTO queue (blob_id, size, sender, envid, ret, created_at, next_attempt)
             VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
            &[
                &blob.as_str(),
                &(data.len() as i64),
                &entry.sender,
                &entry.envid,
                &entry.ret,
                &now,
            ],
        )
        .await?
        .get(0);
    for (position, recipient) in entry.recipients.iter().enumerate() {
        tx.execute(
            "INSERT INTO queue_recipients (queue_id, position, address, orcpt, notify, status, attempts)
             VALUES ($1, $2, $3, $4, $5, 'pending', 0)",
            &[
                &id,
                &(position as i32),
                &recipient.address,
                &recipient.orcpt,
                &recipient.notify,
            ],
        )
        .await?;
    }
    Ok(QueueId(id))
}

const COLUMNS: &str =
    "id, blob_id, size, sender, envid, ret, created_at, next_attempt, attempts, warned, lease_owner, lease_until";

fn message(row: &tokio_postgres::Row) -> Result<QueuedMessage> {
    let blob: String = row.get(1);
    Ok(QueuedMessage {
        id: QueueId(row.get(0)),
        blob: BlobId::parse(&blob).ok_or_else(|| StoreError::Database("bad blob id".into()))?,
        size: row.get::<_, i64>(2) as u64,
        sender: row.get(3),
        recipients: Vec::new(),
        envid: row.get(4),
        ret: row.get(5),
        created_at: row.get(6),
        next_attempt: row.get(7),
        attempts: row.get::<_, i32>(8) as u32,
        warned: row.get::<_, i32>(9) != 0,
        claimed_by: match (row.get::<_, Option<String>>(10), row.get::<_, Option<i64>>(11)) {
            (Some(owner), Some(until)) => Some((owner, until)),
            _ => None,
        },
    })
}

/// The recipients of `id` in the order they were given; with
/// `pending_only`, those still to be delivered.
async fn recipients(tx: &Tx<'_>, id: QueueId, pending_only: bool) -> Result<Vec<QueuedRecipient>> {
    let rows = tx
        .query(
            "SELECT address, orcpt, notify, status, attempts, last_reply
             FROM queue_recipients WHERE queue_id = $1 AND (status = 'pending' OR NOT $2)
             ORDER BY position",
            &[&id.0, &pending_only],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| QueuedRecipient {
            recipient: QueueRecipient {
                address: r.get(0),
                orcpt: r.get(1),
                notify: r.get(2),
            },
            status: RecipientStatus::parse(r.get(3)),
            attempts: r.get::<_, i32>(4) as u32,
            last_reply: r.get(5),
        })
        .collect())
}

pub async fn list(tx: &Tx<'_>) -> Result<Vec<QueuedMessage>> {
    let rows = tx
        .query(&format!("SELECT {COLUMNS} FROM queue ORDER BY id"), &[])
        .await?;
    let mut messages = Vec::with_capacity(rows.len());
    for row in rows {
        let mut found = message(&row)?;
        found.recipients = recipients(tx, found.id, false).await?;
        messages.push(found);
    }
    Ok(messages)
}

pub async fn get(tx: &Tx<'_>, id: QueueId) -> Result<Option<QueuedMessage>> {
    let Some(row) = tx
        .query_opt(&format!("SELECT {COLUMNS} FROM queue WHERE id = $1"), &[&id.0])
        .await?
    else {
        return Ok(None);
    };
    let mut found = message(&row)?;
    found.recipients = recipients(tx, id, false).await?;
    Ok(Some(found))
}

/// SKIP LOCKED: nodes claiming at the same moment take different rows
/// instead of queueing behind each other.
pub async fn claim(tx: &Tx<'_>, owner: &str, limit: usize, lease: i64) -> Result<Vec<QueuedMessage>> {
    let now = now();
    let rows = tx
        .query(
            &format!(
                "UPDATE queue SET lease_owner = $1, lease_until = $2
                 WHERE id IN (SELECT id FROM queue
                              WHERE next_attempt <= $3 AND (lease_until IS NULL OR lease_until < $3)
                              ORDER BY next_attempt, id LIMIT $4 FOR UPDATE SKIP LOCKED)
                 RETURNING {COLUMNS}"
            ),
            &[&owner, &(now + lease), &now, &(limit as i64)],
        )
        .await?;
    let mut claimed = Vec::with_capacity(rows.len());
    for row in rows {
        let mut found = message(&row)?;
        found.recipients = recipients(tx, found.id, true).await?;
        claimed.push(found);
    }
    claimed.sort_by_key(|m| (m.next_attempt, m.id));
    Ok(claimed)
}

/// The lease check every change by a worker starts with; the row stays
/// locked to the end of the transaction. The lease must be `owner`'s and
/// still running: once it has run out another claim may be sending.
async fn held(tx: &Tx<'_>, id: QueueId, owner: &str) -> Result<()> {
    let holder: Option<(Option<String>, Option<i64>)> = tx
        .query_opt(
            "SELECT lease_owner, lease_until FROM queue WHERE id = $1 FOR UPDATE",
            &[&id.0],
        )
        .await?
        .map(|row| (row.get(0), row.get(1)));
    match holder {
        Some((Some(holder), Some(until))) if holder == owner && until >= now() => Ok(()),
        Some(_) => Err(StoreError::InUse(format!(
            "queue message {id} is not leased to {owner}"
        ))),
        None => Err(StoreError::NotFound(format!("queue message {id}"))),
    }
}

/// Extends a running lease: a worker renews while it delivers, so a slow
/// peer does not let the lease run out under it.
pub async fn renew(tx: &Tx<'_>, id: QueueId, owner: &str, lease: i64) -> Result<()> {
    held(tx, id, owner).await?;
    tx.execute(
        "UPDATE queue SET lease_until = $2 WHERE id = $1",
        &[&id.0, &(now() + lease)],
    )
    .await?;
    Ok(())
}

pub async fn record(tx: &Tx<'_>, id: QueueId, owner: &str, outcomes: &[RecipientOutcome]) -> Result<()> {
    held(tx, id, owner).await?;
    for outcome in outcomes {
        tx.execute(
            "UPDATE queue_recipients SET status = $3, attempts = attempts + 1, last_reply = $4
             WHERE queue_id = $1 AND address = $2 AND status = 'pending'",
            &[&id.0, &outcome.address, &outcome.status.as_str(), &outcome.reply],
        )
        .await?;
    }
    Ok(())
}

pub async fn release(tx: &Tx<'_>, id: QueueId, owner: &str, next_attempt: i64, warned: bool) -> Result<bool> {
    held(tx, id, owner).await?;
    let pending: i64 = tx
        .query_one(
            "SELECT COUNT(*) FROM queue_recipients WHERE queue_id = $1 AND status = 'pending'",
            &[&id.0],
        )
        .await?
        .get(0);
    if pending == 0 {
        return remove(tx, id).await;
    }
    tx.execute(
        "UPDATE queue SET next_attempt = $2, warned = $3, attempts = attempts + 1,
                          lease_owner = NULL, lease_until = NULL
         WHERE id = $1",
        &[&id.0, &next_attempt, &(warned as i32)],
    )
    .await?;
    Ok(false)
}

pub async fn retry(tx: &Tx<'_>, id: Option<QueueId>) -> Result<u64> {
    let now = now();
    Ok(match id {
        Some(id) => {
            tx.execute("UPDATE queue SET next_attempt = $2 WHERE id = $1", &[&id.0, &now])
                .await?
        }
        None => {
            tx.execute("UPDATE queue SET next_attempt = $1 WHERE next_attempt > $1", &[&now])
                .await?
        }
    })
}

pub async fn remove(tx: &Tx<'_>, id: QueueId) -> Result<bool> {
    tx.execute("DELETE FROM queue_recipients WHERE queue_id = $1", &[&id.0])
        .await?;
    let Some(row) = tx
        .query_opt("DELETE FROM queue WHERE id = $1 RETURNING blob_id", &[&id.0])
        .await?
    else {
        return Ok(false);
    };
    let blob: String = row.get(0);
    let blob = BlobId::parse(&blob).ok_or_else(|| StoreError::Database("bad blob id".into()))?;
    release_blobs(tx, std::collections::BTreeMap::from([(blob, 1)])).await?;
    Ok(true)
}
