//! Calendars and address books in SQLite (see `crate::dav`).

use crate::dav::{
    DavChanges, DavCollection, DavDelete, DavKind, DavObject, DavPrecondition, DavProps, DavPut, etag_of,
};
use crate::error::{Result, StoreError};
use estafeta_core::model::AccountId;
use rusqlite::{Connection, OptionalExtension, Row, params};

const COLLECTION: &str = "SELECT id, account_id, kind, name, display_name, description, color, components, sync, created_at, dead \
     FROM dav_collections";

fn collection_row(row: &Row) -> rusqlite::Result<DavCollection> {
    let kind: String = row.get(2)?;
    Ok(DavCollection {
        id: row.get(0)?,
        account: AccountId(row.get(1)?),
        kind: DavKind::parse(&kind).unwrap_or(DavKind::Calendar),
        name: row.get(3)?,
        props: DavProps {
            display_name: row.get(4)?,
            description: row.get(5)?,
            color: row.get(6)?,
            components: row.get(7)?,
            dead: row.get(10)?,
        },
        sync: row.get(8)?,
        created_at: row.get(9)?,
    })
}

fn object_row(row: &Row) -> rusqlite::Result<DavObject> {
    Ok(DavObject {
        name: row.get(0)?,
        uid: row.get(1)?,
        etag: row.get(2)?,
        content: row.get(3)?,
        sync: row.get(4)?,
    })
}

