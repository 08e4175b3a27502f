//! `estafeta verify-data` on PostgreSQL: content hashes to its name,
//! reference counts and mailbox counters agree with the rows.

use super::Tx;
use crate::blob::BlobId;
use crate::error::Result;
use crate::types::VerifyReport;
use std::collections::BTreeMap;

pub async fn check(tx: &Tx<'_>, repair: bool, report: &mut VerifyReport) -> Result<()> {
    report.messages_checked = tx
        .query_one("SELECT COUNT(*) FROM messages", &[])
        .await?
        .get::<_, i64>(0) as u64;
    // Content: one row at a time, so a large store is not read at once.
    let ids: Vec<String> = tx
        .query("SELECT id FROM blobs ORDER BY id", &[])
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect();
    for id in &ids {
        report.blobs_checked += 1;
        let row = tx.query_one("SELECT data FROM blobs WHERE id = $1", &[id]).await?;
        let data: Vec<u8> = row.get(0);
        if BlobId::parse(id).is_none_or(|blob| BlobId::of(&data) != blob) {
            report.corrupt_blobs.push(id.clone());
        }
    }
    let expected: BTreeMap<String, i64> = tx
        .query(
            "SELECT blob_id, COUNT(*) FROM (SELECT blob_id FROM messages UNION ALL SELECT blob_id FROM queue) r
             GROUP BY blob_id",
            &[],
        )
        .await?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    for row in tx.query("SELECT id, refcount FROM blobs", &[]).await? {
        let (id, actual): (String, i64) = (row.get(0), row.get(1));
        let wanted = expected.get(&id).copied().unwrap_or(0);
        if wanted != actual {
            report
                .refcount_mismatches
                .push(format!("{id}: refcount {actual}, referenced {wanted} times"));
            if repair {
                if wanted == 0 {
                    tx.execute("DELETE FROM blobs WHERE id = $1", &[&id]).await?;
                } else {
                    tx.execute("UPDATE blobs SET refcount = $2 WHERE id = $1", &[&id, &wanted])
                        .await?;
                }
                report.repaired += 1;
            }
        }
    }
    let rows = tx
        .query(
            "SELECT b.id, b.name, b.uidnext, b.highest_modseq,
                    GREATEST(COALESCE(MAX(m.uid), 0), COALESCE(MAX(e.uid), 0)),
                    GREATEST(COALESCE(MAX(m.modseq), 0), COALESCE(MAX(e.modseq), 0))
             FROM mailboxes b
             LEFT JOIN messages m ON m.mailbox_id = b.id
             LEFT JOIN expunged e ON e.mailbox_id = b.id
             GROUP BY b.id",
            &[],
        )
        .await?;
    for row in rows {
        let (id, name): (i64, String) = (row.get(0), row.get(1));
        let (uid_next, highest_modseq, max_uid, max_modseq): (i64, i64, i64, i64) =
            (row.get(2), row.get(3), row.get(4), row.get(5));
        if uid_next <= max_uid || highest_modseq < max_modseq {
            report.counter_errors.push(format!(
                "mailbox {id} ({name}): UIDNEXT {uid_next} / HIGHESTMODSEQ {highest_modseq}, \
                 but UID {max_uid} / MODSEQ {max_modseq} exist"
            ));
            if repair {
                tx.execute(
                    "UPDATE mailboxes SET uidnext = GREATEST(uidnext, $2 + 1),
                     highest_modseq = GREATEST(highest_modseq, $3) WHERE id = $1",
                    &[&id, &max_uid, &max_modseq],
                )
                .await?;
                report.repaired += 1;
            }
        }
    }
    check_dav(tx, repair, report).await
}

/// Calendar and contact resources, as on SQLite (`sqlite::verify`).
async fn check_dav(tx: &Tx<'_>, repair: bool, report: &mut VerifyReport) -> Result<()> {
    let rows = tx
        .query(
            "SELECT o.collection_id, o.name, o.etag, o.content, o.sync, c.sync \
             FROM dav_objects o JOIN dav_collections c ON c.id = o.collection_id",
            &[],
        )
        .await?;
    for row in rows {
        let (collection, name, etag, content): (i64, String, String, String) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        let (sync, collection_sync): (i64, i64) = (row.get(4), row.get(5));
        let wanted = crate::dav::etag_of(&content);
        if etag != wanted {
            report.dav_errors.push(format!(
                "collection {collection}, {name}: entity tag {etag}, content says {wanted}"
            ));
            if repair {
                tx.execute(
                    "UPDATE dav_collections SET sync = sync + 1 WHERE id = $1",
                    &[&collection],
                )
                .await?;
                tx.execute(
                    "UPDATE dav_objects SET etag = $3, sync = (SELECT sync FROM dav_collections WHERE id = $1) \
                     WHERE collection_id = $1 AND name = $2",
                    &[&collection, &name, &wanted],
                )
                .await?;
                report.repaired += 1;
            }
        }
        if sync > collection_sync {
            report.dav_errors.push(format!(
                "collection {collection}, {name}: change number {sync}, the collection's is {collection_sync}"
            ));
            if repair {
                tx.execute(
                    "UPDATE dav_collections SET sync = GREATEST(sync, $2) WHERE id = $1",
                    &[&collection, &sync],
                )
                .await?;
                report.repaired += 1;
            }
        }
    }
    Ok(())
}
