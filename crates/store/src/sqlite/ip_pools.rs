//! IP pools in SQLite (see `crate::pools`).

use crate::error::{Result, StoreError};
use crate::ip_pools::{IpPool, NewPoolAddress, PoolAddress};
use crate::tenancy::{STATS_BUCKET, StatKind, Stats, stats_from_rows};
use estafeta_core::model::TenantId;
use rusqlite::{Connection, OptionalExtension, params};

fn pool_id(conn: &Connection, name: &str) -> Result<(i64, bool)> {
    conn.prepare_cached("SELECT id, dedicated FROM ip_pools WHERE name = ?1")?
        .query_row([name], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?
        .ok_or_else(|| StoreError::not_found(format!("pool {name}")))
}

pub fn pool_add(conn: &Connection, name: &str, dedicated: bool) -> Result<()> {
    if pool_id(conn, name).is_ok() {
        return Err(StoreError::exists(format!("pool {name}")));
    }
    conn.execute(
        "INSERT INTO ip_pools (name, dedicated, created_at) VALUES (?1, ?2, ?3)",
        params![name, dedicated, super::now()],
    )?;
    Ok(())
}

pub fn pool_remove(conn: &Connection, name: &str) -> Result<()> {
    let (id, _) = pool_id(conn, name)?;
    let tenants: i64 = conn.query_row("SELECT COUNT(*) FROM tenants WHERE pool_id = ?1", [id], |row| {
        row.get(0)
    })?;
    if tenants > 0 {
        return Err(StoreError::InUse(format!(
            "pool {name} still serves {tenants} tenant(s); assign them another first"
        )));
    }
    conn.execute("DELETE FROM pool_addresses WHERE pool_id = ?1", [id])?;
    conn.execute("DELETE FROM ip_pools WHERE id = ?1", [id])?;
    Ok(())
}

pub fn pool_list(conn: &Connection) -> Result<Vec<IpPool>> {
    let mut pools: Vec<IpPool> = conn
        .prepare_cached("SELECT id, name, dedicated, created_at FROM ip_pools ORDER BY name")?
        .query_map([], |row| {
            Ok(IpPool {
                id: row.get(0)?,
                name: row.get(1)?,
                dedicated: row.get(2)?,
                created_at: row.get(3)?,
                addresses: Vec::new(),
                tenants: Vec::new(),
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut addresses = conn.prepare_cached(
        "SELECT address, ehlo, weight, warmup_start, listed, listed_at FROM pool_addresses
         WHERE pool_id = ?1 ORDER BY address",
    )?;
    let mut tenants = conn.prepare_cached("SELECT id, name FROM tenants WHERE pool_id = ?1 ORDER BY id")?;
    for pool in &mut pools {
        pool.addresses = addresses
            .query_map([pool.id], |row| {
                Ok(PoolAddress {
                    address: row.get(0)?,
                    ehlo: row.get(1)?,
                    weight: row.get(2)?,
                    warmup_start: row.get(3)?,
                    listed: row.get(4)?,
                    listed_at: row.get(5)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        pool.tenants = tenants
            .query_map([pool.id], |row| Ok((TenantId(row.get(0)?), row.get(1)?)))?
            .collect::<Result<_, _>>()?;
    }
    Ok(pools)
}

pub fn pool_address_add(conn: &Connection, pool: &str, address: &NewPoolAddress) -> Result<()> {
    let (id, _) = pool_id(conn, pool)?;
    let owner: Option<String> = conn
        .query_row(
            "SELECT p.name FROM pool_addresses a JOIN ip_pools p ON p.id = a.pool_id WHERE a.address = ?1",
            [&address.address],
            |row| row.get(0),
        )
        .optional()?;
    if let Some(owner) = owner {
        return Err(StoreError::exists(format!(
            "address {} (in pool {owner})",
            address.address
        )));
    }
    let now = super::now();
    conn.execute(
        "INSERT INTO pool_addresses (address, pool_id, ehlo, weight, warmup_start, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            address.address,
            id,
            address.ehlo,
            address.weight,
            address.warmup.then_some(now),
            now
        ],
    )?;
    Ok(())
}

pub fn pool_address_remove(conn: &Connection, address: &str) -> Result<()> {
    if conn.execute("DELETE FROM pool_addresses WHERE address = ?1", [address])? == 0 {
        return Err(StoreError::not_found(format!("pool address {address}")));
    }
    Ok(())
}

pub fn pool_assign(conn: &Connection, pool: Option<&str>, tenant: &str) -> Result<()> {
    let tenant_id: i64 = conn
        .query_row("SELECT id FROM tenants WHERE name = ?1", [tenant], |row| row.get(0))
        .optional()?
        .ok_or_else(|| StoreError::not_found(format!("tenant {tenant}")))?;
    let pool_id = match pool {
        None => None,
        Some(name) => {
            let (id, dedicated) = pool_id(conn, name)?;
            let other: Option<String> = conn
                .query_row(
                    "SELECT name FROM tenants WHERE pool_id = ?1 AND id != ?2",
                    params![id, tenant_id],
                    |row| row.get(0),
                )
                .optional()?;
            if let (true, Some(other)) = (dedicated, other) {
                return Err(StoreError::InUse(format!("pool {name} is dedicated to tenant {other}")));
            }
            Some(id)
        }
    };
    conn.execute(
        "UPDATE tenants SET pool_id = ?1 WHERE id = ?2",
        params![pool_id, tenant_id],
    )?;
    Ok(())
}

pub fn pool_address_listed(conn: &Connection, address: &str, listed: Option<&str>, at: i64) -> Result<bool> {
    let changed = conn.execute(
        "UPDATE pool_addresses SET listed = ?2, listed_at = CASE WHEN ?2 IS NULL THEN NULL ELSE ?3 END
         WHERE address = ?1 AND listed IS NOT ?2",
        params![address, listed, at],
    )?;
    Ok(changed > 0)
}

pub fn warmup_take(conn: &Connection, address: &str, provider: &str, day: i64, want: u32, cap: u32) -> Result<u32> {
    conn.prepare_cached("DELETE FROM warmup_counts WHERE address = ?1 AND day < ?2")?
        .execute(params![address, day - 1])?;
    let sent: u32 = conn
        .prepare_cached("SELECT sent FROM warmup_counts WHERE address = ?1 AND provider = ?2 AND day = ?3")?
        .query_row(params![address, provider, day], |row| row.get(0))
        .optional()?
        .unwrap_or(0);
    let granted = want.min(cap.saturating_sub(sent));
    if granted > 0 {
        conn.prepare_cached(
            "INSERT INTO warmup_counts (address, provider, day, sent) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (address, provider, day) DO UPDATE SET sent = sent + excluded.sent",
        )?
        .execute(params![address, provider, day, granted])?;
    }
    Ok(granted)
}

pub fn source_stats_add(conn: &Connection, address: &str, at: i64, counts: &[(StatKind, u64)]) -> Result<()> {
    let bucket = at - at.rem_euclid(STATS_BUCKET);
    let mut upsert = conn.prepare_cached(
        "INSERT INTO source_stats (address, bucket, kind, count) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (address, bucket, kind) DO UPDATE SET count = count + excluded.count",
    )?;
    for (kind, count) in counts {
        upsert.execute(params![address, bucket, kind.code(), *count as i64])?;
    }
    Ok(())
}

pub fn source_stats_sum(conn: &Connection, address: &str, since: i64) -> Result<Stats> {
    let bucket = since - since.rem_euclid(STATS_BUCKET);
    let mut statement = conn.prepare_cached(
        "SELECT kind, SUM(count) FROM source_stats WHERE address = ?1 AND bucket >= ?2 GROUP BY kind",
    )?;
    let rows = statement.query_map(params![address, bucket], |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
    })?;
    Ok(stats_from_rows(rows.collect::<Result<Vec<_>, _>>()?))
}
