//! The WebDAV file space in SQLite (see `crate::dav::DavFile`).

use crate::dav::{DavFile, DavPrecondition, DavPut, etag_of_bytes, parent_of, subtree_range};
use crate::error::{Result, StoreError};
use estafeta_core::model::AccountId;
use rusqlite::{Connection, OptionalExtension, Row, params};

fn file_row(row: &Row) -> rusqlite::Result<DavFile> {
    Ok(DavFile {
        path: row.get(0)?,
        collection: row.get::<_, i64>(1)? != 0,
        content: row.get(2)?,
        length: row.get(3)?,
        content_type: row.get(4)?,
        etag: row.get(5)?,
        dead: row.get(6)?,
        modified_at: row.get(7)?,
    })
}

pub fn file(conn: &Connection, account: AccountId, path: &str) -> Result<Option<DavFile>> {
    Ok(conn
        .prepare_cached(
            "SELECT path, collection, content, length(content), content_type, etag, dead, modified_at \
             FROM dav_files WHERE account_id = ?1 AND path = ?2",
        )?
        .query_row(params![account.0, path], file_row)
        .optional()?)
}

pub fn tree(conn: &Connection, account: AccountId, path: &str) -> Result<Vec<DavFile>> {
    let (low, high) = subtree_range(path);
    let mut statement = conn.prepare_cached(
        "SELECT path, collection, x'', length(content), content_type, etag, dead, modified_at \
         FROM dav_files WHERE account_id = ?1 AND (path = ?2 OR (?2 = '' OR (path >= ?3 AND path < ?4))) \
         ORDER BY path",
    )?;
    let rows = statement.query_map(params![account.0, path, low, high], file_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The parent must be a collection: the root, or one made before.
fn check_parent(conn: &Connection, account: AccountId, path: &str) -> Result<()> {
    let parent = parent_of(path);
    if parent.is_empty() || file(conn, account, parent)?.is_some_and(|found| found.collection) {
        Ok(())
    } else {
        Err(StoreError::not_found(format!("collection {parent}")))
    }
}

pub fn write(
    conn: &Connection,
    account: AccountId,
    path: &str,
    collection: bool,
    content: &[u8],
    content_type: &str,
    precondition: &DavPrecondition,
) -> Result<DavPut> {
    check_parent(conn, account, path)?;
    let existing = file(conn, account, path)?;
    if existing.as_ref().is_some_and(|found| found.collection != collection) {
        return Err(StoreError::Invalid(format!("{path} is of another kind")));
    }
    if !precondition.holds_for(existing.as_ref().map(|found| found.etag.as_str())) {
        return Ok(DavPut::PreconditionFailed);
    }
    let etag = if collection {
        String::new()
    } else {
        etag_of_bytes(content)
    };
    // A write keeps the properties the client set before.
    conn.prepare_cached(
        "INSERT INTO dav_files (account_id, path, collection, content, content_type, etag, dead, modified_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, '', ?7) \
         ON CONFLICT (account_id, path) DO UPDATE SET content = excluded.content, \
         content_type = excluded.content_type, etag = excluded.etag, modified_at = excluded.modified_at",
    )?
    .execute(params![
        account.0,
        path,
        collection,
        content,
        content_type,
        etag,
        super::now()
    ])?;
    Ok(DavPut::Written {
        etag,
        created: existing.is_none(),
    })
}

pub fn set_dead(conn: &Connection, account: AccountId, path: &str, dead: &str) -> Result<()> {
    let changed = conn
        .prepare_cached("UPDATE dav_files SET dead = ?3 WHERE account_id = ?1 AND path = ?2")?
        .execute(params![account.0, path, dead])?;
    if changed == 0 {
        return Err(StoreError::not_found(path));
    }
    Ok(())
}

fn remove(conn: &Connection, account: AccountId, path: &str) -> Result<usize> {
    let (low, high) = subtree_range(path);
    Ok(conn
        .prepare_cached("DELETE FROM dav_files WHERE account_id = ?1 AND (path = ?2 OR (path >= ?3 AND path < ?4))")?
        .execute(params![account.0, path, low, high])?)
}

pub fn delete(conn: &Connection, account: AccountId, path: &str) -> Result<bool> {
    Ok(remove(conn, account, path)? > 0)
}

pub fn copy(
    conn: &Connection,
    account: AccountId,
    from: &str,
    to: &str,
    recursive: bool,
    moving: bool,
) -> Result<bool> {
    if file(conn, account, from)?.is_none() {
        return Err(StoreError::not_found(from));
    }
    check_parent(conn, account, to)?;
    let replaced = remove(conn, account, to)? > 0;
    let (low, high) = subtree_range(from);
    conn.prepare_cached(
        "INSERT INTO dav_files (account_id, path, collection, content, content_type, etag, dead, modified_at) \
         SELECT account_id, ?3 || substr(path, length(?2) + 1), collection, content, content_type, etag, dead, ?6 \
         FROM dav_files WHERE account_id = ?1 AND (path = ?2 OR (?7 AND path >= ?4 AND path < ?5))",
    )?
    .execute(params![account.0, from, to, low, high, super::now(), recursive])?;
    if moving {
        remove(conn, account, from)?;
    }
    Ok(replaced)
}
