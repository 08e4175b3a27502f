//! Where each resource lives under the DAV mount (`/dav`):
//!
//! ```text
//! /dav/                                  the root: it names the caller's principal
//! /dav/principals/{account}/             the principal (RFC 3744 2, RFC 4791 6.2.1)
//! /dav/calendars/{account}/              calendar home (RFC 4791 6.2.1)
//! /dav/calendars/{account}/{calendar}/   a calendar collection (RFC 4791 4.2)
//! /dav/calendars/{account}/{calendar}/{resource}
//! /dav/addressbooks/{account}/...        the same for address books (RFC 6352 7.1.1)
//! /dav/files/{account}/...               a plain WebDAV space of files (RFC 4918)
//! ```
//!
//! Segments are percent-decoded on the way in and encoded on the way out
//! (RFC 3986 2.1), so a name may hold any character but `/`.

use estafeta_store::dav::DavKind;
use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};

pub const MOUNT: &str = "/dav";

/// How deep the file space nests.
pub const MAX_FILE_DEPTH: usize = 32;

/// What a path segment must escape: everything outside RFC 3986's pchar.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Root,
    Principals,
    Principal(String),
    Home(DavKind, String),
    Collection(DavKind, String, String),
    Object(DavKind, String, String, String),
    /// A place in the account's file space, by its segments (none for
    /// the space itself).
    Files(String, Vec<String>),
}

fn kind_segment(kind: DavKind) -> &'static str {
    match kind {
        DavKind::Calendar => "calendars",
        DavKind::AddressBook => "addressbooks",
    }
}

pub fn encode(segment: &str) -> String {
    utf8_percent_encode(segment, SEGMENT).to_string()
}

impl Target {
    /// Reads a request path or an href (absolute URL or path); `None` when
    /// it is not a place under the mount.
    pub fn parse(href: &str) -> Option<Target> {
        let path = strip_origin(href);
        let path = path.split(['?', '#']).next().unwrap_or_default();
        let rest = path.strip_prefix(MOUNT)?;
        if !(rest.is_empty() || rest.starts_with('/')) {
            return None;
        }
        let mut segments = Vec::new();
        for raw in rest.split('/').filter(|segment| !segment.is_empty()) {
            let segment = percent_decode_str(raw).decode_utf8().ok()?;
            if segment == "." || segment == ".." || segment.contains('/') || segment.chars().any(char::is_control) {
                return None;
            }
            segments.push(segment.into_owned());
        }
        let mut segments = segments.into_iter();
        let first = match segments.next() {
            None => return Some(Target::Root),
            Some(first) => first,
        };
        let kind = match first.as_str() {
            "principals" => {
                return match (segments.next(), segments.next()) {
                    (None, _) => Some(Target::Principals),
                    (Some(account), None) => Some(Target::Principal(account)),
                    _ => None,
                };
            }
            "files" => {
                let account = segments.next()?;
                let rest: Vec<String> = segments.collect();
                return (rest.len() <= MAX_FILE_DEPTH).then_some(Target::Files(account, rest));
            }
            "calendars" => DavKind::Calendar,
            "addressbooks" => DavKind::AddressBook,
            _ => return None,
        };
        let account = segments.next()?;
        let target = match (segments.next(), segments.next()) {
            (None, _) => Target::Home(kind, account),
            (Some(collection), None) => Target::Collection(kind, account, collection),
            (Some(collection), Some(object)) => Target::Object(kind, account, collection, object),
        };
        segments.next().is_none().then_some(target)
    }

    /// Its href: a path, collections ending in `/` (RFC 4918 5.2).
    pub fn href(&self) -> String {
        match self {
            Target::Root => format!("{MOUNT}/"),
            Target::Principals => format!("{MOUNT}/principals/"),
            Target::Principal(account) => format!("{MOUNT}/principals/{}/", encode(account)),
            Target::Home(kind, account) => format!("{MOUNT}/{}/{}/", kind_segment(*kind), encode(account)),
            Target::Collection(kind, account, name) => {
                format!("{MOUNT}/{}/{}/{}/", kind_segment(*kind), encode(account), encode(name))
            }
            Target::Files(account, segments) => {
                let mut href = format!("{MOUNT}/files/{}/", encode(account));
                href.push_str(&segments.iter().map(|s| encode(s)).collect::<Vec<_>>().join("/"));
                href
            }
            Target::Object(kind, account, collection, name) => format!(
                "{MOUNT}/{}/{}/{}/{}",
                kind_segment(*kind),
                encode(account),
                encode(collection),
                encode(name)
            ),
        }
    }

    /// The account whose space it is, if any.
    pub fn account(&self) -> Option<&str> {
        match self {
            Target::Root | Target::Principals => None,
            Target::Principal(account)
            | Target::Home(_, account)
            | Target::Collection(_, account, _)
            | Target::Object(_, account, _, _)
            | Target::Files(account, _) => Some(account),
        }
    }
}

/// `http://host:port/dav/x` → `/dav/x`; a path stays as it is.
fn strip_origin(href: &str) -> &str {
    let Some(scheme_end) = href.find("://") else {
        return href;
    };
    let after = &href[scheme_end + 3..];
    after.find('/').map_or("/", |slash| &after[slash..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_place_reads_back_from_its_href() {
        let places = [
            Target::Root,
            Target::Principals,
            Target::Principal("ann@example.org".into()),
            Target::Home(DavKind::Calendar, "ann@example.org".into()),
            Target::Collection(
                DavKind::AddressBook,
                "ann@example.org".into(),
                "Família & amigos".into(),
            ),
            Target::Object(
                DavKind::Calendar,
                "ann@example.org".into(),
                "work".into(),
                "a b?c#d%e.ics".into(),
            ),
            Target::Files("ann@example.org".into(), Vec::new()),
            Target::Files("ann@example.org".into(), vec!["docs".into(), "res-€".into()]),
        ];
        for place in places {
            let href = place.href();
            assert!(
                !href.contains(' ') && !href.contains('#') && !href.contains('?'),
                "{href}"
            );
            assert_eq!(Target::parse(&href), Some(place.clone()), "{href}");
            assert_eq!(
                Target::parse(&format!("https://mail.example.org:8443{href}")),
                Some(place)
            );
        }
        assert_eq!(
            Target::parse("/dav/calendars/ann@example.org/work"),
            Some(Target::Collection(
                DavKind::Calendar,
                "ann@example.org".into(),
                "work".into()
            ))
        );
    }

    #[test]
    fn paths_outside_the_tree_are_nowhere() {
        for path in [
            "/",
            "/davx/",
            "/dav/files/",
            "/dav/other/",
            "/dav/calendars/a/b/c/d",
            "/dav/principals/a/b",
            "/dav/calendars/a/%2e%2e/x",
            "/dav/calendars/a/b%2Fc/",
            "/dav/calendars/a/%ff/",
        ] {
            assert_eq!(Target::parse(path), None, "{path}");
        }
    }
}
