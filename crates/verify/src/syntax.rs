//! Whether an address can be written on the SMTP wire at all: RFC 5321
//! 4.1.2's Mailbox (a dot-string or quoted-string local part, a domain or
//! an address literal), RFC 6531's UTF-8 local parts and IDNA domains,
//! and RFC 5321 4.5.3.1's lengths; and its normal form.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyntaxError {
    #[error("no @ between a local part and a domain")]
    MissingAt,
    #[error("the local part is empty")]
    EmptyLocal,
    #[error("the local part is longer than 64 octets (RFC 5321 4.5.3.1.1)")]
    LocalTooLong,
    #[error("the local part has a character or dot where none may be (RFC 5321 4.1.2)")]
    BadLocal,
    #[error("the quoted local part is not closed or holds a control character")]
    BadQuoted,
    #[error("the domain is empty")]
    EmptyDomain,
    #[error("the domain is not a valid host name: {0}")]
    BadDomain(String),
    #[error("the domain is longer than 255 octets (RFC 5321 4.5.3.1.2)")]
    DomainTooLong,
    #[error("the domain has a single label; mail needs a fully qualified name")]
    NotQualified,
    #[error("the address literal is not an IPv4 or IPv6 address")]
    BadLiteral,
    #[error("the address is longer than 254 octets (RFC 5321 4.5.3.1.3)")]
    TooLong,
}

/// Where an address's mail goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// A domain: its ASCII (A-label) form, lower case.
    Domain(String),
    /// An address literal, `[192.0.2.1]` or `[IPv6:2001:db8::1]`.
    Literal(IpAddr),
}

/// A well-formed address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// The local part as it must be sent: quoted only when it has to be.
    pub local: String,
    pub host: Host,
    /// UTF-8 in the local part: only SMTPUTF8 servers take it (RFC 6531).
    pub utf8: bool,
}

impl Parsed {
    /// The normal form: the simplest local part, the domain in lower-case
    /// ASCII, literals in their canonical text.
    pub fn normalised(&self) -> String {
        match &self.host {
            Host::Domain(domain) => format!("{}@{domain}", self.local),
            Host::Literal(IpAddr::V4(v4)) => format!("{}@[{v4}]", self.local),
            Host::Literal(IpAddr::V6(v6)) => format!("{}@[IPv6:{v6}]", self.local),
        }
    }

    pub fn domain(&self) -> Option<&str> {
        match &self.host {
            Host::Domain(domain) => Some(domain),
            Host::Literal(_) => None,
        }
    }
}

const ATEXT_SPECIALS: &str = "!#$%&'*+-/=?^_`{|}~";

fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || ATEXT_SPECIALS.contains(c) || !c.is_ascii()
}

fn is_dot_string(text: &str) -> bool {
    !text.is_empty()
        && text
            .split('.')
            .all(|atom| !atom.is_empty() && atom.chars().all(is_atext))
}

/// A quoted string's content, its quoted-pairs undone (RFC 5321 4.1.2:
/// qtextSMTP is %d32-33 / %d35-91 / %d93-126, a quoted-pair %d92 %d32-126;
/// RFC 6531 adds UTF-8).
fn unquote(quoted: &str) -> Result<String, SyntaxError> {
    let inner = quoted
        .strip_prefix('"')
        .and_then(|q| q.strip_suffix('"'))
        .ok_or(SyntaxError::BadQuoted)?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(escaped) if (' '..='~').contains(&escaped) => out.push(escaped),
                _ => return Err(SyntaxError::BadQuoted),
            },
            '"' => return Err(SyntaxError::BadQuoted),
            c if c.is_ascii() && !(' '..='~').contains(&c) => return Err(SyntaxError::BadQuoted),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// The local part in its simplest wire form: bare when it is a
