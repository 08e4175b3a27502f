//! What is known about an address without asking its server: disposable
//! domains (the `mailchecker` list), role accounts (RFC 2142 and the usual
//! shared inboxes), free providers, and a suggestion when the domain looks
//! like a typo of a common one.

use std::collections::HashSet;
use std::sync::OnceLock;

/// RFC 2142's mailbox names and the shared inboxes of companies: mail to
/// them reaches whoever reads it today, not a person who subscribed.
const ROLES: &[&str] = &[
    "abuse",
    "admin",
    "administrator",
    "billing",
    "careers",
    "contact",
    "customerservice",
    "enquiries",
    "ftp",
    "help",
    "helpdesk",
    "hostmaster",
    "hr",
    "info",
    "inquiries",
    "jobs",
    "legal",
    "list",
    "mail",
    "marketing",
    "media",
    "news",
    "newsletter",
    "no-reply",
    "noc",
    "noreply",
    "office",
    "orders",
    "postmaster",
    "press",
    "privacy",
    "root",
    "sales",
    "security",
    "service",
    "support",
    "team",
    "usenet",
    "uucp",
    "webmaster",
    "www",
];

/// Free mailbox providers: anyone can open an address there.
const FREE: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "yahoo.com",
    "yahoo.co.uk",
    "yahoo.fr",
    "yahoo.com.br",
    "ymail.com",
    "hotmail.com",
    "hotmail.co.uk",
    "hotmail.fr",
    "outlook.com",
    "live.com",
    "msn.com",
    "aol.com",
    "icloud.com",
    "me.com",
    "mac.com",
    "gmx.com",
    "gmx.de",
    "gmx.net",
    "web.de",
    "mail.com",
    "mail.ru",
    "yandex.ru",
    "yandex.com",
    "proton.me",
    "protonmail.com",
    "zoho.com",
    "tutanota.com",
    "fastmail.com",
    "uol.com.br",
    "bol.com.br",
    "terra.com.br",
    "ig.com.br",
    "qq.com",
    "163.com",
    "126.com",
    "naver.com",
    "libero.it",
    "orange.fr",
    "free.fr",
    "laposte.net",
    "t-online.de",
    "seznam.cz",
    "wp.pl",
    "o2.pl",
    "rediffmail.com",
];

/// Domains people mean most often, for typo suggestions.
const COMMON: &[&str] = &[
    "gmail.com",
    "yahoo.com",
    "hotmail.com",
    "outlook.com",
    "live.com",
    "aol.com",
    "icloud.com",
    "msn.com",
    "gmx.com",
    "gmx.de",
    "web.de",
    "mail.ru",
    "yandex.ru",
    "proton.me",
    "protonmail.com",
    "uol.com.br",
    "bol.com.br",
    "terra.com.br",
    "hotmail.co.uk",
    "yahoo.co.uk",
    "yahoo.com.br",
    "googlemail.com",
];

fn disposable_set() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| mailchecker::blacklist().into_iter().collect())
}

/// The domain or one of its parents is a throwaway-mailbox service.
pub fn is_disposable(domain: &str) -> bool {
    let set = disposable_set();
    let mut rest = domain;
    loop {
        if set.contains(rest) {
            return true;
        }
        match rest.split_once('.') {
            Some((_, parent)) if parent.contains('.') => rest = parent,
            _ => return false,
        }
    }
}

/// The local part (its tag after `+` aside) is a role, not a person.
pub fn is_role(local: &str) -> bool {
    let base = local.split('+').next().unwrap_or(local).to_ascii_lowercase();
    ROLES.contains(&base.as_str())
}

pub fn is_free(domain: &str) -> bool {
    FREE.contains(&domain)
}

/// Optimal string alignment distance (Damerau-Levenshtein with adjacent
/// swaps): "gmial" is one step from "gmail".
fn distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

/// A common domain this one is probably a typo of.
pub fn suggestion(domain: &str) -> Option<&'static str> {
    if COMMON.contains(&domain) {
        return None;
    }
    // Close enough to be a slip, far enough not to be a real neighbour:
    // one edit for short names, two for longer ones.
    COMMON
        .iter()
        .map(|common| (distance(domain, common), *common))
        .filter(|(d, common)| *d > 0 && *d <= if common.len() >= 9 { 2 } else { 1 })
        .min_by_key(|(d, _)| *d)
        .map(|(_, common)| common)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throwaway_domains_and_their_subdomains() {
        assert!(is_disposable("mailinator.com"));
        assert!(is_disposable("guerrillamailblock.com"));
        assert!(is_disposable("ok.33mail.com"));
        assert!(!is_disposable("gmail.com"));
        assert!(!is_disposable("example.com"));
    }

    #[test]
    fn roles_free_providers_and_typos() {
        assert!(is_role("postmaster") && is_role("Info") && is_role("sales+eu"));
        assert!(!is_role("alice") && !is_role("information-desk"));
        assert!(is_free("gmail.com") && !is_free("example.com"));
        assert_eq!(suggestion("gmial.com"), Some("gmail.com"));
        assert_eq!(suggestion("gmail.con"), Some("gmail.com"));
        assert_eq!(suggestion("hotmial.com"), Some("hotmail.com"));
        assert_eq!(suggestion("yahooo.com"), Some("yahoo.com"));
        assert_eq!(suggestion("gmail.com"), None);
        assert_eq!(suggestion("example.com"), None);
        // A real short domain one letter from a common one is left alone.
        assert_eq!(suggestion("gmx.at"), None);
    }
}
