//! Bounce messages into per-recipient failures. RFC 3464 delivery status
//! notifications are read field by field; the rest (qmail, old Sendmail
//! and Exim texts, Exchange and Yahoo notices) by their shape: a line that
//! is an address, then the lines saying what happened to it.

use super::classify::{Classification, classify, find_enhanced};
use mail_parser::{Message, MessageParser, MimeHeaders, PartType};

/// What happened to one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The recipient, lowercased.
    pub recipient: String,
    /// RFC 3464 2.3.3: `failed` or `delayed` (others are not failures).
    pub action: Action,
    /// The reply code in the diagnostic, when there is one.
    pub code: Option<u16>,
    /// RFC 3463 status: the DSN's Status field, or the diagnostic's.
    pub status: Option<String>,
    /// The remote server's words (or the reporting MTA's).
    pub diagnostic: String,
    pub classification: Classification,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Failed,
    /// Still being tried: a warning, not a bounce.
    Delayed,
}

/// A bounce message, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bounce {
    /// An RFC 3464 report (else read from its text).
    pub standard: bool,
    pub failures: Vec<Failure>,
    /// The quoted original's headers (message/rfc822 or
    /// text/rfc822-headers), for matching it to what we sent.
    pub original_headers: Option<String>,
    pub original_message_id: Option<String>,
}

/// Reads `raw` as a bounce; `None` when it is not one (or says nothing
/// about any recipient).
pub fn parse(raw: &[u8]) -> Option<Bounce> {
    from_message(&MessageParser::default().parse(raw)?)
}

/// An already parsed message as a bounce; `None` when it is not one.
pub fn from_message(message: &Message) -> Option<Bounce> {
    let mut status_fields = None;
    let mut original_headers = None;
    let mut original_message_id = None;
    for part in &message.parts {
        let Some(content_type) = part.content_type() else {
            continue;
        };
        let (kind, subtype) = (
            content_type.ctype().to_ascii_lowercase(),
            content_type.subtype().unwrap_or("").to_ascii_lowercase(),
        );
        match (kind.as_str(), subtype.as_str()) {
            // RFC 3464 2.1; RFC 6533 3 for the UTF-8 form.
            ("message", "delivery-status") | ("message", "global-delivery-status") => {
                status_fields = Some(String::from_utf8_lossy(part.contents()).into_owned());
            }
            ("message", "rfc822") | ("message", "global") | ("text", "rfc822-headers") => {
                if original_headers.is_some() {
                    continue;
                }
                let (headers, id) = match &part.body {
                    PartType::Message(inner) => (head_of(inner.raw_message()), inner.message_id().map(str::to_owned)),
                    _ => {
                        let text = String::from_utf8_lossy(part.contents()).into_owned();
                        let id = MessageParser::default()
                            .parse_headers(text.as_bytes())
                            .and_then(|m| m.message_id().map(str::to_owned));
                        (text, id)
                    }
                };
                original_headers = Some(headers);
                original_message_id = id;
            }
            _ => {}
        }
    }
    let failures = match &status_fields {
        Some(fields) => from_status_fields(fields),
        None => {
            if !looks_like_bounce(message) {
                return None;
            }
            let text: String = (0..message.text_body.len())
                .filter_map(|i| message.body_text(i))
                .collect::<Vec<_>>()
                .join("\n");
            let delayed = is_delay_notice(message, &text);
            let mut failures = from_text(&text);
            if delayed {
                for failure in &mut failures {
                    failure.action = Action::Delayed;
                }
            }
            failures
        }
    };
    if failures.is_empty() {
        return None;
    }
    Some(Bounce {
        standard: status_fields.is_some(),
        failures,
        original_headers,
        original_message_id: original_message_id.or_else(|| quoted_message_id(message.raw_message())),
    })
}

/// The Message-ID a text bounce quotes in its body (the bounce's own is
/// in its header, above the first empty line).
pub fn quoted_message_id(raw: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(raw);
    let body = text.split_once("\r\n\r\n").or_else(|| text.split_once("\n\n"))?.1;
    body.lines().find_map(|line| {
        let (name, value) = line.trim_start_matches('>').trim_start().split_once(':')?;
        if !name.trim().eq_ignore_ascii_case("message-id") {
            return None;
        }
        let value = value.trim();
        let inner = value.strip_prefix('<')?.split('>').next()?;
        (!inner.is_empty()).then(|| inner.to_owned())
    })
}

fn head_of(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let end = text
        .find("\r\n\r\n")
        .or_else(|| text.find("\n\n"))
        .unwrap_or(text.len());
    text[..end].to_owned()
}

/// The groups of RFC 3464 2.2/2.3 fields, continuation lines joined.
fn field_groups(text: &str) -> Vec<Vec<(String, String)>> {
    let mut groups = Vec::new();
    let mut group: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            if !group.is_empty() {
                groups.push(std::mem::take(&mut group));
            }
        } else if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = group.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            group.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    if !group.is_empty() {
        groups.push(group);
    }
    groups
}

