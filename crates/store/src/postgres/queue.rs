//! The durable outbound queue (PostgreSQL).

use super::Tx;
use super::messages::reference_blob;
use crate::blob::BlobId;
use crate::error::{Result, StoreError};
use crate::sqlite::now;
use crate::types::{NewQueuedMessage, QueueRecipient, QueuedMessage, QueuedRecipient};
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

pub async fn list(tx: &Tx<'_>) -> Result<Vec<QueuedMessage>> {
    let rows = tx
        .query(
            "SELECT id, blob_id, size, sender, envid, ret, created_at, next_attempt FROM queue ORDER BY id",
            &[],
        )
        .await?;
    let mut messages = Vec::with_capacity(rows.len());
    for row in rows {
        let id: i64 = row.get(0);
        let blob: String = row.get(1);
        let recipients = tx
            .query(
                "SELECT address, orcpt, notify, status, attempts, last_reply
                 FROM queue_recipients WHERE queue_id = $1 ORDER BY position",
                &[&id],
            )
            .await?
            .iter()
            .map(|r| QueuedRecipient {
                recipient: QueueRecipient {
                    address: r.get(0),
                    orcpt: r.get(1),
                    notify: r.get(2),
                },
                status: r.get(3),
                attempts: r.get::<_, i32>(4) as u32,
                last_reply: r.get(5),
            })
            .collect();
        messages.push(QueuedMessage {
            id: QueueId(id),
            blob: BlobId::parse(&blob).ok_or_else(|| StoreError::Database("bad blob id".into()))?,
            size: row.get::<_, i64>(2) as u64,
            sender: row.get(3),
            recipients,
            envid: row.get(4),
            ret: row.get(5),
            created_at: row.get(6),
            next_attempt: row.get(7),
        });
    }
    Ok(messages)
}
