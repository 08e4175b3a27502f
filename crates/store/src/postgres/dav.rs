//! Calendars and address books in PostgreSQL (see `crate::dav`). A write
//! locks the collection's row before it looks: writes to one collection
//! are in series, so its checks see every earlier write and change
//! numbers follow commit order.

use super::Tx;
use crate::dav::{
    DavChanges, DavCollection, DavDelete, DavKind, DavObject, DavPrecondition, DavProps, DavPut, etag_of,
};
use crate::error::{Result, StoreError};
use crate::sqlite::now;
use estafeta_core::model::AccountId;
use tokio_postgres::Row;

const COLLECTION: &str = "SELECT id, account_id, kind, name, display_name, description, color, components, sync, created_at, dead \
     FROM dav_collections";

fn collection_row(row: &Row) -> DavCollection {
    let kind: String = row.get(2);
    DavCollection {
        id: row.get(0),
        account: AccountId(row.get(1)),
        kind: DavKind::parse(&kind).unwrap_or(DavKind::Calendar),
        name: row.get(3),
        props: DavProps {
            display_name: row.get(4),
            description: row.get(5),
            color: row.get(6),
            components: row.get(7),
            dead: row.get(10),
        },
        sync: row.get(8),
        created_at: row.get(9),
    }
}

fn object_row(row: &Row) -> DavObject {
    DavObject {
        name: row.get(0),
        uid: row.get(1),
        etag: row.get(2),
        content: row.get(3),
        sync: row.get(4),
    }
}

pub async fn collections(tx: &Tx<'_>, account: AccountId, kind: DavKind) -> Result<Vec<DavCollection>> {
    let rows = tx
        .query(
            &format!("{COLLECTION} WHERE account_id = $1 AND kind = $2 ORDER BY name"),
            &[&account.0, &kind.as_str()],
        )
        .await?;
    Ok(rows.iter().map(collection_row).collect())
}

pub async fn collection(tx: &Tx<'_>, account: AccountId, kind: DavKind, name: &str) -> Result<Option<DavCollection>> {
    Ok(tx
        .query_opt(
            &format!("{COLLECTION} WHERE account_id = $1 AND kind = $2 AND name = $3"),
            &[&account.0, &kind.as_str(), &name],
        )
        .await?
        .as_ref()
        .map(collection_row))
}

pub async fn collection_create(
    tx: &Tx<'_>,
    account: AccountId,
    kind: DavKind,
    name: &str,
    props: &DavProps,
) -> Result<DavCollection> {
    if collection(tx, account, kind, name).await?.is_some() {
        return Err(StoreError::exists(format!("{} {name}", kind.as_str())));
    }
    tx.execute(
        "INSERT INTO dav_collections \
         (account_id, kind, name, display_name, description, color, components, sync, created_at, dead) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $9)",
        &[
            &account.0,
            &kind.as_str(),
            &name,
            &props.display_name,
            &props.description,
            &props.color,
            &props.components,
            &now(),
            &props.dead,
        ],
    )
    .await?;
    collection(tx, account, kind, name)
        .await?
        .ok_or_else(|| StoreError::not_found(name))
}

pub async fn collection_update(tx: &Tx<'_>, id: i64, props: &DavProps) -> Result<()> {
    let changed = tx
        .execute(
            "UPDATE dav_collections SET display_name = $2, description = $3, color = $4, components = $5, dead = $6 \
             WHERE id = $1",
            &[
                &id,
                &props.display_name,
                &props.description,
                &props.color,
                &props.components,
                &props.dead,
            ],
        )
        .await?;
    if changed == 0 {
        return Err(StoreError::not_found(format!("collection {id}")));
    }
    Ok(())
}

pub async fn collection_delete(tx: &Tx<'_>, id: i64) -> Result<()> {
    if tx.execute("DELETE FROM dav_collections WHERE id = $1", &[&id]).await? == 0 {
        return Err(StoreError::not_found(format!("collection {id}")));
    }
    Ok(())
}

pub async fn objects(tx: &Tx<'_>, collection: i64) -> Result<Vec<DavObject>> {
    let rows = tx
        .query(
            "SELECT name, uid, etag, content, sync FROM dav_objects WHERE collection_id = $1 ORDER BY name",
            &[&collection],
        )
        .await?;
    Ok(rows.iter().map(object_row).collect())
}

