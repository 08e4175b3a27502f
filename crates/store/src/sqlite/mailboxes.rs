//! Mailboxes and their counters.

use crate::error::{Result, StoreError};
use crate::types::Mailbox;
use estafeta_core::model::{AccountId, MailboxId, MailboxRole};
use rusqlite::{Connection, OptionalExtension, Row, params};

const COLUMNS: &str = "id, account_id, name, role, uidvalidity, uidnext, highest_modseq, subscribed";

fn from_row(row: &Row) -> rusqlite::Result<Mailbox> {
    let role: Option<String> = row.get(3)?;
    Ok(Mailbox {
        id: MailboxId(row.get(0)?),
        account: AccountId(row.get(1)?),
        name: row.get(2)?,
        role: role.as_deref().and_then(MailboxRole::from_str_opt),
        uid_validity: row.get(4)?,
        uid_next: row.get(5)?,
        highest_modseq: row.get(6)?,
        subscribed: row.get(7)?,
    })
}

pub fn list(conn: &Connection, account: AccountId) -> Result<Vec<Mailbox>> {
    let mut statement = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM mailboxes WHERE account_id = ?1 ORDER BY id"
    ))?;
    let rows = statement.query_map([account.0], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn get(conn: &Connection, account: AccountId, name: &str) -> Result<Option<Mailbox>> {
    // RFC 9051 5.1: INBOX is case-insensitive; every other name is exact.
    let name = if name.eq_ignore_ascii_case("INBOX") {
        "INBOX"
    } else {
        name
    };
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM mailboxes WHERE account_id = ?1 AND name = ?2"
        ))?
        .query_row(params![account.0, name], from_row)
        .optional()?)
}

pub fn by_role(conn: &Connection, account: AccountId, role: MailboxRole) -> Result<Option<Mailbox>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM mailboxes WHERE account_id = ?1 AND role = ?2"
        ))?
        .query_row(params![account.0, role.as_str()], from_row)
        .optional()?)
}

pub fn by_id(conn: &Connection, id: MailboxId) -> Result<Option<Mailbox>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM mailboxes WHERE id = ?1"))?
        .query_row([id.0], from_row)
        .optional()?)
}

/// RFC 9051 2.3.1.1: UIDVALIDITY must change whenever a name is reused for
/// a new mailbox. Seconds since the epoch, but strictly above every value
/// handed out before (kept in `meta`), so two mailboxes made in the same
/// second, or after a clock step back, still differ.
fn next_uid_validity(conn: &Connection) -> Result<u32> {
    let last: u32 = conn
        .query_row("SELECT value FROM meta WHERE key = 'last_uidvalidity'", [], |row| {
            row.get(0)
        })
        .optional()?
        .unwrap_or(0);
    let now = u32::try_from(super::now()).unwrap_or(u32::MAX - 1);
    let next = now.max(last.saturating_add(1)).max(1);
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('last_uidvalidity', ?1)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [next],
    )?;
    Ok(next)
}

pub fn create(conn: &Connection, account: AccountId, name: &str, role: Option<MailboxRole>) -> Result<Mailbox> {
    let name = if name.eq_ignore_ascii_case("INBOX") {
        "INBOX"
    } else {
        name
    };
    if name.is_empty() {
        return Err(StoreError::Invalid("mailbox name must not be empty".into()));
    }
    if get(conn, account, name)?.is_some() {
        return Err(StoreError::exists(format!("mailbox {name}")));
    }
    let uid_validity = next_uid_validity(conn)?;
    // Subscribing is the client's to do (RFC 9051 6.3.7): a new mailbox is
    // subscribed only when a subscription to its name came first, or when
    // it is one of the account's own (INBOX, Sent, ...).
    let taken_over = conn.execute(
        "DELETE FROM dangling_subscriptions WHERE account_id = ?1 AND name = ?2",
        params![account.0, name],
    )? > 0;
    let subscribed = taken_over || role.is_some();
    let id = super::next_row_id(conn, "mailboxes")?;
    conn.execute(
        "INSERT INTO mailboxes (id, account_id, name, role, uidvalidity, uidnext, highest_modseq, subscribed)
         VALUES (?1, ?2, ?3, ?4, ?5, 1, 1, ?6)",
        params![
            id,
            account.0,
            name,
            role.map(MailboxRole::as_str),
            uid_validity,
            subscribed
        ],
    )?;
    Ok(Mailbox {
        id: MailboxId(id),
        account,
        name: name.to_owned(),
        role,
        uid_validity,
        uid_next: 1,
        highest_modseq: 1,
        subscribed,
    })
}

