//! Identities in SQLite (see `crate::identity::Identity`).

use crate::error::Result;
use crate::identity::{Identity, slot_for};
use estafeta_core::model::AccountId;
use rusqlite::{Connection, Row, params};

fn identity_row(row: &Row) -> rusqlite::Result<Identity> {
    Ok(Identity {
        slot: row.get(0)?,
        name: row.get(1)?,
        email: row.get(2)?,
        reply_to: row.get(3)?,
        bcc: row.get(4)?,
        text_signature: row.get(5)?,
        html_signature: row.get(6)?,
    })
}

pub fn list(conn: &Connection, account: AccountId) -> Result<Vec<Identity>> {
    let mut statement = conn.prepare_cached(
        "SELECT slot, name, email, reply_to, bcc, text_signature, html_signature \
         FROM identities WHERE account_id = ?1 ORDER BY slot",
    )?;
    let rows = statement.query_map(params![account.0], identity_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn put(conn: &Connection, account: AccountId, identity: &Identity) -> Result<i64> {
    let (count, highest): (i64, i64) = conn
        .prepare_cached("SELECT COUNT(*), COALESCE(MAX(slot), 0) FROM identities WHERE account_id = ?1")?
        .query_row(params![account.0], |row| Ok((row.get(0)?, row.get(1)?)))?;
    let slot = slot_for(identity, count, highest)?;
    conn.prepare_cached(
        "INSERT INTO identities (account_id, slot, name, email, reply_to, bcc, text_signature, html_signature) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
         ON CONFLICT (account_id, slot) DO UPDATE SET name = excluded.name, email = excluded.email, \
         reply_to = excluded.reply_to, bcc = excluded.bcc, text_signature = excluded.text_signature, \
         html_signature = excluded.html_signature",
    )?
    .execute(params![
        account.0,
        slot,
        identity.name,
        identity.email,
        identity.reply_to,
        identity.bcc,
        identity.text_signature,
        identity.html_signature
    ])?;
    Ok(slot)
}

pub fn delete(conn: &Connection, account: AccountId, slot: i64) -> Result<bool> {
    Ok(conn
        .prepare_cached("DELETE FROM identities WHERE account_id = ?1 AND slot = ?2")?
        .execute(params![account.0, slot])?
        > 0)
}
