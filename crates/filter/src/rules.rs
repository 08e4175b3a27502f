//! Rules that need no training, each a named score with a short reason
//! (an operator must be able to see why a message went where it went).
//! GTUBE (the Generic Test for Unsolicited Bulk Email) first: a message
//! carrying it is always spam, so operators can test the whole path with
//! a harmless message.

use estafeta_verify::lists::is_free;
use mail_parser::{Encoding, HeaderName, Message, MessageParser, MimeHeaders, PartType};

/// The GTUBE string, as SpamAssassin publishes it.
pub const GTUBE: &str = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";

/// One rule that matched.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub rule: &'static str,
    pub score: f64,
    pub text: String,
}

/// What the rules know beyond the message.
pub struct Context<'a> {
    /// Our own domains: a stranger's display name must not claim them.
    pub our_domains: &'a [String],
    /// Seconds since the epoch, for dates from the future.
    pub now: i64,
    /// The SMTP client announced SMTPUTF8 (RFC 6531 3.4): only then may
    /// header fields carry raw UTF-8.
    pub smtputf8: bool,
}

/// Link shorteners hide where a link goes (a favourite of spam).
const SHORTENERS: &[&str] = &[
    "bit.ly",
    "tinyurl.com",
    "t.co",
    "goo.gl",
    "ow.ly",
    "is.gd",
    "buff.ly",
    "rebrand.ly",
    "cutt.ly",
    "shorturl.at",
    "tiny.cc",
    "rb.gy",
];
/// Hosting where anyone can put up a page or a file in a minute, with no
/// domain of their own: where phishing kits keep their forms. A sender's
/// real site, and its mailing service's click tracker, live elsewhere.
const PAGE_HOSTS: &[&str] = &[
    "storage.googleapis.com",
    "firebasestorage.googleapis.com",
    "storage.cloud.google.com",
    "run.app",
    "appspot.com",
    "web.app",
    "firebaseapp.com",
    "workers.dev",
    "pages.dev",
    "r2.dev",
    "netlify.app",
    "vercel.app",
    "herokuapp.com",
    "glitch.me",
    "onrender.com",
    "replit.app",
    "ngrok.io",
    "ngrok-free.app",
    "trycloudflare.com",
    "000webhostapp.com",
    "ipfs.io",
    "dweb.link",
    "cloudflare-ipfs.com",
    "forms.gle",
];
/// Where mailing services send a subscriber's clicks, and the pages they
/// keep for a list (archive, preferences, donation forms): a newsletter
/// of a sender that links nowhere on its own site still links here.
/// Names that number their hosts (`cmail19.com`, `acems1.com`) match by
/// the name before the digits.
const MAILING_SERVICES: &[&str] = &[
    "sendgrid.net",
    "list-manage.com",
    "mailchimp.com",
    "mailchi.mp",
    "campaign-archive.com",
    "mcusercontent.com",
    "rs6.net",
    "constantcontact.com",
    "createsend.com",
    "cmail",
    "acems",
    "activehosted.com",
    "nationbuilder.com",
    "ngpvan.com",
    "myngp.com",
    "actblue.com",
    "anedot.com",
    "hubspotlinks.com",
    "hs-sites.com",
    "exct.net",
    "sailthru.com",
    "klaviyo.com",
    "mandrillapp.com",
    "sparkpostmail.com",
    "mailgun.org",
    "mailjet.com",
    "sendibt3.com",
    "brevo.com",
    "convertkit.com",
    "ck.page",
    "substack.com",
    "beehiiv.com",
    "e2ma.net",
    "icptrack.com",
    "rightmailer.net",
    "forwardtomyfriend.com",
    "updatemyprofile.com",
    "forward-to-friend.com",
    "salsalabs.org",
    "bsd.net",
];

fn on_mailing_service(host: &str) -> bool {
    let site = site(host);
    MAILING_SERVICES.iter().any(|service| {
        crate::tabs::domain_matches(host, service)
            || (!service.contains('.')
                && site
                    .strip_prefix(service)
                    .and_then(|rest| rest.strip_suffix(".com"))
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())))
    })
}

/// Top-level domains sold for next to nothing, where most names
/// registered end up sending spam or phishing: the ones Spamhaus's and
/// Interisle's abuse reports have ranked worst in 2023-2026. In the
/// phishing corpus 5% of From: domains and 10% of messages' links are
/// under one; no SpamAssassin ham's From: and no newsletter of the tab
/// corpus.
const ABUSED_TLDS: &[&str] = &[
    "top", "xyz", "shop", "click", "beauty", "cfd", "icu", "buzz", "sbs", "rest", "bond", "quest", "cyou", "monster",
    "lol", "hair", "skin", "makeup", "autos", "boats", "mom", "yachts", "zip", "mov", "gq", "tk", "ml", "cf", "ga",
    "site", "online", "best", "life",
];

/// RFC 5321 4.1.2's Domain: dot-separated labels of letters, digits and
/// inner hyphens. A name of one label passes: the phishing corpus's
/// anonymised `phishing@pot` must not be what this rule learns from.
fn is_hostname(domain: &str) -> bool {
    let labels: Vec<&str> = domain.trim_end_matches('.').split('.').collect();
    labels.iter().all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b >= 0x80)
            && !label.starts_with('-')
            && !label.ends_with('-')
    })
}

fn on_abused_tld(host: &str) -> bool {
    let host = host.trim_end_matches('.');
    host.rsplit_once('.')
        .is_some_and(|(_, tld)| ABUSED_TLDS.iter().any(|t| tld.eq_ignore_ascii_case(t)))
}

/// Anonymous image sharing: mail services and real senders serve their
/// images from their own hosts, a phishing kit from these.
const IMAGE_HOSTS: &[&str] = &["imgur.com", "zupimages.net", "postimg.cc", "ibb.co", "imgbb.com"];

fn on_host(host: &str, hosts: &[&str]) -> bool {
    hosts.iter().any(|h| crate::tabs::domain_matches(host, h))
}

/// Attachments that run when opened.
const EXECUTABLE: &[&str] = &[
    "exe", "scr", "js", "jse", "vbs", "vbe", "bat", "cmd", "com", "pif", "jar", "msi", "ps1", "lnk", "hta", "wsf",
    "cpl",
];
/// Office documents with macros.
const MACRO: &[&str] = &["docm", "xlsm", "pptm", "dotm", "xltm", "xlam"];

pub fn is_gtube(message: &[u8]) -> bool {
    message.windows(GTUBE.len()).any(|window| window == GTUBE.as_bytes())
}

