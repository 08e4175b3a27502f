//! IP pools in PostgreSQL (see `crate::ip_pools`), shared by every node.

use super::Tx;
use crate::error::{Result, StoreError};
use crate::ip_pools::{IpPool, NewPoolAddress, PoolAddress};
use crate::sqlite::now;
use crate::tenancy::{STATS_BUCKET, StatKind, Stats, stats_from_rows};
use estafeta_core::model::TenantId;

async fn pool_id(tx: &Tx<'_>, name: &str) -> Result<(i64, bool)> {
    tx.query_opt("SELECT id, dedicated FROM ip_pools WHERE name = $1", &[&name])
        .await?
        .map(|row| (row.get(0), row.get(1)))
        .ok_or_else(|| StoreError::not_found(format!("pool {name}")))
}

pub async fn pool_add(tx: &Tx<'_>, name: &str, dedicated: bool) -> Result<()> {
    if pool_id(tx, name).await.is_ok() {
        return Err(StoreError::exists(format!("pool {name}")));
    }
    tx.execute(
        "INSERT INTO ip_pools (name, dedicated, created_at) VALUES ($1, $2, $3)",
        &[&name, &dedicated, &now()],
    )
    .await?;
    Ok(())
}

pub async fn pool_remove(tx: &Tx<'_>, name: &str) -> Result<()> {
    let (id, _) = pool_id(tx, name).await?;
    let tenants: i64 = tx
        .query_one("SELECT COUNT(*) FROM tenants WHERE pool_id = $1", &[&id])
        .await?
        .get(0);
    if tenants > 0 {
        return Err(StoreError::InUse(format!(
            "pool {name} still serves {tenants} tenant(s); assign them another first"
        )));
    }
    tx.execute("DELETE FROM pool_addresses WHERE pool_id = $1", &[&id])
        .await?;
    tx.execute("DELETE FROM ip_pools WHERE id = $1", &[&id]).await?;
    Ok(())
}

pub async fn pool_list(tx: &Tx<'_>) -> Result<Vec<IpPool>> {
    let mut pools: Vec<IpPool> = tx
        .query(
            "SELECT id, name, dedicated, created_at FROM ip_pools ORDER BY name",
            &[],
        )
        .await?
        .iter()
        .map(|row| IpPool {
            id: row.get(0),
            name: row.get(1),
            dedicated: row.get(2),
            created_at: row.get(3),
            addresses: Vec::new(),
            tenants: Vec::new(),
        })
        .collect();
    for pool in &mut pools {
        pool.addresses = tx
            .query(
                "SELECT address, ehlo, weight, warmup_start, listed, listed_at FROM pool_addresses
                 WHERE pool_id = $1 ORDER BY address",
                &[&pool.id],
            )
            .await?
            .iter()
            .map(|row| PoolAddress {
                address: row.get(0),
                ehlo: row.get(1),
                weight: row.get::<_, i64>(2).clamp(0, u32::MAX as i64) as u32,
                warmup_start: row.get(3),
                listed: row.get(4),
                listed_at: row.get(5),
            })
            .collect();
        pool.tenants = tx
            .query(
                "SELECT id, name FROM tenants WHERE pool_id = $1 ORDER BY id",
                &[&pool.id],
            )
            .await?
            .iter()
            .map(|row| (TenantId(row.get(0)), row.get(1)))
            .collect();
    }
    Ok(pools)
}

pub async fn pool_address_add(tx: &Tx<'_>, pool: &str, address: &NewPoolAddress) -> Result<()> {
    let (id, _) = pool_id(tx, pool).await?;
    let owner = tx
        .query_opt(
            "SELECT p.name FROM pool_addresses a JOIN ip_pools p ON p.id = a.pool_id WHERE a.address = $1",
            &[&address.address],
        )
        .await?;
    if let Some(owner) = owner {
        let owner: String = owner.get(0);
        return Err(StoreError::exists(format!(
            "address {} (in pool {owner})",
            address.address
        )));
    }
    let now = now();
    tx.execute(
        "INSERT INTO pool_addresses (address, pool_id, ehlo, weight, warmup_start, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &address.address,
            &id,
            &address.ehlo,
            &(address.weight as i64),
            &address.warmup.then_some(now),
            &now,
        ],
    )
    .await?;
    Ok(())
}

