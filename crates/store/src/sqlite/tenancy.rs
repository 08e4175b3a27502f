//! Tenants and suppression lists in SQLite (see `crate::tenancy`).

use crate::error::{Result, StoreError};
use crate::tenancy::{
    DEFAULT_TENANT, DeliveryRecord, STATS_BUCKET, StatKind, Stats, Suppression, SuppressionReason, Tenant,
    stats_from_rows, suppression_key,
};
use estafeta_core::model::TenantId;
use rusqlite::{Connection, OptionalExtension, Row, params};

fn tenant_from_row(row: &Row) -> rusqlite::Result<Tenant> {
    Ok(Tenant {
        id: TenantId(row.get(0)?),
        name: row.get(1)?,
        created_at: row.get(2)?,
        paused: row.get(3)?,
    })
}

pub fn tenant_get(conn: &Connection, name: &str) -> Result<Option<Tenant>> {
    Ok(conn
        .prepare_cached("SELECT id, name, created_at, paused FROM tenants WHERE name = ?1")?
        .query_row([name], tenant_from_row)
        .optional()?)
}

pub fn tenant_add(conn: &Connection, name: &str) -> Result<Tenant> {
    if tenant_get(conn, name)?.is_some() {
        return Err(StoreError::exists(format!("tenant {name}")));
    }
    let created_at = super::now();
    conn.execute(
        "INSERT INTO tenants (name, created_at) VALUES (?1, ?2)",
        params![name, created_at],
    )?;
    Ok(Tenant {
        id: TenantId(conn.last_insert_rowid()),
        name: name.to_owned(),
        created_at,
        paused: None,
    })
}

pub fn tenant_list(conn: &Connection) -> Result<Vec<Tenant>> {
    let mut statement = conn.prepare_cached("SELECT id, name, created_at, paused FROM tenants ORDER BY id")?;
    let rows = statement.query_map([], tenant_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn tenant_remove(conn: &Connection, name: &str) -> Result<()> {
    let tenant = tenant_get(conn, name)?.ok_or_else(|| StoreError::not_found(format!("tenant {name}")))?;
    if tenant.id == DEFAULT_TENANT {
        return Err(StoreError::InUse(
            "the default tenant owns every domain not given to another; it stays".into(),
        ));
    }
    let domains: i64 = conn.query_row(
        "SELECT COUNT(*) FROM domains WHERE tenant_id = ?1",
        [tenant.id.0],
        |row| row.get(0),
    )?;
    if domains > 0 {
        return Err(StoreError::InUse(format!(
            "tenant {name} still owns {domains} domain(s); give them to another tenant or remove them first"
        )));
    }
    conn.execute("DELETE FROM suppressions WHERE tenant_id = ?1", [tenant.id.0])?;
    conn.execute("DELETE FROM tenants WHERE id = ?1", [tenant.id.0])?;
    Ok(())
}

pub fn domain_set_tenant(conn: &Connection, domain: &str, tenant: TenantId) -> Result<()> {
    let changed = conn.execute(
        "UPDATE domains SET tenant_id = ?2 WHERE name = ?1",
        params![domain.to_ascii_lowercase(), tenant.0],
    )?;
    if changed == 0 {
        return Err(StoreError::not_found(format!("domain {domain}")));
    }
    Ok(())
}

pub fn domain_tenant(conn: &Connection, domain: &str) -> Result<Option<TenantId>> {
    Ok(conn
        .prepare_cached("SELECT tenant_id FROM domains WHERE name = ?1")?
        .query_row([domain.to_ascii_lowercase()], |row| row.get(0))
        .optional()?
        .map(TenantId))
}

fn suppression_from_row(row: &Row) -> rusqlite::Result<Suppression> {
    let reason: String = row.get(3)?;
    Ok(Suppression {
        tenant: TenantId(row.get(0)?),
        sender_domain: row.get(1)?,
        address: row.get(2)?,
        reason: SuppressionReason::parse(&reason).unwrap_or(SuppressionReason::Manual),
        detail: row.get(4)?,
        created_at: row.get(5)?,
        expires_at: row.get(6)?,
    })
}

const COLUMNS: &str = "tenant_id, sender_domain, address, reason, detail, created_at, expires_at";

pub fn suppression_add(conn: &Connection, entry: &Suppression) -> Result<()> {
    conn.prepare_cached(&format!(
        "INSERT OR REPLACE INTO suppressions ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
    ))?
    .execute(params![
        entry.tenant.0,
        entry.sender_domain.to_ascii_lowercase(),
        suppression_key(&entry.address),
        entry.reason.code(),
        entry.detail,
        entry.created_at,
        entry.expires_at,
    ])?;
    Ok(())
}

pub fn suppression_check(
    conn: &Connection,
    tenant: TenantId,
    sender_domain: &str,
    address: &str,
    now: i64,
) -> Result<Option<Suppression>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM suppressions
             WHERE tenant_id = ?1 AND address = ?2 AND sender_domain IN ('', ?3)
               AND (expires_at IS NULL OR expires_at > ?4)
             ORDER BY sender_domain LIMIT 1"
        ))?
        .query_row(
            params![
                tenant.0,
                suppression_key(address),
                sender_domain.to_ascii_lowercase(),
                now
            ],
            suppression_from_row,
        )
        .optional()?)
}

