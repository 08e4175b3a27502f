//! Where a blob's bytes live in the embedded backend: small contents in
//! the database, in the same transaction that first refers to them, and
//! larger ones in files beside it.
//!
//! A file costs an fsync of its own and one of its directory before the
//! message that refers to it may be acknowledged; a row rides on the
//! group commit's single WAL fsync, shared by every delivery in the batch.
//! SQLite's own measurement ("Internal Versus External BLOBs") finds
//! contents up to about 100 KB read faster from the database than from
//! files, and most mail is smaller than that.

use crate::blob::{BlobId, FileBlobStore};
use crate::error::{Result, StoreError};
use rusqlite::{Connection, OptionalExtension, params};
use std::sync::Arc;

/// Contents up to this size are kept in the database.
pub const IN_DATABASE_MAX: usize = 100 * 1024;

/// A blob about to be referred to: its id and, when it is kept in the
/// database, the bytes the referring transaction writes with it.
#[derive(Clone)]
pub struct NewBlob {
    pub id: BlobId,
    content: Option<Arc<Vec<u8>>>,
    /// Its conversation (`crate::thread`), read from its header.
    thread_root: i64,
}

/// A message's header is in its first bytes; this many are read for it.
const HEADER_WINDOW: usize = 64 * 1024;

impl NewBlob {
    /// Prepares `parts` (written one after the other) as one blob: small
    /// contents are only hashed here; larger ones are written to a file,
    /// durably, which blocks.
    pub fn prepare(files: &FileBlobStore, parts: &[&[u8]]) -> Result<NewBlob> {
        let size: usize = parts.iter().map(|part| part.len()).sum();
        if size <= IN_DATABASE_MAX {
            let content = parts.concat();
            return Ok(NewBlob {
                id: BlobId::of(&content),
                thread_root: crate::thread::thread_root(&content),
                content: Some(Arc::new(content)),
            });
        }
        let mut head = Vec::with_capacity(HEADER_WINDOW);
        for part in parts {
            head.extend_from_slice(&part[..part.len().min(HEADER_WINDOW - head.len())]);
        }
        Ok(NewBlob {
            id: files.put_parts(parts)?,
            content: None,
            thread_root: crate::thread::thread_root(&head),
        })
    }

    /// Whether preparing `size` bytes needs no file (and so no blocking).
    pub fn kept_in_database(size: usize) -> bool {
        size <= IN_DATABASE_MAX
    }
}

/// Adds `references` to a blob's count, creating its row (and its
/// content's, when kept in the database) if this is the first. A file is
/// only referred to if it is really there: a concurrent removal of the last
/// reference may have unlinked it since it was written, and then the caller
/// must write it again (`BlobMissing`).
pub fn reference(conn: &Connection, files: &FileBlobStore, blob: &NewBlob, size: u64, references: u64) -> Result<()> {
    let id = blob.id.as_str();
    let updated = conn
        .prepare_cached("UPDATE blobs SET refcount = refcount + ?2 WHERE id = ?1")?
        .execute(params![id, references])?;
    if updated > 0 {
        return Ok(());
    }
    let row = match &blob.content {
        Some(content) => {
            conn.prepare_cached("INSERT INTO blob_contents (data) VALUES (?1)")?
                .execute([content.as_slice()])?;
            Some(conn.last_insert_rowid())
        }
        None if !files.exists(&blob.id) => return Err(StoreError::BlobMissing(blob.id.to_string())),
        None => None,
    };
    conn.prepare_cached("INSERT INTO blobs (id, size, refcount, content, thread_root) VALUES (?1, ?2, ?3, ?4, ?5)")?
        .execute(params![id, size, references, row, blob.thread_root])?;
    Ok(())
}

/// Drops a blob whose last reference went away. Content in the database
/// goes with the row; a file's id is returned, to be unlinked once the
/// transaction is durable.
pub fn forget(conn: &Connection, blob: &BlobId) -> Result<Option<BlobId>> {
    let row: Option<Option<i64>> = conn
        .prepare_cached("DELETE FROM blobs WHERE id = ?1 RETURNING content")?
        .query_row([blob.as_str()], |row| row.get(0))
        .optional()?;
    match row.flatten() {
        Some(content) => {
            conn.prepare_cached("DELETE FROM blob_contents WHERE rowid = ?1")?
                .execute([content])?;
            Ok(None)
        }
        None => Ok(Some(blob.clone())),
    }
}

/// The content kept in the database, if it is kept there.
fn in_database(conn: &Connection, blob: &BlobId) -> Result<Option<Vec<u8>>> {
    Ok(conn
        .prepare_cached(
            "SELECT data FROM blobs JOIN blob_contents ON blob_contents.rowid = blobs.content WHERE blobs.id = ?1",
        )?
        .query_row([blob.as_str()], |row| row.get(0))
        .optional()?)
}

