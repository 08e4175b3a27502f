//! Mailbox names on the wire and in the store, and LIST patterns
//! (RFC 9051 5.1, 6.3.9; RFC 3501 5.1.3 modified UTF-7).

use crate::proto::utf7;
use estafeta_core::model::MAILBOX_DELIMITER;

const MAX_NAME: usize = 512;

/// A client's mailbox name as stored: UTF-8, INBOX in capitals. IMAP4rev1
/// clients send modified UTF-7; under UTF8=ACCEPT names are UTF-8.
pub fn decode(raw: &[u8], utf8: bool) -> Result<String, &'static str> {
    let text = std::str::from_utf8(raw).map_err(|_| "Mailbox name is not UTF-8")?;
    let name = if !utf8 && text.contains('&') {
        utf7::decode(text).ok_or("Mailbox name is not valid modified UTF-7")?
    } else {
        text.to_owned()
    };
    if name.eq_ignore_ascii_case("INBOX") {
        return Ok("INBOX".to_owned());
    }
    // `inbox/x` is below INBOX too (RFC 9051 5.1: INBOX is case-insensitive).
    if name.len() > 6 && starts_with_inbox(&name) && name.as_bytes()[5] == MAILBOX_DELIMITER as u8 {
        return Ok(format!("INBOX{}", &name[5..]));
    }
    Ok(name)
}

/// A name the client wants to create: no empty levels, no wildcards or
/// control characters; a trailing delimiter is dropped (RFC 9051 6.3.4).
pub fn validate_new(name: &str) -> Result<String, &'static str> {
    let name = name.strip_suffix(MAILBOX_DELIMITER).unwrap_or(name);
    if name.is_empty() || name.len() > MAX_NAME {
        return Err("Invalid mailbox name length");
    }
    if name.chars().any(|c| c.is_control() || c == '*' || c == '%') {
        return Err("Mailbox names may not contain control characters, * or %");
    }
    if name.split(MAILBOX_DELIMITER).any(str::is_empty) {
        return Err("Mailbox names may not have empty levels");
    }
    Ok(name.to_owned())
}

/// A stored name as the client reads it.
pub fn encode(name: &str, utf8: bool) -> Vec<u8> {
    if utf8 {
        name.as_bytes().to_vec()
    } else {
        utf7::encode(name).into_bytes()
    }
}

/// Every level above `name`: `a/b/c` gives `a`, `a/b`.
pub fn parents(name: &str) -> impl Iterator<Item = &str> {
    name.match_indices(MAILBOX_DELIMITER).map(move |(at, _)| &name[..at])
}

/// LIST pattern matching (RFC 9051 6.3.9): `*` matches anything, `%`
/// anything but the delimiter. INBOX matches case-insensitively.
pub fn matches(pattern: &str, name: &str) -> bool {
    let name_for_match;
    let name = if starts_with_inbox(name) && starts_with_inbox(pattern) {
        name_for_match = format!("INBOX{}", &name[5..]);
        name_for_match.as_str()
    } else {
        name
    };
    let pattern = normalise_inbox(pattern);
    glob(pattern.as_bytes(), name.as_bytes())
}

/// Byte-wise, so a multi-byte character at the start cannot split.
fn starts_with_inbox(text: &str) -> bool {
    text.as_bytes()
        .get(..5)
        .is_some_and(|b| b.eq_ignore_ascii_case(b"INBOX"))
}

fn normalise_inbox(pattern: &str) -> String {
    if starts_with_inbox(pattern) && (pattern.len() == 5 || pattern.as_bytes()[5] == MAILBOX_DELIMITER as u8) {
        format!("INBOX{}", &pattern[5..])
    } else {
        pattern.to_owned()
    }
}

/// Iterative wildcard match with backtracking to the last star (linear in
/// practice; `%` backtracking is bounded by the delimiter).
fn glob(pattern: &[u8], name: &[u8]) -> bool {
    fn go(p: &[u8], n: &[u8], budget: &mut u32) -> bool {
        if *budget == 0 {
            return false;
        }
        *budget -= 1;
        match p.first() {
            None => n.is_empty(),
            Some(b'*') => (0..=n.len()).any(|i| go(&p[1..], &n[i..], budget)),
            Some(b'%') => {
                let limit = n.iter().position(|&b| b == MAILBOX_DELIMITER as u8).unwrap_or(n.len());
                (0..=limit).any(|i| go(&p[1..], &n[i..], budget))
            }
            Some(&c) => n.first() == Some(&c) && go(&p[1..], &n[1..], budget),
        }
    }
    // Collapse runs of `*` so `***...` cannot blow up.
    let mut compact = Vec::with_capacity(pattern.len());
    for &b in pattern {
        if !(b == b'*' && compact.last() == Some(&b'*')) {
            compact.push(b);
        }
    }
    let mut budget = 200_000;
    go(&compact, name, &mut budget)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert!(matches("*", "a/b/c"));
        assert!(matches("%", "a"));
        assert!(!matches("%", "a/b"));
        assert!(matches("a/%", "a/b"));
        assert!(!matches("a/%", "a/b/c"));
        assert!(matches("a/*", "a/b/c"));
        assert!(matches("inbox", "INBOX"));
        assert!(matches("InBox/%", "INBOX/x"));
        assert!(matches("S%t", "Sent"));
        assert!(!matches("sent", "Sent"));
        assert!(matches("", ""));
        // Multi-byte characters where INBOX would end (a panic once).
        assert!(matches("Entw*", "Entwürfe"));
        assert!(!matches("INBOXü", "Entwürfe"));
        assert_eq!(decode("Inboü/x".as_bytes(), true).unwrap(), "Inboü/x");
    }

    #[test]
    fn hostile_patterns_are_bounded() {
        let pattern = "*a".repeat(40) + "b";
        let name = "a".repeat(100);
        assert!(!matches(&pattern, &name));
    }

    #[test]
    fn names_round_trip() {
        assert_eq!(decode(b"inbox", false).unwrap(), "INBOX");
        assert_eq!(decode(b"Inbox/Sub", false).unwrap(), "INBOX/Sub");
        assert_eq!(decode("Entw&APw-rfe".as_bytes(), false).unwrap(), "Entwürfe");
        assert_eq!(decode("Entwürfe".as_bytes(), true).unwrap(), "Entwürfe");
        assert_eq!(decode(b"A&B", true).unwrap(), "A&B");
        assert_eq!(encode("Entwürfe", false), b"Entw&APw-rfe");
        assert_eq!(validate_new("a/b/").unwrap(), "a/b");
        assert!(validate_new("a//b").is_err());
        assert!(validate_new("a*").is_err());
        assert_eq!(parents("a/b/c").collect::<Vec<_>>(), vec!["a", "a/b"]);
    }
}
