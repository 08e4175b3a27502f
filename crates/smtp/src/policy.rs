//! Who we accept mail for, and who may send as whom.
//!
//! A recipient in one of our domains is an account, an alias, a
//! `user+tag` sub-address, or postmaster (RFC 5321 4.5.1: always accepted).
//! Any other recipient is relaying, which only an authenticated user may do.
//! Nothing here interprets `%`, `!`, quoted `@` or source routes as
//! routing: a local part is only ever matched whole against our accounts,
//! so the old relay tricks find no way out.

use crate::SmtpContext;
use crate::proto::{Domain, ForwardPath, Reply};
use crate::session::{Authenticated, Target};
use estafeta_store::StoreError;

fn unavailable(error: StoreError) -> Reply {
    tracing::warn!(%error, "recipient lookup failed");
    Reply::new(451, "4.3.0", "Temporary lookup failure, try again later")
}

fn relay_denied() -> Reply {
    Reply::new(554, "5.7.1", "Relay access denied")
}

fn no_such_user() -> Reply {
    Reply::new(550, "5.1.1", "No such user here")
}

pub async fn resolve(context: &SmtpContext, to: &ForwardPath, authenticated: bool) -> Result<Target, Reply> {
    let (mailbox, domain) = match to {
        ForwardPath::Postmaster => return postmaster(context).await,
        ForwardPath::Mailbox { mailbox, .. } => match &mailbox.domain {
            Domain::Name(domain) => (mailbox, domain),
            Domain::Literal(_) if authenticated => return Ok(Target::Remote(mailbox.to_string())),
            Domain::Literal(_) => return Err(relay_denied()),
        },
    };
    if !context.store.domain_is_local(domain).await.map_err(unavailable)? {
        return match authenticated {
            true => Ok(Target::Remote(mailbox.to_string())),
            false => Err(relay_denied()),
        };
    }
    let local = mailbox.local.to_lowercase();
    if let Some(ledger) = &context.ledger
        && local.starts_with(estafeta_deliverability::verp::PREFIX)
    {
        // A bounce to a VERP address names its delivery; a made-up or
        // expired token is nobody.
        return match ledger.delivery_of(&local, domain).await.map_err(unavailable)? {
            Some(delivery) => Ok(Target::Bounce(delivery)),
            None => Err(no_such_user()),
        };
    }
    local_target(context, &local, domain).await?.ok_or_else(no_such_user)
}

/// The suppression entry stopping an authenticated user's mail from
/// `sender` to `recipient`, as the refusal RCPT gives.
pub async fn suppressed(context: &SmtpContext, sender: &str, recipient: &str) -> Option<Reply> {
    let ledger = context.ledger.as_ref()?;
    let scope = match ledger.scope_of(sender).await {
        Ok(scope) => scope?,
        Err(error) => return Some(unavailable(error)),
    };
    match ledger.suppressed(&scope, recipient).await {
        Ok(Some(entry)) => Some(Reply::new(
            550,
            "5.7.1",
            format!(
                "<{recipient}> is on your suppression list ({}): not sent",
                entry.reason.code()
            ),
        )),
        Ok(None) => None,
        Err(error) => Some(unavailable(error)),
    }
}

/// Who `local@domain` (a domain of ours) is: an account, an alias, a
/// sub-address of either, or postmaster; `None` for nobody.
pub async fn local_target(context: &SmtpContext, local: &str, domain: &str) -> Result<Option<Target>, Reply> {
    if estafeta_deliverability::srs::Srs::is_srs(local) {
        let today = estafeta_deliverability::srs::today();
        let original = context
            .ledger
            .as_ref()
            .and_then(|ledger| ledger.srs().reverse(local, today));
        return Ok(original.map(Target::Returned));
    }
    if let Some(target) = lookup(context, &format!("{local}@{domain}")).await? {
        return Ok(Some(target));
    }
    // Sub-addressing: user+tag@domain delivers to user@domain.
    if let Some((base, _)) = local.split_once('+')
        && !base.is_empty()
        && let Some(target) = lookup(context, &format!("{base}@{domain}")).await?
    {
        return Ok(Some(target));
    }
    if local == "postmaster" {
        return postmaster(context).await.map(Some);
    }
    Ok(None)
}

/// An account, or an alias to an account here or to an address elsewhere.
async fn lookup(context: &SmtpContext, address: &str) -> Result<Option<Target>, Reply> {
    let store = &context.store;
    if let Some(account) = store.account_get(address).await.map_err(unavailable)? {
        return Ok(Some(Target::Local(account.id)));
    }
    let Some(alias) = store.alias_get(address).await.map_err(unavailable)? else {
        return Ok(None);
    };
    if let Some(account) = store.account_get(&alias.target).await.map_err(unavailable)? {
        return Ok(Some(Target::Local(account.id)));
    }
    Ok(Some(Target::Forward(alias.target)))
}

/// postmaster@ any of our domains without its own account or alias: the
/// configured postmaster, else the first account ever created.
async fn postmaster(context: &SmtpContext) -> Result<Target, Reply> {
    let configured = &context.config.smtp.postmaster;
    if !configured.is_empty()
        && let Some(account) = context.store.account_get(configured).await.map_err(unavailable)?
    {
        return Ok(Target::Local(account.id));
    }
    let accounts = context.store.account_list().await.map_err(unavailable)?;
    match accounts.into_iter().min_by_key(|account| account.id) {
        Some(account) => Ok(Target::Local(account.id)),
        None => Err(no_such_user()),
    }
}

/// Whether an authenticated user may use `address` as sender: their own
/// address or an alias that delivers to them.
pub async fn sender_belongs(context: &SmtpContext, address: &str, auth: &Authenticated) -> Result<bool, Reply> {
    let address = address.to_lowercase();
    let untagged = match address.split_once('@') {
        Some((local, domain)) => format!("{}@{domain}", local.split_once('+').map_or(local, |(base, _)| base)),
        None => address.clone(),
    };
    if address == auth.address || untagged == auth.address {
        return Ok(true);
    }
    let alias = context.store.alias_get(&address).await.map_err(unavailable)?;
    Ok(alias.is_some_and(|alias| alias.target == auth.address))
}
