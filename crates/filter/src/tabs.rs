//! Which tab a message that is not spam belongs in. Rules read what
//! senders declare (RFC 2369 List-Unsubscribe and List-Post, RFC 3834 Auto-Submitted,
//! `Precedence: bulk`, the headers of the big email service providers)
//! and what the message says; a classifier trained on examples, and on
//! the user's own moves between tabs, can overrule them once it is sure.

use crate::verdict::Tab;
use mail_parser::{HeaderValue, Message};
use std::collections::HashMap;

/// Social networks and communities sending notifications.
const SOCIAL_DOMAINS: &[&str] = &[
    "facebookmail.com",
    "facebook.com",
    "instagram.com",
    "mail.instagram.com",
    "linkedin.com",
    "x.com",
    "twitter.com",
    "reddit.com",
    "redditmail.com",
    "pinterest.com",
    "tiktok.com",
    "discord.com",
    "discordapp.com",
    "quora.com",
    "nextdoor.com",
    "meetup.com",
    "tumblr.com",
    "snapchat.com",
    "youtube.com",
    "twitch.tv",
    "mastodon.social",
    "threads.net",
    "bsky.app",
    "strava.com",
    "goodreads.com",
    "vk.com",
    "whatsapp.com",
    "telegram.org",
];

/// Headers the big social networks put on their notifications.
const SOCIAL_HEADERS: &[&str] = &[
    "X-Facebook-Notify",
    "X-Facebook",
    "X-LinkedIn-Class",
    "X-LinkedIn-Template",
    "X-LinkedIn-fbl",
    "X-Twitter-CID",
    "X-Twitteremailtype",
    "X-Reddit-Email-Type",
    "X-Pinterest-Template",
    "X-Discourse-Post-Id",
    "X-Discourse-Topic-Id",
    "X-Meetup-Notification-Type",
];

/// Headers of issue trackers, code hosts and review tools on their
/// notifications: Updates, although they come with a list's headers.
const NOTICE_HEADERS: &[&str] = &[
    "X-GitHub-Reason",
    "X-GitLab-Project",
    "X-GitLab-NotificationReason",
    "X-Gitea-Reason",
    "X-JIRA-FingerPrint",
    "X-Bugzilla-Product",
    "X-Launchpad-Notification-Type",
    "X-Phabricator-Sent-This-Message",
    "X-Redmine-Project",
    "X-Gerrit-MessageType",
];

/// Headers of email service providers: mail sent in bulk.
const BULK_HEADERS: &[&str] = &[
    "X-Mailchimp-Campaign",
    "X-MC-User",
    "X-Campaign",
    "X-CampaignID",
    "X-Campaign-Activity-ID",
    "X-SG-EID",
    "X-Mailgun-Tag",
    "X-Mailgun-Sid",
    "X-SES-Outgoing",
    "X-CSA-Complaints",
    "X-SFMC-Stack",
    "X-Job",
    "X-Mailer-RecptId",
    "X-Sendinblue-Campaign",
    "X-Klaviyo-Id",
    "X-Marketo-Id",
    "X-HubSpot-Mail-Id",
    "X-Constant-Contact",
    "X-EMarSys-Identify",
    "X-Braze-Campaign",
];

/// Words of offers and appeals.
const OFFER_WORDS: &[&str] = &[
    "sale",
    "% off",
    "discount",
    "coupon",
    "promo",
    "deal",
    "deals",
    "offer",
    "save ",
    "free shipping",
    "limited time",
    "last chance",
    "ends tonight",
    "ends soon",
    "shop now",
    "buy now",
    "new arrivals",
    "exclusive",
    "donate",
    "donation",
    "chip in",
    "contribute",
    "contribution",
    "match",
    "deadline",
    "giveaway",
    "contest",
    "win ",
    "special",
    "only $",
    "shop",
    "subscribe now",
    "subscribe today",
    "upgrade",
    "% ",
];

/// Words of receipts, notices and account mail.
const UPDATE_WORDS: &[&str] = &[
    "receipt",
    "order",
    "invoice",
    "statement",
    "payment",
    "shipped",
    "shipping confirmation",
    "delivery",
    "delivered",
    "confirm",
    "confirmation",
    "verify",
    "verification",
    "password",
    "security alert",
    "sign-in",
    "sign in",
    "login",
    "your account",
    "reservation",
    "booking",
    "itinerary",
    "ticket",
    "reminder",
    "appointment",
    "subscription",
    "renewal",
    "bill",
    "alert",
    "update",
    "notification",
    "welcome",
    "thank you for",
    "thanks for",
    "today:",
];

