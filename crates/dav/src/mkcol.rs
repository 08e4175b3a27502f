//! MKCALENDAR (RFC 4791 5.3.1) and MKCOL, extended (RFC 5689) or plain
//! (RFC 4918 9.3): a new calendar or address book in the caller's home,
//! with the properties the body sets. A calendar's component types can be
//! chosen only here (RFC 4791 5.2.3).

use crate::context::{Answer, Dav, Request, precondition, store_failure};
use crate::path::Target;
use crate::proppatch::apply;
use crate::response::Response;
use crate::xml::{CALDAV, CARDDAV, DAV, Element};
use estafeta_store::StoreError;
use estafeta_store::dav::{DavKind, DavProps};

const COMPONENTS: [&str; 4] = ["VEVENT", "VTODO", "VJOURNAL", "VFREEBUSY"];

fn location_precondition(kind: DavKind) -> (&'static str, &'static str) {
    match kind {
        DavKind::Calendar => (CALDAV, "calendar-collection-location-ok"),
        DavKind::AddressBook => (CARDDAV, "addressbook-collection-location-ok"),
    }
}

/// The kind a body's `DAV:resourcetype` asks for; `None` for a plain
/// collection.
fn kind_asked(resourcetype: &Element) -> Result<Option<DavKind>, Response> {
    let mut kind = None;
    for element in resourcetype.elements() {
        if element.is(CALDAV, "calendar") {
            kind = Some(DavKind::Calendar);
        } else if element.is(CARDDAV, "addressbook") {
            kind = Some(DavKind::AddressBook);
        } else if !element.is(DAV, "collection") {
            return Err(precondition(
                403,
                DAV,
                "valid-resourcetype",
                "only calendars and address books are made here",
            ));
        }
    }
    Ok(kind)
}

pub async fn mkcol(dav: &Dav<'_>, request: &Request, target: &Target) -> Answer {
    let calendar_method = request.method == "MKCALENDAR";
    let Target::Collection(home_kind, _, name) = target else {
        let why = "calendars and address books are made directly in their home";
        return Err(match target {
            Target::Object(..) => precondition(409, DAV, "resource-must-be-null", why),
            _ => Response::text(405, why),
        });
    };
    if dav.collection(*home_kind, name).await?.is_some() {
        return Err(precondition(
            405,
            DAV,
            "resource-must-be-null",
            "something is there already",
        ));
    }
    let has_body = !request.body.iter().all(u8::is_ascii_whitespace);
    let xml_body = request.content_type.as_deref().is_none_or(|kind| kind.contains("xml"));
    if has_body && !xml_body {
        return Err(Response::text(415, "a MKCOL body is XML (RFC 5689)"));
    }
    let body = request.xml()?;
    let root = match (&body, calendar_method) {
        (None, _) => None,
        (Some(root), true) if root.is(CALDAV, "mkcalendar") => Some(root),
        (Some(root), false) if root.is(DAV, "mkcol") => Some(root),
        (Some(_), _) => return Err(Response::text(415, "the body is not a mkcalendar or mkcol request")),
    };
    let props: Vec<&Element> = root
        .into_iter()
        .flat_map(|root| root.children_named(DAV, "set"))
        .flat_map(|set| set.children_named(DAV, "prop"))
        .flat_map(Element::elements)
        .collect();
    let kind = if calendar_method {
        DavKind::Calendar
    } else {
        let asked = match props.iter().find(|prop| prop.is(DAV, "resourcetype")) {
            Some(resourcetype) => kind_asked(resourcetype)?,
            None => None,
        };
        // A plain MKCOL in an address book home makes an address book, as
        // older clients expect; a calendar is asked for by name.
        match asked {
            Some(kind) => kind,
            None if *home_kind == DavKind::AddressBook => DavKind::AddressBook,
            None => {
                return Err(precondition(
                    403,
                    DAV,
                    "valid-resourcetype",
                    "a calendar home holds calendars: use MKCALENDAR or an extended MKCOL",
                ));
            }
        }
    };
    if kind != *home_kind {
        let (ns, local) = location_precondition(kind);
        return Err(precondition(403, ns, local, "it belongs in the other home"));
    }
    let mut made = DavProps::default();
    let mut dead_props = Vec::new();
    for prop in props {
        if prop.is(DAV, "resourcetype") {
            continue;
        }
        if prop.is(CALDAV, "supported-calendar-component-set") && kind == DavKind::Calendar {
            let mut names = Vec::new();
            for comp in prop.children_named(CALDAV, "comp") {
                let name = comp.attr("name").unwrap_or_default().to_ascii_uppercase();
                if !COMPONENTS.contains(&name.as_str()) {
                    return Err(precondition(
                        403,
                        CALDAV,
                        "supported-calendar-component",
                        &format!("{name:?} is not a component a calendar holds"),
                    ));
                }
                names.push(name);
            }
            made.components = names.join(",");
            continue;
        }
        if apply(kind, &mut made, &mut dead_props, prop, true).is_err() {
            return Err(precondition(
                403,
                DAV,
                "cannot-modify-protected-property",
                &format!("{} cannot be set", prop.name.local),
            ));
        }
    }
    made.dead = dead_props.iter().map(Element::to_xml).collect();
    match dav.store.dav_collection_create(dav.account.id, kind, name, &made).await {
        Ok(_) => Ok(Response::empty(201)),
        Err(StoreError::AlreadyExists(_)) => Err(precondition(
            405,
            DAV,
            "resource-must-be-null",
            "something is there already",
        )),
        Err(error) => Err(store_failure(error)),
    }
}