/// Allocates `uids` new UIDs and one new MODSEQ in the mailbox, inside the
/// caller's transaction. Returns (account, first UID, MODSEQ).
pub fn allocate(conn: &Connection, mailbox: MailboxId, uids: u32) -> Result<(AccountId, u32, u64)> {
    conn.prepare_cached(
        "UPDATE mailboxes SET uidnext = uidnext + ?2, highest_modseq = highest_modseq + 1
         WHERE id = ?1 RETURNING account_id, uidnext - ?2, highest_modseq",
    )?
    .query_row(params![mailbox.0, uids], |row| {
        Ok((AccountId(row.get(0)?), row.get(1)?, row.get(2)?))
    })
    .optional()?
    .ok_or_else(|| StoreError::not_found(format!("mailbox {mailbox}")))
}

fn is_inbox(name: &str) -> bool {
    name.eq_ignore_ascii_case("INBOX")
}

pub fn rename(conn: &Connection, account: AccountId, from: &str, to: &str) -> Result<()> {
    if to.is_empty() || is_inbox(to) {
        return Err(StoreError::Invalid("cannot rename to that name".into()));
    }
    if get(conn, account, to)?.is_some() {
        return Err(StoreError::exists(format!("mailbox {to}")));
    }
    let source = get(conn, account, from)?.ok_or_else(|| StoreError::not_found(format!("mailbox {from}")))?;
    if is_inbox(from) {
        // RFC 9051 6.3.6: INBOX's messages move to the new mailbox and INBOX
        // stays, empty; its inferiors are not renamed. The new mailbox has a
        // new UIDVALIDITY, so the messages may keep their UIDs.
        let target = create(conn, account, to, None)?;
        let (_, _, modseq) = allocate(conn, source.id, 0)?;
        conn.execute(
            "UPDATE mailboxes SET uidnext = ?2, highest_modseq = ?3 WHERE id = ?1",
            params![target.id.0, source.uid_next, modseq],
        )?;
        // For QRESYNC clients of INBOX, the messages vanished from it.
        conn.execute(
            "INSERT INTO expunged (mailbox_id, uid, modseq, blob_id, thread_root)
             SELECT mailbox_id, uid, ?2, blob_id, COALESCE((SELECT thread_root FROM blobs WHERE blobs.id = blob_id), 0)
             FROM messages WHERE mailbox_id = ?1
             ON CONFLICT (mailbox_id, uid) DO UPDATE SET modseq = excluded.modseq, blob_id = excluded.blob_id,
             thread_root = excluded.thread_root",
            params![source.id.0, modseq],
        )?;
        conn.execute(
            "UPDATE messages SET mailbox_id = ?2, modseq = ?3 WHERE mailbox_id = ?1",
            params![source.id.0, target.id.0, modseq],
        )?;
        return Ok(());
    }
    let prefix = format!("{from}{}", estafeta_core::model::MAILBOX_DELIMITER);
    if to.starts_with(&prefix) {
        return Err(StoreError::Invalid(format!("cannot move {from} inside itself")));
    }
    // The mailbox and every inferior, matched by exact prefix (no LIKE:
    // names may hold % and _).
    let family: Vec<(i64, String)> = conn
        .prepare("SELECT id, name FROM mailboxes WHERE account_id = ?1 AND (name = ?2 OR substr(name, 1, ?3) = ?4)")?
        .query_map(params![account.0, from, prefix.chars().count() as i64, prefix], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })?
        .collect::<Result<_, _>>()?;
    for (id, name) in family {
        let renamed = format!("{to}{}", &name[from.len()..]);
        if name != from && get(conn, account, &renamed)?.is_some() {
            return Err(StoreError::exists(format!("mailbox {renamed}")));
        }
        conn.execute("UPDATE mailboxes SET name = ?2 WHERE id = ?1", params![id, renamed])?;
    }
    // A dangling subscription to a name that now exists is the mailbox's.
    conn.execute(
        "UPDATE mailboxes SET subscribed = 1 WHERE account_id = ?1
         AND name IN (SELECT name FROM dangling_subscriptions WHERE account_id = ?1)",
        params![account.0],
    )?;
    conn.execute(
        "DELETE FROM dangling_subscriptions WHERE account_id = ?1
         AND name IN (SELECT name FROM mailboxes WHERE account_id = ?1)",
        params![account.0],
    )?;
    Ok(())
}