pub fn collections(conn: &Connection, account: AccountId, kind: DavKind) -> Result<Vec<DavCollection>> {
    let mut statement = conn.prepare_cached(&format!(
        "{COLLECTION} WHERE account_id = ?1 AND kind = ?2 ORDER BY name"
    ))?;
    let rows = statement.query_map(params![account.0, kind.as_str()], collection_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn collection(conn: &Connection, account: AccountId, kind: DavKind, name: &str) -> Result<Option<DavCollection>> {
    Ok(conn
        .prepare_cached(&format!(
            "{COLLECTION} WHERE account_id = ?1 AND kind = ?2 AND name = ?3"
        ))?
        .query_row(params![account.0, kind.as_str(), name], collection_row)
        .optional()?)
}

pub fn collection_create(
    conn: &Connection,
    account: AccountId,
    kind: DavKind,
    name: &str,
    props: &DavProps,
) -> Result<DavCollection> {
    if collection(conn, account, kind, name)?.is_some() {
        return Err(StoreError::exists(format!("{} {name}", kind.as_str())));
    }
    conn.execute(
        "INSERT INTO dav_collections \
         (account_id, kind, name, display_name, description, color, components, sync, created_at, dead) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8, ?9)",
        params![
            account.0,
            kind.as_str(),
            name,
            props.display_name,
            props.description,
            props.color,
            props.components,
            super::now(),
            props.dead
        ],
    )?;
    collection(conn, account, kind, name)?.ok_or_else(|| StoreError::not_found(name))
}

pub fn collection_update(conn: &Connection, id: i64, props: &DavProps) -> Result<()> {
    let changed = conn.execute(
        "UPDATE dav_collections SET display_name = ?2, description = ?3, color = ?4, components = ?5, dead = ?6 WHERE id = ?1",
        params![id, props.display_name, props.description, props.color, props.components, props.dead],
    )?;
    if changed == 0 {
        return Err(StoreError::not_found(format!("collection {id}")));
    }
    Ok(())
}

pub fn collection_delete(conn: &Connection, id: i64) -> Result<()> {
    // Its resources and tombstones go with it (ON DELETE CASCADE).
    if conn.execute("DELETE FROM dav_collections WHERE id = ?1", [id])? == 0 {
        return Err(StoreError::not_found(format!("collection {id}")));
    }
    Ok(())
}

pub fn objects(conn: &Connection, collection: i64) -> Result<Vec<DavObject>> {
    let mut statement = conn.prepare_cached(
        "SELECT name, uid, etag, content, sync FROM dav_objects WHERE collection_id = ?1 ORDER BY name",
    )?;
    let rows = statement.query_map([collection], object_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn object(conn: &Connection, collection: i64, name: &str) -> Result<Option<DavObject>> {
    Ok(conn
        .prepare_cached(
            "SELECT name, uid, etag, content, sync FROM dav_objects WHERE collection_id = ?1 AND name = ?2",
        )?
        .query_row(params![collection, name], object_row)
        .optional()?)
}

/// The collection's next change number, taken.
fn next_sync(conn: &Connection, collection: i64) -> Result<i64> {
    conn.prepare_cached("UPDATE dav_collections SET sync = sync + 1 WHERE id = ?1 RETURNING sync")?
        .query_row([collection], |row| row.get(0))
        .optional()?
        .ok_or_else(|| StoreError::not_found(format!("collection {collection}")))
}

pub fn put(
    conn: &Connection,
    collection: i64,
    name: &str,
    uid: &str,
    content: &str,
    precondition: &DavPrecondition,
) -> Result<DavPut> {
    let existing = object(conn, collection, name)?;
    if !precondition.holds(existing.as_ref()) {
        return Ok(DavPut::PreconditionFailed);
    }
    let other: Option<String> = conn
        .prepare_cached("SELECT name FROM dav_objects WHERE collection_id = ?1 AND uid = ?2 AND name <> ?3")?
        .query_row(params![collection, uid, name], |row| row.get(0))
        .optional()?;
    if let Some(other) = other {
        return Ok(DavPut::UidConflict(other));
    }
    let etag = etag_of(content);
    let sync = next_sync(conn, collection)?;
    conn.prepare_cached(
        "INSERT INTO dav_objects (collection_id, name, uid, etag, content, sync) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
         ON CONFLICT (collection_id, name) DO UPDATE SET uid = excluded.uid, etag = excluded.etag, \
         content = excluded.content, sync = excluded.sync",
    )?
    .execute(params![collection, name, uid, etag, content, sync])?;
    conn.prepare_cached("DELETE FROM dav_tombstones WHERE collection_id = ?1 AND name = ?2")?
        .execute(params![collection, name])?;
    Ok(DavPut::Written {
        etag,
        created: existing.is_none(),
    })
}

pub fn delete(conn: &Connection, collection: i64, name: &str, if_match: Option<&str>) -> Result<DavDelete> {
    let Some(existing) = object(conn, collection, name)? else {
        return Ok(DavDelete::NotFound);
    };
    if if_match.is_some_and(|etag| etag != existing.etag) {
        return Ok(DavDelete::PreconditionFailed);
    }
    let sync = next_sync(conn, collection)?;
    conn.prepare_cached("DELETE FROM dav_objects WHERE collection_id = ?1 AND name = ?2")?
        .execute(params![collection, name])?;
    conn.prepare_cached(
        "INSERT INTO dav_tombstones (collection_id, name, sync) VALUES (?1, ?2, ?3) \
         ON CONFLICT (collection_id, name) DO UPDATE SET sync = excluded.sync",
    )?
    .execute(params![collection, name, sync])?;
    Ok(DavDelete::Removed)
}

pub fn changes(conn: &Connection, collection: i64, since: i64) -> Result<DavChanges> {
    let sync: i64 = conn
        .prepare_cached("SELECT sync FROM dav_collections WHERE id = ?1")?
        .query_row([collection], |row| row.get(0))
        .optional()?
        .ok_or_else(|| StoreError::not_found(format!("collection {collection}")))?;
    if since > sync || since < 0 {
        return Err(StoreError::Invalid(format!(
            "sync token {since} is not one this collection gave"
        )));
    }
    let names = |sql: &str| -> Result<Vec<String>> {
        let mut statement = conn.prepare_cached(sql)?;
        let rows = statement.query_map(params![collection, since], |row| row.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    };
    Ok(DavChanges {
        sync,
        written: names("SELECT name FROM dav_objects WHERE collection_id = ?1 AND sync > ?2 ORDER BY sync")?,
        removed: names("SELECT name FROM dav_tombstones WHERE collection_id = ?1 AND sync > ?2 ORDER BY sync")?,
    })
}
