//! REPORT (RFC 3253 3.6) on a calendar or an address book:
//! calendar-query, calendar-multiget and free-busy-query (RFC 4791 7),
//! addressbook-query and addressbook-multiget (RFC 6352 8), and
//! sync-collection (RFC 6578 3). Any other is refused with
//! `supported-report`.

use crate::context::{Answer, Dav, Depth, Request, precondition, store_failure};
use crate::path::Target;
use crate::propfind::{Ask, propstats};
use crate::props::{Owner, Resource, parse_sync_token, sync_token};
use crate::response::{Multistatus, Response};
use crate::xml::{CALDAV, CARDDAV, DAV, Element};
use crate::{calendar_filter, card_filter, freebusy};
use calcard::icalendar::ICalendar;
use calcard::vcard::VCard;
use estafeta_store::StoreError;
use estafeta_store::dav::{DavCollection, DavKind, DavObject};
use std::collections::HashMap;

pub async fn report(dav: &Dav<'_>, request: &Request, target: &Target) -> Answer {
    let body = request
        .xml()?
        .ok_or_else(|| Response::text(400, "a REPORT names its report in its body"))?;
    let (kind, collection_name, object_name) = match target {
        Target::Collection(kind, _, name) => (*kind, name, None),
        Target::Object(kind, _, collection, name) => (*kind, collection, Some(name)),
        Target::Root | Target::Principals | Target::Principal(_) if body.is(DAV, "principal-property-search") => {
            return principal_search(dav, request, &body);
        }
        Target::Root | Target::Principals | Target::Principal(_) if body.is(DAV, "principal-search-property-set") => {
            return Ok(search_property_set());
        }
        _ => return Err(unsupported("reports run on a calendar or an address book")),
    };
    let collection = dav.existing_collection(kind, collection_name).await?;
    let name = (body.name.ns.as_str(), body.name.local.as_str(), kind);
    match name {
        (CALDAV, "calendar-multiget", DavKind::Calendar) | (CARDDAV, "addressbook-multiget", DavKind::AddressBook) => {
            multiget(dav, request, &collection, &body).await
        }
        (CALDAV, "calendar-query", DavKind::Calendar) | (CARDDAV, "addressbook-query", DavKind::AddressBook) => {
            query(dav, request, &collection, object_name.map(String::as_str), &body).await
        }
        (DAV, "sync-collection", _) if object_name.is_none() => sync(dav, request, &collection, &body).await,
        (CALDAV, "free-busy-query", DavKind::Calendar) if object_name.is_none() => {
            free_busy(dav, &collection, &body).await
        }
        _ => Err(unsupported(&format!(
            "{} is not a report this resource runs",
            body.name.local
        ))),
    }
}

fn unsupported(why: &str) -> Response {
    precondition(403, DAV, "supported-report", why)
}

/// What a report asks of each resource it answers with.
struct Wanted {
    ask: Ask,
    /// `<C:expand>` in the calendar-data asked for (RFC 4791 9.6.5).
    expand: Option<calendar_filter::TimeRange>,
    minimal: bool,
}

impl Wanted {
    fn of(body: &Element, request: &Request) -> Result<Wanted, Response> {
        let expand = body
            .child(DAV, "prop")
            .and_then(|prop| prop.child(CALDAV, "calendar-data"))
            .and_then(|data| data.child(CALDAV, "expand"))
            .map(calendar_filter::TimeRange::parse)
            .transpose()?;
        Ok(Wanted {
            ask: Ask::within(body).unwrap_or(Ask::AllProp(Vec::new())),
            expand,
            minimal: request.minimal,
        })
    }
}

fn add_object(dav: &Dav<'_>, out: &mut Multistatus, collection: &DavCollection, object: &DavObject, wanted: &Wanted) {
    let owner = Owner {
        address: &dav.account.address,
    };
    let expanded;
    let object = match &wanted.expand {
        Some(range) if collection.kind == DavKind::Calendar => {
            expanded = DavObject {
                content: crate::expand::expand(&object.content, range),
                ..object.clone()
            };
            &expanded
        }
        _ => object,
    };
    out.response(
        &dav.object_href(collection, &object.name),
        &propstats(
            &owner,
            &Resource::Object(collection.kind, object),
            &[],
            &wanted.ask,
            wanted.minimal,
        ),
    );
}

