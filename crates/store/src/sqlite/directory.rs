//! Domains, accounts and aliases.

use super::{Effects, mailboxes, messages};
use crate::error::{Result, StoreError};
use crate::types::{Account, Alias, Domain};
use estafeta_core::Address;
use estafeta_core::bus::Change;
use estafeta_core::model::{AccountId, DomainId, MailboxRole};
use rusqlite::{Connection, OptionalExtension, Row, params};

fn domain_id(conn: &Connection, name: &str) -> Result<Option<DomainId>> {
    Ok(conn
        .query_row("SELECT id FROM domains WHERE name = ?1", [name], |row| row.get(0))
        .optional()?
        .map(DomainId))
}

fn local_domain(conn: &Connection, name: &str) -> Result<DomainId> {
    domain_id(conn, name)?
        .ok_or_else(|| StoreError::NotFound(format!("domain {name} (add it first: estafeta domain add {name})")))
}

pub fn domain_add(conn: &Connection, name: &str) -> Result<Domain> {
    if domain_id(conn, name)?.is_some() {
        return Err(StoreError::exists(format!("domain {name}")));
    }
    let created_at = super::now();
    conn.execute(
        "INSERT INTO domains (name, created_at) VALUES (?1, ?2)",
        params![name, created_at],
    )?;
    Ok(Domain {
        id: DomainId(conn.last_insert_rowid()),
        name: name.to_owned(),
        created_at,
        tenant: crate::DEFAULT_TENANT,
    })
}

