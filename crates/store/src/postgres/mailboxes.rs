//! Mailboxes and their counters (PostgreSQL). Row locks on the mailbox
//! serialise UID and MODSEQ allocation across nodes.

use super::{Tx, messages};
use crate::error::{Result, StoreError};
use crate::sqlite::now;
use crate::types::Mailbox;
use estafeta_core::bus::Change;
use estafeta_core::model::{AccountId, MAILBOX_DELIMITER, MailboxId, MailboxRole};
use tokio_postgres::Row;

const COLUMNS: &str = "id, account_id, name, role, uidvalidity, uidnext, highest_modseq, subscribed";

fn mailbox(row: &Row) -> Mailbox {
    let role: Option<String> = row.get(3);
    Mailbox {
        id: MailboxId(row.get(0)),
        account: AccountId(row.get(1)),
        name: row.get(2),
        role: role.as_deref().and_then(MailboxRole::from_str_opt),
        uid_validity: row.get::<_, i64>(4) as u32,
        uid_next: row.get::<_, i64>(5) as u32,
        highest_modseq: row.get::<_, i64>(6) as u64,
        subscribed: row.get(7),
    }
}

fn canonical(name: &str) -> &str {
    if name.eq_ignore_ascii_case("INBOX") {
        "INBOX"
    } else {
        name
    }
}

pub async fn list(tx: &Tx<'_>, account: AccountId) -> Result<Vec<Mailbox>> {
    let rows = tx
        .query(
            &format!("SELECT {COLUMNS} FROM mailboxes WHERE account_id = $1 ORDER BY id"),
            &[&account.0],
        )
        .await?;
    Ok(rows.iter().map(mailbox).collect())
}

pub async fn get(tx: &Tx<'_>, account: AccountId, name: &str) -> Result<Option<Mailbox>> {
    let row = tx
        .query_opt(
            &format!("SELECT {COLUMNS} FROM mailboxes WHERE account_id = $1 AND name = $2"),
            &[&account.0, &canonical(name)],
        )
        .await?;
    Ok(row.as_ref().map(mailbox))
}

pub async fn by_role(tx: &Tx<'_>, account: AccountId, role: MailboxRole) -> Result<Option<Mailbox>> {
    let row = tx
        .query_opt(
            &format!("SELECT {COLUMNS} FROM mailboxes WHERE account_id = $1 AND role = $2"),
            &[&account.0, &role.as_str()],
        )
        .await?;
    Ok(row.as_ref().map(mailbox))
}

pub async fn by_id(tx: &Tx<'_>, id: MailboxId) -> Result<Option<Mailbox>> {
    let row = tx
        .query_opt(&format!("SELECT {COLUMNS} FROM mailboxes WHERE id = $1"), &[&id.0])
        .await?;
    Ok(row.as_ref().map(mailbox))
}

/// Seconds since the epoch, but above every value handed out before.
async fn next_uid_validity(tx: &Tx<'_>) -> Result<i64> {
    let now = now().min(i64::from(u32::MAX - 1));
    Ok(tx
        .query_one(
            "UPDATE last_uidvalidity SET value = GREATEST(value + 1, $1, 1) RETURNING value",
            &[&now],
        )
        .await?
        .get(0))
}

pub async fn create(tx: &Tx<'_>, account: AccountId, name: &str, role: Option<MailboxRole>) -> Result<Mailbox> {
    let name = canonical(name);
    if name.is_empty() {
        return Err(StoreError::Invalid("mailbox name must not be empty".into()));
    }
    if get(tx, account, name).await?.is_some() {
        return Err(StoreError::exists(format!("mailbox {name}")));
    }
    let uid_validity = next_uid_validity(tx).await?;
    // Subscribing is the client's to do (RFC 9051 6.3.7): a new mailbox is
    // subscribed only when a subscription to its name came first, or when
    // it is one of the account's own (INBOX, Sent, ...).
    let taken_over = tx
        .execute(
            "DELETE FROM dangling_subscriptions WHERE account_id = $1 AND name = $2",
            &[&account.0, &name],
        )
        .await?
        > 0;
    let subscribed = taken_over || role.is_some();
    let row = tx
        .query_one(
            "INSERT INTO mailboxes (account_id, name, role, uidvalidity, uidnext, highest_modseq, subscribed)
             VALUES ($1, $2, $3, $4, 1, 1, $5) RETURNING id",
            &[
                &account.0,
                &name,
                &role.map(MailboxRole::as_str),
                &uid_validity,
                &subscribed,
            ],
        )
        .await?;
    Ok(Mailbox {
        id: MailboxId(row.get(0)),
        account,
        name: name.to_owned(),
        role,
        uid_validity: uid_validity as u32,
        uid_next: 1,
        highest_modseq: 1,
        subscribed,
    })
}