pub async fn pool_address_remove(tx: &Tx<'_>, address: &str) -> Result<()> {
    if tx
        .execute("DELETE FROM pool_addresses WHERE address = $1", &[&address])
        .await?
        == 0
    {
        return Err(StoreError::not_found(format!("pool address {address}")));
    }
    Ok(())
}

pub async fn pool_assign(tx: &Tx<'_>, pool: Option<&str>, tenant: &str) -> Result<()> {
    let tenant_id: i64 = tx
        .query_opt("SELECT id FROM tenants WHERE name = $1", &[&tenant])
        .await?
        .ok_or_else(|| StoreError::not_found(format!("tenant {tenant}")))?
        .get(0);
    let pool_id = match pool {
        None => None,
        Some(name) => {
            let (id, dedicated) = pool_id(tx, name).await?;
            // Locks the pool row: two nodes assigning at once see each other.
            tx.execute("SELECT 1 FROM ip_pools WHERE id = $1 FOR UPDATE", &[&id])
                .await?;
            let other = tx
                .query_opt(
                    "SELECT name FROM tenants WHERE pool_id = $1 AND id != $2",
                    &[&id, &tenant_id],
                )
                .await?;
            if let (true, Some(other)) = (dedicated, other) {
                let other: String = other.get(0);
                return Err(StoreError::InUse(format!("pool {name} is dedicated to tenant {other}")));
            }
            Some(id)
        }
    };
    tx.execute("UPDATE tenants SET pool_id = $1 WHERE id = $2", &[&pool_id, &tenant_id])
        .await?;
    Ok(())
}

pub async fn pool_address_listed(tx: &Tx<'_>, address: &str, listed: Option<&str>, at: i64) -> Result<bool> {
    let changed = tx
        .execute(
            "UPDATE pool_addresses SET listed = $2::TEXT,
                    listed_at = CASE WHEN $2::TEXT IS NULL THEN NULL ELSE $3::BIGINT END
             WHERE address = $1 AND listed IS DISTINCT FROM $2::TEXT",
            &[&address, &listed, &at],
        )
        .await?;
    Ok(changed > 0)
}

pub async fn warmup_take(tx: &Tx<'_>, address: &str, provider: &str, day: i64, want: u32, cap: u32) -> Result<u32> {
    tx.execute(
        "DELETE FROM warmup_counts WHERE address = $1 AND day < $2",
        &[&address, &(day - 1)],
    )
    .await?;
    // The row is made first and then locked, so nodes taking at once wait
    // for each other instead of both reading the old count.
    tx.execute(
        "INSERT INTO warmup_counts (address, provider, day, sent) VALUES ($1, $2, $3, 0)
         ON CONFLICT (address, provider, day) DO NOTHING",
        &[&address, &provider, &day],
    )
    .await?;
    let sent: i64 = tx
        .query_one(
            "SELECT sent FROM warmup_counts WHERE address = $1 AND provider = $2 AND day = $3 FOR UPDATE",
            &[&address, &provider, &day],
        )
        .await?
        .get(0);
    let granted = (want as i64).min((cap as i64 - sent).max(0));
    if granted > 0 {
        tx.execute(
            "UPDATE warmup_counts SET sent = sent + $4 WHERE address = $1 AND provider = $2 AND day = $3",
            &[&address, &provider, &day, &granted],
        )
        .await?;
    }
    Ok(granted as u32)
}

pub async fn source_stats_add(tx: &Tx<'_>, address: &str, at: i64, counts: &[(StatKind, u64)]) -> Result<()> {
    let bucket = at - at.rem_euclid(STATS_BUCKET);
    let mut counts = counts.to_vec();
    counts.sort();
    for (kind, count) in counts {
        tx.execute(
            "INSERT INTO source_stats (address, bucket, kind, count) VALUES ($1, $2, $3, $4)
             ON CONFLICT (address, bucket, kind) DO UPDATE SET count = source_stats.count + EXCLUDED.count",
            &[&address, &bucket, &kind.code(), &(count as i64)],
        )
        .await?;
    }
    Ok(())
}

pub async fn source_stats_sum(tx: &Tx<'_>, address: &str, since: i64) -> Result<Stats> {
    let bucket = since - since.rem_euclid(STATS_BUCKET);
    let rows = tx
        .query(
            "SELECT kind, SUM(count)::BIGINT FROM source_stats WHERE address = $1 AND bucket >= $2 GROUP BY kind",
            &[&address, &bucket],
        )
        .await?;
    Ok(stats_from_rows(rows.iter().map(|row| (row.get(0), row.get(1)))))
}