/// dot-string, quoted (with only `"` and `\` escaped) when not.
fn wire_local(content: &str) -> String {
    if is_dot_string(content) {
        return content.to_owned();
    }
    let mut out = String::from("\"");
    for c in content.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// The `@` between local part and domain: the last one outside quotes.
fn split(text: &str) -> Result<(&str, &str), SyntaxError> {
    if text.starts_with('"') {
        let mut escaped = false;
        for (i, c) in text.char_indices().skip(1) {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => {
                    let rest = &text[i + 1..];
                    return rest
                        .strip_prefix('@')
                        .map(|domain| (&text[..=i], domain))
                        .ok_or(if rest.is_empty() {
                            SyntaxError::MissingAt
                        } else {
                            SyntaxError::BadQuoted
                        });
                }
                _ => {}
            }
        }
        return Err(SyntaxError::BadQuoted);
    }
    text.rsplit_once('@').ok_or(SyntaxError::MissingAt)
}

fn literal(text: &str) -> Result<IpAddr, SyntaxError> {
    let inner = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .ok_or(SyntaxError::BadLiteral)?;
    if let Some(v6) = inner.strip_prefix("IPv6:").or_else(|| inner.strip_prefix("ipv6:")) {
        return v6
            .parse::<Ipv6Addr>()
            .map(IpAddr::V6)
            .map_err(|_| SyntaxError::BadLiteral);
    }
    // RFC 5321 4.1.3: dotted quad, each 1-3 digits.
    let parts: Vec<&str> = inner.split('.').collect();
    if parts.len() != 4
        || parts
            .iter()
            .any(|p| p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(SyntaxError::BadLiteral);
    }
    inner
        .parse::<Ipv4Addr>()
        .map(IpAddr::V4)
        .map_err(|_| SyntaxError::BadLiteral)
}

/// The domain's A-label form (IDNA: UTS 46 nontransitional with the STD3
/// rules, so labels are LDH once converted).
fn domain(text: &str) -> Result<String, SyntaxError> {
    if text.is_empty() {
        return Err(SyntaxError::EmptyDomain);
    }
    if text.ends_with('.') {
        return Err(SyntaxError::BadDomain("a trailing dot".into()));
    }
    let ascii = idna::domain_to_ascii_strict(text).map_err(|_| SyntaxError::BadDomain(text.to_owned()))?;
    if ascii.len() > 255 {
        return Err(SyntaxError::DomainTooLong);
    }
    if !ascii.contains('.') {
        return Err(SyntaxError::NotQualified);
    }
    // A top-level label of digits only would be an IP address, not a name.
    if ascii
        .rsplit('.')
        .next()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(SyntaxError::BadDomain("a numeric top-level label".into()));
    }
    Ok(ascii)
}

