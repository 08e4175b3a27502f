//! Paths in MAIL and RCPT (RFC 5321 4.1.2), with RFC 6531's UTF-8.
//!
//! The address is kept exactly as its parts were meant: a quoted local part
//! stays marked as quoted, an address literal stays a literal, and a source
//! route is noted (and then ignored, RFC 5321 C). Relay policy needs all
//! of that: `"a@b"@us`, `a%b@us` and `@relay:a@them` must never turn into
//! a different destination by accident.

use std::fmt;
use std::net::IpAddr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Domain {
    /// A host name, lower-cased.
    Name(String),
    /// `[192.0.2.1]` or `[IPv6:2001:db8::1]`.
    Literal(IpAddr),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    /// The local part as meant: quotes and escapes removed.
    pub local: String,
    /// Whether it came as a Quoted-string.
    pub quoted: bool,
    pub domain: Domain,
}

impl Mailbox {
    /// Whether any part is non-ASCII (needs SMTPUTF8, RFC 6531 3.4).
    pub fn is_utf8(&self) -> bool {
        !self.local.is_ascii() || matches!(&self.domain, Domain::Name(name) if !name.is_ascii())
    }

    pub fn domain_name(&self) -> Option<&str> {
        match &self.domain {
            Domain::Name(name) => Some(name),
            Domain::Literal(_) => None,
        }
    }
}

