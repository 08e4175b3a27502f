//! Identities in PostgreSQL (see `crate::identity::Identity`). A new one
//! locks the account's row first, so two at once do not take one slot.

use super::Tx;
use crate::error::{Result, StoreError};
use crate::identity::{Identity, slot_for};
use estafeta_core::model::AccountId;
use tokio_postgres::Row;

fn identity_row(row: &Row) -> Identity {
    Identity {
        slot: row.get(0),
        name: row.get(1),
        email: row.get(2),
        reply_to: row.get(3),
        bcc: row.get(4),
        text_signature: row.get(5),
        html_signature: row.get(6),
    }
}

pub async fn list(tx: &Tx<'_>, account: AccountId) -> Result<Vec<Identity>> {
    let rows = tx
        .query(
            "SELECT slot, name, email, reply_to, bcc, text_signature, html_signature \
             FROM identities WHERE account_id = $1 ORDER BY slot",
            &[&account.0],
        )
        .await?;
    Ok(rows.iter().map(identity_row).collect())
}

pub async fn put(tx: &Tx<'_>, account: AccountId, identity: &Identity) -> Result<i64> {
    tx.query_opt("SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE", &[&account.0])
        .await?
        .ok_or_else(|| StoreError::not_found(format!("account {}", account.0)))?;
    let row = tx
        .query_one(
            "SELECT COUNT(*), COALESCE(MAX(slot), 0) FROM identities WHERE account_id = $1",
            &[&account.0],
        )
        .await?;
    let (count, highest): (i64, i64) = (row.get(0), row.get(1));
    let slot = slot_for(identity, count, highest)?;
    tx.execute(
        "INSERT INTO identities (account_id, slot, name, email, reply_to, bcc, text_signature, html_signature) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (account_id, slot) DO UPDATE SET name = excluded.name, email = excluded.email, \
         reply_to = excluded.reply_to, bcc = excluded.bcc, text_signature = excluded.text_signature, \
         html_signature = excluded.html_signature",
        &[
            &account.0,
            &slot,
            &identity.name,
            &identity.email,
            &identity.reply_to,
            &identity.bcc,
            &identity.text_signature,
            &identity.html_signature,
        ],
    )
    .await?;
    Ok(slot)
}

pub async fn delete(tx: &Tx<'_>, account: AccountId, slot: i64) -> Result<bool> {
    Ok(tx
        .execute(
            "DELETE FROM identities WHERE account_id = $1 AND slot = $2",
            &[&account.0, &slot],
        )
        .await?
        > 0)
}
