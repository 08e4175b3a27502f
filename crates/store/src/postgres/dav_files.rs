//! The WebDAV file space in PostgreSQL (see `crate::dav::DavFile`). A
//! write locks the account's row first: one account's tree changes in
//! series, so a parent checked is still there when its child is written.

use super::Tx;
use crate::dav::{DavFile, DavPrecondition, DavPut, etag_of_bytes, parent_of, subtree_range};
use crate::error::{Result, StoreError};
use crate::sqlite::now;
use estafeta_core::model::AccountId;
use tokio_postgres::Row;

const COLUMNS: &str = "path, collection, content, length(content)::BIGINT, content_type, etag, dead, modified_at";

fn file_row(row: &Row) -> DavFile {
    DavFile {
        path: row.get(0),
        collection: row.get(1),
        content: row.get(2),
        length: row.get(3),
        content_type: row.get(4),
        etag: row.get(5),
        dead: row.get(6),
        modified_at: row.get(7),
    }
}

async fn lock(tx: &Tx<'_>, account: AccountId) -> Result<()> {
    tx.query_opt("SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE", &[&account.0])
        .await?
        .ok_or_else(|| StoreError::not_found(format!("account {}", account.0)))?;
    Ok(())
}

pub async fn file(tx: &Tx<'_>, account: AccountId, path: &str) -> Result<Option<DavFile>> {
    Ok(tx
        .query_opt(
            &format!("SELECT {COLUMNS} FROM dav_files WHERE account_id = $1 AND path = $2"),
            &[&account.0, &path],
        )
        .await?
        .as_ref()
        .map(file_row))
}

pub async fn tree(tx: &Tx<'_>, account: AccountId, path: &str) -> Result<Vec<DavFile>> {
    let (low, high) = subtree_range(path);
    let rows = tx
        .query(
            "SELECT path, collection, ''::BYTEA, length(content)::BIGINT, content_type, etag, dead, modified_at \
             FROM dav_files WHERE account_id = $1 AND (path = $2 OR $2 = '' OR (path >= $3 AND path < $4)) \
             ORDER BY path",
            &[&account.0, &path, &low, &high],
        )
        .await?;
    Ok(rows.iter().map(file_row).collect())
}

async fn check_parent(tx: &Tx<'_>, account: AccountId, path: &str) -> Result<()> {
    let parent = parent_of(path);
    if parent.is_empty() || file(tx, account, parent).await?.is_some_and(|found| found.collection) {
        Ok(())
    } else {
        Err(StoreError::not_found(format!("collection {parent}")))
    }
}

pub async fn write(
    tx: &Tx<'_>,
    account: AccountId,
    path: &str,
    collection: bool,
    content: &[u8],
    content_type: &str,
    precondition: &DavPrecondition,
) -> Result<DavPut> {
    lock(tx, account).await?;
    check_parent(tx, account, path).await?;
    let existing = file(tx, account, path).await?;
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
    tx.execute(
        "INSERT INTO dav_files (account_id, path, collection, content, content_type, etag, dead, modified_at) \
         VALUES ($1, $2, $3, $4, $5, $6, '', $7) \
         ON CONFLICT (account_id, path) DO UPDATE SET content = EXCLUDED.content, \
         content_type = EXCLUDED.content_type, etag = EXCLUDED.etag, modified_at = EXCLUDED.modified_at",
        &[&account.0, &path, &collection, &content, &content_type, &etag, &now()],
    )
    .await?;
    Ok(DavPut::Written {
        etag,
        created: existing.is_none(),
    })
}

pub async fn set_dead(tx: &Tx<'_>, account: AccountId, path: &str, dead: &str) -> Result<()> {
    let changed = tx
        .execute(
            "UPDATE dav_files SET dead = $3 WHERE account_id = $1 AND path = $2",
            &[&account.0, &path, &dead],
        )
        .await?;
    if changed == 0 {
        return Err(StoreError::not_found(path));
    }
    Ok(())
}

async fn remove(tx: &Tx<'_>, account: AccountId, path: &str) -> Result<u64> {
    let (low, high) = subtree_range(path);
    Ok(tx
        .execute(
            "DELETE FROM dav_files WHERE account_id = $1 AND (path = $2 OR (path >= $3 AND path < $4))",
            &[&account.0, &path, &low, &high],
        )
        .await?)
}

pub async fn delete(tx: &Tx<'_>, account: AccountId, path: &str) -> Result<bool> {
    lock(tx, account).await?;
    Ok(remove(tx, account, path).await? > 0)
}

pub async fn copy(
    tx: &Tx<'_>,
    account: AccountId,
    from: &str,
    to: &str,
    recursive: bool,
    moving: bool,
) -> Result<bool> {
    lock(tx, account).await?;
    if file(tx, account, from).await?.is_none() {
        return Err(StoreError::not_found(from));
    }
    check_parent(tx, account, to).await?;
    let replaced = remove(tx, account, to).await? > 0;
    let (low, high) = subtree_range(from);
    tx.execute(
        "INSERT INTO dav_files (account_id, path, collection, content, content_type, etag, dead, modified_at) \
         SELECT account_id, $3 || substr(path, length($2) + 1), collection, content, content_type, etag, dead, $6 \
         FROM dav_files WHERE account_id = $1 AND (path = $2 OR ($7 AND path >= $4 AND path < $5))",
        &[&account.0, &from, &to, &low, &high, &now(), &recursive],
    )
    .await?;
    if moving {
        remove(tx, account, from).await?;
    }
    Ok(replaced)
}
