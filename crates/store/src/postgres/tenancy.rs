//! Tenants and suppression lists in PostgreSQL (see `crate::tenancy`),
//! shared by every node.

use super::Tx;
use crate::error::{Result, StoreError};
use crate::sqlite::now;
use crate::tenancy::{
    DEFAULT_TENANT, DeliveryRecord, STATS_BUCKET, StatKind, Stats, Suppression, SuppressionReason, Tenant,
    stats_from_rows, suppression_key,
};
use estafeta_core::model::TenantId;
use tokio_postgres::Row;

fn tenant_from_row(row: &Row) -> Tenant {
    Tenant {
        id: TenantId(row.get(0)),
        name: row.get(1),
        created_at: row.get(2),
        paused: row.get(3),
    }
}

pub async fn tenant_get(tx: &Tx<'_>, name: &str) -> Result<Option<Tenant>> {
    let row = tx
        .query_opt(
            "SELECT id, name, created_at, paused FROM tenants WHERE name = $1",
            &[&name],
        )
        .await?;
    Ok(row.as_ref().map(tenant_from_row))
}

pub async fn tenant_add(tx: &Tx<'_>, name: &str) -> Result<Tenant> {
    if tenant_get(tx, name).await?.is_some() {
        return Err(StoreError::exists(format!("tenant {name}")));
    }
    let created_at = now();
    let row = tx
        .query_one(
            "INSERT INTO tenants (name, created_at) VALUES ($1, $2) RETURNING id",
            &[&name, &created_at],
        )
        .await?;
    Ok(Tenant {
        id: TenantId(row.get(0)),
        name: name.to_owned(),
        created_at,
        paused: None,
    })
}

pub async fn tenant_list(tx: &Tx<'_>) -> Result<Vec<Tenant>> {
    let rows = tx
        .query("SELECT id, name, created_at, paused FROM tenants ORDER BY id", &[])
        .await?;
    Ok(rows.iter().map(tenant_from_row).collect())
}

pub async fn tenant_remove(tx: &Tx<'_>, name: &str) -> Result<()> {
    let tenant = tenant_get(tx, name)
        .await?
        .ok_or_else(|| StoreError::not_found(format!("tenant {name}")))?;
    if tenant.id == DEFAULT_TENANT {
        return Err(StoreError::InUse(
            "the default tenant owns every domain not given to another; it stays".into(),
        ));
    }
    let domains: i64 = tx
        .query_one("SELECT COUNT(*) FROM domains WHERE tenant_id = $1", &[&tenant.id.0])
        .await?
        .get(0);
    if domains > 0 {
        return Err(StoreError::InUse(format!(
            "tenant {name} still owns {domains} domain(s); give them to another tenant or remove them first"
        )));
    }
    tx.execute("DELETE FROM suppressions WHERE tenant_id = $1", &[&tenant.id.0])
        .await?;
    tx.execute("DELETE FROM tenants WHERE id = $1", &[&tenant.id.0]).await?;
    Ok(())
}

pub async fn domain_set_tenant(tx: &Tx<'_>, domain: &str, tenant: TenantId) -> Result<()> {
    let changed = tx
        .execute(
            "UPDATE domains SET tenant_id = $2 WHERE name = $1",
            &[&domain.to_ascii_lowercase(), &tenant.0],
        )
        .await?;
    if changed == 0 {
        return Err(StoreError::not_found(format!("domain {domain}")));
    }
    Ok(())
}

pub async fn domain_tenant(tx: &Tx<'_>, domain: &str) -> Result<Option<TenantId>> {
    let row = tx
        .query_opt(
            "SELECT tenant_id FROM domains WHERE name = $1",
            &[&domain.to_ascii_lowercase()],
        )
        .await?;
    Ok(row.map(|row| TenantId(row.get(0))))
}

const COLUMNS: &str = "tenant_id, sender_domain, address, reason, detail, created_at, expires_at";

