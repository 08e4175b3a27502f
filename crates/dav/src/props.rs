//! The properties each resource answers with (RFC 4918 15, RFC 3744 5,
//! RFC 5397, RFC 4791 5.2 and 6.2, RFC 6352 6.2 and 7.1, RFC 6578 4), and
//! which of them a client may change.

use crate::path::Target;
use crate::response::Value;
use crate::xml::{APPLE_ICAL, CALDAV, CALENDARSERVER, CARDDAV, DAV, Element, Name, parse_many};
use estafeta_store::dav::{DavCollection, DavKind, DavObject};

/// The largest resource a PUT may store (RFC 4791 5.2.5, RFC 6352 6.2.3).
pub const MAX_RESOURCE: usize = 1 << 20;

/// What a property is read from.
pub enum Resource<'a> {
    Root,
    Principals,
    Principal,
    Home(DavKind),
    Collection(&'a DavCollection),
    Object(DavKind, &'a DavObject),
}

/// The caller whose space this is.
pub struct Owner<'a> {
    pub address: &'a str,
}

impl Owner<'_> {
    pub fn principal(&self) -> String {
        Target::Principal(self.address.to_owned()).href()
    }

    fn home(&self, kind: DavKind) -> String {
        Target::Home(kind, self.address.to_owned()).href()
    }
}

/// A collection's sync token (RFC 6578 3.2): a URI naming the collection
/// and its change number, so a token from another collection, or from
/// one removed and made again under the same name, is not taken.
pub fn sync_token(collection: &DavCollection) -> String {
    format!("urn:x-estafeta:sync:{}:{}", collection.id, collection.sync)
}

/// The change number in `token` when it is this collection's.
pub fn parse_sync_token(collection: &DavCollection, token: &str) -> Option<i64> {
    let rest = token.strip_prefix("urn:x-estafeta:sync:")?;
    let (id, sync) = rest.split_once(':')?;
    (id.parse::<i64>().ok()? == collection.id)
        .then(|| sync.parse::<i64>().ok())
        .flatten()
        .filter(|sync| (0..=collection.sync).contains(sync))
}

pub fn content_type(kind: DavKind) -> &'static str {
    match kind {
        DavKind::Calendar => "text/calendar; charset=utf-8",
        DavKind::AddressBook => "text/vcard; charset=utf-8",
    }
}

/// The component types a calendar takes: those it was made with, or all.
pub fn components(collection: &DavCollection) -> Vec<&str> {
    let named: Vec<&str> = collection
        .props
        .components
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .collect();
    if named.is_empty() {
        vec!["VEVENT", "VTODO", "VJOURNAL"]
    } else {
        named
    }
}

fn privileges(writable: bool) -> String {
    let mut names = vec![
        "<D:read/>",
        "<D:read-current-user-privilege-set/>",
        "<C:read-free-busy/>",
    ];
    if writable {
        names.extend([
            "<D:all/>",
            "<D:write/>",
            "<D:write-properties/>",
            "<D:write-content/>",
            "<D:bind/>",
            "<D:unbind/>",
        ]);
    }
    names
        .iter()
        .map(|name| format!("<D:privilege>{name}</D:privilege>"))
        .collect()
}

fn reports(kind: DavKind) -> String {
    let names: &[&str] = match kind {
        DavKind::Calendar => &[
            "<C:calendar-query/>",
            "<C:calendar-multiget/>",
            "<D:sync-collection/>",
            "<C:free-busy-query/>",
        ],
        DavKind::AddressBook => &[
            "<CR:addressbook-query/>",
            "<CR:addressbook-multiget/>",
            "<D:sync-collection/>",
        ],
    };
    names
        .iter()
        .map(|name| format!("<D:supported-report><D:report>{name}</D:report></D:supported-report>"))
        .collect()
}