/// A blob's bytes, wherever they are kept.
pub fn read(conn: &Connection, files: &FileBlobStore, blob: &BlobId) -> Result<Vec<u8>> {
    match in_database(conn, blob)? {
        Some(content) => Ok(content),
        None => files.get(blob),
    }
}

/// Whether a blob's last byte is something other than a line feed (a
/// message without a final line break); false for an empty or unknown one.
pub fn lacks_final_line_break(conn: &Connection, files: &FileBlobStore, blob: &BlobId) -> Result<bool> {
    let last: Option<Option<Vec<u8>>> = conn
        .prepare_cached(
            "SELECT substr(data, -1, 1) FROM blobs JOIN blob_contents ON blob_contents.rowid = blobs.content
             WHERE blobs.id = ?1",
        )?
        .query_row([blob.as_str()], |row| row.get(0))
        .optional()?;
    let last = match last {
        Some(last) => last.and_then(|bytes| bytes.first().copied()),
        None => files.last_byte(blob)?,
    };
    Ok(matches!(last, Some(byte) if byte != b'\n'))
}

/// Rows of contents kept in the database that no blob row claims.
pub fn orphan_contents(conn: &Connection) -> Result<Vec<i64>> {
    let mut statement = conn.prepare(
        "SELECT rowid FROM blob_contents
         WHERE rowid NOT IN (SELECT content FROM blobs WHERE content IS NOT NULL) ORDER BY rowid",
    )?;
    let rows = statement.query_map([], |row| row.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn remove_orphan_content(conn: &Connection, row: i64) -> Result<bool> {
    Ok(conn.execute("DELETE FROM blob_contents WHERE rowid = ?1", [row])? > 0)
}

/// How `verify-data` names an orphan content row.
pub fn orphan_name(row: i64) -> String {
    format!("blob_contents row {row}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn database() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::schema::migrate_to(&mut conn, super::super::schema::latest()).unwrap();
        conn
    }

    #[test]
    fn small_content_lives_in_its_row_and_large_content_in_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let files = FileBlobStore::open(dir.path()).unwrap();
        let conn = database();

        let small = NewBlob::prepare(&files, &[b"Subject: hi\r\n\r\n", b"no final break"]).unwrap();
        reference(&conn, &files, &small, 29, 1).unwrap();
        assert!(!files.exists(&small.id), "no file for small content");
        assert_eq!(
            read(&conn, &files, &small.id).unwrap(),
            b"Subject: hi\r\n\r\nno final break"
        );
        assert!(lacks_final_line_break(&conn, &files, &small.id).unwrap());

        let big_content = vec![b'x'; IN_DATABASE_MAX + 1];
        let big = NewBlob::prepare(&files, &[&big_content, b"\r\n"]).unwrap();
        reference(&conn, &files, &big, big_content.len() as u64 + 2, 1).unwrap();
        assert!(files.exists(&big.id), "large content goes to a file");
        assert_eq!(read(&conn, &files, &big.id).unwrap().len(), IN_DATABASE_MAX + 3);
        assert!(!lacks_final_line_break(&conn, &files, &big.id).unwrap());

        // The last reference going takes the row's content with it; a
        // file's id comes back for unlinking after the commit.
        assert_eq!(forget(&conn, &small.id).unwrap(), None);
        assert!(matches!(
            read(&conn, &files, &small.id),
            Err(StoreError::BlobMissing(_))
        ));
        assert_eq!(forget(&conn, &big.id).unwrap(), Some(big.id.clone()));
    }

    #[test]
    fn a_second_reference_adds_to_the_count_without_a_second_copy() {
        let dir = tempfile::tempdir().unwrap();
        let files = FileBlobStore::open(dir.path()).unwrap();
        let conn = database();
        let blob = NewBlob::prepare(&files, &[b"same"]).unwrap();
        reference(&conn, &files, &blob, 4, 1).unwrap();
        reference(&conn, &files, &blob, 4, 2).unwrap();
        let (refcount, copies): (i64, i64) = conn
            .query_row(
                "SELECT refcount, (SELECT COUNT(*) FROM blob_contents) FROM blobs WHERE id = ?1",
                [blob.id.as_str()],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .unwrap();
        assert_eq!((refcount, copies), (3, 1));
    }

    #[test]
    fn a_large_blob_whose_file_vanished_must_be_written_again() {
        let dir = tempfile::tempdir().unwrap();
        let files = FileBlobStore::open(dir.path()).unwrap();
        let conn = database();
        let content = vec![b'y'; IN_DATABASE_MAX + 10];
        let blob = NewBlob::prepare(&files, &[&content]).unwrap();
        files.remove(&blob.id).unwrap();
        assert!(matches!(
            reference(&conn, &files, &blob, content.len() as u64, 1),
            Err(StoreError::BlobMissing(_))
        ));
    }
}
