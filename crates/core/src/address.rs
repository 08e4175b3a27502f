//! Mail addresses of our own accounts and aliases.
//!
//! This is the strict form we accept for names we host: a dot-atom local
//! part (RFC 5322 3.4.1, with UTF-8 allowed per RFC 6531 3.3) and a DNS
//! host name. Quoted local parts and address literals are legal on the wire
//! but never names of accounts we create; SMTP parses those separately.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address {
    local: String,
    domain: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("`{0}` has no @domain")]
    MissingAt(String),
    #[error("`{0}` has an empty local part")]
    EmptyLocal(String),
    #[error("`{0}`: local part longer than 64 octets (RFC 5321 4.5.3.1.1)")]
    LocalTooLong(String),
    #[error("`{0}`: local part may hold only letters, digits and !#$%&'*+-/=?^_`{{|}}~ between single dots")]
    BadLocal(String),
    #[error("`{0}` is not a valid domain name")]
    BadDomain(String),
}

const ATEXT_SPECIALS: &str = "!#$%&'*+-/=?^_`{|}~";

impl Address {
    /// Parses and normalises: the domain is lower-cased, and so is the local
    /// part, since we treat our users' names as case-insensitive.
    pub fn parse(text: &str) -> Result<Address, AddressError> {
        let text = text.trim();
        let (local, domain) = text
            .rsplit_once('@')
            .ok_or_else(|| AddressError::MissingAt(text.to_owned()))?;
        if local.is_empty() {
            return Err(AddressError::EmptyLocal(text.to_owned()));
        }
        if local.len() > 64 {
            return Err(AddressError::LocalTooLong(text.to_owned()));
        }
        if !is_dot_atom(local) {
            return Err(AddressError::BadLocal(text.to_owned()));
        }
        let domain = normalise_domain(domain).ok_or_else(|| AddressError::BadDomain(text.to_owned()))?;
        Ok(Address {
            local: local.to_lowercase(),
            domain,
        })
    }

    pub fn local(&self) -> &str {
        &self.local
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The local part without a `+tag` sub-address (RFC 5233 style).
    pub fn without_tag(&self) -> Address {
        match self.local.split_once('+') {
            Some((base, _)) if !base.is_empty() => Address {
                local: base.to_owned(),
                domain: self.domain.clone(),
            },
            _ => self.clone(),
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local, self.domain)
    }
}

impl std::str::FromStr for Address {
    type Err = AddressError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Address::parse(text)
    }
}

fn is_dot_atom(text: &str) -> bool {
    text.split('.').all(|atom| {
        !atom.is_empty()
            && atom
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ATEXT_SPECIALS.contains(c) || !c.is_ascii())
    })
}

/// A host name: labels of letters, digits and inner hyphens (RFC 1035 2.3.1,
/// RFC 5321 4.1.2), at most 63 octets each and 253 in all; lower-cased, and a
/// trailing dot refused (it is an open-relay trick in SMTP, not a name).
pub fn normalise_domain(text: &str) -> Option<String> {
    if text.is_empty() || text.len() > 253 {
        return None;
    }
    let valid = text.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    });
    valid.then(|| text.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case() {
        let address = Address::parse("Alice.Smith@Example.COM").unwrap();
        assert_eq!(address.to_string(), "alice.smith@example.com");
        assert_eq!(address.local(), "alice.smith");
        assert_eq!(address.domain(), "example.com");
    }

    #[test]
    fn accepts_atext_and_utf8() {
        assert!(Address::parse("o'brien+news@example.com").is_ok());
        assert!(Address::parse("josé@example.com").is_ok());
        assert!(Address::parse("postmaster@localhost").is_ok());
    }

    #[test]
    fn refuses_malformed() {
        let cases = [
            ("nobody", "no @domain"),
            ("@example.com", "empty local"),
            ("a..b@example.com", "local part"),
            (".a@example.com", "local part"),
            ("a b@example.com", "local part"),
            ("\"a@b\"@example.com", "local part"),
            ("a@example.com.", "domain"),
            ("a@-example.com", "domain"),
            ("a@exa_mple.com", "domain"),
            ("a@[127.0.0.1]", "domain"),
            ("a@", "domain"),
        ];
        for (input, reason) in cases {
            let error = Address::parse(input).unwrap_err().to_string();
            assert!(error.contains(reason), "{input}: {error}");
        }
        let long = format!("{}@example.com", "a".repeat(65));
        assert!(matches!(Address::parse(&long), Err(AddressError::LocalTooLong(_))));
    }

    #[test]
    fn strips_subaddress_tag() {
        let address = Address::parse("bob+lists@example.com").unwrap();
        assert_eq!(address.without_tag().to_string(), "bob@example.com");
        let plain = Address::parse("+x@example.com").unwrap();
        assert_eq!(plain.without_tag(), plain);
    }
}