/// The live property `name` of `resource`, or `None` when it has none.
pub fn live(owner: &Owner, resource: &Resource, name: &Name) -> Option<Value> {
    let text = |text: &str| Some(Value::Text(text.to_owned()));
    let href = |href: String| Some(Value::Hrefs(vec![href]));
    let collection = match resource {
        Resource::Collection(collection) => Some(*collection),
        _ => None,
    };
    let kind_of_collection = collection.map(|collection| collection.kind);
    match (name.ns.as_str(), name.local.as_str()) {
        (DAV, "resourcetype") => Some(match resource {
            Resource::Object(..) => Value::Empty,
            Resource::Principal => Value::Markup("<D:collection/><D:principal/>".into()),
            Resource::Collection(collection) => Value::Markup(match collection.kind {
                DavKind::Calendar => "<D:collection/><C:calendar/>".into(),
                DavKind::AddressBook => "<D:collection/><CR:addressbook/>".into(),
            }),
            _ => Value::Markup("<D:collection/>".into()),
        }),
        (DAV, "displayname") => match resource {
            Resource::Principal => text(owner.address),
            Resource::Collection(collection) if !collection.props.display_name.is_empty() => {
                text(&collection.props.display_name)
            }
            _ => None,
        },
        (DAV, "current-user-principal") => href(owner.principal()),
        (DAV, "principal-collection-set") => href(Target::Principals.href()),
        (DAV, "principal-URL") if matches!(resource, Resource::Principal) => href(owner.principal()),
        (DAV, "owner") if !matches!(resource, Resource::Root | Resource::Principals) => href(owner.principal()),
        (DAV, "current-user-privilege-set") => Some(Value::Markup(privileges(!matches!(
            resource,
            Resource::Root | Resource::Principals | Resource::Principal
        )))),
        (DAV, "supported-report-set") => Some(Value::Markup(kind_of_collection.map(reports).unwrap_or_default())),
        (DAV, "sync-token") => collection.map(|collection| Value::Text(sync_token(collection))),
        (CALENDARSERVER, "getctag") => collection.map(|collection| Value::Text(sync_token(collection))),
        (DAV, "getetag") => match resource {
            Resource::Object(_, object) => text(&object.etag),
            _ => None,
        },
        (DAV, "getcontenttype") => match resource {
            Resource::Object(kind, _) => text(content_type(*kind)),
            _ => None,
        },
        (DAV, "getcontentlength") => match resource {
            Resource::Object(_, object) => text(&object.content.len().to_string()),
            _ => None,
        },
        (CALDAV, "calendar-home-set") if matches!(resource, Resource::Principal) => href(owner.home(DavKind::Calendar)),
        (CARDDAV, "addressbook-home-set") if matches!(resource, Resource::Principal) => {
            href(owner.home(DavKind::AddressBook))
        }
        (CALDAV, "calendar-user-address-set") if matches!(resource, Resource::Principal) => Some(Value::Hrefs(vec![
            format!("mailto:{}", owner.address),
            owner.principal(),
        ])),
        (CALDAV, "calendar-user-type") if matches!(resource, Resource::Principal) => text("INDIVIDUAL"),
        (CALDAV, "calendar-description") if kind_of_collection == Some(DavKind::Calendar) => {
            collection.map(|collection| Value::Text(collection.props.description.clone()))
        }
        (CARDDAV, "addressbook-description") if kind_of_collection == Some(DavKind::AddressBook) => {
            collection.map(|collection| Value::Text(collection.props.description.clone()))
        }
        (APPLE_ICAL, "calendar-color") if kind_of_collection == Some(DavKind::Calendar) => collection
            .filter(|collection| !collection.props.color.is_empty())
            .map(|collection| Value::Text(collection.props.color.clone())),
        (CALDAV, "supported-calendar-component-set") if kind_of_collection == Some(DavKind::Calendar) => collection
            .map(|collection| {
                Value::Markup(
                    components(collection)
                        .iter()
                        .map(|name| format!("<C:comp name=\"{name}\"/>"))
                        .collect(),
                )
            }),
        (CALDAV, "supported-calendar-data") if kind_of_collection == Some(DavKind::Calendar) => Some(Value::Markup(
            "<C:calendar-data content-type=\"text/calendar\" version=\"2.0\"/>".into(),
        )),
        (CARDDAV, "supported-address-data") if kind_of_collection == Some(DavKind::AddressBook) => Some(Value::Markup(
            "<CR:address-data-type content-type=\"text/vcard\" version=\"3.0\"/>\
                 <CR:address-data-type content-type=\"text/vcard\" version=\"4.0\"/>"
                .into(),
        )),
        (CALDAV, "max-resource-size") if kind_of_collection == Some(DavKind::Calendar) => {
            text(&MAX_RESOURCE.to_string())
        }
        (CARDDAV, "max-resource-size") if kind_of_collection == Some(DavKind::AddressBook) => {
            text(&MAX_RESOURCE.to_string())
        }
        (CALDAV, "calendar-data") => match resource {
            Resource::Object(DavKind::Calendar, object) => text(&object.content),
            _ => None,
        },
        (CARDDAV, "address-data") => match resource {
            Resource::Object(DavKind::AddressBook, object) => text(&object.content),
            _ => None,
        },
        _ => None,
    }
}

