//! The filter's knowledge in SQLite: token counts, correspondents and the
//! greylist (see `crate::learning`).

use crate::error::Result;
use crate::learning::{Greylisting, ModelScope, TokenCounts, Training, push_count};
use estafeta_core::model::AccountId;
use rusqlite::{Connection, OptionalExtension, params};

pub fn tokens_get(conn: &Connection, scope: ModelScope, tokens: &[u64]) -> Result<TokenCounts> {
    let (classifier, owner) = (scope.classifier.code(), scope.scope_code());
    let mut counts = TokenCounts::default();
    let mut totals =
        conn.prepare_cached("SELECT class, count FROM filter_totals WHERE classifier = ?1 AND scope = ?2")?;
    for row in totals.query_map(params![classifier, owner], |row| {
        Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?))
    })? {
        let (class, count) = row?;
        counts.totals.insert(class as u8, count.max(0) as u64);
    }
    let mut lookup = conn
        .prepare_cached("SELECT class, count FROM filter_tokens WHERE classifier = ?1 AND scope = ?2 AND token = ?3")?;
    for token in tokens {
        let token = *token as i64;
        for row in lookup.query_map(params![classifier, owner, token], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?))
        })? {
            let (class, count) = row?;
            push_count(&mut counts, token, class, count);
        }
    }
    Ok(counts)
}

pub fn tokens_learn(conn: &Connection, scope: ModelScope, training: &Training) -> Result<()> {
    let (classifier, owner) = (scope.classifier.code(), scope.scope_code());
    let mut upsert = conn.prepare_cached(
        "INSERT INTO filter_tokens (classifier, scope, token, class, count) VALUES (?1, ?2, ?3, ?4, MAX(?5, 0))
         ON CONFLICT (classifier, scope, token, class) DO UPDATE SET count = MAX(count + ?5, 0)",
    )?;
    for (token, class, delta) in training.token_deltas() {
        upsert.execute(params![classifier, owner, token, class, delta])?;
    }
    conn.execute(
        "DELETE FROM filter_tokens WHERE classifier = ?1 AND scope = ?2 AND count = 0",
        params![classifier, owner],
    )?;
    let mut totals = conn.prepare_cached(
        "INSERT INTO filter_totals (classifier, scope, class, count) VALUES (?1, ?2, ?3, MAX(?4, 0))
         ON CONFLICT (classifier, scope, class) DO UPDATE SET count = MAX(count + ?4, 0)",
    )?;
    for (class, delta) in training.total_deltas() {
        totals.execute(params![classifier, owner, class, delta])?;
    }
    Ok(())
}

pub fn correspondents_add(conn: &Connection, account: AccountId, addresses: &[String], now: i64) -> Result<()> {
    let mut upsert = conn.prepare_cached(
        "INSERT INTO correspondents (account_id, address, last_seen) VALUES (?1, ?2, ?3)
         ON CONFLICT (account_id, address) DO UPDATE SET last_seen = excluded.last_seen",
    )?;
    for address in addresses {
        upsert.execute(params![account.0, address.to_lowercase(), now])?;
    }
    Ok(())
}

pub fn correspondent_known(conn: &Connection, account: AccountId, address: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM correspondents WHERE account_id = ?1 AND address = ?2")?
        .query_row(params![account.0, address.to_lowercase()], |_| Ok(()))
        .optional()?
        .is_some())
}

pub fn sent_ids_add(conn: &Connection, account: AccountId, message_ids: &[String], now: i64) -> Result<()> {
    let mut upsert = conn.prepare_cached(
        "INSERT INTO sent_message_ids (account_id, message_id, sent_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (account_id, message_id) DO UPDATE SET sent_at = excluded.sent_at",
    )?;
    for id in message_ids {
        upsert.execute(params![account.0, id, now])?;
    }
    Ok(())
}

pub fn sent_id_known(conn: &Connection, account: AccountId, message_ids: &[String]) -> Result<bool> {
    let mut find = conn.prepare_cached("SELECT 1 FROM sent_message_ids WHERE account_id = ?1 AND message_id = ?2")?;
    for id in message_ids {
        if find.query_row(params![account.0, id], |_| Ok(())).optional()?.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}

pub fn forget_account(conn: &Connection, account: AccountId) -> Result<()> {
    conn.execute("DELETE FROM filter_tokens WHERE scope = ?1", [account.0])?;
    conn.execute("DELETE FROM filter_totals WHERE scope = ?1", [account.0])?;
    conn.execute("DELETE FROM correspondents WHERE account_id = ?1", [account.0])?;
    conn.execute("DELETE FROM sent_message_ids WHERE account_id = ?1", [account.0])?;
    Ok(())
}

/// RFC 6647 4: a first attempt is deferred; a retry after the delay but
/// within the window passes, and the triplet then passes at once until it
/// has not been seen for the lifetime.
pub fn greylist_check(conn: &Connection, key: &str, now: i64, rules: &Greylisting) -> Result<bool> {
    let row: Option<(i64, bool, i64)> = conn
        .prepare_cached("SELECT first_seen, passed, last_seen FROM greylist WHERE key = ?1")?
        .query_row([key], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .optional()?;
    let pass = match row {
        Some((_, true, last_seen)) if now - last_seen <= rules.lifetime => true,
        Some((first_seen, false, _)) if now - first_seen >= rules.delay && now - first_seen <= rules.retry_window => {
            true
        }
        Some((first_seen, false, _)) if now - first_seen < rules.delay => return Ok(false),
        _ => false,
    };
    if pass {
        conn.prepare_cached("UPDATE greylist SET passed = 1, last_seen = ?2 WHERE key = ?1")?
            .execute(params![key, now])?;
    } else {
        conn.prepare_cached(
            "INSERT INTO greylist (key, first_seen, passed, last_seen) VALUES (?1, ?2, 0, ?2)
             ON CONFLICT (key) DO UPDATE SET first_seen = ?2, passed = 0, last_seen = ?2",
        )?
        .execute(params![key, now])?;
        conn.prepare_cached("DELETE FROM greylist WHERE last_seen < ?1")?
            .execute([now - rules.lifetime.max(rules.retry_window)])?;
    }
    Ok(pass)
}