/// Account security notices (sign-ins, passwords, codes, exports of the
/// account's data): the user must see them, so they are Primary, as the
/// big providers file them, unless they come as bulk mail.
const SECURITY_WORDS: &[&str] = &[
    "security alert",
    "security notice",
    "sign-in",
    "signed in",
    "new login",
    "login attempt",
    "new device",
    "password",
    "verification code",
    "security code",
    "verify it's you",
    "2-step",
    "two-step",
    "two-factor",
    "data requested",
    "data scheduled",
    "data export",
    "download your data",
];

/// What the tab rules found: points per tab and why.
#[derive(Debug, Clone, Default)]
pub struct TabSignals {
    pub points: HashMap<Tab, f64>,
    pub reasons: Vec<String>,
    /// A reply in a conversation (In-Reply-To or References, not bulk).
    pub reply: bool,
    /// The message declares itself bulk (List-Unsubscribe, Precedence, ESP).
    pub bulk: bool,
    /// A post to a discussion list (RFC 2369 List-Post).
    pub discussion: bool,
}

impl TabSignals {
    fn add(&mut self, tab: Tab, points: f64, why: &str) {
        *self.points.entry(tab).or_default() += points;
        self.reasons.push(format!("{}{:+.1} {why}", tab.name(), points));
    }

    /// The rules' choice: the tab with most points; Primary when nothing
    /// points elsewhere (person-to-person mail declares nothing).
    pub fn choice(&self) -> Tab {
        let mut best = (Tab::Primary, self.points.get(&Tab::Primary).copied().unwrap_or(0.0));
        for tab in [Tab::Promotions, Tab::Social, Tab::Updates] {
            let points = self.points.get(&tab).copied().unwrap_or(0.0);
            if points > best.1 + 1e-9 {
                best = (tab, points);
            }
        }
        if best.1 <= 0.0 { Tab::Primary } else { best.0 }
    }
}

fn header_text<'a>(parsed: &'a Message<'a>, name: &'a str) -> Option<&'a str> {
    parsed.header_raw(name).map(str::trim)
}

fn from_address(parsed: &Message) -> String {
    parsed
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .unwrap_or_default()
        .to_ascii_lowercase()
}

pub(crate) fn domain_matches(domain: &str, list: &str) -> bool {
    domain == list || domain.ends_with(&format!(".{list}"))
}

/// The Message-IDs a message answers (RFC 5322 3.6.4: In-Reply-To, then
/// References), at most the last 20: enough for any real thread.
pub fn thread_ids(parsed: &Message) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for value in [parsed.in_reply_to(), parsed.references()] {
        let found: Vec<&str> = match value {
            HeaderValue::Text(id) => vec![id.as_ref()],
            HeaderValue::TextList(list) => list.iter().map(|id| id.as_ref()).collect(),
            _ => Vec::new(),
        };
        for id in found {
            if !id.is_empty() && !ids.iter().any(|known| known == id) {
                ids.push(id.to_owned());
            }
        }
    }
    let keep = ids.len().saturating_sub(20);
    ids.split_off(keep)
}

