//! Messages in mailboxes, and their blobs with reference counts
//! (PostgreSQL; blob content is a column, so every node sees it).

use super::{Tx, mailboxes};
use crate::blob::BlobId;
use crate::error::{Result, StoreError};
use crate::types::{ChangesSince, Copied, Delivered, DeliveryTarget, FlagChange, FlagOperation, MessageMeta, Vanished};
use estafeta_core::bus::Change;
use estafeta_core::model::{AccountId, Flags, MailboxId, SystemFlags};
use std::collections::BTreeMap;
use tokio_postgres::Row;

/// Adds `references` to a blob, storing its content if it is new. The
/// content goes over the wire only when the blob is not there yet.
pub async fn reference_blob(tx: &Tx<'_>, blob: &BlobId, data: &[u8], references: i64) -> Result<()> {
    let updated = tx
        .execute(
            "UPDATE blobs SET refcount = refcount + $2 WHERE id = $1",
            &[&blob.as_str(), &references],
        )
        .await?;
    if updated == 0 {
        tx.execute(
            "INSERT INTO blobs (id, size, refcount, data, thread_root) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (id) DO UPDATE SET refcount = blobs.refcount + EXCLUDED.refcount",
            &[
                &blob.as_str(),
                &(data.len() as i64),
                &references,
                &data,
                &crate::thread::thread_root(data),
            ],
        )
        .await?;
    }
    Ok(())
}

/// Takes references away; a blob left with none is deleted with its content.
pub async fn release_blobs(tx: &Tx<'_>, released: BTreeMap<BlobId, i64>) -> Result<()> {
    for (blob, count) in released {
        let remaining = tx
            .query_opt(
                "UPDATE blobs SET refcount = refcount - $2 WHERE id = $1 AND refcount > $2 RETURNING refcount",
                &[&blob.as_str(), &count],
            )
            .await?;
        if remaining.is_none() {
            tx.execute("DELETE FROM blobs WHERE id = $1", &[&blob.as_str()]).await?;
        }
    }
    Ok(())
}

pub async fn deliver(
    tx: &Tx<'_>,
    changes: &mut Vec<Change>,
    blob: &BlobId,
    data: &[u8],
    (internal_date, date_zone): (i64, i16),
    targets: &[DeliveryTarget],
) -> Result<Vec<Delivered>> {
    if targets.is_empty() {
        return Err(StoreError::Invalid("a delivery needs at least one mailbox".into()));
    }
    reference_blob(tx, blob, data, targets.len() as i64).await?;
    let mut delivered = Vec::with_capacity(targets.len());
    for target in targets {
        let (account, uid, modseq) = mailboxes::allocate(tx, target.mailbox, 1).await?;
        tx.execute(
            "INSERT INTO messages (mailbox_id, uid, modseq, blob_id, size, internal_date, flags, keywords, date_zone)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[
                &target.mailbox.0,
                &i64::from(uid),
                &(modseq as i64),
                &blob.as_str(),
                &(data.len() as i64),
                &internal_date,
                &i16::from(target.flags.system.0),
                &target.flags.keywords.join(" "),
                &date_zone,
            ],
        )
        .await?;
        changes.push(Change::Mailbox {
            account,
            mailbox: target.mailbox,
            highest_modseq: modseq,
        });
        delivered.push(Delivered {
            mailbox: target.mailbox,
            uid,
            modseq,
        });
    }
    Ok(delivered)
}

fn keywords(text: &str) -> Vec<String> {
    text.split(' ').filter(|k| !k.is_empty()).map(str::to_owned).collect()
}

fn meta(mailbox: MailboxId, row: &Row) -> Result<MessageMeta> {
    let blob: String = row.get(2);
    let keywords_text: String = row.get(6);
    Ok(MessageMeta {
        mailbox,
        uid: row.get::<_, i64>(0) as u32,
        modseq: row.get::<_, i64>(1) as u64,
        blob: BlobId::parse(&blob).ok_or_else(|| StoreError::Database("bad blob id".into()))?,
        size: row.get::<_, i64>(3) as u64,
        internal_date: row.get(4),
        date_zone: row.get(7),
        flags: Flags {
            system: SystemFlags(row.get::<_, i16>(5) as u8),
            keywords: keywords(&keywords_text),
        },
    })
}