fn domain_of(address: &str) -> String {
    address
        .rsplit('@')
        .next()
        .unwrap_or_default()
        .trim_end_matches('>')
        .to_ascii_lowercase()
}

/// The site a host belongs to, roughly its registrable domain: the last
/// two labels, or three under a short second level (`co.uk`, `com.br`).
/// Close enough to tell a sender's own links from someone else's.
pub(crate) fn site(host: &str) -> String {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let labels: Vec<&str> = host.split('.').collect();
    let keep = match labels.as_slice() {
        [.., second, _] if labels.len() >= 3 && second.len() <= 3 => 3,
        _ => 2,
    };
    labels[labels.len().saturating_sub(keep)..].join(".")
}

/// The addresses a message names as its recipients (To, Cc and the
/// delivery headers), lower case.
/// The number of the first text part declared 7bit (or nothing, RFC 2045
/// 6.1's default) whose bytes are not all US-ASCII.
fn mislabelled_7bit(parsed: &Message) -> Option<usize> {
    let raw = parsed.raw_message();
    parsed.parts.iter().enumerate().find_map(|(number, part)| {
        let text = matches!(part.body, PartType::Text(_) | PartType::Html(_));
        let declared_7bit = part.encoding == Encoding::None
            && part
                .content_transfer_encoding()
                .is_none_or(|cte| cte.trim().eq_ignore_ascii_case("7bit"));
        let bytes = raw.get(part.offset_body as usize..part.offset_end as usize)?;
        (text && declared_7bit && !bytes.is_ascii()).then_some(number)
    })
}

/// `Name<addr@host>`: a display name, then the address with no space.
fn display_name_touches_address(from: &str) -> bool {
    let Some(open) = from.find('<') else { return false };
    let before = from[..open].trim_start();
    !before.is_empty() && !before.ends_with(char::is_whitespace) && !before.ends_with('"') && from[open..].contains('@')
}

pub(crate) fn recipients(parsed: &Message) -> Vec<String> {
    let mut found: Vec<String> = [parsed.to(), parsed.cc()]
        .into_iter()
        .flatten()
        .flat_map(|list| list.iter())
        .filter_map(|a| a.address())
        .map(str::to_ascii_lowercase)
        .collect();
    for header in ["Delivered-To", "X-Original-To"] {
        if let Some(value) = parsed.header_raw(header) {
            found.push(value.trim().trim_matches(['<', '>']).to_ascii_lowercase());
        }
    }
    found.retain(|a| a.contains('@'));
    found.sort();
    found.dedup();
    found
}

/// The longest tag read for its attributes.
const MAX_TAG: usize = 4096;

/// The hosts `<img>` elements load from.
fn image_sources(html: &str) -> Vec<String> {
    let lower = html.to_ascii_lowercase();
    lower
        .match_indices("<img")
        .filter_map(|(start, _)| {
            // A tag is looked at up to its `>` or a few kilobytes: many
            // `<img` and no `>` must not mean a scan to the end for each.
            let window = &lower.as_bytes()[start..lower.len().min(start + MAX_TAG)];
            let end = window.iter().position(|&b| b == b'>').unwrap_or(window.len());
            let tag = String::from_utf8_lossy(&window[..end]);
            let src = tag.split("src=").nth(1)?.trim_start_matches(['"', '\'']);
            Some(url_domain(src)).filter(|d| !d.is_empty())
        })
        .collect()
}

/// Links as (href domain, the text shown for it) from HTML.
fn anchors(html: &str) -> Vec<(String, String)> {
    let lower = html.to_ascii_lowercase();
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(start) = lower[at..].find("<a ") {
        let start = at + start;
        let Some(close) = lower[start..].find('>') else { break };
        let tag = &lower[start..start + close];
        let Some(end) = lower[start + close..].find("</a>") else {
            break;
        };
        let text = &html[start + close + 1..start + close + end];
        if let Some(href) = tag.split("href=").nth(1) {
            let href = href.trim_start_matches(['"', '\'']);
            let domain = url_domain(href);
            if !domain.is_empty() {
                found.push((domain, crate::html::visible_text(text).trim().to_owned()));
            }
        }
        at = start + close + end;
    }
    found
}

/// The host of an http(s) URL, lower case; empty for anything else.
fn url_domain(url: &str) -> String {
    let lower = url.trim().to_ascii_lowercase();
    let Some(rest) = lower.strip_prefix("http://").or_else(|| lower.strip_prefix("https://")) else {
        return String::new();
    };
    rest.split(['/', '?', '#', ':', '"', '\'', ' ', '>'])
        .next()
        .unwrap_or_default()
        .trim_start_matches("www.")
        .to_owned()
}

/// Link text that reads as a host name ("mybank.test"), not a word that
/// ends a sentence ("here.").
fn looks_like_host(text: &str) -> bool {
    let labels: Vec<&str> = text.split('.').collect();
    labels.len() >= 2
        && labels
            .iter()
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()))
}

fn htmls<'a>(parsed: &'a Message<'a>) -> impl Iterator<Item = &'a str> {
    parsed.parts.iter().filter_map(|part| match &part.body {
        PartType::Html(html) => Some(html.as_ref()),
        _ => None,
    })
}

/// Every rule that matches `message`.
pub fn check(message: &[u8], context: &Context) -> Vec<Hit> {
    check_parsed(message, MessageParser::default().parse(message).as_ref(), context)
}

