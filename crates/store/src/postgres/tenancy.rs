//! Tenants and suppression lists in PostgreSQL (see `crate::tenancy`),
//! shared by every node.

use super::Tx;
use crate::error::{Result, StoreError};
use crate::sqlite::now;
use crate::tenancy::{DEFAULT_TENANT, Suppression, SuppressionReason, Tenant, suppression_key};
use estafeta_core::model::TenantId;
use tokio_postgres::Row;

fn tenant_from_row(row: &Row) -> Tenant {
    Tenant {
        id: TenantId(row.get(0)),
        name: row.get(1),
        created_at: row.get(2),
    }
}

pub async fn tenant_get(tx: &Tx<'_>, name: &str) -> Result<Option<Tenant>> {
    let row = tx
        .query_opt("SELECT id, name, created_at FROM tenants WHERE name = $1", &[&name])
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
    })
}

pub async fn tenant_list(tx: &Tx<'_>) -> Result<Vec<Tenant>> {
    let rows = tx
        .query("SELECT id, name, created_at FROM tenants ORDER BY id", &[])
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
