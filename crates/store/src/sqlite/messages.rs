//! Messages in mailboxes, and the reference counts of their blobs.

use super::blobs::{self, NewBlob};
use super::{Effects, mailboxes};
use crate::blob::{BlobId, FileBlobStore};
use crate::error::{Result, StoreError};
use crate::types::{ChangesSince, Copied, Delivered, DeliveryTarget, FlagChange, FlagOperation, MessageMeta, Vanished};
use estafeta_core::bus::Change;
use estafeta_core::model::{AccountId, Flags, MailboxId, SystemFlags};
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::BTreeMap;

/// Takes references away; blobs left with none lose their row, and a file
/// holding one is removed after the commit.
pub fn release_blobs(conn: &Connection, effects: &mut Effects, released: BTreeMap<BlobId, u64>) -> Result<()> {
    for (blob, count) in released {
        let remaining: i64 = conn
            .prepare_cached(
                "UPDATE blobs SET refcount = refcount - ?2 WHERE id = ?1 AND refcount > ?2 RETURNING refcount",
            )?
            .query_row(params![blob.as_str(), count], |row| row.get(0))
            .optional()?
            .unwrap_or(0);
        if remaining == 0
            && let Some(file) = blobs::forget(conn, &blob)?
        {
            effects.unreferenced.push(file);
        }
    }
    Ok(())
}