/// calendar-multiget and addressbook-multiget (RFC 4791 7.9, RFC 6352
/// 8.7): the resources named, each found or 404, from any of the caller's
/// collections of the kind.
async fn multiget(dav: &Dav<'_>, request: &Request, collection: &DavCollection, body: &Element) -> Answer {
    let wanted = Wanted::of(body, request)?;
    let mut out = Multistatus::new();
    let mut collections: HashMap<String, Option<DavCollection>> = HashMap::new();
    collections.insert(collection.name.clone(), Some(collection.clone()));
    for href in body.children_named(DAV, "href") {
        let href = href.text();
        let href = href.trim();
        let Some(Target::Object(kind, account, collection_name, name)) = Target::parse(href) else {
            out.status(href, 404);
            continue;
        };
        if kind != collection.kind || !account.eq_ignore_ascii_case(&dav.account.address) {
            out.status(href, 403);
            continue;
        }
        if !collections.contains_key(&collection_name) {
            let found = dav.collection(kind, &collection_name).await?;
            collections.insert(collection_name.clone(), found);
        }
        let Some(Some(holder)) = collections.get(&collection_name) else {
            out.status(href, 404);
            continue;
        };
        match dav.object(holder, &name).await? {
            Some(object) => add_object(dav, &mut out, holder, &object, &wanted),
            None => out.status(href, 404),
        }
    }
    Ok(out.finish(None))
}

/// What a query's filter keeps.
enum Filter {
    Calendar(calendar_filter::CompFilter),
    Card(card_filter::CardFilter),
}

impl Filter {
    fn keeps(&self, object: &DavObject) -> bool {
        match self {
            Filter::Calendar(filter) => {
                ICalendar::parse(&object.content).is_ok_and(|calendar| calendar_filter::matches(filter, &calendar))
            }
            Filter::Card(filter) => VCard::parse(&object.content).is_ok_and(|card| card_filter::matches(filter, &card)),
        }
    }
}

/// calendar-query and addressbook-query (RFC 4791 7.8, RFC 6352 8.6): the
/// members (Depth 1) or the resource itself (Depth 0) that the filter
/// keeps. An address book query may cap its answer (`limit`), reported
/// with a 507 for the collection (RFC 6352 8.6.1).
async fn query(
    dav: &Dav<'_>,
    request: &Request,
    collection: &DavCollection,
    object_name: Option<&str>,
    body: &Element,
) -> Answer {
    let calendar = collection.kind == DavKind::Calendar;
    let ns = if calendar { CALDAV } else { CARDDAV };
    let filter_element = body
        .child(ns, "filter")
        .ok_or_else(|| precondition(403, ns, "valid-filter", "a query has a filter"))?;
    let filter = if calendar {
        Filter::Calendar(calendar_filter::parse(filter_element)?)
    } else {
        Filter::Card(card_filter::parse(filter_element)?)
    };
    let limit = body
        .child(CARDDAV, "limit")
        .and_then(|limit| limit.child(CARDDAV, "nresults"))
        .map(|n| n.text().trim().parse::<usize>())
        .transpose()
        .map_err(|_| Response::text(400, "nresults is a number"))?;
    // RFC 3253 makes an absent Depth 0, which on a collection finds
    // nothing; clients that leave it out mean the members.
    let depth = request.depth(Depth::One)?;
    let objects = match (object_name, depth) {
        (Some(name), _) => dav.object(collection, name).await?.into_iter().collect(),
        (None, Depth::Zero) => Vec::new(),
        (None, _) => dav.store.dav_objects(collection.id).await.map_err(store_failure)?,
    };
    let wanted = Wanted::of(body, request)?;
    let mut out = Multistatus::new();
    let mut kept = 0;
    for object in &objects {
        if !filter.keeps(object) {
            continue;
        }
        if limit.is_some_and(|limit| kept >= limit) {
            out.status(&dav.collection_href(collection), 507);
            break;
        }
        kept += 1;
        add_object(dav, &mut out, collection, object, &wanted);
    }
    Ok(out.finish(None))
}

/// sync-collection (RFC 6578 3): with no token, every member; with a
/// token this collection gave, what was written since and, as 404s,
/// what was removed. The answer ends with the new token.
async fn sync(dav: &Dav<'_>, request: &Request, collection: &DavCollection, body: &Element) -> Answer {
    let token = body
        .child(DAV, "sync-token")
        .map(|token| token.text())
        .unwrap_or_default();
    let token = token.trim();
    let level = body
        .child(DAV, "sync-level")
        .map(|level| level.text())
        .unwrap_or_default();
    if !matches!(level.trim(), "1" | "infinite" | "") {
        return Err(Response::text(400, "sync-level is 1 or infinite"));
    }
    let wanted = Wanted::of(body, request)?;
    let mut out = Multistatus::new();
    if token.is_empty() {
        // The collection was read first: a member written since is listed
        // and comes again in the next sync, which is harmless.
        let objects = dav.store.dav_objects(collection.id).await.map_err(store_failure)?;
        for object in &objects {
            add_object(dav, &mut out, collection, object, &wanted);
        }
        return Ok(out.finish(Some(&sync_token(collection))));
    }
    let invalid = || {
        precondition(
            403,
            DAV,
            "valid-sync-token",
            "this token is not one this collection gave",
        )
    };
    let since = parse_sync_token(collection, token).ok_or_else(invalid)?;
    let changes = match dav.store.dav_changes(collection.id, since).await {
        Ok(changes) => changes,
        Err(StoreError::Invalid(_)) => return Err(invalid()),
        Err(error) => return Err(store_failure(error)),
    };
    for name in &changes.written {
        if let Some(object) = dav.object(collection, name).await? {
            add_object(dav, &mut out, collection, &object, &wanted);
        }
    }
    for name in &changes.removed {
        out.status(&dav.object_href(collection, name), 404);
    }
    let current = DavCollection {
        sync: changes.sync,
        ..collection.clone()
    };
    Ok(out.finish(Some(&sync_token(&current))))
}

