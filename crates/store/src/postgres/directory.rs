//! Domains, accounts and aliases (PostgreSQL).

use super::{Tx, mailboxes, messages};
use crate::error::{Result, StoreError};
use crate::sqlite::now;
use crate::types::{Account, Alias, Domain};
use estafeta_core::Address;
use estafeta_core::bus::Change;
use estafeta_core::model::{AccountId, DomainId, MailboxRole};
use tokio_postgres::Row;

pub async fn domain_add(tx: &Tx<'_>, name: &str) -> Result<Domain> {
    if domain_id(tx, name).await?.is_some() {
        return Err(StoreError::exists(format!("domain {name}")));
    }
    let created_at = now();
    let row = tx
        .query_one(
            "INSERT INTO domains (name, created_at) VALUES ($1, $2) RETURNING id",
            &[&name, &created_at],
        )
        .await?;
    Ok(Domain {
        id: DomainId(row.get(0)),
        name: name.to_owned(),
        created_at,
        tenant: crate::DEFAULT_TENANT,
    })
}

pub async fn domain_id(tx: &Tx<'_>, name: &str) -> Result<Option<DomainId>> {
    let row = tx
        .query_opt("SELECT id FROM domains WHERE name = $1", &[&name.to_ascii_lowercase()])
        .await?;
    Ok(row.map(|row| DomainId(row.get(0))))
}

pub async fn domain_list(tx: &Tx<'_>) -> Result<Vec<Domain>> {
    let rows = tx
        .query("SELECT id, name, created_at, tenant_id FROM domains ORDER BY name", &[])
        .await?;
    Ok(rows
        .iter()
        .map(|row| Domain {
            id: DomainId(row.get(0)),
            name: row.get(1),
            created_at: row.get(2),
            tenant: estafeta_core::model::TenantId(row.get(3)),
        })
        .collect())
}

pub async fn domain_remove(tx: &Tx<'_>, name: &str) -> Result<()> {
    let id = domain_id(tx, name)
        .await?
        .ok_or_else(|| StoreError::not_found(format!("domain {name}")))?;
    let accounts: i64 = tx
        .query_one("SELECT COUNT(*) FROM accounts WHERE domain_id = $1", &[&id.0])
        .await?
        .get(0);
    let aliases: i64 = tx
        .query_one("SELECT COUNT(*) FROM aliases WHERE domain_id = $1", &[&id.0])
        .await?
        .get(0);
    if accounts > 0 || aliases > 0 {
        return Err(StoreError::InUse(format!(
            "domain {name} still has {accounts} account(s) and {aliases} alias(es); remove them first"
        )));
    }
    tx.execute("DELETE FROM domains WHERE id = $1", &[&id.0]).await?;
    Ok(())
}

fn account(row: &Row) -> Account {
    Account {
        id: AccountId(row.get(0)),
        address: row.get(1),
        password_hash: row.get(2),
        created_at: row.get(3),
    }
}

pub async fn account_get(tx: &Tx<'_>, address: &str) -> Result<Option<Account>> {
    let row = tx
        .query_opt(
            "SELECT id, address, password_hash, created_at FROM accounts WHERE address = $1",
            &[&address.to_lowercase()],
        )
        .await?;
    Ok(row.as_ref().map(account))
}

pub async fn account_by_id(tx: &Tx<'_>, id: AccountId) -> Result<Option<Account>> {
    let row = tx
        .query_opt(
            "SELECT id, address, password_hash, created_at FROM accounts WHERE id = $1",
            &[&id.0],
        )
        .await?;
    Ok(row.as_ref().map(account))
}

pub async fn account_list(tx: &Tx<'_>) -> Result<Vec<Account>> {
    let rows = tx
        .query(
            "SELECT id, address, password_hash, created_at FROM accounts ORDER BY address",
            &[],
        )
        .await?;
    Ok(rows.iter().map(account).collect())
}

pub async fn account_usage(tx: &Tx<'_>, id: AccountId) -> Result<u64> {
    let used: i64 = tx
        .query_one(
            "SELECT COALESCE(SUM(m.size), 0)::BIGINT FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id
             WHERE b.account_id = $1",
            &[&id.0],
        )
        .await?
        .get(0);
    Ok(used.max(0) as u64)
}

async fn local_domain(tx: &Tx<'_>, domain: &str) -> Result<DomainId> {
    domain_id(tx, domain)
        .await?
        .ok_or_else(|| StoreError::not_found(format!("domain {domain} (add it first)")))
}

