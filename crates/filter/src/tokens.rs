//! A message as the classifier sees it: words of the decoded subject and
//! text (each part in its own charset and transfer encoding, HTML reduced
//! to its text), marked by where they came from, plus the sender's
//! domain, link domains and a few structural facts. Tokens are hashed:
//! a model holds counts, never words from people's mail.

use mail_parser::{MessageParser, MimeHeaders, PartType};

/// Words longer than this are noise (base64 left over, long ids).
const MAX_WORD: usize = 24;
/// Enough of a long message to judge it; the rest adds time, not signal.
const MAX_TEXT: usize = 64 * 1024;

/// Platforms that every footer of today's mail names and links ("follow us
/// on ..."), legitimate or not, and that did not exist when the classic
/// corpora (SpamAssassin's of 2002) were collected. A model that learned
/// its ham there and its spam from recent phishing would read them as
/// spam: they tell a message's age, not whether it is wanted, so they are
/// no tokens (as style sheets are none).
const PLATFORMS: &[&str] = &[
    "facebook",
    "twitter",
    "instagram",
    "youtube",
    "linkedin",
    "gmail",
    "pinterest",
    "tiktok",
    "whatsapp",
    "snapchat",
];

fn names_a_platform(word: &str) -> bool {
    PLATFORMS.iter().any(|platform| word.contains(platform))
}

/// 64-bit FNV-1a: stable across runs and builds, so a stored model keeps
/// meaning what it meant.
pub(crate) fn hash(prefix: &str, word: &str) -> u64 {
    estafeta_core::fnv::Fnv1a::new()
        .write(prefix.as_bytes())
        .write(&[0])
        .write(word.as_bytes())
        .finish()
}

fn words<'a>(text: &'a str) -> impl Iterator<Item = String> + 'a {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '$' || c == '!'))
        .map(|w| w.trim_matches('\''))
        .filter(|w| {
            let n = w.chars().count();
            (2..=MAX_WORD).contains(&n)
        })
        .map(str::to_lowercase)
        .filter(|w| !names_a_platform(w))
}

/// The domain of each link in `text` (http, https, www.).
pub(crate) fn link_domains(text: &str) -> Vec<String> {
    let mut domains = Vec::new();
    for (start, _) in text.match_indices("://").chain(text.match_indices("www.")) {
        let rest = &text[start..];
        let rest = rest.strip_prefix("://").unwrap_or(rest);
        let host: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
            .collect();
        if host.contains('.') {
            domains.push(host.trim_end_matches('.').to_ascii_lowercase());
        }
    }
    domains
}

/// The link domains of `text` that may be tokens (no platform's).
fn link_tokens(text: &str) -> impl Iterator<Item = u64> {
    link_domains(text)
        .into_iter()
        .filter(|domain| !names_a_platform(domain))
        .map(|domain| hash("link", &domain))
}

/// `text` in lower case without the given addresses.
fn scrub(text: &str, addresses: &[String]) -> String {
    let mut lower = text.to_lowercase();
    for address in addresses {
        if lower.contains(address.as_str()) {
            lower = lower.replace(address.as_str(), " ");
        }
    }
    lower
}

/// The tokens of `message`, each once.
pub fn tokens(message: &[u8]) -> Vec<u64> {
    tokens_of(MessageParser::default().parse(message).as_ref())
}