impl fmt::Display for Mailbox {
    /// The canonical wire form, quoting the local part if it needs it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.quoted && !is_dot_string(&self.local) {
            f.write_str("\"")?;
            for c in self.local.chars() {
                if c == '"' || c == '\\' {
                    f.write_str("\\")?;
                }
                write!(f, "{c}")?;
            }
            f.write_str("\"")?;
        } else {
            f.write_str(&self.local)?;
        }
        match &self.domain {
            Domain::Name(name) => write!(f, "@{name}"),
            Domain::Literal(IpAddr::V4(ip)) => write!(f, "@[{ip}]"),
            Domain::Literal(IpAddr::V6(ip)) => write!(f, "@[IPv6:{ip}]"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReversePath {
    /// `<>`: bounces and other notifications (RFC 5321 4.5.5).
    Null,
    Mailbox(Mailbox),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForwardPath {
    /// `<Postmaster>` with no domain (RFC 5321 4.1.1.3).
    Postmaster,
    Mailbox {
        mailbox: Mailbox,
        /// A source route was given (and will be ignored).
        routed: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathError(pub &'static str);

fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || !c.is_ascii()
}

fn is_dot_string(text: &str) -> bool {
    !text.is_empty()
        && text
            .split('.')
            .all(|atom| !atom.is_empty() && atom.chars().all(is_atext))
}

/// RFC 5321 4.1.2 sub-domains, with U-labels allowed under SMTPUTF8.
fn parse_domain_name(text: &str) -> Result<String, PathError> {
    if text.is_empty() || text.len() > 255 {
        return Err(PathError("bad domain"));
    }
    for label in text.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || !c.is_ascii() && c.is_alphanumeric());
        if !ok {
            return Err(PathError("bad domain"));
        }
    }
    if text.is_ascii() {
        return Ok(text.to_ascii_lowercase());
    }
    // RFC 6531 3.2 / RFC 5890: a U-label names the same domain as its
    // A-label. Domains are kept, looked up and sent as A-labels, so
    // `user@bücher.example` is ours when `xn--bcher-kva.example` is (not
    // relaying), and DNS sees the name it knows.
    let ascii = idna::domain_to_ascii(text).map_err(|_| PathError("bad domain"))?;
    // The A-label may break the length limits the U-label kept (RFC 5890
    // 2.3.2.1: 63 octets a label), so the ASCII form is checked as such.
    if ascii.is_empty() || !ascii.is_ascii() {
        return Err(PathError("bad domain"));
    }
    parse_domain_name(&ascii)
}

fn parse_domain(text: &str) -> Result<Domain, PathError> {
    match text.strip_prefix('[') {
        None => parse_domain_name(text).map(Domain::Name),
        Some(rest) => {
            let inner = rest.strip_suffix(']').ok_or(PathError("bad address literal"))?;
            // RFC 5321 4.1.3: the IPv6 tag is case-insensitive.
            let ip = match inner.get(..5) {
                Some(tag) if tag.eq_ignore_ascii_case("IPv6:") => {
                    inner[5..].parse::<std::net::Ipv6Addr>().map(IpAddr::V6)
                }
                _ => inner.parse::<std::net::Ipv4Addr>().map(IpAddr::V4),
            };
            ip.map(Domain::Literal).map_err(|_| PathError("bad address literal"))
        }
    }
}

/// Parses `local@domain` (no angle brackets).
pub fn parse_mailbox(text: &str) -> Result<Mailbox, PathError> {
    let (local, quoted, rest) = if let Some(after) = text.strip_prefix('"') {
        let mut local = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                None => return Err(PathError("unterminated quoted string")),
                Some((i, '"')) => break i,
                // quoted-pairSMTP: backslash and one printable ASCII character.
                Some((_, '\\')) => match chars.next() {
                    Some((_, c)) if (' '..='~').contains(&c) => local.push(c),
                    _ => return Err(PathError("bad quoted pair")),
                },
                Some((_, c)) if c == ' ' || c == '!' || ('#'..='~').contains(&c) && c != '\\' || !c.is_ascii() => {
                    local.push(c)
                }
                Some(_) => return Err(PathError("bad character in quoted string")),
            }
        };
        (local, true, &after[end + 1..])
    } else {
        let at = text.rfind('@').ok_or(PathError("address has no @domain"))?;
        let local = &text[..at];
        if !is_dot_string(local) {
            return Err(PathError("bad local part"));
        }
        (local.to_owned(), false, &text[at..])
    };
    let domain = rest.strip_prefix('@').ok_or(PathError("address has no @domain"))?;
    // RFC 5321 4.5.3.1.1: local part at most 64 octets.
    if local.len() > 64 {
        return Err(PathError("local part longer than 64 octets"));
    }
    Ok(Mailbox {
        local,
        quoted,
        domain: parse_domain(domain)?,
    })
}

/// `<...>` with an optional source route; returns (mailbox, routed).
fn parse_path(text: &str) -> Result<(Mailbox, bool), PathError> {
    let inner = text
        .strip_prefix('<')
        .and_then(|t| t.strip_suffix('>'))
        .ok_or(PathError("path must be in angle brackets"))?;
    // RFC 5321 4.5.3.1.3: a path is at most 256 octets.
    if inner.len() > 256 {
        return Err(PathError("path longer than 256 octets"));
    }
    let (route, mailbox) = match inner.strip_prefix('@') {
        Some(_) => {
            let colon = inner.find(':').ok_or(PathError("bad source route"))?;
            for hop in inner[..colon].split(',') {
                let hop = hop.strip_prefix('@').ok_or(PathError("bad source route"))?;
                parse_domain(hop)?;
            }
            (true, &inner[colon + 1..])
        }
        None => (false, inner),
    };
    Ok((parse_mailbox(mailbox)?, route))
}

pub fn parse_reverse_path(text: &str) -> Result<ReversePath, PathError> {
    if text == "<>" {
        return Ok(ReversePath::Null);
    }
    parse_path(text).map(|(mailbox, _)| ReversePath::Mailbox(mailbox))
}

pub fn parse_forward_path(text: &str) -> Result<ForwardPath, PathError> {
    if text.eq_ignore_ascii_case("<postmaster>") {
        return Ok(ForwardPath::Postmaster);
    }
    parse_path(text).map(|(mailbox, routed)| ForwardPath::Mailbox { mailbox, routed })
}

/// Splits `<path> params` where the path may contain quoted spaces.
pub fn split_path(text: &str) -> Result<(&str, &str), PathError> {
    if !text.starts_with('<') {
        return Err(PathError("path must be in angle brackets"));
    }
    let mut in_quote = false;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_quote => escaped = true,
            '"' => in_quote = !in_quote,
            '>' if !in_quote => return Ok((&text[..=i], text[i + 1..].trim_start_matches(' '))),
            _ => {}
        }
    }
    Err(PathError("path must be in angle brackets"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mailbox(text: &str) -> Mailbox {
        parse_mailbox(text).unwrap()
    }

    #[test]
    fn u_labels_become_a_labels_within_the_length_limits() {
        assert_eq!(
            mailbox("a@Bücher.example").domain,
            Domain::Name("xn--bcher-kva.example".into())
        );
        // Found by the smtp_command fuzz target: 61 characters as a
        // U-label, over 63 octets as its A-label.
        let long = format!("a@{}ä.test", "h".repeat(60));
        assert!(parse_mailbox(&long).is_err());
    }

    #[test]
    fn plain_and_quoted_local_parts() {
        let m = mailbox("John.Smith@Example.COM");
        assert_eq!((m.local.as_str(), m.quoted), ("John.Smith", false));
        assert_eq!(m.domain, Domain::Name("example.com".into()));
        let q = mailbox(r#""john \"jr\" smith"@example.com"#);
        assert_eq!((q.local.as_str(), q.quoted), (r#"john "jr" smith"#, true));
        assert_eq!(q.to_string(), r#""john \"jr\" smith"@example.com"#);
        // A quoted local part that needs no quotes prints without them.
        assert_eq!(mailbox(r#""plain"@example.com"#).to_string(), "plain@example.com");
    }

    #[test]
    fn relay_tricks_stay_visible() {
        let quoted_at = mailbox(r#""victim@elsewhere.test"@example.com"#);
        assert_eq!(quoted_at.local, "victim@elsewhere.test");
        assert!(quoted_at.quoted);
        let percent = mailbox("victim%elsewhere.test@example.com");
        assert_eq!(percent.local, "victim%elsewhere.test");
        let ForwardPath::Mailbox { mailbox, routed } =
            parse_forward_path("<@hop1.test,@hop2.test:user@final.test>").unwrap()
        else {
            panic!()
        };
        assert!(routed);
        assert_eq!(mailbox.to_string(), "user@final.test");
    }

    #[test]
    fn address_literals() {
        assert_eq!(
            mailbox("a@[127.0.0.1]").domain,
            Domain::Literal("127.0.0.1".parse().unwrap())
        );
        assert_eq!(mailbox("a@[ipv6:::1]").domain, Domain::Literal("::1".parse().unwrap()));
        assert_eq!(mailbox("a@[IPv6:2001:db8::1]").to_string(), "a@[IPv6:2001:db8::1]");
        assert!(parse_mailbox("a@[300.1.1.1]").is_err());
        assert!(parse_mailbox("a@[example.com]").is_err());
    }

    #[test]
    fn utf8_addresses() {
        let m = mailbox("josé@exämple.com");
        assert!(m.is_utf8());
        assert!(!mailbox("jose@example.com").is_utf8());
    }

    #[test]
    fn refusals() {
        for bad in [
            "noatsign",
            "@example.com",
            "a..b@example.com",
            ".a@example.com",
            "a@example..com",
            "a@-example.com",
            "a@example.com.",
            "a b@example.com",
            "\"unterminated@example.com",
            "\"bad\x01\"@example.com",
            "a@",
        ] {
            assert!(parse_mailbox(bad).is_err(), "{bad:?} accepted");
        }
        let long = format!("{}@example.com", "a".repeat(65));
        assert!(parse_mailbox(&long).is_err());
    }

    #[test]
    fn paths() {
        assert_eq!(parse_reverse_path("<>").unwrap(), ReversePath::Null);
        assert_eq!(parse_forward_path("<Postmaster>").unwrap(), ForwardPath::Postmaster);
        assert!(parse_forward_path("<>").is_err());
        assert!(parse_reverse_path("a@example.com").is_err(), "brackets required");
        assert!(parse_forward_path(&format!("<a@{}.com>", "b".repeat(260))).is_err());
        assert_eq!(
            split_path(r#"<"a> b"@x.test> SIZE=10"#).unwrap(),
            (r#"<"a> b"@x.test>"#, "SIZE=10")
        );
        assert_eq!(split_path("<a@x.test>").unwrap(), ("<a@x.test>", ""));
    }
}