/// Parses one address as a user typed it (surrounding space and one pair
/// of angle brackets are forgiven).
pub fn parse(text: &str) -> Result<Parsed, SyntaxError> {
    let text = text.trim();
    let text = text.strip_prefix('<').and_then(|t| t.strip_suffix('>')).unwrap_or(text);
    let (local, host) = split(text)?;
    if local.is_empty() {
        return Err(SyntaxError::EmptyLocal);
    }
    let content = if local.starts_with('"') {
        unquote(local)?
    } else if is_dot_string(local) {
        local.to_owned()
    } else {
        return Err(SyntaxError::BadLocal);
    };
    let local = wire_local(&content);
    if local.len() > 64 {
        return Err(SyntaxError::LocalTooLong);
    }
    let host = if host.starts_with('[') {
        Host::Literal(literal(host)?)
    } else {
        Host::Domain(domain(host)?)
    };
    let parsed = Parsed {
        utf8: !local.is_ascii(),
        local,
        host,
    };
    // RFC 5321 4.5.3.1.3: a path is at most 256 octets with its brackets.
    if parsed.normalised().len() > 254 {
        return Err(SyntaxError::TooLong);
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> String {
        parse(text).unwrap_or_else(|e| panic!("{text}: {e}")).normalised()
    }

    #[test]
    fn rfc_3696_examples_are_valid() {
        // RFC 3696 3 (with its errata: the unquoted forms need quotes).
        assert_eq!(ok("\"Abc\\@def\"@example.com"), "\"Abc@def\"@example.com");
        assert_eq!(ok("\"Fred Bloggs\"@example.com"), "\"Fred Bloggs\"@example.com");
        assert_eq!(ok("\"Joe\\\\Blow\"@example.com"), "\"Joe\\\\Blow\"@example.com");
        assert_eq!(ok("\"Abc@def\"@example.com"), "\"Abc@def\"@example.com");
        assert_eq!(
            ok("customer/department=shipping@example.com"),
            "customer/department=shipping@example.com"
        );
        assert_eq!(ok("$A12345@example.com"), "$A12345@example.com");
        assert_eq!(ok("!def!xyz%abc@example.com"), "!def!xyz%abc@example.com");
        assert_eq!(ok("_somename@example.com"), "_somename@example.com");
    }

    #[test]
    fn normal_forms() {
        assert_eq!(ok("  <Alice.Smith@Example.COM> "), "Alice.Smith@example.com");
        // Quotes that are not needed go.
        assert_eq!(ok("\"john.doe\"@example.com"), "john.doe@example.com");
        assert_eq!(ok("user@[192.0.2.1]"), "user@[192.0.2.1]");
        assert_eq!(ok("user@[IPv6:2001:DB8:0:0:0:0:0:1]"), "user@[IPv6:2001:db8::1]");
        // IDNA: the domain in A-labels; UTF-8 local parts are RFC 6531's.
        assert_eq!(ok("josé@bücher.example"), "josé@xn--bcher-kva.example");
        assert!(parse("josé@example.com").unwrap().utf8);
        assert!(!parse("jose@bücher.example").unwrap().utf8);
    }

    #[test]
    fn tricky_invalid_forms_are_refused_with_a_reason() {
        let err = |text: &str| parse(text).unwrap_err();
        assert_eq!(err("plainaddress"), SyntaxError::MissingAt);
        assert_eq!(err("@example.com"), SyntaxError::EmptyLocal);
        assert_eq!(err(".john@example.com"), SyntaxError::BadLocal);
        assert_eq!(err("john.@example.com"), SyntaxError::BadLocal);
        assert_eq!(err("john..doe@example.com"), SyntaxError::BadLocal);
        assert_eq!(err("john doe@example.com"), SyntaxError::BadLocal);
        assert_eq!(err("a\"b@example.com"), SyntaxError::BadLocal);
        assert_eq!(err("\"unclosed@example.com"), SyntaxError::BadQuoted);
        assert_eq!(err("\"a\"b\"@example.com"), SyntaxError::BadQuoted);
        assert_eq!(err("john@"), SyntaxError::EmptyDomain);
        assert_eq!(err("john@localhost"), SyntaxError::NotQualified);
        assert_eq!(
            err("john@example.com."),
            SyntaxError::BadDomain("a trailing dot".into())
        );
        assert!(matches!(err("john@exa_mple.com"), SyntaxError::BadDomain(_)));
        assert!(matches!(err("john@-example.com"), SyntaxError::BadDomain(_)));
        assert!(matches!(err("john@example..com"), SyntaxError::BadDomain(_)));
        assert!(matches!(err("john@1.2.3.4"), SyntaxError::BadDomain(_)));
        assert_eq!(err("john@[300.1.1.1]"), SyntaxError::BadLiteral);
        assert_eq!(err("john@[IPv6:nope]"), SyntaxError::BadLiteral);
        assert_eq!(
            err(&format!("{}@example.com", "a".repeat(65))),
            SyntaxError::LocalTooLong
        );
        // A 247-octet domain is a name; with a 10-octet local part the path is too long.
        let long_domain = format!("{}.com", vec!["a".repeat(60); 4].join("."));
        assert!(parse(&format!("a@{long_domain}")).is_ok());
        assert_eq!(err(&format!("abcdefghij@{long_domain}")), SyntaxError::TooLong);
        assert!(matches!(
            err(&format!("a@{}.com", "b".repeat(64))),
            SyntaxError::BadDomain(_)
        ));
    }
}