pub async fn object(tx: &Tx<'_>, collection: i64, name: &str) -> Result<Option<DavObject>> {
    Ok(tx
        .query_opt(
            "SELECT name, uid, etag, content, sync FROM dav_objects WHERE collection_id = $1 AND name = $2",
            &[&collection, &name],
        )
        .await?
        .as_ref()
        .map(object_row))
}

/// Locks the collection for this transaction; its change number now.
async fn lock(tx: &Tx<'_>, collection: i64) -> Result<i64> {
    tx.query_opt(
        "SELECT sync FROM dav_collections WHERE id = $1 FOR UPDATE",
        &[&collection],
    )
    .await?
    .map(|row| row.get(0))
    .ok_or_else(|| StoreError::not_found(format!("collection {collection}")))
}

async fn set_sync(tx: &Tx<'_>, collection: i64, sync: i64) -> Result<()> {
    tx.execute(
        "UPDATE dav_collections SET sync = $2 WHERE id = $1",
        &[&collection, &sync],
    )
    .await?;
    Ok(())
}

pub async fn put(
    tx: &Tx<'_>,
    collection: i64,
    name: &str,
    uid: &str,
    content: &str,
    precondition: &DavPrecondition,
) -> Result<DavPut> {
    let sync = lock(tx, collection).await? + 1;
    let existing = object(tx, collection, name).await?;
    if !precondition.holds(existing.as_ref()) {
        return Ok(DavPut::PreconditionFailed);
    }
    let other = tx
        .query_opt(
            "SELECT name FROM dav_objects WHERE collection_id = $1 AND uid = $2 AND name <> $3",
            &[&collection, &uid, &name],
        )
        .await?;
    if let Some(other) = other {
        return Ok(DavPut::UidConflict(other.get(0)));
    }
    let etag = etag_of(content);
    set_sync(tx, collection, sync).await?;
    tx.execute(
        "INSERT INTO dav_objects (collection_id, name, uid, etag, content, sync) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (collection_id, name) DO UPDATE SET uid = EXCLUDED.uid, etag = EXCLUDED.etag, \
         content = EXCLUDED.content, sync = EXCLUDED.sync",
        &[&collection, &name, &uid, &etag, &content, &sync],
    )
    .await?;
    tx.execute(
        "DELETE FROM dav_tombstones WHERE collection_id = $1 AND name = $2",
        &[&collection, &name],
    )
    .await?;
    Ok(DavPut::Written {
        etag,
        created: existing.is_none(),
    })
}

pub async fn delete(tx: &Tx<'_>, collection: i64, name: &str, if_match: Option<&str>) -> Result<DavDelete> {
    let sync = lock(tx, collection).await? + 1;
    let outcome = match object(tx, collection, name).await? {
        None => DavDelete::NotFound,
        Some(existing) if if_match.is_some_and(|etag| etag != existing.etag) => DavDelete::PreconditionFailed,
        Some(_) => DavDelete::Removed,
    };
    if outcome != DavDelete::Removed {
        return Ok(outcome);
    }
    set_sync(tx, collection, sync).await?;
    tx.execute(
        "DELETE FROM dav_objects WHERE collection_id = $1 AND name = $2",
        &[&collection, &name],
    )
    .await?;
    tx.execute(
        "INSERT INTO dav_tombstones (collection_id, name, sync) VALUES ($1, $2, $3) \
         ON CONFLICT (collection_id, name) DO UPDATE SET sync = EXCLUDED.sync",
        &[&collection, &name, &sync],
    )
    .await?;
    Ok(DavDelete::Removed)
}

pub async fn changes(tx: &Tx<'_>, collection: i64, since: i64) -> Result<DavChanges> {
    let sync: i64 = tx
        .query_opt("SELECT sync FROM dav_collections WHERE id = $1", &[&collection])
        .await?
        .map(|row| row.get(0))
        .ok_or_else(|| StoreError::not_found(format!("collection {collection}")))?;
    if since > sync || since < 0 {
        return Err(StoreError::Invalid(format!(
            "sync token {since} is not one this collection gave"
        )));
    }
    let names = |rows: Vec<Row>| rows.iter().map(|row| row.get(0)).collect::<Vec<String>>();
    Ok(DavChanges {
        sync,
        written: names(
            tx.query(
                "SELECT name FROM dav_objects WHERE collection_id = $1 AND sync > $2 ORDER BY sync",
                &[&collection, &since],
            )
            .await?,
        ),
        removed: names(
            tx.query(
                "SELECT name FROM dav_tombstones WHERE collection_id = $1 AND sync > $2 ORDER BY sync",
                &[&collection, &since],
            )
            .await?,
        ),
    })
}
