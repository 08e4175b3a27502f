//! Calendars and address books (CalDAV, RFC 4791; CardDAV, RFC 6352):
//! collections an account owns, each holding resources (one iCalendar
//! object or one vCard each) under a name, with an entity tag and the
//! change number of their last write. A collection counts its changes, so
//! a client that knows a number learns what was written and removed since
//! (RFC 6578's sync-collection); removals leave a tombstone for that.
//! The store keeps resources as the text the client sent: parsing and
//! checking them is the DAV layer's work.

use estafeta_core::model::AccountId;

/// What a collection holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DavKind {
    Calendar,
    AddressBook,
}

impl DavKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DavKind::Calendar => "calendar",
            DavKind::AddressBook => "addressbook",
        }
    }

    pub fn parse(text: &str) -> Option<DavKind> {
        match text {
            "calendar" => Some(DavKind::Calendar),
            "addressbook" => Some(DavKind::AddressBook),
            _ => None,
        }
    }
}

/// The properties a client may set on a collection (RFC 4918 15, RFC 4791
/// 5.2, RFC 6352 6.2, and the de facto calendar colour).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DavProps {
    pub display_name: String,
    pub description: String,
    pub color: String,
    /// For a calendar, the component types it takes ("VEVENT,VTODO");
    /// empty for every type.
    pub components: String,
    /// Properties of the client's own (RFC 4918 4.3, "dead"): each
    /// element's XML, one after another, as the DAV layer wrote them.
    pub dead: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DavCollection {
    pub id: i64,
    pub account: AccountId,
    pub kind: DavKind,
    /// Its path segment under the account's home.
    pub name: String,
    pub props: DavProps,
    /// The number of its last change: the sync token's value.
    pub sync: i64,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DavObject {
    pub name: String,
    /// The iCalendar or vCard UID, unique within the collection (RFC 4791
    /// 5.3.2.1 `no-uid-conflict`, RFC 6352 6.3.2.1).
    pub uid: String,
    pub etag: String,
    pub content: String,
    /// The collection's change number when it was last written.
    pub sync: i64,
}

/// What a write must find first (RFC 9110 13.1.1, 13.1.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DavPrecondition {
    None,
    /// `If-Match`: the resource exists with this entity tag.
    IfMatch(String),
    /// `If-None-Match: *`: the resource does not exist yet.
    IfNoneMatch,
}

impl DavPrecondition {
    /// Whether it holds for what the collection has under the name now.
    pub fn holds(&self, existing: Option<&DavObject>) -> bool {
        self.holds_for(existing.map(|object| object.etag.as_str()))
    }

    /// Whether it holds for a resource with this entity tag, or none.
    pub fn holds_for(&self, existing: Option<&str>) -> bool {
        match (self, existing) {
            (DavPrecondition::None, _) => true,
            (DavPrecondition::IfMatch(etag), Some(have)) => have == etag,
            (DavPrecondition::IfMatch(_), None) => false,
            (DavPrecondition::IfNoneMatch, existing) => existing.is_none(),
        }
    }
}

/// How a write ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DavPut {
    Written {
        etag: String,
        created: bool,
    },
    /// The precondition did not hold: HTTP 412.
    PreconditionFailed,
    /// Another resource of the collection has the same UID; its name.
    UidConflict(String),
}

/// What changed in a collection after a change number (RFC 6578 3.5).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DavChanges {
    /// The collection's change number now.
    pub sync: i64,
    /// Resources written since, by name.
    pub written: Vec<String>,
    /// Resources removed since, by name.
    pub removed: Vec<String>,
}

/// The entity tag of a resource: its content's digest, quoted as HTTP
/// wants (RFC 9110 8.8.3), so the same bytes always have the same tag.
pub fn etag_of(content: &str) -> String {
    etag_of_bytes(content.as_bytes())
}

pub fn etag_of_bytes(content: &[u8]) -> String {
    format!("\"{}\"", &crate::BlobId::of(content).as_str()[..32])
}

/// A place in an account's WebDAV file space (RFC 4918): a collection or
/// a file, under its path (segments joined by `/`, no leading or trailing
/// one). Whatever bytes a client PUTs, with its properties.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DavFile {
    pub path: String,
    pub collection: bool,
    /// Left empty in a listing ([`crate::Store::dav_file_tree`]).
    pub content: Vec<u8>,
    pub length: i64,
    pub content_type: String,
    /// Empty for a collection.
    pub etag: String,
    /// Properties of the client's own, as in [`DavProps::dead`].
    pub dead: String,
    pub modified_at: i64,
}

/// The paths under `path` sort between these two: `a/` up to `a0`
/// (`0` follows `/`), so one range scan finds a subtree.
pub fn subtree_range(path: &str) -> (String, String) {
    (format!("{path}/"), format!("{path}0"))
}

/// The parent's path: "" for a top-level one.
pub fn parent_of(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(parent, _)| parent)
}

/// How a removal ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DavDelete {
    Removed,
    NotFound,
    /// `If-Match` named another entity tag: HTTP 412.
    PreconditionFailed,
}