/// Every rule that matches `message`, parsed once by the caller (`None`:
/// it could not be).
pub fn check_parsed(message: &[u8], parsed: Option<&Message>, context: &Context) -> Vec<Hit> {
    let mut hits = Vec::new();
    let mut hit = |rule: &'static str, score: f64, text: String| hits.push(Hit { rule, score, text });
    if is_gtube(message) {
        hit("GTUBE", 1000.0, "the GTUBE test string".into());
    }
    let Some(parsed) = parsed else {
        hit("UNPARSABLE", 2.0, "not a readable message".into());
        return hits;
    };

    // RFC 5322 3.6: Date and (SHOULD) Message-ID are there in real mail.
    match parsed.date() {
        None => hit("MISSING_DATE", 1.0, "no Date: header".into()),
        Some(date) if date.to_timestamp() > context.now + 86_400 => {
            hit("DATE_IN_FUTURE", 1.5, format!("Date: is in the future ({date})"))
        }
        Some(date) if date.to_timestamp() < 631_152_000 => {
            hit("DATE_TOO_OLD", 1.0, format!("Date: before 1990 ({date})"))
        }
        Some(_) => {}
    }
    if parsed.message_id().is_none_or(str::is_empty) {
        hit("MISSING_MESSAGE_ID", 1.0, "no Message-ID: header".into());
    }

    let from = parsed.from().and_then(|a| a.first());
    let from_domain = from.and_then(|f| f.address()).map(domain_of).unwrap_or_default();
    if let Some(reply_to) = parsed.reply_to().and_then(|a| a.first()).and_then(|a| a.address())
        && !from_domain.is_empty()
        && domain_of(reply_to) != from_domain
    {
        hit(
            "REPLYTO_DIFFERS",
            0.5,
            format!("replies go to {} instead of {from_domain}", domain_of(reply_to)),
        );
    }
    if let Some(name) = from.and_then(|f| f.name()) {
        let name = name.to_ascii_lowercase();
        let ours = |domain: &str| context.our_domains.iter().any(|d| d == domain);
        if !ours(&from_domain)
            && let Some(claimed) = context.our_domains.iter().find(|d| name.contains(d.as_str()))
        {
            hit(
                "DISPLAY_NAME_SPOOF",
                3.0,
                format!("the sender's name claims {claimed}, the address is {from_domain}"),
            );
        } else if name.contains('@') && !name.contains(&from_domain) {
            hit(
                "DISPLAY_NAME_ADDRESS",
                1.5,
                "the sender's name is another address".into(),
            );
        }
    }

    if parsed.header_raw("From").is_none() {
        hit(
            "MISSING_FROM",
            1.0,
            "no From: header (RFC 5322 3.6 requires one)".into(),
        );
    } else if !is_hostname(&from_domain) {
        // RFC 5322 3.6.2: From names the author's mailbox, and RFC 5321
        // 4.1.2 says what a mail domain looks like. A From: with no
        // address, or one no reply could ever reach, was not written by a
        // mail program.
        let text = if from_domain.is_empty() {
            "From: holds no address (or a name with a comma left unquoted)".to_owned()
        } else {
            format!("the sender's address has no valid domain ({from_domain})")
        };
        hit("FROM_INVALID", 2.0, text);
    } else if on_host(&from_domain, PAGE_HOSTS) {
        // A business mails from its own domain; the default names of app
        // platforms (Firebase's `project.firebaseapp.com`, `web.app`) are
        // where throwaway projects send from: 6.6% of the phishing corpus,
        // no ham or tab mail.
        hit(
            "FROM_PAGE_HOST",
            2.5,
            format!("the sender's address is on {from_domain}, a host anyone can put a page on"),
        );
    }
    if on_abused_tld(&from_domain) {
        hit(
            "FROM_ABUSED_TLD",
            1.5,
            format!("the sender's domain {from_domain} is under a top-level domain spam favours"),
        );
    }
    if let Some(brand) = from
        .and_then(|f| f.name())
        .and_then(|name| crate::brands::impersonated(name, &from_domain))
    {
        hit(
            "FROM_NAME_BRAND",
            3.0,
            format!("the sender's name claims {brand}, the address is {from_domain}"),
        );
    }

    if let Some(how) = from.and_then(|f| f.name()).and_then(crate::disguise::disguise) {
        // A sender's name is what most mail programs show of it; one that
        // reads differently to a person than to a filter was made to.
        hit(
            "FROM_NAME_DISGUISED",
            2.0,
            format!("the sender's name hides its letters: {how}"),
        );
    }
    if let Some(subject) = parsed.subject() {
        let letters: Vec<char> = subject.chars().filter(|c| c.is_alphabetic()).collect();
        if letters.len() >= 10 && letters.iter().filter(|c| c.is_uppercase()).count() * 10 >= letters.len() * 8 {
            hit("SUBJECT_ALL_CAPS", 1.0, "the subject shouts".into());
        }
        if subject.contains("!!") || subject.contains("$$") || subject.matches('!').count() >= 3 {
            hit("SUBJECT_PUNCTUATION", 1.0, "the subject is heavy on ! or $".into());
        }
        if let Some(how) = crate::disguise::hidden_letters(subject) {
            hit(
                "SUBJECT_DISGUISED",
                1.5,
                format!("the subject hides its letters: {how}"),
            );
        }
        // RFC 2047 exists for text ASCII cannot carry; base64 around plain
        // ASCII only hides the words from filters.
        let raw = parsed.header_raw("Subject").unwrap_or_default().trim();
        if subject.is_ascii() && raw.to_ascii_lowercase().contains("?b?") && raw.starts_with("=?") {
            hit(
                "SUBJECT_ENCODED_ASCII",
                1.0,
                "a plain ASCII subject hidden in base64".into(),
            );
        }
    }

    // RFC 6532 allows UTF-8 in headers; other raw 8-bit bytes there are
    // neither that nor RFC 2047, and mail readers guess at them.
    let header_end = message
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .or_else(|| message.windows(2).position(|w| w == b"\n\n"))
        .unwrap_or(message.len());
    if std::str::from_utf8(&message[..header_end]).is_err() {
        hit("RAW_8BIT_HEADER", 1.0, "header bytes in no declared charset".into());
    } else if !message[..header_end].is_ascii() && !context.smtputf8 {
        // RFC 6532 3 / RFC 6531 3.4: UTF-8 header fields travel only over
        // SMTPUTF8; mail software writes RFC 2047 words otherwise. 23% of
        // the phishing corpus has a raw UTF-8 subject, no newsletter or ham.
        hit(
            "UTF8_HEADER_WITHOUT_SMTPUTF8",
            1.0,
            "UTF-8 in the header, sent without SMTPUTF8".into(),
        );
    }
    if let Some(part) = mislabelled_7bit(parsed) {
        // RFC 2045 2.7 and 6.2: "7bit" (also the default) is lines of
        // US-ASCII; 8-bit text under that label comes from software that
        // writes MIME by hand. 20% of the phishing corpus, 1.5% of ham.
        hit(
            "BODY_8BIT_DECLARED_7BIT",
            1.0,
            format!("part {part} holds 8-bit text labelled 7bit"),
        );
    }

    // RFC 5322 3.6: exactly one From. Two let a reader show one and a
    // checker (DMARC, RFC 7489 6.6.1) judge the other.
    let from_fields = parsed.headers().iter().filter(|h| h.name == HeaderName::From).count();
    if from_fields > 1 {
        hit("MULTIPLE_FROM", 3.0, format!("{from_fields} From: fields"));
    }
    // `Name<addr>` is valid (RFC 5322 3.4 makes the space optional) but no
    // mail program writes it; bulk tools of phishing kits do (11% of the
    // phishing corpus, 0.1% of ham, no newsletter).
    if parsed.header_raw("From").is_some_and(display_name_touches_address) {
        hit(
            "FROM_NAME_TOUCHES_ADDRESS",
            1.0,
            "no space between the sender's name and address".into(),
        );
    }
    if parsed
        .header_raw("X-Priority")
        .is_some_and(|v| v.trim().starts_with('1'))
    {
        // Urgency is the lever of phishing (10.5% of it, no ham, no
        // newsletter); people mark urgent mail too, so a hint only.
        hit("PRIORITY_HIGHEST", 1.0, "marked X-Priority 1 (highest)".into());
    }
    if parsed.header_raw("To").is_some_and(|to| {
        let to = to.trim().to_ascii_lowercase();
        to.contains("undisclosed") || to.ends_with(":;")
    }) {
        // RFC 5322 3.4: an empty group hides who else got it: a mass
        // mailing without a list behind it (7.5% of phishing, 0.3% of ham).
        hit("UNDISCLOSED_RECIPIENTS", 1.0, "sent to undisclosed recipients".into());
    }

    let has_text = parsed.parts.iter().any(|part| {
        matches!(part.body, PartType::Text(_))
            && part
                .content_type()
                .is_none_or(|ct| ct.subtype().is_none_or(|s| s.eq_ignore_ascii_case("plain")))
    });
    let mut html_seen = false;
    // Every link of the HTML parts, as (host, text shown), read once.
    let html_anchors: Vec<(String, String)> = htmls(parsed).flat_map(anchors).collect();
    for html in htmls(parsed) {
        html_seen = true;
        let lower = html.to_ascii_lowercase().replace(' ', "");
        if ["display:none", "font-size:0", "visibility:hidden", "font-size:1px"]
            .iter()
            .any(|trick| lower.contains(trick))
        {
            // Hidden text is also every newsletter's preheader (81% of the
            // tab corpus's Promotions, 49% of the phishing): a hint, no more.
            hit("INVISIBLE_TEXT", 0.3, "text styled not to be seen".into());
        }
    }
    for (domain, text) in &html_anchors {
        let shown = url_domain(text);
        let shown = if shown.is_empty() && looks_like_host(text) {
            text.to_ascii_lowercase().trim_start_matches("www.").to_owned()
        } else {
            shown
        };
        // A sender's own address shown over its click tracker's is what
        // every mailing service does, and so is a partner's site shown
        // over the sender's own tracker (a newsletter's "Legbranch.org"
        // through email.rstreet.org); a link showing someone else's site
        // and going to a third is the phisher's, and so is a brand's
        // site shown over anyone else's (phishing sent from a platform
        // whose tracker is its From: domain).
        let own = !from_domain.is_empty()
            && (site(&shown) == site(&from_domain)
                || site(domain) == site(&from_domain) && !crate::brands::owns(&shown));
        if !shown.is_empty() && shown != *domain && !domain.ends_with(&format!(".{shown}")) && !own {
            hit(
                "LINK_TEXT_MISMATCH",
                2.5,
                format!("a link shows {shown} but goes to {domain}"),
            );
            break;
        }
    }
    let html_links: Vec<&String> = html_anchors.iter().map(|(domain, _)| domain).collect();
    if !html_links.is_empty()
        && !from_domain.is_empty()
        && html_links
            .iter()
            .all(|host| site(host) != site(&from_domain) && !on_mailing_service(host))
    {
        // A designed message from a business links to its own site, or to
        // the mailing service that sends for it; the phisher's links go to
        // the kit's host, never to the domain it mails from (77% of the
        // phishing corpus; no newsletter of the tab corpus, 0.7% of
        // SpamAssassin's ham).
        hit(
            "LINKS_ELSEWHERE",
            1.5,
            format!("no link goes to {from_domain} or a mailing service"),
        );
    }
    if html_seen && !has_text {
        // RFC 2046 5.1.4: mail meant for everyone offers a plain-text
        // alternative; 68% of the phishing corpus has none, 4% of the tab
        // corpus's newsletters and 3% of SpamAssassin's ham. At 2 points
        // (1.5 before) phishing never learned is caught 0.835 -> 0.850 and
        // learned 0.973 -> 0.977, with no more ham or tab mail in Junk.
        hit("HTML_ONLY", 2.0, "HTML without a plain-text part".into());
    }
    if html_seen && parsed.header_raw("DKIM-Signature").is_none() {
        // RFC 6376 lets a domain vouch for its mail, and since 2024 the
        // big mailbox providers demand it of anyone who sends to them, so
        // a designed (HTML) message nobody signed comes from outside that
        // world: 52% of the phishing corpus, 3 of 152 newsletters. Presence
        // is not validity (DKIM_VALID and DMARC judge that): only absence
        // counts here.
        hit("HTML_UNSIGNED", 1.5, "HTML mail with no DKIM signature".into());
    }

    let mut shortened = false;
    // The hosts the message links to: anchors in HTML, URLs in text.
    let mut links: Vec<String> = Vec::new();
    let mut images: Vec<String> = Vec::new();
    for part in &parsed.parts {
        let text = match &part.body {
            PartType::Text(text) => {
                links.extend(crate::tokens::link_domains(text));
                text.as_ref()
            }
            PartType::Html(html) => {
                images.extend(image_sources(html));
                html.as_ref()
            }
            _ => continue,
        };
        let lower = text.to_ascii_lowercase();
        if !shortened && SHORTENERS.iter().any(|s| lower.contains(&format!("//{s}/"))) {
            shortened = true;
            hit("URL_SHORTENER", 1.5, "a link through a URL shortener".into());
        }
    }
    links.extend(html_links.iter().map(|domain| (*domain).clone()));
    if let Some(ip) = links.iter().find(|host| host.parse::<std::net::Ipv4Addr>().is_ok()) {
        hit("LINK_TO_IP", 1.5, format!("a link to a bare address ({ip})"));
    }
    if let Some(host) = links.iter().find(|host| on_host(host, PAGE_HOSTS)) {
        hit(
            "LINK_TO_PAGE_HOST",
            2.0,
            format!("a link to a page anyone can put up on {host}"),
        );
    }
    if let Some(host) = links.iter().find(|host| on_abused_tld(host)) {
        hit(
            "LINK_ABUSED_TLD",
            1.0,
            format!("a link to {host}, under a top-level domain spam favours"),
        );
    }
    if let Some(host) = images.iter().find(|host| on_host(host, IMAGE_HOSTS)) {
        hit(
            "IMAGE_ON_SHARING_HOST",
            2.0,
            format!("images served from an anonymous image host ({host})"),
        );
    }

    // Greeting a victim by mailbox ("user@example.com: your storage is
    // full") is a phishing kit's habit; people and mailing services use
    // names.
    let to = recipients(parsed);
    if let Some(subject) = parsed.subject().map(str::to_ascii_lowercase)
        && let Some(address) = to.iter().find(|a| subject.contains(a.as_str()))
    {
        hit(
            "SUBJECT_NAMES_RECIPIENT",
            2.0,
            format!("the subject names the recipient's address {address}"),
        );
    }
    if let Some(reply_to) = parsed.reply_to().and_then(|a| a.first()).and_then(|a| a.address()) {
        let reply_domain = domain_of(reply_to);
        if is_free(&reply_domain) && !is_free(&from_domain) && !from_domain.is_empty() {
            hit(
                "REPLYTO_FREEMAIL",
                1.5,
                format!("replies go to a free mailbox at {reply_domain}, not to {from_domain}"),
            );
        }
    }

    // What senders of wanted bulk mail do, and mailbox providers require
    // of them: a working unsubscribe (RFC 2369, RFC 8058), links to their
    // own site, content worth many links, a plain-text alternative (RFC
    // 2046 5.1.4). Each is easy to fake alone; together they are rare in
    // spam (2.9% of the phishing corpus has three or more, 4.8% of
    // SpamAssassin's spam) and common in newsletters (83% of the tab
    // corpus's Promotions, 78% of its Updates). Half a point each: phishing
    // sent through real mailing services (Google, Postmark, Mailgun) has
    // them all, and at a point each they took back what Bayes had found
    // in it; since style sheets no longer count as words, newsletters need
    // less help against Bayes.
    let unsubscribe = parsed
        .header_raw("List-Unsubscribe")
        .is_some_and(|v| v.contains("http") || v.contains("mailto:"));
    let own_links = !from_domain.is_empty() && links.iter().any(|host| site(host) == site(&from_domain));
    let practices = [
        (unsubscribe, "an unsubscribe link"),
        (own_links, "links to its own site"),
        (links.len() >= 10, "many links"),
        (html_seen && has_text, "a plain-text alternative"),
    ];
    let kept: Vec<&str> = practices
        .iter()
        .filter(|(yes, _)| *yes)
        .map(|(_, what)| *what)
        .collect();
    // The unsubscribe is what makes it bulk mail a recipient asked for
    // (and what providers demand of bulk senders); without it the rest is
    // only a well-made message.
    if unsubscribe && kept.len() >= 2 {
        hit(
            "BULK_SENDER_PRACTICE",
            -0.5 * (kept.len() as f64 - 1.0),
            format!("a bulk sender's good practice: {}", kept.join(", ")),
        );
    }

    for part in parsed.attachments() {
        let Some(name) = part.attachment_name() else { continue };
        let extension = name.rsplit('.').next().unwrap_or_default().to_ascii_lowercase();
        if EXECUTABLE.contains(&extension.as_str()) {
            hit("EXECUTABLE_ATTACHMENT", 4.0, format!("an attachment that runs: {name}"));
        } else if MACRO.contains(&extension.as_str()) {
            hit("MACRO_ATTACHMENT", 2.5, format!("a document with macros: {name}"));
        }
    }
    hits
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_687_200; // 2026-11-26

    fn rules(message: &str) -> Vec<&'static str> {
        let ours = ["example.com".to_owned()];
        let context = Context {
            our_domains: &ours,
            now: NOW,
            smtputf8: false,
        };
        check(message.as_bytes(), &context)
            .into_iter()
            .map(|h| h.rule)
            .collect()
    }

    const CLEAN: &str = "From: Ana Souza <ana@partner.test>\r\nTo: bob@example.com\r\nSubject: Lunch on Friday?\r\n\
Date: Wed, 25 Nov 2026 10:00:00 +0000\r\nMessage-ID: <a1@partner.test>\r\n\r\nShall we meet at noon?\r\n";

    #[test]
    fn a_from_no_mail_program_writes_is_noticed() {
        // A name with an unquoted comma reads as two mailboxes, the first
        // with no address (RFC 5322 3.4 wants such a name quoted).
        let comma = CLEAN.replace("Ana Souza <ana@partner.test>", "Account team ,_<no-reply@partner.test>");
        assert!(rules(&comma).contains(&"FROM_INVALID"), "{:?}", rules(&comma));
        let bad_domain = CLEAN.replace("ana@partner.test", "ana@partner,test");
        assert!(rules(&bad_domain).contains(&"FROM_INVALID"));
        let none = CLEAN.replace("From: Ana Souza <ana@partner.test>\r\n", "");
        assert_eq!(rules(&none), ["MISSING_FROM"]);
        // A name of one label is left alone, and a quoted comma is fine.
        let local = CLEAN.replace("ana@partner.test", "root@mailhost");
        assert!(!rules(&local).contains(&"FROM_INVALID"), "{:?}", rules(&local));
        let quoted = CLEAN.replace("Ana Souza", "\"Souza, Ana\"");
        assert!(rules(&quoted).is_empty(), "{:?}", rules(&quoted));
    }

    #[test]
    fn senders_and_links_on_cheap_or_borrowed_names_are_noticed() {
        let page = CLEAN.replace("ana@partner.test", "noreply@login-77.firebaseapp.com");
        assert!(rules(&page).contains(&"FROM_PAGE_HOST"));
        let cheap = CLEAN.replace("ana@partner.test", "ana@partner-deals.top");
        assert!(rules(&cheap).contains(&"FROM_ABUSED_TLD"));
        let link = CLEAN.replace("Shall we meet at noon?", "See https://parcel-fee.click/pay now");
        assert!(rules(&link).contains(&"LINK_ABUSED_TLD"), "{:?}", rules(&link));
        // A TLD's name inside a longer one is not it.
        let long = CLEAN.replace("ana@partner.test", "ana@partner.topaz");
        assert!(rules(&long).is_empty(), "{:?}", rules(&long));
    }

    #[test]
    fn a_brand_in_the_name_over_another_domain_is_noticed() {
        let spoof = CLEAN.replace("Ana Souza <ana@partner.test>", "PayPal Service <service@partner.test>");
        assert!(rules(&spoof).contains(&"FROM_NAME_BRAND"), "{:?}", rules(&spoof));
        let real = CLEAN.replace("Ana Souza <ana@partner.test>", "PayPal <service@paypal.com>");
        assert!(rules(&real).is_empty(), "{:?}", rules(&real));
    }

    #[test]
    fn a_plain_personal_message_matches_nothing() {
        assert!(rules(CLEAN).is_empty(), "{:?}", rules(CLEAN));
    }

    #[test]
    fn charset_tricks_are_noticed() {
        let hidden = CLEAN.replace("Subject: Lunch on Friday?", "Subject: =?utf-8?B?RlJFRSBWSUFHUkE=?=");
        assert!(rules(&hidden).contains(&"SUBJECT_ENCODED_ASCII"));
        // Base64 for text that needs it is what RFC 2047 is for.
        let needed = CLEAN.replace("Subject: Lunch on Friday?", "Subject: =?utf-8?B?Q2Fmw6k=?=");
        assert!(
            !rules(&needed).contains(&"SUBJECT_ENCODED_ASCII"),
            "{:?}",
            rules(&needed)
        );
        let latin1 =
            b"From: Ana <ana@partner.test>\r\nSubject: Ol\xe1 amigo\r\nDate: Wed, 25 Nov 2026 10:00:00 +0000\r\n\
Message-ID: <a@partner.test>\r\n\r\nbody \xe9\r\n";
        let ours = ["example.com".to_owned()];
        let context = Context {
            our_domains: &ours,
            now: NOW,
            smtputf8: false,
        };
        let hits: Vec<_> = check(latin1, &context).into_iter().map(|h| h.rule).collect();
        assert!(hits.contains(&"RAW_8BIT_HEADER"), "{hits:?}");
        // UTF-8 in headers is RFC 6532, not a trick.
        let utf8 = CLEAN.replace("Lunch on Friday?", "Almoço na sexta?");
        assert!(!rules(&utf8).contains(&"RAW_8BIT_HEADER"));
    }

    fn rules_with_smtputf8(message: &str, smtputf8: bool) -> Vec<&'static str> {
        let ours = ["example.com".to_owned()];
        let context = Context {
            our_domains: &ours,
            now: NOW,
            smtputf8,
        };
        check(message.as_bytes(), &context)
            .into_iter()
            .map(|h| h.rule)
            .collect()
    }

    #[test]
    fn utf8_in_the_header_needs_smtputf8() {
        let utf8 = CLEAN.replace("Lunch on Friday?", "Almoço na sexta?");
        assert!(rules_with_smtputf8(&utf8, false).contains(&"UTF8_HEADER_WITHOUT_SMTPUTF8"));
        assert!(
            rules_with_smtputf8(&utf8, true).is_empty(),
            "{:?}",
            rules_with_smtputf8(&utf8, true)
        );
        let encoded = CLEAN.replace("Lunch on Friday?", "=?utf-8?q?Almo=C3=A7o?=");
        assert!(!rules(&encoded).contains(&"UTF8_HEADER_WITHOUT_SMTPUTF8"));
    }

    #[test]
    fn eight_bit_text_labelled_7bit_is_noticed() {
        let eight_bit = CLEAN.replace("Shall we meet at noon?", "Até sexta, ao meio-dia?");
        assert!(rules(&eight_bit).contains(&"BODY_8BIT_DECLARED_7BIT"));
        let declared = eight_bit.replace(
            "\r\n\r\n",
            "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n",
        );
        assert!(
            !rules(&declared).contains(&"BODY_8BIT_DECLARED_7BIT"),
            "{:?}",
            rules(&declared)
        );
        let labelled = declared.replace("Encoding: 8bit", "Encoding: 7bit");
        assert!(rules(&labelled).contains(&"BODY_8BIT_DECLARED_7BIT"));
        // Inside a multipart: the part's own label counts.
        let multipart = "From: a@partner.test\r\nTo: bob@example.com\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nplain\r\n\
--b\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n<p>Até</p>\r\n--b--\r\n";
        assert!(rules(multipart).contains(&"BODY_8BIT_DECLARED_7BIT"));
        assert!(!rules(&multipart.replace("Encoding: 7bit", "Encoding: 8bit")).contains(&"BODY_8BIT_DECLARED_7BIT"));
    }

    #[test]
    fn header_habits_of_mass_mailers_are_noticed() {
        let two_from = CLEAN.replace("To: ", "From: ceo@example.com\r\nTo: ");
        assert!(rules(&two_from).contains(&"MULTIPLE_FROM"));
        assert!(!rules(CLEAN).contains(&"MULTIPLE_FROM"));

        let touching = CLEAN.replace("Ana Souza <", "Ana Souza<");
        assert!(rules(&touching).contains(&"FROM_NAME_TOUCHES_ADDRESS"));
        for fine in ["\"Ana Souza\"<", "<"] {
            let from = CLEAN.replace("Ana Souza <", fine);
            assert!(!rules(&from).contains(&"FROM_NAME_TOUCHES_ADDRESS"), "{fine}");
        }

        let urgent = CLEAN.replace("To: ", "X-Priority: 1 (Highest)\r\nTo: ");
        assert!(rules(&urgent).contains(&"PRIORITY_HIGHEST"));
        let normal = CLEAN.replace("To: ", "X-Priority: 3\r\nTo: ");
        assert!(!rules(&normal).contains(&"PRIORITY_HIGHEST"));

        for hidden in ["undisclosed-recipients:;", "Undisclosed recipients:;", "friends:;"] {
            let to = CLEAN.replace("To: bob@example.com", &format!("To: {hidden}"));
            assert!(rules(&to).contains(&"UNDISCLOSED_RECIPIENTS"), "{hidden}");
        }
        assert!(!rules(CLEAN).contains(&"UNDISCLOSED_RECIPIENTS"));
    }

    #[test]
    fn gtube_anywhere_in_the_message() {
        let message = format!("Subject: test\r\n\r\nhello\r\n{GTUBE}\r\n");
        assert!(is_gtube(message.as_bytes()));
        assert!(rules(&message).contains(&"GTUBE"));
        assert!(!is_gtube(b"Subject: test\r\n\r\nXJS*C4JDBQADN1 but not all of it\r\n"));
    }

    #[test]
    fn missing_or_odd_dates_and_ids() {
        let message = "From: a@partner.test\r\nSubject: hello there\r\n\r\nbody\r\n";
        let found = rules(message);
        assert!(
            found.contains(&"MISSING_DATE") && found.contains(&"MISSING_MESSAGE_ID"),
            "{found:?}"
        );
        let future = CLEAN.replace("Wed, 25 Nov 2026", "Thu, 25 Nov 2027");
        assert!(rules(&future).contains(&"DATE_IN_FUTURE"));
        let old = CLEAN.replace("Wed, 25 Nov 2026", "Mon, 1 Jan 1979");
        assert!(rules(&old).contains(&"DATE_TOO_OLD"));
    }

    #[test]
    fn reply_to_elsewhere_and_display_name_spoofing() {
        let replying = CLEAN.replace("To: bob", "Reply-To: collect@elsewhere.test\r\nTo: bob");
        assert_eq!(rules(&replying), ["REPLYTO_DIFFERS"]);
        let spoof = CLEAN.replace(
            "Ana Souza <ana@partner.test>",
            "\"IT support example.com\" <it@phish.test>",
        );
        assert!(rules(&spoof).contains(&"DISPLAY_NAME_SPOOF"), "{:?}", rules(&spoof));
        let address = CLEAN.replace("Ana Souza <ana@partner.test>", "\"ceo@bank.test\" <x@phish.test>");
        assert!(rules(&address).contains(&"DISPLAY_NAME_ADDRESS"));
        // Our own users may put our domain in their names.
        let own = CLEAN.replace(
            "Ana Souza <ana@partner.test>",
            "\"Ana (example.com)\" <ana@example.com>",
        );
        assert!(rules(&own).is_empty(), "{:?}", rules(&own));
    }

    #[test]
    fn shouting_and_look_alike_subjects() {
        let caps = CLEAN.replace("Lunch on Friday?", "YOU HAVE WON A PRIZE");
        assert!(rules(&caps).contains(&"SUBJECT_ALL_CAPS"));
        let bang = CLEAN.replace("Lunch on Friday?", "Act now!!! $$$");
        assert!(rules(&bang).contains(&"SUBJECT_PUNCTUATION"));
        let homoglyph = CLEAN.replace("Lunch on Friday?", "Your p\u{0430}ypal account");
        assert!(rules(&homoglyph).contains(&"SUBJECT_DISGUISED"));
        let hidden = CLEAN.replace("Lunch on Friday?", "Ve\u{E0139}rify your account");
        assert!(rules(&hidden).contains(&"SUBJECT_DISGUISED"));
    }

    #[test]
    fn html_tricks() {
        let html = "From: Shop <news@shop.test>\r\nSubject: Offer\r\nDate: Wed, 25 Nov 2026 10:00:00 +0000\r\n\
Message-ID: <n1@shop.test>\r\nContent-Type: text/html\r\n\r\n\
<p>Sign in at <a href=\"http://login.evil.test/x\">https://www.mybank.test/login</a></p>\
<div style=\"display: none\">hidden words</div><a href=\"https://bit.ly/abc\">here</a>\r\n";
        let found = rules(html);
        for rule in ["HTML_ONLY", "INVISIBLE_TEXT", "LINK_TEXT_MISMATCH", "URL_SHORTENER"] {
            assert!(found.contains(&rule), "{rule} in {found:?}");
        }
        // A link whose text names its own domain is fine.
        let honest = html.replace("http://login.evil.test/x", "https://mybank.test/login");
        assert!(!rules(&honest).contains(&"LINK_TEXT_MISMATCH"));
    }

    #[test]
    fn designed_mail_linking_only_away_from_its_sender_is_noticed() {
        let message = |links: &str| {
            format!(
                "From: Wallet Team <noreply@shop.test>\r\nSubject: Verify\r\nDate: Wed, 25 Nov 2026 10:00:00 +0000\r\n\
Message-ID: <n1@shop.test>\r\nContent-Type: text/html\r\n\r\n<p>{links}</p>\r\n"
            )
        };
        let away =
            message("<a href=\"https://kit.evil.test/login\">Verify</a> <a href=\"https://cdn.other.test/\">x</a>");
        assert!(rules(&away).contains(&"LINKS_ELSEWHERE"), "{:?}", rules(&away));
        // One link home, or through the mailing service that sends for it,
        // is what a newsletter has.
        for fine in [
            "<a href=\"https://kit.evil.test/\">a</a> <a href=\"https://www.shop.test/\">home</a>",
            "<a href=\"https://u123.ct.sendgrid.net/ls/click?x\">Read</a>",
            "<a href=\"https://unsub.cmail19.com/t/i-u\">Unsubscribe</a>",
            "no links at all",
        ] {
            assert!(!rules(&message(fine)).contains(&"LINKS_ELSEWHERE"), "{fine}");
        }
        assert!(on_mailing_service("cmail20.com") && on_mailing_service("x.acems1.com"));
        assert!(!on_mailing_service("cmail.com") && !on_mailing_service("cmailx.com"));
    }

    #[test]
    fn a_disguised_sender_name_is_noticed_and_read_for_its_brand() {
        let from = |name: &str| CLEAN.replace("Ana Souza", name);
        let hidden = from("Mic\u{E0139}ros\u{E0139}oft Service");
        let found = rules(&hidden);
        assert!(
            found.contains(&"FROM_NAME_DISGUISED") && found.contains(&"FROM_NAME_BRAND"),
            "{found:?}"
        );
        let spaced = rules(&from("C o i n b a s e"));
        assert!(
            spaced.contains(&"FROM_NAME_DISGUISED") && spaced.contains(&"FROM_NAME_BRAND"),
            "{spaced:?}"
        );
        assert!(!rules(&from("J. R. Smith")).contains(&"FROM_NAME_DISGUISED"));
    }

    #[test]
    fn html_mail_nobody_signed_is_noticed() {
        let html = "From: Shop <news@shop.test>\r\nSubject: Offer\r\nDate: Wed, 25 Nov 2026 10:00:00 +0000\r\n\
Message-ID: <n1@shop.test>\r\nContent-Type: text/html\r\n\r\n<p>Our offer</p>\r\n";
        assert!(rules(html).contains(&"HTML_UNSIGNED"));
        let signed = html.replace(
            "Subject:",
            "DKIM-Signature: v=1; a=rsa-sha256; d=shop.test; s=s1; h=from; bh=x; b=y\r\nSubject:",
        );
        assert!(!rules(&signed).contains(&"HTML_UNSIGNED"), "{:?}", rules(&signed));
        // Plain text from a person is not judged by its signature.
        assert!(!rules(CLEAN).contains(&"HTML_UNSIGNED"));
    }

    #[test]
    fn a_senders_own_links_through_its_click_tracker_are_not_a_mismatch() {
        let tracked = "From: News <news@shop.test>\r\nSubject: Offer\r\nDate: Wed, 25 Nov 2026 10:00:00 +0000\r\n\
Message-ID: <n1@shop.test>\r\nContent-Type: text/html\r\n\r\n\
<p>Read it on <a href=\"https://click.esp.test/t/1\">www.shop.test</a>, or click \
<a href=\"https://click.esp.test/t/2\">here.</a></p>\r\n";
        assert!(!rules(tracked).contains(&"LINK_TEXT_MISMATCH"), "{:?}", rules(tracked));
        // Someone else's site shown over a third party's link still is.
        let phish = tracked.replace("www.shop.test", "www.mybank.test");
        assert!(rules(&phish).contains(&"LINK_TEXT_MISMATCH"));
        // A partner's site shown over the sender's own tracker is a
        // newsletter's link; a brand's site shown over it is not.
        let partner = tracked
            .replace("https://click.esp.test/t/1", "https://email.shop.test/t/1")
            .replace("www.shop.test", "Legbranch.org");
        assert!(
            !rules(&partner).contains(&"LINK_TEXT_MISMATCH"),
            "{:?}",
            rules(&partner)
        );
        let brand = partner.replace("Legbranch.org", "https://billing.spotify.com/update");
        assert!(rules(&brand).contains(&"LINK_TEXT_MISMATCH"), "{:?}", rules(&brand));
        assert!(looks_like_host("mybank.test") && looks_like_host("www.my-bank.co.uk"));
        assert!(!looks_like_host("here.") && !looks_like_host("e.g.") && !looks_like_host("v1.2"));
    }

    #[test]
    fn phishing_habits_recipient_in_subject_free_reply_to_bare_ip_links() {
        let message = "From: IT Desk <it@corp.test>\r\nTo: bob@example.com\r\nReply-To: desk.help@gmail.com\r\n\
Subject: bob@example.com: your mailbox is full\r\nDate: Wed, 25 Nov 2026 10:00:00 +0000\r\nMessage-ID: <m@corp.test>\r\n\r\n\
Sign in at http://203.0.113.9/owa to keep your mail.\r\n";
        let found = rules(message);
        for rule in ["SUBJECT_NAMES_RECIPIENT", "REPLYTO_FREEMAIL", "LINK_TO_IP"] {
            assert!(found.contains(&rule), "{rule} in {found:?}");
        }
        // People with free mailboxes may ask for replies there.
        let free_sender = message.replace("it@corp.test", "it.desk@gmail.com");
        assert!(!rules(&free_sender).contains(&"REPLYTO_FREEMAIL"));
    }

    #[test]
    fn pages_anyone_can_put_up_and_images_from_sharing_hosts() {
        let message = |body: &str| {
            format!(
                "From: Mail Admin <admin@corp.test>\r\nTo: bob@example.com\r\nSubject: Storage\r\n\
Date: Wed, 25 Nov 2026 10:00:00 +0000\r\nMessage-ID: <m@corp.test>\r\nContent-Type: text/html\r\n\r\n{body}\r\n"
            )
        };
        let kit = message(
            "<img src=\"https://i.imgur.com/abc.png\"><a href=\"https://login-check-77.web.app/owa\">Keep my mail</a>",
        );
        let found = rules(&kit);
        assert!(found.contains(&"LINK_TO_PAGE_HOST"), "{found:?}");
        assert!(found.contains(&"IMAGE_ON_SHARING_HOST"), "{found:?}");
        // A sender's own site and images, and names that merely end alike, are not.
        let own = message(
            "<img src=\"https://img.corp.test/logo.png\"><a href=\"https://notweb.app.corp.test/\">site</a> \
             <a href=\"https://myimgur.com/x\">pics</a>",
        );
        let found = rules(&own);
        assert!(
            !found.contains(&"LINK_TO_PAGE_HOST") && !found.contains(&"IMAGE_ON_SHARING_HOST"),
            "{found:?}"
        );
    }

    #[test]
    fn a_bulk_senders_good_practice_counts_only_with_an_unsubscribe() {
        let links: String = (0..10)
            .map(|i| format!("<a href=\"https://www.shop.test/item/{i}\">item {i}</a> "))
            .collect();
        let newsletter = format!(
            "From: Shop <news@mail.shop.test>\r\nTo: bob@example.com\r\nSubject: New this week\r\n\
Date: Wed, 25 Nov 2026 10:00:00 +0000\r\nMessage-ID: <w1@shop.test>\r\n\
List-Unsubscribe: <https://shop.test/u/1>, <mailto:u@shop.test>\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nNew this week\r\n\
--b\r\nContent-Type: text/html\r\n\r\n<p>{links}</p>\r\n--b--\r\n"
        );
        let ours = ["example.com".to_owned()];
        let context = Context {
            our_domains: &ours,
            now: NOW,
            smtputf8: false,
        };
        let practice = |message: &str| {
            check(message.as_bytes(), &context)
                .into_iter()
                .find(|h| h.rule == "BULK_SENDER_PRACTICE")
                .map(|h| h.score)
        };
        assert_eq!(practice(&newsletter), Some(-1.5), "all four practices");
        let no_unsubscribe = newsletter.replace("List-Unsubscribe:", "X-Old-Unsubscribe:");
        assert_eq!(
            practice(&no_unsubscribe),
            None,
            "the rest without an unsubscribe is not bulk"
        );
        let elsewhere = newsletter.replace("https://www.shop.test/item", "https://other.test/item");
        assert_eq!(practice(&elsewhere), Some(-1.0));
    }

    #[test]
    fn dangerous_attachments() {
        let with = |name: &str| {
            format!(
                "From: a@partner.test\r\nSubject: invoice\r\nDate: Wed, 25 Nov 2026 10:00:00 +0000\r\nMessage-ID: <i@p.test>\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n\
--b\r\nContent-Type: application/octet-stream; name=\"{name}\"\r\nContent-Disposition: attachment; filename=\"{name}\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\nTVqQAAMAAAAEAAAA\r\n--b--\r\n"
            )
        };
        assert!(rules(&with("invoice.pdf.exe")).contains(&"EXECUTABLE_ATTACHMENT"));
        assert!(rules(&with("report.xlsm")).contains(&"MACRO_ATTACHMENT"));
        assert!(
            rules(&with("report.pdf")).is_empty(),
            "{:?}",
            rules(&with("report.pdf"))
        );
    }
}