fn suppression_from_row(row: &Row) -> Suppression {
    let reason: String = row.get(3);
    Suppression {
        tenant: TenantId(row.get(0)),
        sender_domain: row.get(1),
        address: row.get(2),
        reason: SuppressionReason::parse(&reason).unwrap_or(SuppressionReason::Manual),
        detail: row.get(4),
        created_at: row.get(5),
        expires_at: row.get(6),
    }
}

pub async fn suppression_add(tx: &Tx<'_>, entry: &Suppression) -> Result<()> {
    tx.execute(
        &format!(
            "INSERT INTO suppressions ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (tenant_id, address, sender_domain) DO UPDATE SET
               reason = EXCLUDED.reason, detail = EXCLUDED.detail,
               created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at"
        ),
        &[
            &entry.tenant.0,
            &entry.sender_domain.to_ascii_lowercase(),
            &suppression_key(&entry.address),
            &entry.reason.code(),
            &entry.detail,
            &entry.created_at,
            &entry.expires_at,
        ],
    )
    .await?;
    Ok(())
}

pub async fn suppression_check(
    tx: &Tx<'_>,
    tenant: TenantId,
    sender_domain: &str,
    address: &str,
    now: i64,
) -> Result<Option<Suppression>> {
    let row = tx
        .query_opt(
            &format!(
                "SELECT {COLUMNS} FROM suppressions
                 WHERE tenant_id = $1 AND address = $2 AND sender_domain IN ('', $3)
                   AND (expires_at IS NULL OR expires_at > $4)
                 ORDER BY sender_domain LIMIT 1"
            ),
            &[
                &tenant.0,
                &suppression_key(address),
                &sender_domain.to_ascii_lowercase(),
                &now,
            ],
        )
        .await?;
    Ok(row.as_ref().map(suppression_from_row))
}

pub async fn suppression_list(tx: &Tx<'_>, tenant: TenantId, now: i64) -> Result<Vec<Suppression>> {
    let rows = tx
        .query(
            &format!(
                "SELECT {COLUMNS} FROM suppressions
                 WHERE tenant_id = $1 AND (expires_at IS NULL OR expires_at > $2)
                 ORDER BY address, sender_domain"
            ),
            &[&tenant.0, &now],
        )
        .await?;
    Ok(rows.iter().map(suppression_from_row).collect())
}

pub async fn suppression_remove(
    tx: &Tx<'_>,
    tenant: TenantId,
    sender_domain: Option<&str>,
    address: &str,
) -> Result<u64> {
    let key = suppression_key(address);
    Ok(match sender_domain {
        Some(domain) => {
            tx.execute(
                "DELETE FROM suppressions WHERE tenant_id = $1 AND address = $2 AND sender_domain = $3",
                &[&tenant.0, &key, &domain.to_ascii_lowercase()],
            )
            .await?
        }
        None => {
            tx.execute(
                "DELETE FROM suppressions WHERE tenant_id = $1 AND address = $2",
                &[&tenant.0, &key],
            )
            .await?
        }
    })
}

pub async fn tenant_pause(tx: &Tx<'_>, tenant: TenantId, reason: Option<&str>) -> Result<()> {
    let changed = tx
        .execute("UPDATE tenants SET paused = $2 WHERE id = $1", &[&tenant.0, &reason])
        .await?;
    if changed == 0 {
        return Err(StoreError::not_found(format!("tenant {tenant}")));
    }
    Ok(())
}

fn delivery_from_row(row: &Row) -> DeliveryRecord {
    DeliveryRecord {
        id: row.get(0),
        queue_id: row.get(1),
        queued_at: row.get(2),
        recipient: row.get(3),
        sender: row.get(4),
        tenant: TenantId(row.get(5)),
        sender_domain: row.get(6),
        sent_at: row.get(7),
        message_id: row.get(8),
    }
}

pub async fn delivery_record(tx: &Tx<'_>, record: &DeliveryRecord) -> Result<i64> {
    tx.execute(
        "INSERT INTO deliveries (queue_id, queued_at, recipient, sender, tenant_id, sender_domain, sent_at, message_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (queue_id, queued_at, recipient) DO NOTHING",
        &[
            &record.queue_id,
            &record.queued_at,
            &record.recipient,
            &record.sender,
            &record.tenant.0,
            &record.sender_domain,
            &record.sent_at,
            &record.message_id,
        ],
    )
    .await?;
    Ok(tx
        .query_one(
            "SELECT id FROM deliveries WHERE queue_id = $1 AND queued_at = $2 AND recipient = $3",
            &[&record.queue_id, &record.queued_at, &record.recipient],
        )
        .await?
        .get(0))
}