pub async fn account_add(tx: &Tx<'_>, address: &Address, password_hash: &str) -> Result<Account> {
    let domain = local_domain(tx, address.domain()).await?;
    let text = address.to_string();
    if account_get(tx, &text).await?.is_some() {
        return Err(StoreError::exists(format!("account {text}")));
    }
    if alias_get(tx, &text).await?.is_some() {
        return Err(StoreError::exists(format!("alias {text}")));
    }
    let created_at = now();
    let row = tx
        .query_one(
            "INSERT INTO accounts (address, domain_id, password_hash, created_at) VALUES ($1, $2, $3, $4)
             RETURNING id",
            &[&text, &domain.0, &password_hash, &created_at],
        )
        .await?;
    let id = AccountId(row.get(0));
    for role in MailboxRole::DEFAULTS {
        mailboxes::create(tx, id, role.default_name(), Some(role)).await?;
    }
    Ok(Account {
        id,
        address: text,
        password_hash: password_hash.to_owned(),
        created_at,
    })
}

pub async fn account_set_password(tx: &Tx<'_>, changes: &mut Vec<Change>, address: &str, hash: &str) -> Result<()> {
    let account = account_get(tx, address)
        .await?
        .ok_or_else(|| StoreError::not_found(format!("account {address}")))?;
    tx.execute(
        "UPDATE accounts SET password_hash = $2 WHERE id = $1",
        &[&account.id.0, &hash],
    )
    .await?;
    changes.push(Change::Account { account: account.id });
    Ok(())
}

pub async fn account_remove(tx: &Tx<'_>, changes: &mut Vec<Change>, address: &str) -> Result<()> {
    let account = account_get(tx, address)
        .await?
        .ok_or_else(|| StoreError::not_found(format!("account {address}")))?;
    for mailbox in mailboxes::list(tx, account.id).await? {
        messages::remove_all(tx, mailbox.id).await?;
        tx.execute("DELETE FROM expunged WHERE mailbox_id = $1", &[&mailbox.id.0])
            .await?;
        tx.execute("DELETE FROM mailboxes WHERE id = $1", &[&mailbox.id.0])
            .await?;
    }
    tx.execute("DELETE FROM aliases WHERE target = $1", &[&account.address])
        .await?;
    tx.execute(
        "DELETE FROM dangling_subscriptions WHERE account_id = $1",
        &[&account.id.0],
    )
    .await?;
    super::learning::forget_account(tx, account.id).await?;
    tx.execute("DELETE FROM accounts WHERE id = $1", &[&account.id.0])
        .await?;
    changes.push(Change::Account { account: account.id });
    Ok(())
}

pub async fn alias_get(tx: &Tx<'_>, address: &str) -> Result<Option<Alias>> {
    let row = tx
        .query_opt(
            "SELECT address, target FROM aliases WHERE address = $1",
            &[&address.to_lowercase()],
        )
        .await?;
    Ok(row.map(|row| Alias {
        address: row.get(0),
        target: row.get(1),
    }))
}

pub async fn alias_list(tx: &Tx<'_>) -> Result<Vec<Alias>> {
    let rows = tx
        .query("SELECT address, target FROM aliases ORDER BY address", &[])
        .await?;
    Ok(rows
        .iter()
        .map(|row| Alias {
            address: row.get(0),
            target: row.get(1),
        })
        .collect())
}

pub async fn alias_add(tx: &Tx<'_>, alias: &Address, target: &Address) -> Result<Alias> {
    let domain = local_domain(tx, alias.domain()).await?;
    let (alias_text, target_text) = (alias.to_string(), target.to_string());
    if alias_text == target_text {
        return Err(StoreError::Invalid(format!(
            "alias {alias_text} cannot point to itself"
        )));
    }
    if alias_get(tx, &alias_text).await?.is_some() {
        return Err(StoreError::exists(format!("alias {alias_text}")));
    }
    if account_get(tx, &alias_text).await?.is_some() {
        return Err(StoreError::exists(format!("account {alias_text}")));
    }
    if domain_id(tx, target.domain()).await?.is_some() && account_get(tx, &target_text).await?.is_none() {
        return Err(StoreError::not_found(format!("account {target_text}")));
    }
    tx.execute(
        "INSERT INTO aliases (address, domain_id, target, created_at) VALUES ($1, $2, $3, $4)",
        &[&alias_text, &domain.0, &target_text, &now()],
    )
    .await?;
    Ok(Alias {
        address: alias_text,
        target: target_text,
    })
}

pub async fn alias_remove(tx: &Tx<'_>, address: &str) -> Result<()> {
    let removed = tx
        .execute("DELETE FROM aliases WHERE address = $1", &[&address.to_lowercase()])
        .await?;
    if removed == 0 {
        return Err(StoreError::not_found(format!("alias {address}")));
    }
    Ok(())
}