pub fn deliver(
    conn: &Connection,
    effects: &mut Effects,
    files: &FileBlobStore,
    blob: &NewBlob,
    size: u64,
    (internal_date, date_zone): (i64, i16),
    targets: &[DeliveryTarget],
) -> Result<Vec<Delivered>> {
    if targets.is_empty() {
        return Err(StoreError::Invalid("a delivery needs at least one mailbox".into()));
    }
    blobs::reference(conn, files, blob, size, targets.len() as u64)?;
    let mut delivered = Vec::with_capacity(targets.len());
    for target in targets {
        let (account, uid, modseq) = mailboxes::allocate(conn, target.mailbox, 1)?;
        conn.prepare_cached(
            "INSERT INTO messages (mailbox_id, uid, modseq, blob_id, size, internal_date, date_zone, flags, keywords)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?
        .execute(params![
            target.mailbox.0,
            uid,
            modseq,
            blob.id.as_str(),
            size,
            internal_date,
            date_zone,
            target.flags.system.0,
            target.flags.keywords.join(" "),
        ])?;
        effects.changes.push(Change::Mailbox {
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

fn keywords(text: String) -> Vec<String> {
    text.split(' ').filter(|k| !k.is_empty()).map(str::to_owned).collect()
}

pub fn list(conn: &Connection, mailbox: MailboxId) -> Result<Vec<MessageMeta>> {
    list_changed_after(conn, mailbox, 0)
}

/// Messages whose MODSEQ is above `modseq` (every MODSEQ is at least 1).
fn list_changed_after(conn: &Connection, mailbox: MailboxId, modseq: u64) -> Result<Vec<MessageMeta>> {
    let mut statement = conn.prepare_cached(
        "SELECT uid, modseq, blob_id, size, internal_date, flags, keywords, date_zone
         FROM messages WHERE mailbox_id = ?1 AND modseq > ?2 ORDER BY uid",
    )?;
    let rows = statement.query_map(params![mailbox.0, modseq], |row| read_meta(mailbox, row))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A message of the columns uid, modseq, blob_id, size, internal_date,
/// flags, keywords, date_zone, in that order.
fn read_meta(mailbox: MailboxId, row: &rusqlite::Row<'_>) -> rusqlite::Result<MessageMeta> {
    let blob: String = row.get(2)?;
    Ok(MessageMeta {
        mailbox,
        uid: row.get(0)?,
        modseq: row.get(1)?,
        blob: BlobId::parse(&blob).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, "bad blob id".into())
        })?,
        size: row.get(3)?,
        internal_date: row.get(4)?,
        date_zone: row.get(7)?,
        flags: Flags {
            system: SystemFlags(row.get(5)?),
            keywords: keywords(row.get(6)?),
        },
    })
}

/// The account's messages with these contents, in every mailbox.
pub fn holding(conn: &Connection, account: AccountId, blobs: &[BlobId]) -> Result<Vec<MessageMeta>> {
    let mut statement = conn.prepare_cached(
        "SELECT m.uid, m.modseq, m.blob_id, m.size, m.internal_date, m.flags, m.keywords, m.date_zone, m.mailbox_id
         FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id WHERE m.blob_id = ?1 AND b.account_id = ?2",
    )?;
    let mut found = Vec::new();
    for blob in blobs {
        let rows = statement.query_map(params![blob.as_str(), account.0], |row| {
            read_meta(MailboxId(row.get(8)?), row)
        })?;
        for row in rows {
            found.push(row?);
        }
    }
    Ok(found)
}

/// Flags after a STORE operation (shared by both backends).
pub(crate) fn apply_flags(current: &Flags, operation: FlagOperation, change: &Flags) -> Flags {
    match operation {
        FlagOperation::Replace => Flags::new(change.system, change.keywords.iter().cloned()),
        FlagOperation::Add => Flags::new(
            current.system.union(change.system),
            current.keywords.iter().chain(&change.keywords).cloned(),
        ),
        FlagOperation::Remove => Flags::new(
            current.system.difference(change.system),
            current
                .keywords
                .iter()
                .filter(|k| !change.keywords.contains(k))
                .cloned(),
        ),
    }
}

pub fn store_flags(
    conn: &Connection,
    effects: &mut Effects,
    mailbox: MailboxId,
    uids: &[u32],
    operation: FlagOperation,
    change: &Flags,
    unchanged_since: Option<u64>,
) -> Result<Vec<FlagChange>> {
    let mut select =
        conn.prepare_cached("SELECT modseq, flags, keywords FROM messages WHERE mailbox_id = ?1 AND uid = ?2")?;
    let mut pending = Vec::new();
    for &uid in uids {
        let Some((modseq, system, words)) = select
            .query_row(params![mailbox.0, uid], |row| {
                Ok((
                    row.get::<_, u64>(0)?,
                    SystemFlags(row.get(1)?),
                    row.get::<_, String>(2)?,
                ))
            })
            .optional()?
        else {
            continue;
        };
        // RFC 7162 3.1.3: a message changed after UNCHANGEDSINCE is skipped.
        if unchanged_since.is_some_and(|since| modseq > since) {
            continue;
        }
        let current = Flags {
            system,
            keywords: keywords(words),
        };
        let updated = apply_flags(&current, operation, change);
        if updated != current {
            pending.push((uid, updated));
        }
    }
    if pending.is_empty() {
        return Ok(Vec::new());
    }
    // One MODSEQ for everything this command changed (RFC 7162 3.1.1 allows it).
    let (account, _, modseq) = mailboxes::allocate(conn, mailbox, 0)?;
    let mut update = conn.prepare_cached(
        "UPDATE messages SET modseq = ?3, flags = ?4, keywords = ?5 WHERE mailbox_id = ?1 AND uid = ?2",
    )?;
    let mut changes = Vec::with_capacity(pending.len());
    for (uid, flags) in pending {
        update.execute(params![
            mailbox.0,
            uid,
            modseq,
            flags.system.0,
            flags.keywords.join(" ")
        ])?;
        changes.push(FlagChange { uid, modseq, flags });
    }
    effects.changes.push(Change::Mailbox {
        account,
        mailbox,
        highest_modseq: modseq,
    });
    Ok(changes)
}

pub fn expunge(conn: &Connection, effects: &mut Effects, mailbox: MailboxId, uids: Option<&[u32]>) -> Result<Vec<u32>> {
    let deleted = SystemFlags::DELETED.0;
    let mut doomed: Vec<(u32, BlobId)> = Vec::new();
    {
        let mut select = conn.prepare_cached(
            "SELECT uid, blob_id FROM messages WHERE mailbox_id = ?1 AND (flags & ?2) != 0 ORDER BY uid",
        )?;
        let rows = select.query_map(params![mailbox.0, deleted], |row| {
            Ok((row.get::<_, u32>(0)?, row.get::<_, String>(1)?))
        })?;
        for row in rows {
            let (uid, blob) = row?;
            if uids.is_none_or(|wanted| wanted.contains(&uid)) {
                doomed.push((
                    uid,
                    BlobId::parse(&blob).ok_or_else(|| StoreError::Database("bad blob id".into()))?,
                ));
            }
        }
    }
    if doomed.is_empty() {
        return Ok(Vec::new());
    }
    let (account, _, modseq) = mailboxes::allocate(conn, mailbox, 0)?;
    let mut released = BTreeMap::new();
    let mut delete = conn.prepare_cached("DELETE FROM messages WHERE mailbox_id = ?1 AND uid = ?2")?;
    let mut remember = conn.prepare_cached(REMEMBER_EXPUNGED)?;
    let mut removed = Vec::with_capacity(doomed.len());
    for (uid, blob) in doomed {
        delete.execute(params![mailbox.0, uid])?;
        remember.execute(params![mailbox.0, uid, modseq, blob.as_str()])?;
        *released.entry(blob).or_insert(0) += 1;
        removed.push(uid);
    }
    release_blobs(conn, effects, released)?;
    effects.changes.push(Change::Mailbox {
        account,
        mailbox,
        highest_modseq: modseq,
    });
    Ok(removed)
}

/// Drops every message of a mailbox (mailbox or account removal).
pub fn remove_all(conn: &Connection, effects: &mut Effects, mailbox: MailboxId) -> Result<()> {
    let mut released = BTreeMap::new();
    {
        let mut select =
            conn.prepare_cached("SELECT blob_id, COUNT(*) FROM messages WHERE mailbox_id = ?1 GROUP BY blob_id")?;
        let rows = select.query_map([mailbox.0], |row| Ok((row.get::<_, String>(0)?, row.get::<_, u64>(1)?)))?;
        for row in rows {
            let (blob, count) = row?;
            let blob = BlobId::parse(&blob).ok_or_else(|| StoreError::Database("bad blob id".into()))?;
            released.insert(blob, count);
        }
    }
    conn.execute("DELETE FROM messages WHERE mailbox_id = ?1", [mailbox.0])?;
    release_blobs(conn, effects, released)
}

/// COPY, or MOVE with `remove` (RFC 6851 3.3: atomic; the source messages
/// are expunged in the same transaction).
pub fn copy(
    conn: &Connection,
    effects: &mut Effects,
    source: MailboxId,
    uids: &[u32],
    target: MailboxId,
    remove: bool,
) -> Result<Copied> {
    let target_box =
        mailboxes::by_id(conn, target)?.ok_or_else(|| StoreError::not_found(format!("mailbox {target}")))?;
    let mut wanted = uids.to_vec();
    wanted.sort_unstable();
    wanted.dedup();
    let mut select = conn.prepare_cached(
        "SELECT blob_id, size, internal_date, flags, keywords, date_zone FROM messages WHERE mailbox_id = ?1 AND uid = ?2",
    )?;
    let mut found = Vec::new();
    for uid in wanted {
        let row = select
            .query_row(params![source.0, uid], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, u64>(1)?,
                    row.get::<_, i64>(2)?,
                    row.get::<_, u8>(3)?,
                    row.get::<_, String>(4)?,
                    row.get::<_, i16>(5)?,
                ))
            })
            .optional()?;
        if let Some(row) = row {
            found.push((uid, row));
        }
    }
    let mut copied = Copied {
        uid_validity: target_box.uid_validity,
        source: Vec::new(),
        target: Vec::new(),
    };
    if found.is_empty() {
        return Ok(copied);
    }
    let (target_account, first, modseq) = mailboxes::allocate(conn, target, found.len() as u32)?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO messages (mailbox_id, uid, modseq, blob_id, size, internal_date, flags, keywords, date_zone)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    let mut added: BTreeMap<String, u64> = BTreeMap::new();
    for (i, (uid, (blob, size, date, flags, words, zone))) in found.iter().enumerate() {
        let new_uid = first + i as u32;
        insert.execute(params![target.0, new_uid, modseq, blob, size, date, flags, words, zone])?;
        *added.entry(blob.clone()).or_insert(0) += 1;
        copied.source.push(*uid);
        copied.target.push(new_uid);
    }
    effects.changes.push(Change::Mailbox {
        account: target_account,
        mailbox: target,
        highest_modseq: modseq,
    });
    if remove {
        // The references move with the messages: counts stay as they are.
        let (source_account, _, source_modseq) = mailboxes::allocate(conn, source, 0)?;
        let mut delete = conn.prepare_cached("DELETE FROM messages WHERE mailbox_id = ?1 AND uid = ?2")?;
        let mut remember = conn.prepare_cached(REMEMBER_EXPUNGED)?;
        for (uid, (blob, ..)) in &found {
            delete.execute(params![source.0, uid])?;
            remember.execute(params![source.0, uid, source_modseq, blob])?;
        }
        effects.changes.push(Change::Mailbox {
            account: source_account,
            mailbox: source,
            highest_modseq: source_modseq,
        });
    } else {
        let mut reference = conn.prepare_cached("UPDATE blobs SET refcount = refcount + ?2 WHERE id = ?1")?;
        for (blob, count) in added {
            reference.execute(params![blob, count])?;
        }
    }
    Ok(copied)
}

