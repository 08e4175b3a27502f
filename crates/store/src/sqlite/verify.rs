//! `estafeta verify-data`: is everything the rows promise really there?

use crate::blob::{BlobId, FileBlobStore};
use crate::error::Result;
use crate::types::VerifyReport;
use rusqlite::{Connection, params};
use std::collections::{BTreeMap, BTreeSet};

/// Blob rows as (id, refcount), read on a snapshot.
pub fn blob_rows(conn: &Connection) -> Result<BTreeMap<String, i64>> {
    let mut statement = conn.prepare("SELECT id, refcount FROM blobs")?;
    let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Checks every blob row against its content, in the database or in a
/// file: present, and hashing to its name. Runs on a reader (hashing is
/// slow) so deliveries go on meanwhile.
pub fn check_files(conn: &Connection, files: &FileBlobStore, report: &mut VerifyReport) -> Result<()> {
    let rows = blob_rows(conn)?;
    for id in rows.keys() {
        report.blobs_checked += 1;
        let Some(blob) = BlobId::parse(id) else {
            report.corrupt_blobs.push(id.clone());
            continue;
        };
        match super::blobs::read(conn, files, &blob) {
            Ok(content) if BlobId::of(&content) == blob => {}
            Ok(_) => report.corrupt_blobs.push(id.clone()),
            Err(_) => report.missing_blobs.push(id.clone()),
        }
    }
    Ok(())
}

/// Reference counts, mailbox counters and orphan contents (files, or rows
/// of `blob_contents`, that no blob row claims); runs in the writer
/// so that it sees a stable state and can repair it.
pub fn check_rows(conn: &Connection, files: &FileBlobStore, repair: bool, report: &mut VerifyReport) -> Result<()> {
    report.messages_checked = conn.query_row("SELECT COUNT(*) FROM messages", [], |row| row.get(0))?;

    let mut expected: BTreeMap<String, i64> = BTreeMap::new();
    {
        let mut statement = conn.prepare(
            "SELECT blob_id, COUNT(*) FROM (SELECT blob_id FROM messages UNION ALL SELECT blob_id FROM queue)
             GROUP BY blob_id",
        )?;
        for row in statement.query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?)))? {
            let (id, count) = row?;
            expected.insert(id, count);
        }
    }
    for (id, actual) in blob_rows(conn)? {
        let wanted = expected.get(&id).copied().unwrap_or(0);
        if wanted != actual {
            report
                .refcount_mismatches
                .push(format!("{id}: refcount {actual}, referenced {wanted} times"));
            if repair {
                if wanted == 0 {
                    conn.execute("DELETE FROM blobs WHERE id = ?1", [&id])?;
                } else {
                    conn.execute("UPDATE blobs SET refcount = ?2 WHERE id = ?1", params![id, wanted])?;
                }
                report.repaired += 1;
            }
        }
    }

    let mut statement = conn.prepare(
        "SELECT b.id, b.name, b.uidnext, b.highest_modseq, MAX(m.uid), MAX(m.modseq), MAX(e.uid), MAX(e.modseq)
         FROM mailboxes b
         LEFT JOIN messages m ON m.mailbox_id = b.id
         LEFT JOIN expunged e ON e.mailbox_id = b.id
         GROUP BY b.id",
    )?;
    let rows = statement.query_map([], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, i64>(2)?,
            row.get::<_, i64>(3)?,
            row.get::<_, Option<i64>>(4)?
                .unwrap_or(0)
                .max(row.get::<_, Option<i64>>(6)?.unwrap_or(0)),
            row.get::<_, Option<i64>>(5)?
                .unwrap_or(0)
                .max(row.get::<_, Option<i64>>(7)?.unwrap_or(0)),
        ))
    })?;
    for row in rows {
        let (id, name, uid_next, highest_modseq, max_uid, max_modseq) = row?;
        if uid_next <= max_uid || highest_modseq < max_modseq {
            report.counter_errors.push(format!(
                "mailbox {id} ({name}): UIDNEXT {uid_next} / HIGHESTMODSEQ {highest_modseq}, \
                 but UID {max_uid} / MODSEQ {max_modseq} exist"
            ));
            if repair {
                conn.execute(
                    "UPDATE mailboxes SET uidnext = MAX(uidnext, ?2 + 1), highest_modseq = MAX(highest_modseq, ?3)
                     WHERE id = ?1",
                    params![id, max_uid, max_modseq],
                )?;
                report.repaired += 1;
            }
        }
    }

    check_dav(conn, repair, report)?;

    for row in super::blobs::orphan_contents(conn)? {
        if repair && super::blobs::remove_orphan_content(conn, row)? {
            report.repaired += 1;
        }
        report.orphan_files.push(super::blobs::orphan_name(row));
    }
    let known: BTreeSet<String> = blob_rows(conn)?.into_keys().collect();
    for id in files.list()? {
        if !known.contains(id.as_str()) {
            report.orphan_files.push(id.to_string());
            // Safe while we hold the write lock: a writer about to reference
            // this content finds it gone and writes it again.
            if repair && files.remove(&id).is_ok() {
                report.repaired += 1;
            }
        }
    }
    Ok(())
}

/// Calendar and contact resources: each entity tag is its content's, and
/// no change number is ahead of its collection's.
fn check_dav(conn: &Connection, repair: bool, report: &mut VerifyReport) -> Result<()> {
    let mut statement = conn.prepare(
        "SELECT o.collection_id, o.name, o.etag, o.content, o.sync, c.sync \
         FROM dav_objects o JOIN dav_collections c ON c.id = o.collection_id",
    )?;
    let rows = statement.query_map([], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, String>(2)?,
            row.get::<_, String>(3)?,
            row.get::<_, i64>(4)?,
            row.get::<_, i64>(5)?,
        ))
    })?;
    for row in rows {
        let (collection, name, etag, content, sync, collection_sync) = row?;
        let wanted = crate::dav::etag_of(&content);
        if etag != wanted {
            report.dav_errors.push(format!(
                "collection {collection}, {name}: entity tag {etag}, content says {wanted}"
            ));
            if repair {
                // A new number too, so clients that synced the old tag fetch it again.
                conn.execute("UPDATE dav_collections SET sync = sync + 1 WHERE id = ?1", [collection])?;
                conn.execute(
                    "UPDATE dav_objects SET etag = ?3, sync = (SELECT sync FROM dav_collections WHERE id = ?1) \
                     WHERE collection_id = ?1 AND name = ?2",
                    params![collection, name, wanted],
                )?;
                report.repaired += 1;
            }
        }
        if sync > collection_sync {
            report.dav_errors.push(format!(
                "collection {collection}, {name}: change number {sync}, the collection's is {collection_sync}"
            ));
            if repair {
                conn.execute(
                    "UPDATE dav_collections SET sync = MAX(sync, ?2) WHERE id = ?1",
                    params![collection, sync],
                )?;
                report.repaired += 1;
            }
        }
    }
    Ok(())
}
