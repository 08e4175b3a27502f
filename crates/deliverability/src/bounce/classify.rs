//! What a failure means for the sender: a class, hard or soft, and whether
//! the recipient should be suppressed. The same reading serves SMTP
//! replies seen while sending (synchronous) and bounce reports received
//! later (asynchronous).
//!
//! The text decides before the codes: receivers answer `550 5.7.1` for
//! spam, for a blocklisted IP and for an unknown user alike, and `5.4.1`
//! is Microsoft's "no such recipient" (directory-based edge blocking).
//! RFC 3463 classes and subjects decide when the text says nothing known.

/// Why a message was not delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BounceClass {
    UnknownUser,
    BadDomain,
    MailboxFull,
    InactiveMailbox,
    MessageTooLarge,
    /// The content was refused as spam (or as carrying malware).
    ContentRejected,
    /// The sending IP or domain is blocked (reputation, a blocklist).
    ReputationBlock,
    /// SPF, DKIM, DMARC, reverse DNS or another sender policy.
    PolicyAuth,
    RateLimited,
    /// Connections failing, timeouts, a server unavailable for now.
    NetworkTemporary,
    Other,
}

impl BounceClass {
    pub const ALL: [BounceClass; 11] = [
        BounceClass::UnknownUser,
        BounceClass::BadDomain,
        BounceClass::MailboxFull,
        BounceClass::InactiveMailbox,
        BounceClass::MessageTooLarge,
        BounceClass::ContentRejected,
        BounceClass::ReputationBlock,
        BounceClass::PolicyAuth,
        BounceClass::RateLimited,
        BounceClass::NetworkTemporary,
        BounceClass::Other,
    ];