/// Allocates `uids` new UIDs and one new MODSEQ in the mailbox; the row
/// stays locked until the transaction ends. Returns (account, first UID,
/// MODSEQ).
pub async fn allocate(tx: &Tx<'_>, mailbox: MailboxId, uids: u32) -> Result<(AccountId, u32, u64)> {
    let row = tx
        .query_opt(
            "UPDATE mailboxes SET uidnext = uidnext + $2, highest_modseq = highest_modseq + 1
             WHERE id = $1 RETURNING account_id, uidnext - $2, highest_modseq",
            &[&mailbox.0, &i64::from(uids)],
        )
        .await?
        .ok_or_else(|| StoreError::not_found(format!("mailbox {mailbox}")))?;
    Ok((
        AccountId(row.get(0)),
        row.get::<_, i64>(1) as u32,
        row.get::<_, i64>(2) as u64,
    ))
}

pub async fn rename(tx: &Tx<'_>, changes: &mut Vec<Change>, account: AccountId, from: &str, to: &str) -> Result<()> {
    if to.is_empty() || to.eq_ignore_ascii_case("INBOX") {
        return Err(StoreError::Invalid("cannot rename to that name".into()));
    }
    if get(tx, account, to).await?.is_some() {
        return Err(StoreError::exists(format!("mailbox {to}")));
    }
    let source = get(tx, account, from)
        .await?
        .ok_or_else(|| StoreError::not_found(format!("mailbox {from}")))?;
    if from.eq_ignore_ascii_case("INBOX") {
        // RFC 9051 6.3.6: INBOX's messages move to a new mailbox; INBOX stays.
        let target = create(tx, account, to, None).await?;
        let (_, _, modseq) = allocate(tx, source.id, 0).await?;
        let modseq = modseq as i64;
        tx.execute(
            "UPDATE mailboxes SET uidnext = $2, highest_modseq = $3 WHERE id = $1",
            &[&target.id.0, &i64::from(source.uid_next), &modseq],
        )
        .await?;
        tx.execute(
            "INSERT INTO expunged (mailbox_id, uid, modseq, blob_id, thread_root)
             SELECT mailbox_id, uid, $2, blob_id, COALESCE((SELECT thread_root FROM blobs WHERE blobs.id = messages.blob_id), 0)
             FROM messages WHERE mailbox_id = $1
             ON CONFLICT (mailbox_id, uid) DO UPDATE SET modseq = EXCLUDED.modseq, blob_id = EXCLUDED.blob_id,
             thread_root = EXCLUDED.thread_root",
            &[&source.id.0, &modseq],
        )
        .await?;
        tx.execute(
            "UPDATE messages SET mailbox_id = $2, modseq = $3 WHERE mailbox_id = $1",
            &[&source.id.0, &target.id.0, &modseq],
        )
        .await?;
        changes.push(Change::Mailbox {
            account,
            mailbox: source.id,
            highest_modseq: modseq as u64,
        });
        changes.push(Change::MailboxList { account });
        return Ok(());
    }
    let prefix = format!("{from}{MAILBOX_DELIMITER}");
    if to.starts_with(&prefix) {
        return Err(StoreError::Invalid(format!("cannot move {from} inside itself")));
    }
    let family = tx
        .query(
            "SELECT id, name FROM mailboxes WHERE account_id = $1 AND (name = $2 OR left(name, $3) = $4)",
            &[&account.0, &from, &(prefix.chars().count() as i32), &prefix],
        )
        .await?;
    for row in family {
        let (id, name): (i64, String) = (row.get(0), row.get(1));
        let renamed = format!("{to}{}", &name[from.len()..]);
        if name != from && get(tx, account, &renamed).await?.is_some() {
            return Err(StoreError::exists(format!("mailbox {renamed}")));
        }
        tx.execute("UPDATE mailboxes SET name = $2 WHERE id = $1", &[&id, &renamed])
            .await?;
    }
    // A dangling subscription to a name that now exists is the mailbox's.
    tx.execute(
        "UPDATE mailboxes SET subscribed = TRUE WHERE account_id = $1
         AND name IN (SELECT name FROM dangling_subscriptions WHERE account_id = $1)",
        &[&account.0],
    )
    .await?;
    tx.execute(
        "DELETE FROM dangling_subscriptions WHERE account_id = $1
         AND name IN (SELECT name FROM mailboxes WHERE account_id = $1)",
        &[&account.0],
    )
    .await?;
    changes.push(Change::MailboxList { account });
    Ok(())
}