/// RFC 9051 6.3.7/6.3.8: any name may be subscribed, existing or not.
pub fn subscribe(conn: &Connection, account: AccountId, name: &str, subscribed: bool) -> Result<()> {
    if let Some(mailbox) = get(conn, account, name)? {
        conn.execute(
            "UPDATE mailboxes SET subscribed = ?2 WHERE id = ?1",
            params![mailbox.id.0, subscribed],
        )?;
        return Ok(());
    }
    if subscribed {
        conn.execute(
            "INSERT OR IGNORE INTO dangling_subscriptions (account_id, name) VALUES (?1, ?2)",
            params![account.0, name],
        )?;
    } else if conn.execute(
        "DELETE FROM dangling_subscriptions WHERE account_id = ?1 AND name = ?2",
        params![account.0, name],
    )? == 0
    {
        return Err(StoreError::not_found(format!("subscription {name}")));
    }
    Ok(())
}

/// Subscribed names with no mailbox, sorted.
pub fn dangling_subscriptions(conn: &Connection, account: AccountId) -> Result<Vec<String>> {
    let mut statement =
        conn.prepare_cached("SELECT name FROM dangling_subscriptions WHERE account_id = ?1 ORDER BY name")?;
    let names = statement
        .query_map(params![account.0], |row| row.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(names)
}

/// A subscribed mailbox that goes keeps its subscription (RFC 9051 6.3.4).
pub fn keep_subscription(conn: &Connection, mailbox: &Mailbox) -> Result<()> {
    if mailbox.subscribed {
        conn.execute(
            "INSERT OR IGNORE INTO dangling_subscriptions (account_id, name) VALUES (?1, ?2)",
            params![mailbox.account.0, mailbox.name],
        )?;
    }
    Ok(())
}

pub fn recent_mark(conn: &Connection, mailbox: MailboxId) -> Result<u32> {
    let mark: Option<i64> = conn
        .query_row(
            "SELECT recent_uid FROM mailboxes WHERE id = ?1",
            params![mailbox.0],
            |row| row.get(0),
        )
        .optional()?;
    Ok(mark.unwrap_or(0) as u32)
}

/// Runs inside the write transaction, so two sessions cannot both read
/// the old mark.
pub fn recent_claim(conn: &Connection, mailbox: MailboxId, up_to: u32) -> Result<u32> {
    let before = recent_mark(conn, mailbox)?;
    conn.execute(
        "UPDATE mailboxes SET recent_uid = MAX(recent_uid, ?2) WHERE id = ?1",
        params![mailbox.0, up_to],
    )?;
    Ok(before)
}

/// The mailbox row, if `name` is one that may be deleted.
pub fn deletable(conn: &Connection, account: AccountId, name: &str) -> Result<Mailbox> {
    if is_inbox(name) {
        return Err(StoreError::Invalid("INBOX cannot be deleted (RFC 9051 6.3.4)".into()));
    }
    get(conn, account, name)?.ok_or_else(|| StoreError::not_found(format!("mailbox {name}")))
}