pub async fn delivery_get(tx: &Tx<'_>, id: i64) -> Result<Option<DeliveryRecord>> {
    let row = tx
        .query_opt(
            "SELECT id, queue_id, queued_at, recipient, sender, tenant_id, sender_domain, sent_at, message_id
             FROM deliveries WHERE id = $1",
            &[&id],
        )
        .await?;
    Ok(row.as_ref().map(delivery_from_row))
}

pub async fn delivery_find(tx: &Tx<'_>, message_id: &str, recipient: &str) -> Result<Option<DeliveryRecord>> {
    let row = tx
        .query_opt(
            "SELECT id, queue_id, queued_at, recipient, sender, tenant_id, sender_domain, sent_at, message_id
             FROM deliveries WHERE message_id = $1 AND recipient = $2 ORDER BY id DESC LIMIT 1",
            &[&message_id, &recipient.to_lowercase()],
        )
        .await?;
    Ok(row.as_ref().map(delivery_from_row))
}

pub async fn deliveries_expire(tx: &Tx<'_>, before: i64) -> Result<u64> {
    Ok(tx
        .execute("DELETE FROM deliveries WHERE sent_at < $1", &[&before])
        .await?)
}

pub async fn stats_add(
    tx: &Tx<'_>,
    tenant: TenantId,
    sender_domain: &str,
    at: i64,
    counts: &[(StatKind, u64)],
) -> Result<()> {
    let bucket = at - at.rem_euclid(STATS_BUCKET);
    let domain = sender_domain.to_ascii_lowercase();
    // One order for every writer, so two nodes counting at once do not deadlock.
    let mut counts = counts.to_vec();
    counts.sort();
    for (kind, count) in counts {
        tx.execute(
            "INSERT INTO send_stats (tenant_id, sender_domain, bucket, kind, count) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (tenant_id, sender_domain, bucket, kind)
             DO UPDATE SET count = send_stats.count + EXCLUDED.count",
            &[&tenant.0, &domain, &bucket, &kind.code(), &(count as i64)],
        )
        .await?;
    }
    Ok(())
}

pub async fn stats_sum(tx: &Tx<'_>, tenant: TenantId, sender_domain: Option<&str>, since: i64) -> Result<Stats> {
    let bucket = since - since.rem_euclid(STATS_BUCKET);
    let domain = sender_domain.map(str::to_ascii_lowercase);
    let rows = tx
        .query(
            "SELECT kind, SUM(count)::BIGINT FROM send_stats
             WHERE tenant_id = $1 AND bucket >= $2 AND ($3::TEXT IS NULL OR sender_domain = $3)
             GROUP BY kind",
            &[&tenant.0, &bucket, &domain],
        )
        .await?;
    Ok(stats_from_rows(rows.iter().map(|row| (row.get(0), row.get(1)))))
}

pub async fn soft_bounce(
    tx: &Tx<'_>,
    tenant: TenantId,
    address: &str,
    at: i64,
    since: i64,
    clear: bool,
) -> Result<u32> {
    let address = suppression_key(address);
    tx.execute(
        "DELETE FROM soft_bounces WHERE tenant_id = $1 AND address = $2 AND (at < $3 OR $4)",
        &[&tenant.0, &address, &since, &clear],
    )
    .await?;
    if clear {
        return Ok(0);
    }
    tx.execute(
        "INSERT INTO soft_bounces (tenant_id, address, at) VALUES ($1, $2, $3)",
        &[&tenant.0, &address, &at],
    )
    .await?;
    let count: i64 = tx
        .query_one(
            "SELECT COUNT(*) FROM soft_bounces WHERE tenant_id = $1 AND address = $2",
            &[&tenant.0, &address],
        )
        .await?
        .get(0);
    Ok(count as u32)
}