/// Messages whose MODSEQ is above `modseq`, in UID order.
pub async fn list_changed_after(tx: &Tx<'_>, mailbox: MailboxId, modseq: u64) -> Result<Vec<MessageMeta>> {
    let rows = tx
        .query(
            "SELECT uid, modseq, blob_id, size, internal_date, flags, keywords, date_zone
             FROM messages WHERE mailbox_id = $1 AND modseq > $2 ORDER BY uid",
            &[&mailbox.0, &(modseq as i64)],
        )
        .await?;
    rows.iter().map(|row| meta(mailbox, row)).collect()
}

/// The account's messages with these contents, in every mailbox.
pub async fn holding(tx: &Tx<'_>, account: AccountId, blobs: &[BlobId]) -> Result<Vec<MessageMeta>> {
    let wanted: Vec<&str> = blobs.iter().map(BlobId::as_str).collect();
    let rows = tx
        .query(
            "SELECT m.uid, m.modseq, m.blob_id, m.size, m.internal_date, m.flags, m.keywords, m.date_zone, m.mailbox_id
             FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id WHERE m.blob_id = ANY($1) AND b.account_id = $2",
            &[&wanted, &account.0],
        )
        .await?;
    rows.iter().map(|row| meta(MailboxId(row.get(8)), row)).collect()
}

pub async fn content(tx: &Tx<'_>, blob: &BlobId) -> Result<Vec<u8>> {
    let row = tx
        .query_opt("SELECT data FROM blobs WHERE id = $1", &[&blob.as_str()])
        .await?
        .ok_or_else(|| StoreError::BlobMissing(blob.to_string()))?;
    Ok(row.get(0))
}

pub async fn store_flags(
    tx: &Tx<'_>,
    changes: &mut Vec<Change>,
    mailbox: MailboxId,
    uids: &[u32],
    operation: FlagOperation,
    change: &Flags,
    unchanged_since: Option<u64>,
) -> Result<Vec<FlagChange>> {
    let wanted: Vec<i64> = uids.iter().map(|&u| i64::from(u)).collect();
    // Locked, so two nodes changing the same flags do not lose an update.
    let rows = tx
        .query(
            "SELECT uid, modseq, flags, keywords FROM messages WHERE mailbox_id = $1 AND uid = ANY($2)
             ORDER BY uid FOR UPDATE",
            &[&mailbox.0, &wanted],
        )
        .await?;
    let mut pending = Vec::new();
    for row in rows {
        let (uid, modseq) = (row.get::<_, i64>(0) as u32, row.get::<_, i64>(1) as u64);
        if unchanged_since.is_some_and(|since| modseq > since) {
            continue;
        }
        let current = Flags {
            system: SystemFlags(row.get::<_, i16>(2) as u8),
            keywords: keywords(&row.get::<_, String>(3)),
        };
        let updated = crate::sqlite::apply_flags(&current, operation, change);
        if updated != current {
            pending.push((uid, updated));
        }
    }
    if pending.is_empty() {
        return Ok(Vec::new());
    }
    let (account, _, modseq) = mailboxes::allocate(tx, mailbox, 0).await?;
    let mut result = Vec::with_capacity(pending.len());
    for (uid, flags) in pending {
        tx.execute(
            "UPDATE messages SET modseq = $3, flags = $4, keywords = $5 WHERE mailbox_id = $1 AND uid = $2",
            &[
                &mailbox.0,
                &i64::from(uid),
                &(modseq as i64),
                &i16::from(flags.system.0),
                &flags.keywords.join(" "),
            ],
        )
        .await?;
        result.push(FlagChange { uid, modseq, flags });
    }
    changes.push(Change::Mailbox {
        account,
        mailbox,
        highest_modseq: modseq,
    });
    Ok(result)
}