/// RFC 9051 6.3.7/6.3.8: any name may be subscribed, existing or not.
pub async fn subscribe(tx: &Tx<'_>, account: AccountId, name: &str, subscribed: bool) -> Result<()> {
    if let Some(mailbox) = get(tx, account, name).await? {
        tx.execute(
            "UPDATE mailboxes SET subscribed = $2 WHERE id = $1",
            &[&mailbox.id.0, &subscribed],
        )
        .await?;
        return Ok(());
    }
    if subscribed {
        tx.execute(
            "INSERT INTO dangling_subscriptions (account_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&account.0, &name],
        )
        .await?;
    } else if tx
        .execute(
            "DELETE FROM dangling_subscriptions WHERE account_id = $1 AND name = $2",
            &[&account.0, &name],
        )
        .await?
        == 0
    {
        return Err(StoreError::not_found(format!("subscription {name}")));
    }
    Ok(())
}

/// Subscribed names with no mailbox, sorted.
pub async fn dangling_subscriptions(tx: &Tx<'_>, account: AccountId) -> Result<Vec<String>> {
    let rows = tx
        .query(
            "SELECT name FROM dangling_subscriptions WHERE account_id = $1 ORDER BY name",
            &[&account.0],
        )
        .await?;
    Ok(rows.iter().map(|row| row.get(0)).collect())
}

pub async fn recent_mark(tx: &Tx<'_>, mailbox: MailboxId) -> Result<u32> {
    let row = tx
        .query_opt("SELECT recent_uid FROM mailboxes WHERE id = $1", &[&mailbox.0])
        .await?;
    Ok(row.map_or(0, |row| row.get::<_, i64>(0) as u32))
}

/// The row lock (FOR UPDATE) makes a second session wait for the first's
/// claim instead of reading the same old mark.
pub async fn recent_claim(tx: &Tx<'_>, mailbox: MailboxId, up_to: u32) -> Result<u32> {
    let row = tx
        .query_opt(
            "SELECT recent_uid FROM mailboxes WHERE id = $1 FOR UPDATE",
            &[&mailbox.0],
        )
        .await?;
    let before = row.map_or(0, |row| row.get::<_, i64>(0) as u32);
    tx.execute(
        "UPDATE mailboxes SET recent_uid = GREATEST(recent_uid, $2) WHERE id = $1",
        &[&mailbox.0, &i64::from(up_to)],
    )
    .await?;
    Ok(before)
}

pub async fn delete(tx: &Tx<'_>, changes: &mut Vec<Change>, account: AccountId, name: &str) -> Result<()> {
    if name.eq_ignore_ascii_case("INBOX") {
        return Err(StoreError::Invalid("INBOX cannot be deleted (RFC 9051 6.3.4)".into()));
    }
    let mailbox = get(tx, account, name)
        .await?
        .ok_or_else(|| StoreError::not_found(format!("mailbox {name}")))?;
    // A subscribed mailbox that goes keeps its subscription (RFC 9051 6.3.4).
    if mailbox.subscribed {
        tx.execute(
            "INSERT INTO dangling_subscriptions (account_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&account.0, &mailbox.name],
        )
        .await?;
    }
    messages::remove_all(tx, mailbox.id).await?;
    tx.execute("DELETE FROM expunged WHERE mailbox_id = $1", &[&mailbox.id.0])
        .await?;
    tx.execute("DELETE FROM mailboxes WHERE id = $1", &[&mailbox.id.0])
        .await?;
    changes.push(Change::MailboxList { account });
    Ok(())
}
