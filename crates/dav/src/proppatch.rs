//! PROPPATCH (RFC 4918 9.2) on a calendar or an address book: its name,
//! description and colour, and any property of the client's own. The
//! changes apply in document order and all or none (RFC 4918 9.2): one
//! refused property fails the rest with 424.

use crate::context::{Answer, Dav, Request, forbidden, store_failure};
use crate::path::Target;
use crate::props::{dead, is_live, writable};
use crate::response::{Multistatus, Response, Value};
use crate::xml::{APPLE_ICAL, CALDAV, CARDDAV, DAV, Element, Name};
use estafeta_store::dav::{DavKind, DavProps};

/// Applies one `set` (with its element) or `remove` to the props.
/// `Err(status)` when the property may not change.
pub fn apply(
    kind: DavKind,
    props: &mut DavProps,
    dead_props: &mut Vec<Element>,
    element: &Element,
    set: bool,
) -> Result<(), u16> {
    let name = &element.name;
    if writable(kind, name) {
        let value = if set {
            element.text().trim().to_owned()
        } else {
            String::new()
        };
        match (name.ns.as_str(), name.local.as_str()) {
            (DAV, "displayname") => props.display_name = value,
            (CALDAV, "calendar-description") | (CARDDAV, "addressbook-description") => props.description = value,
            (APPLE_ICAL, "calendar-color") => props.color = value,
            _ => return Err(403),
        }
        return Ok(());
    }
    if is_live(name) {
        return Err(403);
    }
    dead_props.retain(|have| have.name != *name);
    if set {
        dead_props.push(element.clone());
    }
    Ok(())
}

pub async fn proppatch(dav: &Dav<'_>, request: &Request, target: &Target) -> Answer {
    let Target::Collection(kind, _, name) = target else {
        return Err(forbidden(
            "properties are set on calendars and address books; a resource's live in its data",
        ));
    };
    let collection = dav.existing_collection(*kind, name).await?;
    let mut props = collection.props.clone();
    let mut dead_props = dead(&collection);
    let results = update(request, |element, set| {
        apply(*kind, &mut props, &mut dead_props, element, set)
    })?;
    if results.iter().all(|(_, status)| *status == 200) {
        props.dead = dead_props.iter().map(Element::to_xml).collect();
        dav.store
            .dav_collection_update(collection.id, &props)
            .await
            .map_err(store_failure)?;
    }
    Ok(answer(&dav.collection_href(&collection), &results))
}

/// Reads a DAV:propertyupdate and runs its set and remove in document
/// order through `change` (Ok, or the status that property is refused
/// with). All or none (RFC 4918 9.2): when one is refused the rest are
/// reported 424, and the caller keeps nothing.
pub fn update(
    request: &Request,
    mut change: impl FnMut(&Element, bool) -> Result<(), u16>,
) -> Result<Vec<(Name, u16)>, Response> {
    let body = request
        .xml()?
        .filter(|body| body.is(DAV, "propertyupdate"))
        .ok_or_else(|| Response::text(400, "the body of a PROPPATCH is a DAV:propertyupdate"))?;
    let mut results: Vec<(Name, u16)> = Vec::new();
    for operation in body.elements() {
        let set = if operation.is(DAV, "set") {
            true
        } else if operation.is(DAV, "remove") {
            false
        } else {
            return Err(Response::text(400, "a propertyupdate holds set and remove"));
        };
        for element in operation.children_named(DAV, "prop").flat_map(Element::elements) {
            let status = change(element, set).err().unwrap_or(200);
            results.retain(|(name, _)| *name != element.name);
            results.push((element.name.clone(), status));
        }
    }
    if results.iter().any(|(_, status)| *status != 200) {
        for (_, status) in &mut results {
            if *status == 200 {
                *status = 424;
            }
        }
    }
    Ok(results)
}

/// The 207 for a PROPPATCH: its properties grouped by status.
pub fn answer(href: &str, results: &[(Name, u16)]) -> Response {
    let mut statuses: Vec<u16> = results.iter().map(|(_, status)| *status).collect();
    statuses.sort_unstable();
    statuses.dedup();
    let propstats: Vec<(u16, Vec<(Name, Value)>)> = statuses
        .into_iter()
        .map(|status| {
            let names = results.iter().filter(|(_, s)| *s == status);
            (status, names.map(|(name, _)| (name.clone(), Value::Empty)).collect())
        })
        .collect();
    let mut out = Multistatus::new();
    out.response(href, &propstats);
    out.finish(None)
}