async fn forget(tx: &Tx<'_>, mailbox: MailboxId, uids: &[i64], modseq: u64) -> Result<()> {
    // Each UID for QRESYNC's VANISHED (RFC 7162 3.2.10), with its content
    // for JMAP's Email/changes.
    tx.execute(
        "WITH gone AS (DELETE FROM messages WHERE mailbox_id = $1 AND uid = ANY($2) RETURNING uid, blob_id)
         INSERT INTO expunged (mailbox_id, uid, modseq, blob_id, thread_root)
         SELECT $1, uid, $3, blob_id, COALESCE((SELECT thread_root FROM blobs WHERE blobs.id = gone.blob_id), 0) FROM gone
         ON CONFLICT (mailbox_id, uid) DO UPDATE SET modseq = EXCLUDED.modseq, blob_id = EXCLUDED.blob_id,
         thread_root = EXCLUDED.thread_root",
        &[&mailbox.0, &uids, &(modseq as i64)],
    )
    .await?;
    Ok(())
}

pub async fn expunge(
    tx: &Tx<'_>,
    changes: &mut Vec<Change>,
    mailbox: MailboxId,
    uids: Option<&[u32]>,
) -> Result<Vec<u32>> {
    let deleted = i16::from(SystemFlags::DELETED.0);
    let rows = tx
        .query(
            "SELECT uid, blob_id FROM messages WHERE mailbox_id = $1 AND (flags & $2) != 0 ORDER BY uid FOR UPDATE",
            &[&mailbox.0, &deleted],
        )
        .await?;
    let mut doomed = Vec::new();
    let mut released: BTreeMap<BlobId, i64> = BTreeMap::new();
    for row in rows {
        let uid = row.get::<_, i64>(0) as u32;
        if uids.is_none_or(|wanted| wanted.contains(&uid)) {
            let blob: String = row.get(1);
            let blob = BlobId::parse(&blob).ok_or_else(|| StoreError::Database("bad blob id".into()))?;
            *released.entry(blob).or_insert(0) += 1;
            doomed.push(uid);
        }
    }
    if doomed.is_empty() {
        return Ok(Vec::new());
    }
    let (account, _, modseq) = mailboxes::allocate(tx, mailbox, 0).await?;
    let ids: Vec<i64> = doomed.iter().map(|&u| i64::from(u)).collect();
    forget(tx, mailbox, &ids, modseq).await?;
    release_blobs(tx, released).await?;
    changes.push(Change::Mailbox {
        account,
        mailbox,
        highest_modseq: modseq,
    });
    Ok(doomed)
}

/// Drops every message of a mailbox (mailbox or account removal).
pub async fn remove_all(tx: &Tx<'_>, mailbox: MailboxId) -> Result<()> {
    let rows = tx
        .query(
            "SELECT blob_id, COUNT(*) FROM messages WHERE mailbox_id = $1 GROUP BY blob_id",
            &[&mailbox.0],
        )
        .await?;
    let mut released = BTreeMap::new();
    for row in rows {
        let blob: String = row.get(0);
        let blob = BlobId::parse(&blob).ok_or_else(|| StoreError::Database("bad blob id".into()))?;
        released.insert(blob, row.get::<_, i64>(1));
    }
    tx.execute("DELETE FROM messages WHERE mailbox_id = $1", &[&mailbox.0])
        .await?;
    release_blobs(tx, released).await
}