/// The tab rules for a parsed message; `extra_social` adds the operator's domains.
pub fn signals(parsed: &Message, extra_social: &[String]) -> TabSignals {
    let mut signals = TabSignals::default();
    let from = from_address(parsed);
    let (local, domain) = from.rsplit_once('@').unwrap_or(("", from.as_str()));

    // Social: the networks' own domains and headers.
    if SOCIAL_DOMAINS
        .iter()
        .copied()
        .chain(extra_social.iter().map(String::as_str))
        .any(|social| domain_matches(domain, social))
    {
        signals.add(Tab::Social, 4.0, "sent by a social network");
    }
    if let Some(header) = SOCIAL_HEADERS.iter().find(|h| parsed.header_raw(**h).is_some()) {
        signals.add(Tab::Social, 3.0, &format!("{header} header"));
    }

    // Bulk: RFC 2369 list headers, Precedence, ESP headers.
    let unsubscribe = parsed.header_raw("List-Unsubscribe").is_some();
    let precedence = header_text(parsed, "Precedence").unwrap_or("").to_ascii_lowercase();
    let esp = BULK_HEADERS.iter().find(|h| parsed.header_raw(**h).is_some());
    let feedback = parsed.header_raw("Feedback-ID").is_some() || parsed.header_raw("X-Feedback-ID").is_some();
    // RFC 2369 3.4: a list that takes posts says where (List-Post); an
    // announcement list says "NO". A post to a discussion list is a person
    // writing to a group: Primary (where the big providers put their
    // Forums tab's mail when it is off), not marketing, although the list
    // software adds List-Unsubscribe and `Precedence: list` to every post.
    let discussion =
        esp.is_none() && header_text(parsed, "List-Post").is_some_and(|post| !post.eq_ignore_ascii_case("no"));
    if discussion {
        signals.discussion = true;
        signals.add(Tab::Primary, 2.0, "a post to a discussion list (List-Post)");
    } else {
        if unsubscribe {
            signals.bulk = true;
            signals.add(Tab::Promotions, 1.5, "List-Unsubscribe");
        }
        if precedence == "bulk" || precedence == "list" {
            signals.bulk = true;
            signals.add(Tab::Promotions, 1.0, "Precedence: bulk");
        }
    }
    if let Some(header) = esp {
        signals.bulk = true;
        signals.add(Tab::Promotions, 1.0, &format!("{header} (an email service provider)"));
    }
    if feedback {
        signals.add(Tab::Promotions, 0.5, "Feedback-ID");
    }

    // Updates: RFC 3834 auto-replies and notices, and the words of receipts.
    let auto = header_text(parsed, "Auto-Submitted")
        .unwrap_or("no")
        .to_ascii_lowercase();
    if auto != "no" {
        signals.add(Tab::Updates, 3.0, "Auto-Submitted");
    }
    if let Some(header) = NOTICE_HEADERS.iter().find(|h| parsed.header_raw(**h).is_some()) {
        signals.add(
            Tab::Updates,
            3.5,
            &format!("{header} (a notification of a tracker or code host)"),
        );
    }
    if [
        "no-reply",
        "noreply",
        "donotreply",
        "do-not-reply",
        "notifications",
        "notification",
        "alerts",
        "alert",
    ]
    .iter()
    .any(|name| local.contains(name))
    {
        signals.add(Tab::Updates, 1.0, "sent from a no-reply or notification address");
    }
    let subject = parsed.subject().unwrap_or("").to_lowercase();
    let update_words = UPDATE_WORDS.iter().filter(|w| subject.contains(**w)).count();
    if update_words > 0 {
        signals.add(
            Tab::Updates,
            1.0 + 0.5 * (update_words - 1).min(2) as f64,
            "the subject reads like a notice",
        );
    }
    if !signals.bulk && SECURITY_WORDS.iter().any(|w| subject.contains(*w)) {
        signals.add(Tab::Primary, 3.0, "an account security notice");
    }
    let offer_words = OFFER_WORDS.iter().filter(|w| subject.contains(**w)).count();
    if offer_words > 0 {
        signals.add(
            Tab::Promotions,
            1.0 + 0.5 * (offer_words - 1).min(2) as f64,
            "the subject makes an offer",
        );
    }
    let body = parsed
        .body_text(0)
        .map(|t| t.chars().take(8000).collect::<String>().to_lowercase())
        .unwrap_or_default();
    let body_offers = OFFER_WORDS.iter().filter(|w| body.contains(**w)).count();
    if body_offers >= 3 {
        signals.add(
            Tab::Promotions,
            0.5 * (body_offers.min(8) as f64 - 2.0),
            "the text makes offers",
        );
    }

    // Primary: a reply in a conversation, from a person.
    let threaded = parsed.in_reply_to().as_text().is_some()
        || matches!(parsed.references(), HeaderValue::Text(_) | HeaderValue::TextList(_));
    if threaded && !signals.bulk && !subject.starts_with("[") {
        signals.reply = true;
        signals.add(Tab::Primary, 3.0, "a reply in a conversation");
    }
    signals
}

/// A naive Bayes classifier over tab classes: presence of each token,
/// Laplace-smoothed, summed in log space over tokens seen in training.
pub struct TabModel {
    totals: [f64; 4],
    counts: HashMap<u64, [f64; 4]>,
}

impl TabModel {
    /// From stored counts (already pooled server and account).
    pub fn new(totals: [f64; 4], counts: HashMap<u64, [f64; 4]>) -> TabModel {
        TabModel { totals, counts }
    }

    /// Whether at least two tabs have `min` examples each.
    pub fn trained(&self, min: f64) -> bool {
        self.totals.iter().filter(|n| **n >= min).count() >= 2
    }

