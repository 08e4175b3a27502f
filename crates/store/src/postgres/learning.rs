//! The filter's knowledge in PostgreSQL: token counts, correspondents and
//! the greylist (see `crate::learning`), shared by every node.

use super::Tx;
use crate::error::Result;
use crate::learning::{Greylisting, ModelScope, TokenCounts, Training, push_count};
use estafeta_core::model::AccountId;

pub async fn tokens_get(tx: &Tx<'_>, scope: ModelScope, tokens: &[u64]) -> Result<TokenCounts> {
    let (classifier, owner) = (scope.classifier.code() as i16, scope.scope_code());
    let mut counts = TokenCounts::default();
    for row in tx
        .query(
            "SELECT class, count FROM filter_totals WHERE classifier = $1 AND scope = $2",
            &[&classifier, &owner],
        )
        .await?
    {
        let (class, count): (i16, i64) = (row.get(0), row.get(1));
        counts.totals.insert(class as u8, count.max(0) as u64);
    }
    let wanted: Vec<i64> = tokens.iter().map(|t| *t as i64).collect();
    for row in tx
        .query(
            "SELECT token, class, count FROM filter_tokens
             WHERE classifier = $1 AND scope = $2 AND token = ANY($3)",
            &[&classifier, &owner, &wanted],
        )
        .await?
    {
        let (token, class, count): (i64, i16, i64) = (row.get(0), row.get(1), row.get(2));
        push_count(&mut counts, token, i64::from(class), count);
    }
    Ok(counts)
}

pub async fn tokens_learn(tx: &Tx<'_>, scope: ModelScope, training: &Training) -> Result<()> {
    let (classifier, owner) = (scope.classifier.code() as i16, scope.scope_code());
    // One order for every writer, so two nodes learning at once do not deadlock.
    let mut deltas = training.token_deltas();
    deltas.sort_unstable();
    let tokens: Vec<i64> = deltas.iter().map(|d| d.0).collect();
    let classes: Vec<i16> = deltas.iter().map(|d| d.1 as i16).collect();
    let changes: Vec<i64> = deltas.iter().map(|d| d.2).collect();
    tx.execute(
        "INSERT INTO filter_tokens (classifier, scope, token, class, count)
         SELECT $1, $2, t, c, d FROM unnest($3::BIGINT[], $4::SMALLINT[], $5::BIGINT[]) AS u(t, c, d)
         ON CONFLICT (classifier, scope, token, class)
         DO UPDATE SET count = GREATEST(filter_tokens.count + EXCLUDED.count, 0)",
        &[&classifier, &owner, &tokens, &classes, &changes],
    )
    .await?;
    tx.execute(
        "DELETE FROM filter_tokens WHERE classifier = $1 AND scope = $2 AND count <= 0 AND token = ANY($3)",
        &[&classifier, &owner, &tokens],
    )
    .await?;
    for (class, delta) in training.total_deltas() {
        tx.execute(
            "INSERT INTO filter_totals (classifier, scope, class, count) VALUES ($1, $2, $3, GREATEST($4::BIGINT, 0))
             ON CONFLICT (classifier, scope, class)
             DO UPDATE SET count = GREATEST(filter_totals.count + $4::BIGINT, 0)",
            &[&classifier, &owner, &(class as i16), &delta],
        )
        .await?;
    }
    Ok(())
}

pub async fn correspondents_add(tx: &Tx<'_>, account: AccountId, addresses: &[String], now: i64) -> Result<()> {
    let mut addresses: Vec<String> = addresses.iter().map(|a| a.to_lowercase()).collect();
    addresses.sort_unstable();
    addresses.dedup();
    tx.execute(
        "INSERT INTO correspondents (account_id, address, last_seen) SELECT $1, a, $3 FROM unnest($2::TEXT[]) AS a
         ON CONFLICT (account_id, address) DO UPDATE SET last_seen = EXCLUDED.last_seen",
        &[&account.0, &addresses, &now],
    )
    .await?;
    Ok(())
}

pub async fn correspondent_known(tx: &Tx<'_>, account: AccountId, address: &str) -> Result<bool> {
    Ok(tx
        .query_opt(
            "SELECT 1 FROM correspondents WHERE account_id = $1 AND address = $2",
            &[&account.0, &address.to_lowercase()],
        )
        .await?
        .is_some())
}

pub async fn sent_ids_add(tx: &Tx<'_>, account: AccountId, message_ids: &[String], now: i64) -> Result<()> {
    let mut ids = message_ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    tx.execute(
        "INSERT INTO sent_message_ids (account_id, message_id, sent_at) SELECT $1, m, $3 FROM unnest($2::TEXT[]) AS m
         ON CONFLICT (account_id, message_id) DO UPDATE SET sent_at = EXCLUDED.sent_at",
        &[&account.0, &ids, &now],
    )
    .await?;
    Ok(())
}

pub async fn sent_id_known(tx: &Tx<'_>, account: AccountId, message_ids: &[String]) -> Result<bool> {
    Ok(tx
        .query_opt(
            "SELECT 1 FROM sent_message_ids WHERE account_id = $1 AND message_id = ANY($2::TEXT[]) LIMIT 1",
            &[&account.0, &message_ids],
        )
        .await?
        .is_some())
}

pub async fn forget_account(tx: &Tx<'_>, account: AccountId) -> Result<()> {
    tx.execute("DELETE FROM filter_tokens WHERE scope = $1", &[&account.0])
        .await?;
    tx.execute("DELETE FROM filter_totals WHERE scope = $1", &[&account.0])
        .await?;
    tx.execute("DELETE FROM correspondents WHERE account_id = $1", &[&account.0])
        .await?;
    tx.execute("DELETE FROM sent_message_ids WHERE account_id = $1", &[&account.0])
        .await?;
    Ok(())
}

/// RFC 6647 4, as the SQLite store does it; the row lock makes two nodes
/// seeing the same retry agree.
pub async fn greylist_check(tx: &Tx<'_>, key: &str, now: i64, rules: &Greylisting) -> Result<bool> {
    let inserted = tx
        .execute(
            "INSERT INTO greylist (key, first_seen, passed, last_seen) VALUES ($1, $2, FALSE, $2)
             ON CONFLICT (key) DO NOTHING",
            &[&key, &now],
        )
        .await?;
    if inserted == 1 {
        return Ok(false);
    }
    let row = tx
        .query_one(
            "SELECT first_seen, passed, last_seen FROM greylist WHERE key = $1 FOR UPDATE",
            &[&key],
        )
        .await?;
    let (first_seen, passed, last_seen): (i64, bool, i64) = (row.get(0), row.get(1), row.get(2));
    let since = now - first_seen;
    if since < rules.delay && !passed {
        return Ok(false);
    }
    let pass = (passed && now - last_seen <= rules.lifetime) || (!passed && since <= rules.retry_window);
    if pass {
        tx.execute(
            "UPDATE greylist SET passed = TRUE, last_seen = $2 WHERE key = $1",
            &[&key, &now],
        )
        .await?;
    } else {
        tx.execute(
            "UPDATE greylist SET first_seen = $2, passed = FALSE, last_seen = $2 WHERE key = $1",
            &[&key, &now],
        )
        .await?;
        tx.execute(
            "DELETE FROM greylist WHERE last_seen < $1",
            &[&(now - rules.lifetime.max(rules.retry_window))],
        )
        .await?;
    }
    Ok(pass)
}
