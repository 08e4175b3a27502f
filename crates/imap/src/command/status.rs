//! STATUS (RFC 9051 6.3.11, STATUS=SIZE RFC 8438, CONDSTORE's
//! HIGHESTMODSEQ) and the QUOTA commands (RFC 9208).

use super::mailbox::mailbox_name;
use crate::proto::command::{MailboxName, StatusItem};
use crate::proto::response::{self, Code};
use crate::session::{Flow, Session, names};
use estafeta_core::model::SystemFlags;
use estafeta_store::{Mailbox, StoreError};

pub async fn status_values(
    session: &Session,
    mailbox: &Mailbox,
    items: &[StatusItem],
) -> Result<Vec<(StatusItem, u64)>, StoreError> {
    let needs_messages = items.iter().any(|item| {
        matches!(
            item,
            StatusItem::Messages | StatusItem::Unseen | StatusItem::Deleted | StatusItem::Size | StatusItem::Recent
        )
    });
    // RFC 3501 6.3.10: RECENT counts the messages no session has taken as
    // \Recent yet; asking does not take them.
    let recent_mark = if items.contains(&StatusItem::Recent) {
        session.context.store.recent_mark(mailbox.id).await?
    } else {
        0
    };
    let messages = if needs_messages {
        session.context.store.messages(mailbox.id).await?
    } else {
        Vec::new()
    };
    let count =
        |flag: SystemFlags, set: bool| messages.iter().filter(|m| m.flags.system.contains(flag) == set).count() as u64;
    Ok(items
        .iter()
        .map(|&item| {
            let value = match item {
                StatusItem::Messages => messages.len() as u64,
                StatusItem::UidNext => u64::from(mailbox.uid_next),
                StatusItem::UidValidity => u64::from(mailbox.uid_validity),
                StatusItem::Unseen => count(SystemFlags::SEEN, false),
                StatusItem::Deleted => count(SystemFlags::DELETED, true),
                StatusItem::Size => messages.iter().map(|m| m.size).sum(),
                StatusItem::HighestModseq => mailbox.highest_modseq,
                // Those this session took are \Recent here (RFC 3501
                // 2.3.2), so asking about the selected mailbox counts them.
                StatusItem::Recent => {
                    let held = session
                        .selected
                        .as_ref()
                        .filter(|selected| selected.mailbox.id == mailbox.id)
                        .map_or(0, |selected| selected.recent().len());
                    messages.iter().filter(|m| m.uid > recent_mark).count() as u64 + held as u64
                }
            };
            (item, value)
        })
        .collect())
}

/// The mailbox a command names, or the reply already written
/// ([NONEXISTENT] when there is none).
async fn existing_mailbox(session: &mut Session, tag: &str, name: &MailboxName) -> Result<Mailbox, Flow> {
    let name = mailbox_name(session, tag, name)?;
    let account = session.account.as_ref().expect("authenticated").id;
    match session.context.store.mailbox_get(account, &name).await {
        Ok(Some(mailbox)) => Ok(mailbox),
        Ok(None) => Err(session.no(tag, Some(Code::NonExistent), "No such mailbox")),
        Err(error) => Err(session.store_error(tag, &error)),
    }
}

pub async fn status(session: &mut Session, tag: &str, name: MailboxName, items: Vec<StatusItem>) -> Flow {
    let mailbox = match existing_mailbox(session, tag, &name).await {
        Ok(mailbox) => mailbox,
        Err(flow) => return flow,
    };
    if items.contains(&StatusItem::HighestModseq) {
        session.enable_condstore();
    }
    let values = match status_values(session, &mailbox, &items).await {
        Ok(values) => values,
        Err(error) => return session.store_error(tag, &error),
    };
    let utf8 = session.utf8();
    response::status_data(session.io.out(), &names::encode(&mailbox.name, utf8), &values, utf8);
    session.sync(true).await;
    session.ok(tag, "STATUS completed")
}

/// The one quota root, `""`: the whole account (RFC 9208 3.2), when
/// `limits.account_quota` sets one.
fn quota(session: &Session) -> Option<u64> {
    Some(session.context.config.limits.account_quota).filter(|&q| q > 0)
}

/// `* QUOTA "" (STORAGE used limit)`, in KiB (RFC 9208 5.1).
async fn write_quota(session: &mut Session, limit: u64) -> Result<(), StoreError> {
    let account = session.account.as_ref().expect("authenticated").id;
    let used = session.context.store.account_usage(account).await?;
    response::untagged(
        session.io.out(),
        &format!("QUOTA \"\" (STORAGE {} {})", used.div_ceil(1024), limit / 1024),
    );
    Ok(())
}

/// Whether adding `bytes` would take the account over its quota.
pub async fn over_quota(session: &Session, bytes: u64) -> Result<bool, StoreError> {
    let Some(limit) = quota(session) else {
        return Ok(false);
    };
    let account = session.account.as_ref().expect("authenticated").id;
    Ok(session
        .context
        .store
        .account_usage(account)
        .await?
        .saturating_add(bytes)
        > limit)
}

pub async fn get_quota_root(session: &mut Session, tag: &str, name: MailboxName) -> Flow {
    let mailbox = match existing_mailbox(session, tag, &name).await {
        Ok(mailbox) => mailbox,
        Err(flow) => return flow,
    };
    let utf8 = session.utf8();
    let out = session.io.out();
    out.extend_from_slice(b"* QUOTAROOT ");
    response::string(out, &names::encode(&mailbox.name, utf8), utf8);
    if quota(session).is_some() {
        session.io.out().extend_from_slice(b" \"\"");
    }
    session.io.out().extend_from_slice(b"\r\n");
    if let Some(limit) = quota(session)
        && let Err(error) = write_quota(session, limit).await
    {
        return session.store_error(tag, &error);
    }
    session.ok(tag, "GETQUOTAROOT completed")
}

pub async fn get_quota(session: &mut Session, tag: &str, root: Vec<u8>) -> Flow {
    match quota(session) {
        Some(limit) if root.is_empty() => match write_quota(session, limit).await {
            Ok(()) => session.ok(tag, "GETQUOTA completed"),
            Err(error) => session.store_error(tag, &error),
        },
        _ => session.no(tag, Some(Code::NonExistent), "No such quota root"),
    }
}