pub async fn copy(
    tx: &Tx<'_>,
    changes: &mut Vec<Change>,
    source: MailboxId,
    uids: &[u32],
    target: MailboxId,
    remove: bool,
) -> Result<Copied> {
    // Both mailboxes locked first, in id order: two moves in opposite
    // directions then queue instead of deadlocking.
    tx.execute(
        "SELECT id FROM mailboxes WHERE id = $1 OR id = $2 ORDER BY id FOR UPDATE",
        &[&source.0, &target.0],
    )
    .await?;
    let target_box = mailboxes::by_id(tx, target)
        .await?
        .ok_or_else(|| StoreError::not_found(format!("mailbox {target}")))?;
    let wanted: Vec<i64> = uids.iter().map(|&u| i64::from(u)).collect();
    let found = tx
        .query(
            "SELECT uid, blob_id, size, internal_date, flags, keywords, date_zone FROM messages
             WHERE mailbox_id = $1 AND uid = ANY($2) ORDER BY uid FOR UPDATE",
            &[&source.0, &wanted],
        )
        .await?;
    let mut copied = Copied {
        uid_validity: target_box.uid_validity,
        source: Vec::new(),
        target: Vec::new(),
    };
    if found.is_empty() {
        return Ok(copied);
    }
    let (target_account, first, modseq) = mailboxes::allocate(tx, target, found.len() as u32).await?;
    let mut added: BTreeMap<String, i64> = BTreeMap::new();
    for (i, row) in found.iter().enumerate() {
        let new_uid = first + i as u32;
        let blob: String = row.get(1);
        tx.execute(
            "INSERT INTO messages (mailbox_id, uid, modseq, blob_id, size, internal_date, flags, keywords, date_zone)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[
                &target.0,
                &i64::from(new_uid),
                &(modseq as i64),
                &blob,
                &row.get::<_, i64>(2),
                &row.get::<_, i64>(3),
                &row.get::<_, i16>(4),
                &row.get::<_, String>(5),
                &row.get::<_, i16>(6),
            ],
        )
        .await?;
        *added.entry(blob).or_insert(0) += 1;
        copied.source.push(row.get::<_, i64>(0) as u32);
        copied.target.push(new_uid);
    }
    changes.push(Change::Mailbox {
        account: target_account,
        mailbox: target,
        highest_modseq: modseq,
    });
    if remove {
        // The references move with the messages: counts stay as they are.
        let (source_account, _, source_modseq) = mailboxes::allocate(tx, source, 0).await?;
        let ids: Vec<i64> = copied.source.iter().map(|&u| i64::from(u)).collect();
        forget(tx, source, &ids, source_modseq).await?;
        changes.push(Change::Mailbox {
            account: source_account,
            mailbox: source,
            highest_modseq: source_modseq,
        });
    } else {
        for (blob, count) in added {
            tx.execute(
                "UPDATE blobs SET refcount = refcount + $2 WHERE id = $1",
                &[&blob, &count],
            )
            .await?;
        }
    }
    Ok(copied)
}

pub async fn account_holds(tx: &Tx<'_>, account: AccountId, blob: &BlobId) -> Result<bool> {
    let row = tx
        .query_opt(
            "SELECT 1 FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id
             WHERE m.blob_id = $1 AND b.account_id = $2 LIMIT 1",
            &[&blob.as_str(), &account.0],
        )
        .await?;
    Ok(row.is_some())
}

pub async fn vanished_since(tx: &Tx<'_>, mailbox: MailboxId, modseq: u64) -> Result<Vec<Vanished>> {
    let rows = tx
        .query(
            "SELECT uid, modseq, blob_id FROM expunged WHERE mailbox_id = $1 AND modseq > $2 ORDER BY uid",
            &[&mailbox.0, &(modseq as i64)],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| Vanished {
            uid: row.get::<_, i64>(0) as u32,
            modseq: row.get::<_, i64>(1) as u64,
            blob: row.get::<_, Option<String>>(2).and_then(|b| BlobId::parse(&b)),
        })
        .collect())
}

pub async fn changes_since(tx: &Tx<'_>, mailbox: MailboxId, modseq: u64) -> Result<ChangesSince> {
    let highest_modseq = mailboxes::by_id(tx, mailbox)
        .await?
        .ok_or_else(|| StoreError::not_found(format!("mailbox {mailbox}")))?
        .highest_modseq;
    let changed = list_changed_after(tx, mailbox, modseq).await?;
    let vanished = tx
        .query(
            "SELECT uid FROM expunged WHERE mailbox_id = $1 AND modseq > $2 ORDER BY uid",
            &[&mailbox.0, &(modseq as i64)],
        )
        .await?
        .iter()
        .map(|row| row.get::<_, i64>(0) as u32)
        .collect();
    Ok(ChangesSince {
        changed,
        vanished,
        highest_modseq,
    })
}