pub fn suppression_list(conn: &Connection, tenant: TenantId, now: i64) -> Result<Vec<Suppression>> {
    let mut statement = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM suppressions
         WHERE tenant_id = ?1 AND (expires_at IS NULL OR expires_at > ?2)
         ORDER BY address, sender_domain"
    ))?;
    let rows = statement.query_map(params![tenant.0, now], suppression_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn suppression_remove(
    conn: &Connection,
    tenant: TenantId,
    sender_domain: Option<&str>,
    address: &str,
) -> Result<u64> {
    let key = suppression_key(address);
    let removed = match sender_domain {
        Some(domain) => conn.execute(
            "DELETE FROM suppressions WHERE tenant_id = ?1 AND address = ?2 AND sender_domain = ?3",
            params![tenant.0, key, domain.to_ascii_lowercase()],
        )?,
        None => conn.execute(
            "DELETE FROM suppressions WHERE tenant_id = ?1 AND address = ?2",
            params![tenant.0, key],
        )?,
    };
    Ok(removed as u64)
}

pub fn tenant_pause(conn: &Connection, tenant: TenantId, reason: Option<&str>) -> Result<()> {
    let changed = conn.execute(
        "UPDATE tenants SET paused = ?2 WHERE id = ?1",
        params![tenant.0, reason],
    )?;
    if changed == 0 {
        return Err(StoreError::not_found(format!("tenant {tenant}")));
    }
    Ok(())
}

fn delivery_from_row(row: &Row) -> rusqlite::Result<DeliveryRecord> {
    Ok(DeliveryRecord {
        id: row.get(0)?,
        queue_id: row.get(1)?,
        queued_at: row.get(2)?,
        recipient: row.get(3)?,
        sender: row.get(4)?,
        tenant: TenantId(row.get(5)?),
        sender_domain: row.get(6)?,
        sent_at: row.get(7)?,
        message_id: row.get(8)?,
    })
}

pub fn delivery_record(conn: &Connection, record: &DeliveryRecord) -> Result<i64> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO deliveries
         (queue_id, queued_at, recipient, sender, tenant_id, sender_domain, sent_at, message_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        record.queue_id,
        record.queued_at,
        record.recipient,
        record.sender,
        record.tenant.0,
        record.sender_domain,
        record.sent_at,
        record.message_id
    ])?;
    Ok(conn
        .prepare_cached("SELECT id FROM deliveries WHERE queue_id = ?1 AND queued_at = ?2 AND recipient = ?3")?
        .query_row(params![record.queue_id, record.queued_at, record.recipient], |row| {
            row.get(0)
        })?)
}

pub fn delivery_get(conn: &Connection, id: i64) -> Result<Option<DeliveryRecord>> {
    Ok(conn
        .prepare_cached(
            "SELECT id, queue_id, queued_at, recipient, sender, tenant_id, sender_domain, sent_at, message_id
             FROM deliveries WHERE id = ?1",
        )?
        .query_row([id], delivery_from_row)
        .optional()?)
}

pub fn delivery_find(conn: &Connection, message_id: &str, recipient: &str) -> Result<Option<DeliveryRecord>> {
    Ok(conn
        .prepare_cached(
            "SELECT id, queue_id, queued_at, recipient, sender, tenant_id, sender_domain, sent_at, message_id
             FROM deliveries WHERE message_id = ?1 AND recipient = ?2 ORDER BY id DESC LIMIT 1",
        )?
        .query_row(params![message_id, recipient.to_lowercase()], delivery_from_row)
        .optional()?)
}

pub fn deliveries_expire(conn: &Connection, before: i64) -> Result<u64> {
    Ok(conn.execute("DELETE FROM deliveries WHERE sent_at < ?1", [before])? as u64)
}

pub fn stats_add(
    conn: &Connection,
    tenant: TenantId,
    sender_domain: &str,
    at: i64,
    counts: &[(StatKind, u64)],
) -> Result<()> {
    let bucket = at - at.rem_euclid(STATS_BUCKET);
    let mut upsert = conn.prepare_cached(
        "INSERT INTO send_stats (tenant_id, sender_domain, bucket, kind, count) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (tenant_id, sender_domain, bucket, kind) DO UPDATE SET count = count + excluded.count",
    )?;
    for (kind, count) in counts {
        upsert.execute(params![
            tenant.0,
            sender_domain.to_ascii_lowercase(),
            bucket,
            kind.code(),
            *count as i64
        ])?;
    }
    Ok(())
}

pub fn stats_sum(conn: &Connection, tenant: TenantId, sender_domain: Option<&str>, since: i64) -> Result<Stats> {
    let bucket = since - since.rem_euclid(STATS_BUCKET);
    let mut statement = conn.prepare_cached(
        "SELECT kind, SUM(count) FROM send_stats
         WHERE tenant_id = ?1 AND bucket >= ?2 AND (?3 IS NULL OR sender_domain = ?3)
         GROUP BY kind",
    )?;
    let rows = statement.query_map(
        params![tenant.0, bucket, sender_domain.map(str::to_ascii_lowercase)],
        |row| Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?)),
    )?;
    Ok(stats_from_rows(rows.collect::<Result<Vec<_>, _>>()?))
}

pub fn soft_bounce(
    conn: &Connection,
    tenant: TenantId,
    address: &str,
    at: i64,
    since: i64,
    clear: bool,
) -> Result<u32> {
    let address = suppression_key(address);
    conn.execute(
        "DELETE FROM soft_bounces WHERE tenant_id = ?1 AND address = ?2 AND (at < ?3 OR ?4)",
        params![tenant.0, address, since, clear],
    )?;
    if clear {
        return Ok(0);
    }
    conn.execute(
        "INSERT INTO soft_bounces (tenant_id, address, at) VALUES (?1, ?2, ?3)",
        params![tenant.0, address, at],
    )?;
    let count: i64 = conn.query_row(
        "SELECT COUNT(*) FROM soft_bounces WHERE tenant_id = ?1 AND address = ?2",
        params![tenant.0, address],
        |row| row.get(0),
    )?;
    Ok(count as u32)
}
