//! Decoded text for SEARCH (RFC 9051 6.4.4): header values with encoded
//! words decoded, bodies with transfer encoding and charset undone, so
//! `BODY "café"` finds a quoted-printable ISO-8859-1 part.

use mail_parser::{Address, DateTime, HeaderValue, Message, MessageParser, PartType};

/// `Date:` as (seconds since the epoch, day number of the date as the
/// sender wrote it; RFC 9051 6.4.4 SENTON ignores time and timezone).
pub fn parse_date(raw: &[u8]) -> Option<(i64, i64)> {
    let text = std::str::from_utf8(raw).ok()?;
    let date = DateTime::parse_rfc822(text)?;
    if !date.is_valid() {
        return None;
    }
    let days = estafeta_core::time::days_from_civil(i64::from(date.year), i64::from(date.month), i64::from(date.day));
    Some((date.to_timestamp(), days))
}

/// Case-insensitive, Unicode-aware matching of a search string.
pub struct Needle(String);

impl Needle {
    pub fn new(bytes: &[u8]) -> Needle {
        Needle(fold(&String::from_utf8_lossy(bytes)))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn found_in(&self, haystack: &str) -> bool {
        if self.0.is_empty() {
            return true;
        }
        if self.0.is_ascii() {
            // No allocation: ASCII folding byte by byte. Non-ASCII bytes of
            // the haystack never equal an ASCII needle byte, folded or not.
            return contains_ascii_folded(haystack.as_bytes(), self.0.as_bytes());
        }
        fold(haystack).contains(&self.0)
    }
}

/// Whether `needle` (lower-case ASCII) occurs in `haystack`, ignoring
/// ASCII case.
fn contains_ascii_folded(haystack: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    if haystack.len() < needle.len() {
        return false;
    }
    let last_start = haystack.len() - needle.len();
    let mut i = 0;
    while i <= last_start {
        if haystack[i].to_ascii_lowercase() == first
            && haystack[i + 1..i + needle.len()]
                .iter()
                .zip(rest)
                .all(|(h, n)| h.to_ascii_lowercase() == *n)
        {
            return true;
        }
        i += 1;
    }
    false
}

fn fold(text: &str) -> String {
    if text.is_ascii() {
        text.to_ascii_lowercase()
    } else {
        text.to_lowercase()
    }
}

fn address_text(address: &Address, out: &mut String) {
    let mut push = |name: Option<&str>, addr: Option<&str>| {
        if !out.is_empty() {
            out.push_str(", ");
        }
        if let Some(name) = name {
            out.push_str(name);
            out.push(' ');
        }
        if let Some(addr) = addr {
            out.push('<');
            out.push_str(addr);
            out.push('>');
        }
    };
    match address {
        Address::List(list) => list.iter().for_each(|a| push(a.name.as_deref(), a.address.as_deref())),
        Address::Group(groups) => {
            for group in groups {
                if let Some(name) = &group.name {
                    push(Some(name), None);
                }
                group
                    .addresses
                    .iter()
                    .for_each(|a| push(a.name.as_deref(), a.address.as_deref()));
            }
        }
    }
}

/// A header value as text: decoded where mail-parser understands the
/// field, raw otherwise.
fn value_text(value: &HeaderValue, raw: &str) -> String {
    match value {
        HeaderValue::Text(text) => text.to_string(),
        HeaderValue::TextList(list) => list.join(", "),
        HeaderValue::Address(address) => {
            let mut out = String::new();
            address_text(address, &mut out);
            out
        }
        _ => raw.trim().to_owned(),
    }
}

/// A message parsed for searching.
pub struct Searchable<'a> {
    message: Option<Message<'a>>,
}

impl<'a> Searchable<'a> {
    pub fn new(bytes: &'a [u8]) -> Searchable<'a> {
        Searchable {
            message: MessageParser::default().parse(bytes),
        }
    }

    /// Values of every top-level field called `name` (RFC 9051 HEADER,
    /// FROM, TO, CC, BCC, SUBJECT).
    pub fn header(&self, name: &str) -> Vec<String> {
        let Some(message) = &self.message else {
            return Vec::new();
        };
        let raw = message.raw_message.as_ref();
        message
            .headers()
            .iter()
            .filter(|h| h.name.as_str().eq_ignore_ascii_case(name))
            .map(|h| {
                let raw_value = raw
                    .get(h.offset_start as usize..h.offset_end as usize)
                    .unwrap_or_default();
                value_text(&h.value, &String::from_utf8_lossy(raw_value))
            })
            .collect()
    }

    /// Whether some header field contains the needle (part of TEXT).
    fn any_header(&self, needle: &Needle) -> bool {
        let Some(message) = &self.message else {
            return false;
        };
        let raw = message.raw_message.as_ref();
        message.headers().iter().any(|h| {
            let raw_value = raw
                .get(h.offset_start as usize..h.offset_end as usize)
                .unwrap_or_default();
            needle.found_in(h.name.as_str())
                || needle.found_in(&value_text(&h.value, &String::from_utf8_lossy(raw_value)))
        })
    }

    /// RFC 9051 BODY: the decoded text of the body parts.
    pub fn body_contains(&self, needle: &Needle) -> bool {
        self.message
            .as_ref()
            .is_some_and(|m| message_body_contains(m, needle, 0))
    }

    /// RFC 9051 TEXT: header or body.
    pub fn text_contains(&self, needle: &Needle) -> bool {
        self.any_header(needle) || self.body_contains(needle)
    }
}

fn message_body_contains(message: &Message, needle: &Needle, depth: usize) -> bool {
    message.parts.iter().any(|part| match &part.body {
        PartType::Text(text) | PartType::Html(text) => needle.found_in(text),
        PartType::Message(inner) if depth < 8 => {
            inner
                .headers()
                .iter()
                .any(|h| matches!(&h.value, HeaderValue::Text(t) if needle.found_in(t)))
                || message_body_contains(inner, needle, depth + 1)
        }
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_search_decodes_transfer_encoding_and_charset() {
        let message = b"Subject: =?iso-8859-1?q?caf=E9?=\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\r\nun caf=E9 noir\r\n";
        let searchable = Searchable::new(message);
        assert!(searchable.body_contains(&Needle::new("CAFÉ".as_bytes())));
        assert!(!searchable.body_contains(&Needle::new(b"the")));
        assert_eq!(searchable.header("subject"), vec!["café".to_owned()]);
        assert!(searchable.text_contains(&Needle::new(b"subject")));
    }

    #[test]
    fn ascii_needles_ignore_case_without_folding_the_text() {
        let needle = Needle::new(b"Quick");
        assert!(needle.found_in("THE QUICK fox"));
        assert!(needle.found_in("quick"));
        assert!(!needle.found_in("quic"));
        assert!(!needle.found_in("qu ick"));
        assert!(Needle::new(b"caf").found_in("Café"));
        assert!(Needle::new("É".as_bytes()).found_in("café"));
    }

    #[test]
    fn dates() {
        let (secs, days) = parse_date(b"Wed, 17 Jul 1996 02:23:25 -0700").unwrap();
        assert_eq!(days, estafeta_core::time::days_from_civil(1996, 7, 17));
        assert_eq!(secs, 837_595_405);
        assert!(parse_date(b"not a date").is_none());
    }
}
