//! RCPT TO (RFC 5321 4.1.1.3) with DSN's NOTIFY and ORCPT.

use crate::proto::{ForwardPath, RcptParams, Reply, ReversePath};
use crate::session::{Flow, Recipient, Session, Target};
use crate::{Mode, SmtpContext, filtering, policy};
use estafeta_core::config::SuppressedAction;
use estafeta_core::model::AccountId;
use std::net::IpAddr;

/// Whether the account has used all of `limits.account_quota`.
async fn quota_reached(context: &SmtpContext, account: AccountId) -> bool {
    let quota = context.config.limits.account_quota;
    if quota == 0 {
        return false;
    }
    match context.store.account_usage(account).await {
        Ok(used) => used >= quota,
        Err(error) => {
            tracing::warn!(%error, "quota check failed; accepting");
            false
        }
    }
}

/// What RCPT checks of one recipient, for an SMTP session and a JMAP
/// submission alike: where it goes, or the refusal.
pub async fn admit(
    context: &SmtpContext,
    mode: Mode,
    authenticated: bool,
    peer: IpAddr,
    from: &ReversePath,
    to: &ForwardPath,
) -> Result<Recipient, Reply> {
    let target = policy::resolve(context, to, authenticated).await?;
    match &target {
        Target::Local(account) if quota_reached(context, *account).await => {
            // RFC 3463 4.2.2: mailbox full, temporary; the sender retries.
            return Err(Reply::new(452, "4.2.2", "Mailbox full, try again later"));
        }
        // An SRS address of ours takes bounces only (RFC 5321 4.5.5: null
        // reverse-path); anything else would make us a relay to whatever
        // sender an address names.
        Target::Returned(_) if *from != ReversePath::Null => {
            return Err(Reply::new(
                550,
                "5.7.1",
                "This address takes only bounces of mail we forwarded",
            ));
        }
        _ => {}
    }
    let address = match to {
        ForwardPath::Postmaster => "postmaster".to_owned(),
        ForwardPath::Mailbox { mailbox, .. } => mailbox.to_string(),
    };
    let sender = match from {
        ReversePath::Null => None,
        ReversePath::Mailbox(mailbox) => Some(mailbox.to_string()),
    };
    // RFC 6647: a first attempt from an unknown (network, sender,
    // recipient) is deferred; postmaster is never greylisted (RFC 5321
    // 4.5.1).
    if mode == Mode::Mx
        && !authenticated
        && address != "postmaster"
        && let Some(reply) = filtering::greylisted(context, peer, sender.as_deref().unwrap_or_default(), &address).await
    {
        return Err(reply);
    }
    if let Target::Remote(remote) = &target
        && authenticated
        && context.config.deliverability.suppressed == SuppressedAction::Reject
        && let Some(sender) = &sender
        && let Some(reply) = policy::suppressed(context, sender, remote).await
    {
        return Err(reply);
    }
    Ok(Recipient {
        address,
        target,
        params: RcptParams::default(),
    })
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
    let peer = session.io.connection.peer.ip();
    let admitted = admit(
        &session.context,
        session.mode,
        authenticated,
        peer,
        &transaction.from,
        &to,
    )
    .await;
    match admitted {
        Ok(mut recipient) => {
            recipient.params = params;
            if let Some(transaction) = &mut session.transaction {
                transaction.recipients.push(recipient);
            }
            session.reply(Reply::new(250, "2.1.5", "Recipient OK"))
        }
        Err(reply) => session.reply(reply),
    }
}