/// A message leaves a mailbox: its UID for QRESYNC's VANISHED (RFC 7162
/// 3.2.10), its content for JMAP's Email/changes.
/// With its conversation, which Thread/changes needs once the content is gone.
const REMEMBER_EXPUNGED: &str = "INSERT INTO expunged (mailbox_id, uid, modseq, blob_id, thread_root)
     VALUES (?1, ?2, ?3, ?4, COALESCE((SELECT thread_root FROM blobs WHERE id = ?4), 0))
     ON CONFLICT (mailbox_id, uid) DO UPDATE SET modseq = excluded.modseq, blob_id = excluded.blob_id,
     thread_root = excluded.thread_root";

pub fn account_holds(conn: &Connection, account: AccountId, blob: &BlobId) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT 1 FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id
             WHERE m.blob_id = ?1 AND b.account_id = ?2 LIMIT 1",
        )?
        .query_row(params![blob.as_str(), account.0], |_| Ok(()))
        .optional()?
        .is_some())
}

pub fn vanished_since(conn: &Connection, mailbox: MailboxId, modseq: u64) -> Result<Vec<Vanished>> {
    conn.prepare_cached("SELECT uid, modseq, blob_id FROM expunged WHERE mailbox_id = ?1 AND modseq > ?2 ORDER BY uid")?
        .query_map(params![mailbox.0, modseq], |row| {
            Ok(Vanished {
                uid: row.get(0)?,
                modseq: row.get(1)?,
                blob: row.get::<_, Option<String>>(2)?.and_then(|b| BlobId::parse(&b)),
            })
        })?
        .collect::<Result<_, _>>()
        .map_err(Into::into)
}

pub fn changes_since(conn: &Connection, mailbox: MailboxId, modseq: u64) -> Result<ChangesSince> {
    let highest_modseq = mailboxes::by_id(conn, mailbox)?
        .ok_or_else(|| StoreError::not_found(format!("mailbox {mailbox}")))?
        .highest_modseq;
    let changed = list_changed_after(conn, mailbox, modseq)?;
    let vanished = conn
        .prepare_cached("SELECT uid FROM expunged WHERE mailbox_id = ?1 AND modseq > ?2 ORDER BY uid")?
        .query_map(params![mailbox.0, modseq], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(ChangesSince {
        changed,
        vanished,
        highest_modseq,
    })
}