    pub fn code(self) -> &'static str {
        match self {
            BounceClass::UnknownUser => "unknown-user",
            BounceClass::BadDomain => "bad-domain",
            BounceClass::MailboxFull => "mailbox-full",
            BounceClass::InactiveMailbox => "inactive-mailbox",
            BounceClass::MessageTooLarge => "message-too-large",
            BounceClass::ContentRejected => "content-rejected",
            BounceClass::ReputationBlock => "reputation-block",
            BounceClass::PolicyAuth => "policy-auth",
            BounceClass::RateLimited => "rate-limited",
            BounceClass::NetworkTemporary => "network-temporary",
            BounceClass::Other => "other",
        }
    }

    pub fn parse(code: &str) -> Option<BounceClass> {
        BounceClass::ALL.into_iter().find(|c| c.code() == code)
    }

    /// Failures about the sender, not the recipient: they never suppress.
    pub fn is_about_sender(self) -> bool {
        matches!(
            self,
            BounceClass::ContentRejected
                | BounceClass::ReputationBlock
                | BounceClass::PolicyAuth
                | BounceClass::RateLimited
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Severity {
    /// Permanent: sending again will fail again.
    Hard,
    /// Temporary, or a condition that passes (a full mailbox, a rate).
    Soft,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Classification {
    pub class: BounceClass,
    pub severity: Severity,
}

impl Classification {
    /// Whether the recipient goes on the suppression list at once: an
    /// unambiguous, permanent failure naming the recipient.
    pub fn suppresses(&self) -> bool {
        self.severity == Severity::Hard
            && matches!(
                self.class,
                BounceClass::UnknownUser | BounceClass::BadDomain | BounceClass::InactiveMailbox
            )
    }
}

/// Phrases, lowercased, in the order they are tried.
const PHRASES: &[(BounceClass, &[&str])] = &[
    (
        BounceClass::ReputationBlock,
        &[
            "spamhaus",
            "blocklist",
            "block list",
            "blacklist",
            "black list",
            "dnsbl",
            " rbl",
            "barracuda",
            "spamcop",
            "sorbs",
            "reputation",
            "blocked using",
            "listed at",
            "listed on",
            "listed in",
            "banned sending ip",
            "client host rejected",
            "access denied, banned",
            "s3150",
            "s3140",
            "s3113",
            "ip not allowed",
            "sending ip",
            "poor ip",
            "[ts0",
            "[tss0",
            "temporarily deferred due to unexpected volume or user complaints",
            "not accepted for policy reasons",
            "originating from your ip",
            "traffic not accepted",
        ],
    ),
    (
        BounceClass::PolicyAuth,
        &[
            "spf",
            "dkim",
            "dmarc",
            "sender policy",
            "not authenticated",
            "unauthenticated",
            "authentication",
            "5.7.23",
            "5.7.25",
            "5.7.26",
            "5.7.27",
            "reverse dns",
            "ptr record",
            "rdns",
            "sender address rejected",
            "relay access denied",
            "relaying denied",
            "not permitted to relay",
        ],
    ),
    (
        BounceClass::RateLimited,
        &[
            "rate limit",
            "ratelimit",
            "rate that prevents",
            "too quickly",
            "too many messages",
            "too many connections",
            "too many recipients",
            "throttl",
            "unusual rate",
            "4.7.28",
            "exceeded the maximum number",
            "slow down",
            "server busy",
        ],
    ),
    (
        BounceClass::MailboxFull,
        &[
            "quota",
            "mailbox full",
            "mailbox is full",
            "mailbox has exceeded",
            "exceeded storage",
            "insufficient storage",
            "out of storage",
            "mailfolder is full",
            "storage allocation",
            "user is over",
            "full mailbox",
        ],
    ),
    (
        BounceClass::InactiveMailbox,
        &[
            "disabled",
            "inactive",
            "deactivated",
            "suspended",
            "no longer active",
            "no longer in use",
            "account has been closed",
            "account is closed",
            "account expired",
            "mailbox is frozen",
            "account is locked",
            "account locked",
            "mailbox locked",
            "554.30",
        ],
    ),
    (
        BounceClass::MessageTooLarge,
        &[
            "too large",
            "too big",
            "message size",
            "size limit",
            "exceeds the maximum size",
            "exceeds maximum",
            "message length exceeds",
            "5.3.4",
            "5.2.3",
        ],
    ),
    (
        BounceClass::ContentRejected,
        &[
            "spam",
            "unsolicited",
            "junk",
            "phish",
            "virus",
            "malware",
            "infected",
            "content",
            "suspicious",
            "bulk mail",
            " uce ",
            "(uce)",
            "not accepted because",
            "message rejected due to",
            "5.7.350",
        ],
    ),
    (
        BounceClass::UnknownUser,
        &[
            "user unknown",
            "unknown user",
            "no such user",
            "unknown recipient",
            "no such recipient",
            "recipient unknown",
            "recipient not found",
            "recipientnotfound",
            "recipnotfound",
            "invalid recipient",
            "invalid mailbox",
            "mailbox not found",
            "mailbox unavailable",
            "no mailbox",
            "mailbox does not exist",
            "does not exist",
            "doesn't exist",
            "doesn't have a",
            "does not have an account",
            "address rejected",
            "not a valid",
            "couldn't be found",
            "could not be found",
            "unrouteable address",
            "no such mailbox",
            "not our customer",
            "addressee unknown",
            "undeliverable address",
            "recipient rejected",
            "does not like recipient",
            "5.1.1",
            "5.1.10",
        ],
    ),
    (
        BounceClass::BadDomain,
        &[
            "host not found",
            "domain not found",
            "host or domain name not found",
            "name service error",
            "no mx",
            "null mx",
            "nullmx",
            "does not accept mail",
            "nxdomain",
            "domain does not exist",
            "unrouteable domain",
            "no route to host",
            "unable to route",
            "bad destination",
            "5.1.2",
            "5.4.4",
        ],
    ),
    (
        BounceClass::NetworkTemporary,
        &[
            "connection refused",
            "connection timed out",
            "timed out",
            "timeout",
            "connection reset",
            "lost connection",
            "connection dropped",
            "network is unreachable",
            "service unavailable",
            "temporarily unavailable",
            "temporary failure",
            "greylist",
            "graylist",
            "try again",
            "4.4.1",
            "4.4.2",
        ],
    ),
];

/// The class of a failure from its reply code, enhanced status code
/// (RFC 3463) and text, any of which may be missing.
pub fn classify(code: Option<u16>, enhanced: Option<&str>, text: &str) -> Classification {
    let lower = text.to_lowercase();
    let enhanced = enhanced
        .map(str::to_owned)
        .or_else(|| find_enhanced(&lower))
        .unwrap_or_default();
    let temporary = match (code, enhanced.chars().next()) {
        (Some(code), _) => (400..500).contains(&code),
        (None, Some('4')) => true,
        _ => false,
    };
    let class = by_special_code(&enhanced, &lower)
        .or_else(|| {
            PHRASES
                .iter()
                .find(|(_, phrases)| phrases.iter().any(|p| lower.contains(p)))
                .map(|(class, _)| *class)
        })
        .unwrap_or_else(|| by_status(&enhanced, code));
    let soft_by_nature = matches!(
        class,
        BounceClass::MailboxFull | BounceClass::RateLimited | BounceClass::NetworkTemporary
    );
    let severity = if temporary || soft_by_nature {
        Severity::Soft
    } else {
        Severity::Hard
    };
    Classification { class, severity }
}

/// Codes whose meaning beats any wording.
fn by_special_code(enhanced: &str, lower: &str) -> Option<BounceClass> {
    match enhanced {
        // RFC 7505 3.2: a null MX.
        "5.1.10" if lower.contains("null mx") || lower.contains("nullmx") => Some(BounceClass::BadDomain),
        // Microsoft: "Recipient address rejected: Access denied" is DBEB.
        "5.4.1" if lower.contains("recipient address rejected") => Some(BounceClass::UnknownUser),
        "5.2.2" | "4.2.2" => Some(BounceClass::MailboxFull),
        "5.3.4" | "5.2.3" => Some(BounceClass::MessageTooLarge),
        "5.7.23" | "5.7.25" | "5.7.26" | "5.7.27" => Some(BounceClass::PolicyAuth),
        "4.7.28" => Some(BounceClass::RateLimited),
        _ => None,
    }
}

/// RFC 3463's subjects when the words said nothing known.
fn by_status(enhanced: &str, code: Option<u16>) -> BounceClass {
    let mut parts = enhanced.split('.');
    let (_, subject, detail) = (parts.next(), parts.next(), parts.next());
    match (subject, detail) {
        (Some("1"), Some("2")) => BounceClass::BadDomain,
        (Some("1"), _) => BounceClass::UnknownUser,
        (Some("2"), Some("1")) => BounceClass::InactiveMailbox,
        (Some("2"), Some("2")) => BounceClass::MailboxFull,
        (Some("2"), Some("3")) | (Some("3"), Some("4")) => BounceClass::MessageTooLarge,
        (Some("3"), _) if enhanced.starts_with('4') => BounceClass::NetworkTemporary,
        (Some("4"), Some("4")) => BounceClass::BadDomain,
        (Some("4"), _) => BounceClass::NetworkTemporary,
        (Some("6"), _) => BounceClass::ContentRejected,
        (Some("7"), _) => BounceClass::PolicyAuth,
        // RFC 3463: X.0.0 and unknown subjects say nothing more.
        (Some(_), _) => BounceClass::Other,
        (None, _) => match code {
            Some(421) | Some(450) | Some(451) => BounceClass::NetworkTemporary,
            Some(452) => BounceClass::MailboxFull,
            Some(550) | Some(551) | Some(553) => BounceClass::UnknownUser,
            Some(552) => BounceClass::MailboxFull,
            _ => BounceClass::Other,
        },
    }
}

/// The first `c.s.d` status code (RFC 3463) in a text.
pub fn find_enhanced(text: &str) -> Option<String> {
    text.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map(|word| word.trim_end_matches('.'))
        .find(|word| {
            let parts: Vec<&str> = word.split('.').collect();
            parts.len() == 3
                && matches!(parts[0], "2" | "4" | "5")
                && parts[1].len() <= 3
                && parts[2].len() <= 3
                && parts[1..].iter().all(|p| !p.is_empty())
        })
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Replies as the big receivers document or commonly send them.
    const REPLIES: &[(u16, &str, BounceClass, Severity)] = &[
        // Gmail
        (
            550,
            "5.1.1 The email account that you tried to reach does not exist. Please try double-checking the recipient's email address for typos",
            BounceClass::UnknownUser,
            Severity::Hard,
        ),
        (
            552,
            "5.2.2 The email account that you tried to reach is over quota.",
            BounceClass::MailboxFull,
            Severity::Soft,
        ),
        (
            550,
            "5.7.1 Our system has detected an unusual rate of unsolicited mail originating from your IP address.",
            BounceClass::ReputationBlock,
            Severity::Hard,
        ),
        (
            550,
            "5.7.26 This mail has been blocked because the sender is unauthenticated. Gmail requires all senders to authenticate with either SPF or DKIM.",
            BounceClass::PolicyAuth,
            Severity::Hard,
        ),
        (
            421,
            "4.7.28 Our system has detected an unusual rate of unsolicited mail originating from your IP address. To protect our users from spam, mail sent from your IP address has been temporarily rate limited.",
            BounceClass::RateLimited,
            Severity::Soft,
        ),
        (
            450,
            "4.2.1 The user you are trying to contact is receiving mail at a rate that prevents additional messages from being delivered.",
            BounceClass::RateLimited,
            Severity::Soft,
        ),
        (
            552,
            "5.7.0 This message was blocked because its content presents a potential security issue.",
            BounceClass::ContentRejected,
            Severity::Hard,
        ),
        (
            550,
            "5.7.1 Our system has detected that this message is likely unsolicited mail.",
            BounceClass::ContentRejected,
            Severity::Hard,
        ),
        (
            552,
            "5.3.4 Your message exceeded Google's message size limits.",
            BounceClass::MessageTooLarge,
            Severity::Hard,
        ),
        (
            550,
            "5.2.1 The email account that you tried to reach is disabled.",
            BounceClass::InactiveMailbox,
            Severity::Hard,
        ),
        // Microsoft (Outlook.com, Office 365)
        (
            550,
            "5.5.0 Requested action not taken: mailbox unavailable (S2017062302).",
            BounceClass::UnknownUser,
            Severity::Hard,
        ),
        (
            550,
            "5.7.1 Unfortunately, messages from [192.0.2.1] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150).",
            BounceClass::ReputationBlock,
            Severity::Hard,
        ),
        (
            550,
            "5.4.1 Recipient address rejected: Access denied. AS(201806281)",
            BounceClass::UnknownUser,
            Severity::Hard,
        ),
        (
            550,
            "5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
            BounceClass::UnknownUser,
            Severity::Hard,
        ),
        (
            550,
            "5.7.708 Service unavailable. Access denied, traffic not accepted from this IP.",
            BounceClass::ReputationBlock,
            Severity::Hard,
        ),
        (
            451,
            "4.7.500 Server busy. Please try again later from [192.0.2.1]. (S77719)",
            BounceClass::RateLimited,
            Severity::Soft,
        ),
        (
            550,
            "5.7.515 Access denied, sending domain example.com does not meet the required authentication level.",
            BounceClass::PolicyAuth,
            Severity::Hard,
        ),
        // Yahoo / AOL
        (
            554,
            "delivery error: dd This user doesn't have a yahoo.com account (someone@yahoo.com) [0] - mta1.mail.yahoo.com",
            BounceClass::UnknownUser,
            Severity::Hard,
        ),
        (
            554,
            "delivery error: dd Sorry your message to someone@yahoo.com cannot be delivered. This mailbox is disabled (554.30).",
            BounceClass::InactiveMailbox,
            Severity::Hard,
        ),
        (
            421,
            "4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1",
            BounceClass::ReputationBlock,
            Severity::Soft,
        ),
        (
            553,
            "5.7.1 [BL21] Connections will not be accepted from 192.0.2.1, because the ip is in Spamhaus's list",
            BounceClass::ReputationBlock,
            Severity::Hard,
        ),
        (
            552,
            "1 Requested mail action aborted, mailbox not found",
            BounceClass::UnknownUser,
            Severity::Hard,
        ),
        // Postfix receivers
        (
            550,
            "5.1.1 <nobody@example.com>: Recipient address rejected: User unknown in local recipient table",
            BounceClass::UnknownUser,
            Severity::Hard,
        ),
        (
            554,
            "5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org",
            BounceClass::ReputationBlock,
            Severity::Hard,
        ),
        (
            450,
            "4.1.8 <bounce@example.com>: Sender address rejected: Domain not found",
            BounceClass::PolicyAuth,
            Severity::Soft,
        ),
        (
            554,
            "5.7.1 <x@example.com>: Relay access denied",
            BounceClass::PolicyAuth,
            Severity::Hard,
        ),
        (
            452,
            "4.5.3 Error: too many recipients",
            BounceClass::RateLimited,
            Severity::Soft,
        ),
        (
            552,
            "5.2.2 <x@example.com>: Recipient address rejected: Mailbox full",
            BounceClass::MailboxFull,
            Severity::Soft,
        ),
        // Exim, Sendmail, qmail and others
        (550, "Unrouteable address", BounceClass::UnknownUser, Severity::Hard),
        (
            550,
            "5.1.1 <x@example.com>... User unknown",
            BounceClass::UnknownUser,
            Severity::Hard,
        ),
        (
            553,
            "sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)",
            BounceClass::PolicyAuth,
            Severity::Hard,
        ),
        (
            550,
            "5.7.1 Message rejected as spam by Content Filtering.",
            BounceClass::ContentRejected,
            Severity::Hard,
        ),
        (
            554,
            "5.7.1 The message was rejected because it contains prohibited virus or spam content",
            BounceClass::ContentRejected,
            Severity::Hard,
        ),
        (
            550,
            "5.7.1 SPF check failed: 192.0.2.1 is not allowed to send mail for example.com",
            BounceClass::PolicyAuth,
            Severity::Hard,
        ),
        (
            550,
            "5.7.1 Email rejected per DMARC policy for example.com",
            BounceClass::PolicyAuth,
            Severity::Hard,
        ),
        (
            421,
            "4.4.2 mx.example.com Error: timeout exceeded",
            BounceClass::NetworkTemporary,
            Severity::Soft,
        ),
        (
            451,
            "4.3.0 Temporary lookup failure",
            BounceClass::NetworkTemporary,
            Severity::Soft,
        ),
        (
            550,
            "5.1.2 Host or domain name not found. Name service error for name=example.invalid type=A: Host not found",
            BounceClass::BadDomain,
            Severity::Hard,
        ),
        (
            556,
            "5.1.10 Recipient address has null MX",
            BounceClass::BadDomain,
            Severity::Hard,
        ),
        (
            552,
            "5.3.4 Message size exceeds fixed limit",
            BounceClass::MessageTooLarge,
            Severity::Hard,
        ),
        (
            451,
            "4.7.1 Greylisting in action, please come back later",
            BounceClass::NetworkTemporary,
            Severity::Soft,
        ),
        (
            554,
            "5.0.0 Service unavailable",
            BounceClass::NetworkTemporary,
            Severity::Soft,
        ),
        (550, "5.0.0 Mail rejected", BounceClass::Other, Severity::Hard),
    ];

    #[test]
    fn provider_replies() {
        let mut wrong = Vec::new();
        for (code, text, class, severity) in REPLIES {
            let got = classify(Some(*code), None, text);
            if got.class != *class || got.severity != *severity {
                wrong.push(format!(
                    "{code} {text}: {:?}/{:?}, want {class:?}/{severity:?}",
                    got.class, got.severity
                ));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn only_unambiguous_recipient_failures_suppress() {
        assert!(classify(Some(550), Some("5.1.1"), "user unknown").suppresses());
        assert!(classify(None, Some("5.1.2"), "").suppresses());
        assert!(!classify(Some(450), Some("4.1.1"), "user unknown, try later").suppresses());
        assert!(!classify(Some(552), Some("5.2.2"), "over quota").suppresses());
        // Reputation and policy blocks (5.7.x) never suppress the recipient.
        for text in ["blocked using zen.spamhaus.org", "SPF fail", "message looks like spam"] {
            let got = classify(Some(550), Some("5.7.1"), text);
            assert!(got.class.is_about_sender() && !got.suppresses(), "{text}");
        }
    }

    #[test]
    fn enhanced_codes_are_found_in_text() {
        assert_eq!(
            find_enhanced("#550 5.1.1 resolver.adr.recipnotfound; not found ##").as_deref(),
            Some("5.1.1")
        );
        assert_eq!(find_enhanced("(#5.7.1)").as_deref(), Some("5.7.1"));
        assert_eq!(find_enhanced("version 1.2 and 10.0.0.1"), None);
    }
}