pub fn domain_list(conn: &Connection) -> Result<Vec<Domain>> {
    let mut statement = conn.prepare_cached("SELECT id, name, created_at, tenant_id FROM domains ORDER BY name")?;
    let rows = statement.query_map([], |row| {
        Ok(Domain {
            id: DomainId(row.get(0)?),
            name: row.get(1)?,
            created_at: row.get(2)?,
            tenant: estafeta_core::model::TenantId(row.get(3)?),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn domain_is_local(conn: &Connection, name: &str) -> Result<bool> {
    Ok(domain_id(conn, &name.to_ascii_lowercase())?.is_some())
}

pub fn domain_remove(conn: &Connection, name: &str) -> Result<()> {
    let id = domain_id(conn, name)?.ok_or_else(|| StoreError::not_found(format!("domain {name}")))?;
    let count = |table: &str| -> Result<i64> {
        Ok(conn.query_row(
            &format!("SELECT COUNT(*) FROM {table} WHERE domain_id = ?1"),
            [id.0],
            |row| row.get(0),
        )?)
    };
    let (accounts, aliases) = (count("accounts")?, count("aliases")?);
    if accounts > 0 || aliases > 0 {
        return Err(StoreError::InUse(format!(
            "domain {name} still has {accounts} account(s) and {aliases} alias(es); remove them first"
        )));
    }
    conn.execute("DELETE FROM domains WHERE id = ?1", [id.0])?;
    Ok(())
}

fn account_from_row(row: &Row) -> rusqlite::Result<Account> {
    Ok(Account {
        id: AccountId(row.get(0)?),
        address: row.get(1)?,
        password_hash: row.get(2)?,
        created_at: row.get(3)?,
    })
}

const ACCOUNT_COLUMNS: &str = "id, address, password_hash, created_at";

pub fn account_get(conn: &Connection, address: &str) -> Result<Option<Account>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE address = ?1"))?
        .query_row([address.to_lowercase()], account_from_row)
        .optional()?)
}

pub fn account_by_id(conn: &Connection, id: AccountId) -> Result<Option<Account>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = ?1"))?
        .query_row([id.0], account_from_row)
        .optional()?)
}

pub fn account_list(conn: &Connection) -> Result<Vec<Account>> {
    let mut statement = conn.prepare_cached(&format!("SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY address"))?;
    let rows = statement.query_map([], account_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn account_add(conn: &Connection, address: &Address, password_hash: &str) -> Result<Account> {
    let domain = local_domain(conn, address.domain())?;
    let text = address.to_string();
    if account_get(conn, &text)?.is_some() {
        return Err(StoreError::exists(format!("account {text}")));
    }
    if alias_get(conn, &text)?.is_some() {
        return Err(StoreError::exists(format!("alias {text}")));
    }
    let created_at = super::now();
    let id = super::next_row_id(conn, "accounts")?;
    conn.execute(
        "INSERT INTO accounts (id, address, domain_id, password_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![id, text, domain.0, password_hash, created_at],
    )?;
    let id = AccountId(id);
    for role in MailboxRole::DEFAULTS {
        mailboxes::create(conn, id, role.default_name(), Some(role))?;
    }
    Ok(Account {
        id,
        address: text,
        password_hash: password_hash.to_owned(),
        created_at,
    })
}

pub fn account_set_password(conn: &Connection, effects: &mut Effects, address: &str, hash: &str) -> Result<()> {
    let account = account_get(conn, address)?.ok_or_else(|| StoreError::not_found(format!("account {address}")))?;
    conn.execute(
        "UPDATE accounts SET password_hash = ?1 WHERE id = ?2",
        params![hash, account.id.0],
    )?;
    effects.changes.push(Change::Account { account: account.id });
    Ok(())
}

pub fn account_remove(conn: &Connection, effects: &mut Effects, address: &str) -> Result<()> {
    let account = account_get(conn, address)?.ok_or_else(|| StoreError::not_found(format!("account {address}")))?;
    for mailbox in mailboxes::list(conn, account.id)? {
        messages::remove_all(conn, effects, mailbox.id)?;
        conn.execute("DELETE FROM expunged WHERE mailbox_id = ?1", [mailbox.id.0])?;
        conn.execute("DELETE FROM mailboxes WHERE id = ?1", [mailbox.id.0])?;
    }
    conn.execute("DELETE FROM aliases WHERE target = ?1", [&account.address])?;
    conn.execute(
        "DELETE FROM dangling_subscriptions WHERE account_id = ?1",
        [account.id.0],
    )?;
    super::learning::forget_account(conn, account.id)?;
    conn.execute("DELETE FROM accounts WHERE id = ?1", [account.id.0])?;
    effects.changes.push(Change::Account { account: account.id });
    Ok(())
}

pub fn alias_get(conn: &Connection, address: &str) -> Result<Option<Alias>> {
    Ok(conn
        .prepare_cached("SELECT address, target FROM aliases WHERE address = ?1")?
        .query_row([address.to_lowercase()], |row| {
            Ok(Alias {
                address: row.get(0)?,
                target: row.get(1)?,
            })
        })
        .optional()?)
}

pub fn alias_list(conn: &Connection) -> Result<Vec<Alias>> {
    let mut statement = conn.prepare_cached("SELECT address, target FROM aliases ORDER BY address")?;
    let rows = statement.query_map([], |row| {
        Ok(Alias {
            address: row.get(0)?,
            target: row.get(1)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn alias_add(conn: &Connection, alias: &Address, target: &Address) -> Result<Alias> {
    let domain = local_domain(conn, alias.domain())?;
    let (alias_text, target_text) = (alias.to_string(), target.to_string());
    if alias_text == target_text {
        return Err(StoreError::Invalid(format!(
            "alias {alias_text} cannot point to itself"
        )));
    }
    if alias_get(conn, &alias_text)?.is_some() {
        return Err(StoreError::exists(format!("alias {alias_text}")));
    }
    if account_get(conn, &alias_text)?.is_some() {
        return Err(StoreError::exists(format!("account {alias_text}")));
    }
    // A target in one of our domains must be an account we have: an alias
    // to a missing local user would bounce every message sent to it.
    if domain_id(conn, target.domain())?.is_some() && account_get(conn, &target_text)?.is_none() {
        return Err(StoreError::not_found(format!("account {target_text}")));
    }
    conn.execute(
        "INSERT INTO aliases (address, domain_id, target, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![alias_text, domain.0, target_text, super::now()],
    )?;
    Ok(Alias {
        address: alias_text,
        target: target_text,
    })
}

pub fn alias_remove(conn: &Connection, address: &str) -> Result<()> {
    let removed = conn.execute("DELETE FROM aliases WHERE address = ?1", [address.to_lowercase()])?;
    if removed == 0 {
        return Err(StoreError::not_found(format!("alias {address}")));
    }
    Ok(())
}

/// Sum of message sizes over the account's mailboxes (a message in two
/// mailboxes counts twice, as the user sees it).
pub fn account_usage(conn: &Connection, account: AccountId) -> Result<u64> {
    let used: i64 = conn
        .prepare_cached(
            "SELECT COALESCE(SUM(m.size), 0) FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id
             WHERE b.account_id = ?1",
        )?
        .query_row(params![account.0], |row| row.get(0))?;
    Ok(used.max(0) as u64)
}
