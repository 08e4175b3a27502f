//! Where each local recipient's copy goes: the filter's verdict per
//! account (Junk or a tab), the headers that show it, and refusal at DATA
//! when the operator set a reject score. Also greylisting (RFC 6647) at
//! RCPT and remembering whom our users write to.

use crate::SmtpContext;
use crate::proto::Reply;
use estafeta_core::model::{AccountId, MailboxRole};
use estafeta_filter::{Analysis, Destination, Tab};
use estafeta_store::{DeliveryTarget, Greylisting};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Copies that share the same added headers: one write each.
pub struct Group {
    pub headers: String,
    pub targets: Vec<DeliveryTarget>,
}

fn role_of(destination: Destination) -> MailboxRole {
    match destination {
        Destination::Junk => MailboxRole::Junk,
        Destination::Tab(Tab::Primary) => MailboxRole::Inbox,
        Destination::Tab(Tab::Promotions) => MailboxRole::Promotions,
        Destination::Tab(Tab::Social) => MailboxRole::Social,
        Destination::Tab(Tab::Updates) => MailboxRole::Updates,
    }
}

/// RFC 5321 5.2's 550, with the reasons that weighed most.
pub fn refusal(context: &SmtpContext, analysis: &Analysis, score: f64) -> Option<Reply> {
    let reject = context.config.filter.reject_score?;
    if score < reject {
        return None;
    }
    let mut reasons: Vec<_> = analysis.reasons().iter().filter(|r| r.score > 0.0).collect();
    reasons.sort_by(|a, b| b.score.total_cmp(&a.score));
    let names: Vec<&str> = reasons.iter().take(3).map(|r| r.rule.as_str()).collect();
    Some(Reply::new(
        550,
        "5.7.1",
        format!("Message refused as spam (score {score:.1}: {})", names.join(", ")),
    ))
}

/// The mailbox of `role` in `account`, or INBOX when the user deleted it.
async fn mailbox(context: &SmtpContext, account: AccountId, role: MailboxRole) -> Result<DeliveryTarget, Reply> {
    let temporary = || Reply::new(451, "4.3.0", "Mailbox unavailable, try again later");
    for role in [role, MailboxRole::Inbox] {
        match context.store.mailbox_by_role(account, role).await {
            Ok(Some(mailbox)) => {
                return Ok(DeliveryTarget {
                    mailbox: mailbox.id,
                    flags: Default::default(),
                });
            }
            Ok(None) => continue,
            Err(error) => {
                tracing::error!(%error, "mailbox lookup failed");
                return Err(temporary());
            }
        }
    }
    tracing::error!(%account, "account has no INBOX");
    Err(temporary())
}

/// Each account's copy, grouped by the headers it gets. Without an
/// analysis (submission, or the filter off) every copy goes to INBOX.
pub async fn targets(
    context: &SmtpContext,
    analysis: Option<&Analysis>,
    accounts: impl IntoIterator<Item = AccountId>,
) -> Result<Vec<Group>, Reply> {
    let mut groups: BTreeMap<String, Vec<DeliveryTarget>> = BTreeMap::new();
    for account in accounts {
        let (headers, role) = match (analysis, &context.filter) {
            (Some(analysis), Some(filter)) => {
                let address = match context.store.account_by_id(account).await {
                    Ok(found) => found.map(|a| a.address).unwrap_or_default(),
                    Err(error) => {
                        tracing::error!(%error, "account lookup failed");
                        return Err(Reply::new(451, "4.3.0", "Temporary failure, try again later"));
                    }
                };
                let verdict = filter.verdict(analysis, Some((account, &address))).await;
                tracing::debug!(%account, score = verdict.score, destination = ?verdict.destination, "filtered");
                (verdict.headers(), role_of(verdict.destination))
            }
            _ => (String::new(), MailboxRole::Inbox),
        };
        groups
            .entry(headers)
            .or_default()
            .push(mailbox(context, account, role).await?);
    }
    Ok(groups
        .into_iter()
        .map(|(headers, targets)| Group { headers, targets })
        .collect())
}

/// The triplet RFC 6647 4.2 greylists: the client's network (a /24 or a
/// /64, since big senders retry from a neighbouring address), the sender
/// and the recipient.
fn triplet(ip: IpAddr, sender: &str, recipient: &str) -> String {
    let network = match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.0/24")
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    };
    format!("{network} {} {}", sender.to_lowercase(), recipient.to_lowercase())
}

/// `Some(451)` when greylisting defers this recipient now.
pub async fn greylisted(context: &SmtpContext, ip: IpAddr, sender: &str, recipient: &str) -> Option<Reply> {
    let rules = &context.config.filter.greylist;
    if !rules.enabled || !context.config.filter.enabled {
        return None;
    }
    let clock = Greylisting {
        delay: rules.delay.as_secs() as i64,
        retry_window: rules.retry_window.as_secs() as i64,
        lifetime: rules.lifetime.as_secs() as i64,
    };
    let key = triplet(ip, sender, recipient);
    match context
        .store
        .greylist_check(&key, estafeta_core::time::now(), clock)
        .await
    {
        Ok(true) => None,
        // RFC 6647 2.1: a temporary failure the sender's queue retries.
        Ok(false) => Some(Reply::new(451, "4.7.1", "Greylisted, please try again later")),
        Err(error) => {
            tracing::warn!(%error, "greylist check failed; accepting");
            None
        }
    }
}

/// An authenticated user's recipients become correspondents (their mail
/// back is wanted), and the message's Message-ID is kept (replies to it
/// are the user's own conversations).
pub async fn remember_sent(context: &SmtpContext, user: &str, recipients: &[String], message_id: Option<&str>) {
    let Some(filter) = &context.filter else { return };
    let account = match context.store.account_get(user).await {
        Ok(Some(account)) => account.id,
        Ok(None) => return,
        Err(error) => {
            tracing::warn!(%error, "cannot find the sender's account");
            return;
        }
    };
    if let Err(error) = filter.remember_correspondents(account, recipients).await {
        tracing::warn!(%error, "cannot remember correspondents");
    }
    if let Some(message_id) = message_id
        && let Err(error) = filter.remember_sent_id(account, message_id).await
    {
        tracing::warn!(%error, "cannot remember a sent Message-ID");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbours_share_a_greylist_triplet() {
        let a = triplet("192.0.2.10".parse().unwrap(), "A@x.test", "b@y.test");
        let b = triplet("192.0.2.200".parse().unwrap(), "a@x.test", "B@y.test");
        assert_eq!(a, b);
        assert_eq!(a, "192.0.2.0/24 a@x.test b@y.test");
        assert_ne!(a, triplet("192.0.3.10".parse().unwrap(), "a@x.test", "b@y.test"));
        assert_eq!(
            triplet("2001:db8:1:2::5".parse().unwrap(), "", "b@y.test"),
            "2001:db8:1:2::/64  b@y.test"
        );
    }
}