    /// Each tab's probability for these tokens (classes never learned get none).
    pub fn posterior(&self, tokens: &[u64]) -> [f64; 4] {
        let all: f64 = self.totals.iter().sum();
        let mut log = [f64::NEG_INFINITY; 4];
        for (log, total) in log.iter_mut().zip(self.totals) {
            if total > 0.0 {
                *log = (total / all).ln();
            }
        }
        for token in tokens {
            let Some(counts) = self.counts.get(token) else { continue };
            for ((log, total), count) in log.iter_mut().zip(self.totals).zip(counts) {
                if total > 0.0 {
                    *log += ((count + 0.5) / (total + 1.0)).ln();
                }
            }
        }
        let max = log.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if max == f64::NEG_INFINITY {
            return [0.0; 4];
        }
        let sum: f64 = log.iter().map(|l| (l - max).exp()).sum();
        log.map(|l| (l - max).exp() / sum)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::MessageParser;

    fn tab_of(message: &str) -> Tab {
        let parsed = MessageParser::default().parse(message.as_bytes()).unwrap();
        signals(&parsed, &[]).choice()
    }

    #[test]
    fn a_person_writing_is_primary() {
        let message = "From: Ana <ana@partner.test>\r\nTo: bob@example.com\r\nSubject: Lunch on Friday?\r\n\
In-Reply-To: <x@example.com>\r\n\r\nNoon works.\r\n";
        assert_eq!(tab_of(message), Tab::Primary);
        assert_eq!(
            tab_of("From: ana@partner.test\r\nSubject: hi\r\n\r\nhello\r\n"),
            Tab::Primary
        );
    }

    #[test]
    fn thread_ids_come_from_in_reply_to_and_references() {
        let message = b"From: a@x.test\r\nIn-Reply-To: <two@x.test>\r\n\
            References: <one@x.test> <two@x.test>\r\n\r\nHi\r\n";
        let parsed = MessageParser::default().parse(&message[..]).unwrap();
        assert_eq!(thread_ids(&parsed), ["two@x.test", "one@x.test"]);
        let plain = MessageParser::default()
            .parse(&b"From: a@x.test\r\n\r\nHi\r\n"[..])
            .unwrap();
        assert!(thread_ids(&plain).is_empty());
    }

    #[test]
    fn account_security_notices_are_primary_unless_bulk() {
        let alert = "From: Google <no-reply@accounts.google.com>\r\nSubject: Security alert\r\n\r\n\
            A new sign-in on Linux.\r\n";
        assert_eq!(tab_of(alert), Tab::Primary);
        let reset = "From: Shop <no-reply@shop.test>\r\nSubject: Reset your password\r\n\r\nUse this link.\r\n";
        assert_eq!(tab_of(reset), Tab::Primary);
        let newsletter = "From: Shop <news@shop.test>\r\nSubject: 5 password managers on sale\r\n\
            List-Unsubscribe: <https://shop.test/u>\r\n\r\nDeals.\r\n";
        assert_eq!(tab_of(newsletter), Tab::Promotions);
    }

    #[test]
    fn marketing_is_promotions() {
        let message = "From: Shop <news@shop.test>\r\nSubject: 30% off everything - last chance\r\n\
List-Unsubscribe: <https://shop.test/u>\r\nPrecedence: bulk\r\nX-SG-EID: abc\r\n\r\nShop now. Sale ends tonight.\r\n";
        assert_eq!(tab_of(message), Tab::Promotions);
    }

    /// A post as Mailman delivers it: the list's headers on a person's mail.
    const LIST_POST: &str = "From: Ana Souza <ana@partner.test>\r\nTo: ilug@lists.test\r\n\
Subject: [ILUG] Re: which distro for an old laptop?\r\nSender: ilug-admin@lists.test\r\n\
Precedence: list\r\nList-Id: Irish Linux Users' Group <ilug.lists.test>\r\n\
List-Post: <mailto:ilug@lists.test>\r\nList-Help: <mailto:ilug-request@lists.test?subject=help>\r\n\
List-Unsubscribe: <https://lists.test/mailman/listinfo/ilug>,\r\n <mailto:ilug-request@lists.test?subject=unsubscribe>\r\n\
In-Reply-To: <1@laptop.test>\r\n\r\nDebian runs well on mine; the update was painless.\r\n";

    #[test]
    fn posts_to_discussion_lists_are_primary_and_announcements_are_not() {
        assert_eq!(tab_of(LIST_POST), Tab::Primary);
        let parsed = MessageParser::default().parse(LIST_POST.as_bytes()).unwrap();
        assert!(!signals(&parsed, &[]).bulk, "a list's own headers make no bulk mail");
        // RFC 2369 3.4: an announcement list takes no posts.
        let announcement = LIST_POST.replace("<mailto:ilug@lists.test>", "NO");
        assert_eq!(tab_of(&announcement), Tab::Promotions);
        // An email service provider's campaign stays Promotions, List-Post or not.
        let campaign = LIST_POST.replace("Precedence: list", "X-Mailchimp-Campaign: 123");
        assert_eq!(tab_of(&campaign), Tab::Promotions);
    }

    #[test]
    fn notifications_of_social_networks_are_social() {
        let message = "From: LinkedIn <messages-noreply@linkedin.com>\r\nSubject: Ana Souza wants to connect\r\n\
List-Unsubscribe: <https://linkedin.com/u>\r\nX-LinkedIn-Class: INVITE\r\n\r\nAccept the invitation.\r\n";
        assert_eq!(tab_of(message), Tab::Social);
    }

    #[test]
    fn receipts_and_auto_submitted_are_updates() {
        let receipt =
            "From: Store <no-reply@orders.store.test>\r\nSubject: Your order receipt #1234\r\n\r\nTotal: $12\r\n";
        assert_eq!(tab_of(receipt), Tab::Updates);
        let notice = "From: ci@build.test\r\nAuto-Submitted: auto-generated\r\nSubject: build 12 passed\r\n\r\nok\r\n";
        assert_eq!(tab_of(notice), Tab::Updates);
        // A reply from a person stays Primary even if it mentions an order.
        let reply = "From: ana@partner.test\r\nSubject: Re: your order\r\nIn-Reply-To: <a@b>\r\n\r\nthanks\r\n";
        assert_eq!(tab_of(reply), Tab::Primary);
    }

    #[test]
    fn notifications_of_trackers_and_code_hosts_are_updates_despite_list_headers() {
        // As GitHub sends them: a thread's headers, a list's headers.
        let github = "From: Ana Souza <notifications@github.com>\r\nTo: estafeta <estafeta@noreply.github.com>\r\n\
Subject: Re: [estafeta/estafeta] IDLE drops after 29 minutes (Issue #42)\r\n\
In-Reply-To: <estafeta/estafeta/issues/42@github.com>\r\nReferences: <estafeta/estafeta/issues/42@github.com>\r\n\
List-ID: estafeta/estafeta <estafeta.estafeta.github.com>\r\nList-Archive: https://github.com/estafeta/estafeta\r\n\
List-Unsubscribe: <mailto:unsub+abc@reply.github.com>, <https://github.com/notifications/unsubscribe/abc>\r\n\
Precedence: list\r\nX-GitHub-Sender: anasouza\r\nX-GitHub-Reason: subscribed\r\n\r\nI can reproduce it.\r\n";
        assert_eq!(tab_of(github), Tab::Updates);
        let gitlab = "From: GitLab <gitlab@gitlab.test>\r\nSubject: Pipeline failed for main\r\n\
List-Unsubscribe: <https://gitlab.test/u>\r\nX-GitLab-Project: estafeta\r\n\
X-GitLab-NotificationReason: own_activity\r\n\r\nJob test failed.\r\n";
        assert_eq!(tab_of(gitlab), Tab::Updates);
    }

    #[test]
    fn the_classifier_learns_tabs_from_examples() {
        let mut counts = HashMap::new();
        counts.insert(1u64, [0.0, 20.0, 0.0, 0.0]);
        counts.insert(2u64, [0.0, 0.0, 0.0, 20.0]);
        counts.insert(3u64, [10.0, 10.0, 0.0, 10.0]);
        let model = TabModel::new([20.0, 20.0, 0.0, 20.0], counts);
        assert!(model.trained(10.0) && !model.trained(30.0));
        let promo = model.posterior(&[1, 3, 99]);
        assert!(promo[1] > 0.95, "{promo:?}");
        let update = model.posterior(&[2]);
        assert!(update[3] > 0.95, "{update:?}");
        assert_eq!(update[2], 0.0, "a tab never learned is never chosen");
        let unsure = model.posterior(&[3]);
        assert!(unsure.iter().all(|p| *p < 0.5), "{unsure:?}");
    }
}