/// The live properties of this server, whichever resource has each.
const LIVE: &[(&str, &str)] = &[
    (DAV, "resourcetype"),
    (DAV, "displayname"),
    (DAV, "current-user-principal"),
    (DAV, "principal-collection-set"),
    (DAV, "principal-URL"),
    (DAV, "owner"),
    (DAV, "current-user-privilege-set"),
    (DAV, "supported-report-set"),
    (DAV, "sync-token"),
    (CALENDARSERVER, "getctag"),
    (DAV, "getetag"),
    (DAV, "getcontenttype"),
    (DAV, "getcontentlength"),
    (CALDAV, "calendar-home-set"),
    (CARDDAV, "addressbook-home-set"),
    (CALDAV, "calendar-user-address-set"),
    (CALDAV, "calendar-user-type"),
    (CALDAV, "calendar-description"),
    (CARDDAV, "addressbook-description"),
    (APPLE_ICAL, "calendar-color"),
    (CALDAV, "supported-calendar-component-set"),
    (CALDAV, "supported-calendar-data"),
    (CARDDAV, "supported-address-data"),
    (CALDAV, "max-resource-size"),
    (CARDDAV, "max-resource-size"),
];

/// Every live property a resource has, for `propname` (RFC 4918 9.1).
pub fn live_names(owner: &Owner, resource: &Resource) -> Vec<Name> {
    LIVE.iter()
        .map(|(ns, local)| Name::new(ns, local))
        .filter(|name| live(owner, resource, name).is_some())
        .collect()
}

/// What `allprop` returns besides dead properties: RFC 4918's own live
/// properties (RFC 4918 9.1; the CalDAV, CardDAV and sync ones are asked
/// for by name).
pub fn allprop_names(owner: &Owner, resource: &Resource) -> Vec<Name> {
    [
        "resourcetype",
        "displayname",
        "getetag",
        "getcontenttype",
        "getcontentlength",
    ]
    .iter()
    .map(|local| Name::new(DAV, local))
    .filter(|name| live(owner, resource, name).is_some())
    .collect()
}

/// Whether PROPPATCH may set or remove it (RFC 4791 5.2.1 and 5.2.2,
/// RFC 6352 6.2.1, and the de facto colour). A name that is live but
/// not here is protected.
pub fn writable(kind: DavKind, name: &Name) -> bool {
    match (name.ns.as_str(), name.local.as_str()) {
        (DAV, "displayname") => true,
        (CALDAV, "calendar-description") | (APPLE_ICAL, "calendar-color") => kind == DavKind::Calendar,
        (CARDDAV, "addressbook-description") => kind == DavKind::AddressBook,
        _ => false,
    }
}

/// Whether it is a live property of some resource here: one a client
/// cannot keep as a dead property of its own.
pub fn is_live(name: &Name) -> bool {
    LIVE.iter().any(|(ns, local)| name.is(ns, local))
        || name.is(CALDAV, "calendar-data")
        || name.is(CARDDAV, "address-data")
}

/// A collection's dead properties.
pub fn dead(collection: &DavCollection) -> Vec<Element> {
    parse_many(&collection.props.dead)
}