async fn free_busy(dav: &Dav<'_>, collection: &DavCollection, body: &Element) -> Answer {
    let range = body
        .child(CALDAV, "time-range")
        .ok_or_else(|| Response::text(400, "a free-busy-query has a time-range"))
        .and_then(calendar_filter::TimeRange::parse)?;
    if range.start == i64::MIN {
        return Err(Response::text(400, "a free-busy-query's time-range has a start"));
    }
    let objects = dav.store.dav_objects(collection.id).await.map_err(store_failure)?;
    let contents: Vec<String> = objects.into_iter().map(|object| object.content).collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() as i64)
        .unwrap_or(0);
    Ok(Response {
        status: 200,
        headers: vec![("content-type", "text/calendar; charset=utf-8".into())],
        body: freebusy::free_busy(&contents, range, now).into_bytes(),
    })
}

/// The properties principal-property-search looks in (RFC 3744 9.5).
const SEARCHABLE: [(&str, &str, &str); 2] = [
    (DAV, "displayname", "Name"),
    (CALDAV, "calendar-user-address-set", "Mail address"),
];

fn search_property_set() -> Response {
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:principal-search-property-set xmlns:D=\"DAV:\" \
         xmlns:C=\"urn:ietf:params:xml:ns:caldav\">",
    );
    for (ns, local, description) in SEARCHABLE {
        let prefix = if ns == DAV { "D" } else { "C" };
        xml.push_str(&format!(
            "<D:principal-search-property><D:prop><{prefix}:{local}/></D:prop>\
             <D:description xml:lang=\"en\">{description}</D:description></D:principal-search-property>"
        ));
    }
    xml.push_str("</D:principal-search-property-set>");
    Response::xml(200, xml)
}

/// principal-property-search (RFC 3744 9.4). A user sees no one else's
/// principal here (their names and addresses are not the caller's to
/// list), so the answer is the caller's own principal when it matches.
fn principal_search(dav: &Dav<'_>, request: &Request, body: &Element) -> Answer {
    let address = dav.account.address.to_lowercase();
    let value_of = |element: &Element| -> Option<String> {
        SEARCHABLE
            .iter()
            .any(|(ns, local, _)| element.is(ns, local))
            .then(|| address.clone())
    };
    let results: Vec<bool> = body
        .children_named(DAV, "property-search")
        .map(|search| {
            let wanted = search
                .child(DAV, "match")
                .map(Element::text)
                .unwrap_or_default()
                .to_lowercase();
            search
                .child(DAV, "prop")
                .into_iter()
                .flat_map(Element::elements)
                .filter_map(value_of)
                .any(|value| value.contains(wanted.trim()))
        })
        .collect();
    let matched = if body.attr("test") == Some("anyof") {
        results.is_empty() || results.iter().any(|hit| *hit)
    } else {
        results.iter().all(|hit| *hit)
    };
    let mut out = Multistatus::new();
    if matched {
        let owner = Owner {
            address: &dav.account.address,
        };
        // Python's caldav sends an empty DAV:prop with the properties it
        // wants beside it rather than inside; read those as asked for.
        let ask = match Ask::within(body) {
            Some(Ask::Props(names)) if names.is_empty() => Ask::Props(
                body.elements()
                    .filter(|e| {
                        !matches!(
                            e.name.local.as_str(),
                            "prop" | "property-search" | "apply-to-principal-collection-set"
                        )
                    })
                    .map(|e| e.name.clone())
                    .collect(),
            ),
            Some(ask) => ask,
            None => Ask::Props(Vec::new()),
        };
        out.response(
            &owner.principal(),
            &propstats(&owner, &Resource::Principal, &[], &ask, request.minimal),
        );
    }
    Ok(out.finish(None))
}