/// `type; value` (RFC 3464 2.1.2): the value.
fn typed_value(value: &str) -> &str {
    value.split_once(';').map_or(value, |(_, v)| v).trim()
}

fn from_status_fields(text: &str) -> Vec<Failure> {
    let mut failures = Vec::new();
    for group in field_groups(text) {
        let field = |name: &str| group.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        let Some(recipient) = field("final-recipient").or_else(|| field("original-recipient")) else {
            continue;
        };
        let action = match field("action").map(|a| a.to_ascii_lowercase()) {
            Some(a) if a.starts_with("failed") => Action::Failed,
            Some(a) if a.starts_with("delayed") => Action::Delayed,
            // delivered, relayed, expanded: not a failure.
            Some(_) => continue,
            None => Action::Failed,
        };
        let diagnostic = field("diagnostic-code").map(typed_value).unwrap_or("");
        let (code, text) = reply_in(diagnostic);
        let mut status = field("status").map(|s| s.split_whitespace().next().unwrap_or("").to_owned());
        // A generic X.0.0 says less than the server's own code.
        let detailed = find_enhanced(&text.to_lowercase());
        if status.as_deref().is_none_or(|s| s.ends_with(".0.0")) && detailed.is_some() {
            status = detailed;
        }
        let diagnostic = if text.is_empty() {
            status.clone().unwrap_or_default()
        } else {
            text
        };
        let classification = classify(code, status.as_deref(), &diagnostic);
        failures.push(Failure {
            recipient: address_in(typed_value(recipient)).unwrap_or_else(|| typed_value(recipient).to_lowercase()),
            action,
            code,
            status,
            diagnostic,
            classification,
        });
    }
    failures
}

/// The reply code and text of a diagnostic: `550-5.1.1 first line 550
/// 5.1.1 second line` becomes 550 and the lines without their prefixes.
fn reply_in(text: &str) -> (Option<u16>, String) {
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut code = None;
    let mut kept = Vec::new();
    for word in words {
        let bare = word.trim_start_matches(['#', '(', '\'', '<']);
        let number = bare.get(..3).and_then(|d| d.parse::<u16>().ok());
        let is_code = matches!(number, Some(400..=599))
            && bare.len() >= 3
            && matches!(bare.as_bytes().get(3), None | Some(b'-') | Some(b' '));
        if is_code {
            code = code.or(number);
            // The code's continuation form repeats: keep the words after it.
            let rest = bare[3..].trim_start_matches('-');
            if !rest.is_empty() {
                kept.push(rest.to_owned());
            }
            continue;
        }
        kept.push(word.to_owned());
    }
    // Each continuation line repeats its enhanced code: keep the first.
    let mut seen_status = false;
    let text = kept
        .into_iter()
        .filter(|word| {
            let status = find_enhanced(word).is_some_and(|s| s == *word);
            let keep = !(status && seen_status);
            seen_status |= status;
            keep
        })
        .collect::<Vec<_>>()
        .join(" ");
    (code, text)
}

fn looks_like_bounce(message: &mail_parser::Message) -> bool {
    let from = message
        .from()
        .and_then(|f| f.first())
        .and_then(|a| a.address())
        .unwrap_or("")
        .to_ascii_lowercase();
    let subject = message.subject().unwrap_or("").to_ascii_lowercase();
    let daemon = ["mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon"]
        .iter()
        .any(|d| from.starts_with(d));
    let subject_says = [
        "undeliver",
        "delivery status notification",
        "delivery failure",
        "delivery failed",
        "mail delivery failed",
        "failure notice",
        "returned mail",
        "non remis",
        "could not be delivered",
        "delivery has failed",
        "warning: message",
        "delayed mail",
    ]
    .iter()
    .any(|s| subject.contains(s));
    daemon || subject_says
}

fn is_delay_notice(message: &mail_parser::Message, text: &str) -> bool {
    let subject = message.subject().unwrap_or("").to_ascii_lowercase();
    let text = text.to_ascii_lowercase();
    subject.contains("delay")
        || subject.starts_with("warning")
        || text.contains("will continue to try")
        || text.contains("will keep trying")
        || text.contains("not yet been delivered")
        || text.contains("this is only a warning")
}

/// An address standing alone on a line (`a@b`, `<a@b>`, `<a@b>:`), or
/// starting one (`<a@b>: host said ...`); the rest of the line.
fn address_line(line: &str) -> Option<(String, &str)> {
    let trimmed = line.trim();
    let (head, rest) = match trimmed.find(['>', ':', ' ']) {
        Some(_) if trimmed.starts_with('<') => {
            let close = trimmed.find('>')?;
            (&trimmed[..=close], trimmed[close + 1..].trim_start_matches(':').trim())
        }
        Some(end) => {
            let (head, rest) = trimmed.split_at(end);
            if !rest.starts_with(':') && !rest.trim().is_empty() {
                return None;
            }
            (head, rest.trim_start_matches(':').trim())
        }
        None => (trimmed, ""),
    };
    let address = address_in(head)?;
    let bare = head.trim_matches(['<', '>']);
    (bare.eq_ignore_ascii_case(&address)).then_some((address, rest))
}