/// The tokens of a message the caller parsed (`None`: it could not be).
pub fn tokens_of(parsed: Option<&mail_parser::Message>) -> Vec<u64> {
    let mut out = Vec::new();
    let Some(parsed) = parsed else {
        out.push(hash("meta", "unparsable"));
        return out;
    };
    // The recipient's own address says who received the mail, not what
    // it is: kept as a token it would teach the model its users' names
    // (or a corpus collector's placeholder) instead of spam.
    let to = crate::rules::recipients(parsed);
    if let Some(subject) = parsed.subject() {
        out.extend(words(&scrub(subject, &to)).map(|w| hash("subject", &w)));
    }
    if let Some(from) = parsed.from().and_then(|a| a.first()) {
        match from.address().map(str::to_ascii_lowercase) {
            Some(address) if to.contains(&address) => out.push(hash("meta", "from-is-recipient")),
            Some(address) => {
                let domain = address.rsplit('@').next().unwrap_or_default();
                if !names_a_platform(domain) {
                    out.push(hash("from-domain", domain));
                }
                out.push(hash("from", &address));
            }
            None => {}
        }
        if let Some(name) = from.name() {
            out.extend(words(&scrub(name, &to)).map(|w| hash("from-name", &w)));
        }
    }
    for header in ["X-Mailer", "User-Agent", "Content-Type"] {
        if let Some(value) = parsed.header_raw(header) {
            out.extend(words(value).take(8).map(|w| hash(header, &w)));
        }
    }
    let mut text_len = 0;
    let mut html_only = true;
    for part in parsed.parts.iter() {
        let text = match &part.body {
            PartType::Text(text) => {
                html_only = false;
                text.to_string()
            }
            PartType::Html(html) => {
                // Links live in the markup (href), words in what shows.
                out.extend(link_tokens(html));
                // Only what shows: a style sheet's words (kilobytes of
                // them in today's mail, none in the mail of 2002 a model
                // may have learned from) would tell the classifier the
                // mail's age, not whether it is wanted.
                crate::html::visible_text(html)
            }
            PartType::Binary(_) | PartType::InlineBinary(_) => {
                let kind = part
                    .content_type()
                    .map(|ct| format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or("")))
                    .unwrap_or_default();
                out.push(hash("attachment", &kind.to_ascii_lowercase()));
                continue;
            }
            _ => continue,
        };
        if text_len >= MAX_TEXT {
            continue;
        }
        let text: String = text.chars().take(MAX_TEXT - text_len).collect();
        text_len += text.len();
        let text = scrub(&text, &to);
        out.extend(link_tokens(&text));
        out.extend(words(&text).map(|w| hash("body", &w)));
    }
    if html_only {
        out.push(hash("meta", "html-only"));
    }
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_decoded_marked_and_counted_once() {
        let message = b"From: \"Shop\" <deals@shop.example>\r\nSubject: =?utf-8?q?Caf=C3=A9_deals?=\r\n\
Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
Caf=C3=A9 deals deals at https://Shop.Example/x\r\n";
        let found = tokens(message);
        assert!(found.contains(&hash("subject", "café")));
        assert!(found.contains(&hash("body", "café")));
        assert!(found.contains(&hash("body", "deals")));
        assert!(found.contains(&hash("link", "shop.example")));
        assert!(found.contains(&hash("from-domain", "shop.example")));
        assert!(!found.contains(&hash("meta", "html-only")));
        let mut sorted = found.clone();
        sorted.dedup();
        assert_eq!(sorted.len(), found.len(), "each token once");
    }

    #[test]
    fn a_token_hash_stays_what_stored_models_counted() {
        assert_eq!(hash("subject", "café"), 0x7c75_ee77_2f35_3d41);
    }

    #[test]
    fn the_recipients_address_is_not_a_token() {
        let message = b"From: Support <help@desk.example>\r\nTo: victim@pot.example\r\n\
Subject: victim@pot.example, verify now\r\n\r\nDear victim@pot.example, verify your mailbox.\r\n";
        let found = tokens(message);
        for (place, word) in [
            ("subject", "victim"),
            ("body", "victim"),
            ("body", "pot"),
            ("subject", "example"),
        ] {
            assert!(!found.contains(&hash(place, word)), "{place}:{word} learned");
        }
        assert!(found.contains(&hash("subject", "verify")) && found.contains(&hash("body", "mailbox")));
        // Mail "from" its own recipient: neither address nor domain is learned.
        let to_self = b"From: victim@pot.example\r\nTo: victim@pot.example\r\nSubject: hello\r\n\r\nhi\r\n";
        let found = tokens(to_self);
        assert!(found.contains(&hash("meta", "from-is-recipient")));
        assert!(!found.contains(&hash("from-domain", "pot.example")));
        assert!(!found.contains(&hash("from", "victim@pot.example")));
    }

    #[test]
    fn platforms_every_footer_names_are_no_tokens() {
        let message = b"From: Team <news@gmail.com>\r\nSubject: Follow us on Instagram\r\n\
Content-Type: text/html\r\n\r\n<p>Thanks for joining. Find us on Facebook and YouTube:\
 <a href=\"https://www.facebook.com/team\">us</a> <a href=\"https://team.example/\">site</a></p>\r\n";
        let found = tokens(message);
        for (place, word) in [
            ("subject", "instagram"),
            ("body", "facebook"),
            ("body", "youtube"),
            ("link", "www.facebook.com"),
            ("from-domain", "gmail.com"),
        ] {
            assert!(!found.contains(&hash(place, word)), "{place}:{word} learned");
        }
        for (place, word) in [("subject", "follow"), ("body", "joining"), ("link", "team.example")] {
            assert!(found.contains(&hash(place, word)), "{place}:{word} missing");
        }
    }

    #[test]
    fn html_is_read_as_its_text() {
        let message = b"Subject: x\r\nContent-Type: text/html\r\n\r\n<p>Click <b>here</b> <a href=\"http://evil.example/\">now</a></p>\r\n";
        let found = tokens(message);
        assert!(found.contains(&hash("body", "click")));
        assert!(found.contains(&hash("meta", "html-only")));
        assert!(!found.contains(&hash("body", "href")));
    }

    #[test]
    fn style_sheets_scripts_and_comments_are_not_words() {
        let message = b"Subject: x\r\nContent-Type: text/html\r\n\r\n<html><head><style>\
.button { padding: 12px; font-family: Helvetica; border-radius: 4px }</style></head>\
<body><!-- preheader --><p>Our autumn letter</p><script>track(1)</script></body></html>\r\n";
        let found = tokens(message);
        assert!(found.contains(&hash("body", "autumn")));
        for hidden in ["padding", "button", "helvetica", "radius", "preheader", "track", "12px"] {
            assert!(!found.contains(&hash("body", hidden)), "{hidden} became a token");
        }
    }
}
