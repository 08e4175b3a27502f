//! RCPT TO (RFC 5321 4.1.1.3) with DSN's NOTIFY and ORCPT.

use crate::proto::{ForwardPath, RcptParams, Reply, ReversePath};
use crate::session::{Flow, Recipient, Session, Target};
use crate::{Mode, filtering, policy};
use estafeta_core::config::SuppressedAction;
use estafeta_core::model::AccountId;

/// RFC 6647: a first attempt from an unknown (network, sender, recipient)
/// is deferred; postmaster is never greylisted (RFC 5321 4.5.1).
async fn greylisted(session: &Session, recipient: &str) -> Option<Reply> {
    if recipient == "postmaster" {
        return None;
    }
    let sender = match &session.transaction.as_ref()?.from {
        ReversePath::Null => String::new(),
        ReversePath::Mailbox(mailbox) => mailbox.to_string(),
    };
    let ip = session.io.connection.peer.ip();
    filtering::greylisted(&session.context, ip, &sender, recipient).await
}

/// The refusal for a suppressed recipient of the transaction's sender.
async fn suppressed(session: &Session, recipient: &str) -> Option<Reply> {
    let sender = match &session.transaction.as_ref()?.from {
        ReversePath::Null => return None,
        ReversePath::Mailbox(mailbox) => mailbox.to_string(),
    };
    policy::suppressed(&session.context, &sender, recipient).await
}

/// Whether the account has used all of `limits.account_quota`.
async fn quota_reached(session: &Session, account: AccountId) -> bool {
    let quota = session.context.config.limits.account_quota;
    if quota == 0 {
        return false;
    }
    match session.context.store.account_usage(account).await {
        Ok(used) => used >= quota,
        Err(error) => {
            tracing::warn!(%error, "quota check failed; accepting");
            false
        }
    }
}

pub async fn rcpt(session: &mut Session, to: ForwardPath, params: RcptParams) -> Flow {
    let extended = session.helo.as_ref().is_some_and(|h| h.extended);
    let Some(transaction) = &session.transaction else {
        return session.reply(Reply::new(503, "5.5.1", "Need MAIL before RCPT"));
    };
    if !extended && params != RcptParams::default() {
        return session.reply(Reply::new(555, "5.5.4", "Parameters need EHLO"));
    }
    if transaction.recipients.len() >= session.context.config.smtp.max_recipients as usize {
        // RFC 5321 4.5.3.1.10: 452, and the client sends the rest later.
        return session.reply(Reply::new(452, "4.5.3", "Too many recipients"));
    }
    if let ForwardPath::Mailbox { mailbox, .. } = &to
        && mailbox.is_utf8()
        && !transaction.params.smtputf8
    {
        return session.reply(Reply::new(553, "5.6.7", "Non-ASCII address needs SMTPUTF8"));
    }
    let authenticated = session.auth.is_some();
    match policy::resolve(&session.context, &to, authenticated).await {
        Ok(Target::Local(account)) if quota_reached(session, account).await => {
            // RFC 3463 4.2.2: mailbox full, temporary; the sender retries.
            session.reply(Reply::new(452, "4.2.2", "Mailbox full, try again later"))
        }
        // An SRS address of ours takes bounces only (RFC 5321 4.5.5: null
        // reverse-path); anything else would make us a relay to whatever
        // sender an address names.
        Ok(Target::Returned(_)) if transaction.from != ReversePath::Null => session.reply(Reply::new(
            550,
            "5.7.1",
            "This address takes only bounces of mail we forwarded",
        )),
        Ok(target) => {
            let address = match &to {
                ForwardPath::Postmaster => "postmaster".to_owned(),
                ForwardPath::Mailbox { mailbox, .. } => mailbox.to_string(),
            };
            if session.mode == Mode::Mx
                && !authenticated
                && let Some(reply) = greylisted(session, &address).await
            {
                return session.reply(reply);
            }
            if let Target::Remote(remote) = &target
                && authenticated
                && session.context.config.deliverability.suppressed == SuppressedAction::Reject
                && let Some(reply) = suppressed(session, remote).await
            {
                return session.reply(reply);
            }
            if let Some(transaction) = &mut session.transaction {
                transaction.recipients.push(Recipient {
                    address,
                    target,
                    params,
                });
            }
            session.reply(Reply::new(250, "2.1.5", "Recipient OK"))
        }
        Err(reply) => session.reply(reply),
    }
}