/// The first plausible address in `text`, lowercased.
fn address_in(text: &str) -> Option<String> {
    text.split(|c: char| c.is_whitespace() || "<>()[],;:'\"".contains(c))
        .find(|word| {
            let Some((local, domain)) = word.rsplit_once('@') else {
                return false;
            };
            !local.is_empty() && domain.contains('.') && !domain.ends_with('.') && !domain.starts_with('.')
        })
        .map(|word| word.trim_end_matches('.').to_lowercase())
}

fn is_daemon(address: &str) -> bool {
    let local = address.split('@').next().unwrap_or("");
    ["mailer-daemon", "postmaster", "mail-daemon"].contains(&local)
}

/// Non-standard bounces: an address line, then the lines about it up to
/// a blank line or the next address line.
fn from_text(text: &str) -> Vec<Failure> {
    let mut blocks: Vec<(String, Vec<String>)> = Vec::new();
    let mut current: Option<usize> = None;
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            // A blank line right after the address keeps the block open
            // (Exchange and Yahoo put one there).
            if current.is_some_and(|i| !blocks[i].1.is_empty()) {
                current = None;
            }
            continue;
        }
        if let Some((address, rest)) = address_line(line)
            && !is_daemon(&address)
        {
            let at = match blocks.iter().position(|(a, _)| *a == address) {
                Some(at) => at,
                None => {
                    blocks.push((address, Vec::new()));
                    blocks.len() - 1
                }
            };
            if !rest.is_empty() {
                blocks[at].1.push(rest.to_owned());
            }
            current = Some(at);
            continue;
        }
        if let Some(at) = current {
            blocks[at].1.push(line.trim().to_owned());
        }
    }
    blocks
        .into_iter()
        .filter_map(|(recipient, lines)| {
            let joined = lines.join(" ");
            let (code, status, diagnostic) = diagnosis(&joined)?;
            let classification = classify(code, status.as_deref(), &diagnostic);
            Some(Failure {
                recipient,
                action: Action::Failed,
                code,
                status,
                diagnostic,
                classification,
            })
        })
        .collect()
}

/// The reply in a block of text: from its code on when there is one.
fn diagnosis(block: &str) -> Option<(Option<u16>, Option<String>, String)> {
    let lower = block.to_lowercase();
    let mut code_at = None;
    for (at, _) in block.match_indices(|c: char| c.is_ascii_digit()) {
        let before = block[..at].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '.' || c == '[') {
            continue;
        }
        let Some(number) = block.get(at..at + 3).and_then(|d| d.parse::<u16>().ok()) else {
            continue;
        };
        let after = block[at + 3..].chars().next();
        if (400..600).contains(&number) && after.is_none_or(|c| c == ' ' || c == '-') {
            code_at = Some((at, number));
            break;
        }
    }
    let status = find_enhanced(&lower);
    match code_at {
        Some((at, code)) => {
            let (_, text) = reply_in(&block[at..]);
            Some((Some(code), status, text.trim_end_matches(['\'', '>', ')']).to_owned()))
        }
        None if status.is_some() || !block.trim().is_empty() => Some((None, status, block.trim().to_owned())),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_bounces_give_the_message_id_they_quote_not_their_own() {
        let raw = b"Message-ID: <bounce-1@mx.remote>\r\nSubject: failure notice\r\n\r\n\
            Sorry.\r\n--- Below this line is a copy of the message.\r\n\r\n\
            > Message-Id: <sent-9@shop.example>\r\n";
        assert_eq!(quoted_message_id(raw).as_deref(), Some("sent-9@shop.example"));
        assert_eq!(quoted_message_id(b"Message-ID: <own@x>\r\n\r\nno quote\r\n"), None);
        assert_eq!(quoted_message_id(b"Subject: x\r\n\r\nMessage-ID: <>\r\n"), None);
        assert_eq!(quoted_message_id(b"no header end"), None);
    }

    #[test]
    fn address_lines() {
        assert_eq!(
            address_line("<a@b.example>:").map(|(a, _)| a),
            Some("a@b.example".into())
        );
        assert_eq!(
            address_line("  a@b.example").map(|(a, _)| a),
            Some("a@b.example".into())
        );
        let (address, rest) = address_line("<A@b.example>: host mx said: 550 no").unwrap();
        assert_eq!((address.as_str(), rest), ("a@b.example", "host mx said: 550 no"));
        assert_eq!(address_line("Recipient address rejected: <a@b.example>"), None);
        assert_eq!(
            address_line("SMTP error from remote mail server after RCPT TO:<a@b.example>:"),
            None
        );
    }

    #[test]
    fn diagnostics_lose_their_continuation_prefixes() {
        let (code, text) = reply_in(
            "550-5.1.1 The email account that you tried to reach does 550-5.1.1 not exist. 550 5.1.1 https://support.google.com/mail/?p=NoSuchUser",
        );
        assert_eq!(code, Some(550));
        assert_eq!(
            text,
            "5.1.1 The email account that you tried to reach does not exist. https://support.google.com/mail/?p=NoSuchUser"
        );
    }
}
