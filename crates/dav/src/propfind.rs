//! PROPFIND (RFC 4918 9.1): a resource's properties, and with Depth 1
//! its members'. Depth infinity is refused with `propfind-finite-depth`
//! (RFC 4918 9.1, 16): a home is walked one level at a time.

use crate::context::{Answer, Dav, Depth, Request, precondition, store_failure};
use crate::path::Target;
use crate::props::{Owner, Resource, allprop_names, dead, live, live_names};
use crate::response::{Multistatus, Response, Value};
use crate::xml::{DAV, Element, Name};

/// What a request asks of each resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ask {
    /// Dead properties and RFC 4918's live ones, and those named.
    AllProp(Vec<Name>),
    PropName,
    Props(Vec<Name>),
}

impl Ask {
    /// From a `DAV:propfind` body, or from the `DAV:prop` (or `allprop`,
    /// `propname`) inside a REPORT.
    pub fn within(element: &Element) -> Option<Ask> {
        if let Some(prop) = element.child(DAV, "prop") {
            return Some(Ask::Props(prop.elements().map(|e| e.name.clone()).collect()));
        }
        if element.child(DAV, "propname").is_some() {
            return Some(Ask::PropName);
        }
        if element.child(DAV, "allprop").is_some() {
            let include = element
                .child(DAV, "include")
                .map(|include| include.elements().map(|e| e.name.clone()).collect())
                .unwrap_or_default();
            return Some(Ask::AllProp(include));
        }
        None
    }
}

/// One resource's propstats for what is asked: found properties under
/// 200, the rest under 404 (left out when the client prefers minimal).
pub fn propstats(
    owner: &Owner,
    resource: &Resource,
    dead_props: &[Element],
    ask: &Ask,
    minimal: bool,
) -> Vec<(u16, Vec<(Name, Value)>)> {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    let value_of = |name: &Name| {
        dead_props
            .iter()
            .find(|element| element.name == *name)
            .map(|element| Value::Element(element.to_xml()))
            .or_else(|| live(owner, resource, name))
    };
    match ask {
        Ask::PropName => {
            for name in live_names(owner, resource) {
                found.push((name, Value::Empty));
            }
            for element in dead_props {
                found.push((element.name.clone(), Value::Empty));
            }
        }
        Ask::AllProp(include) => {
            for name in allprop_names(owner, resource) {
                let value = live(owner, resource, &name).unwrap_or(Value::Empty);
                found.push((name, value));
            }
            for element in dead_props {
                found.push((element.name.clone(), Value::Element(element.to_xml())));
            }
            for name in include {
                if !found.iter().any(|(have, _)| have == name)
                    && let Some(value) = value_of(name)
                {
                    found.push((name.clone(), value));
                }
            }
        }
        Ask::Props(names) => {
            for name in names {
                match value_of(name) {
                    Some(value) => found.push((name.clone(), value)),
                    None => missing.push((name.clone(), Value::Empty)),
                }
            }
        }
    }
    let mut stats = vec![(200, found)];
    if !minimal {
        stats.push((404, missing));
    }
    stats
}

/// The depth and what a PROPFIND asks (RFC 4918 9.1: no body is
/// allprop; Depth infinity is refused with `propfind-finite-depth`).
pub fn asked(request: &Request) -> Result<(Depth, Ask), Response> {
    let depth = request.depth(Depth::Infinity)?;
    if depth == Depth::Infinity {
        return Err(precondition(
            403,
            DAV,
            "propfind-finite-depth",
            "PROPFIND takes Depth 0 or 1 here",
        ));
    }
    let ask = match request.xml()? {
        None => Ask::AllProp(Vec::new()),
        Some(body) if body.is(DAV, "propfind") => {
            Ask::within(&body).ok_or_else(|| Response::text(400, "a propfind holds prop, allprop or propname"))?
        }
        Some(_) => return Err(Response::text(400, "the body of a PROPFIND is a DAV:propfind")),
    };
    Ok((depth, ask))
}

pub async fn propfind(dav: &Dav<'_>, request: &Request, target: &Target) -> Answer {
    let (depth, ask) = asked(request)?;
    let owner = Owner {
        address: &dav.account.address,
    };
    let me = dav.account.address.clone();
    let members = depth == Depth::One;
    let mut body = Multistatus::new();
    let mut add = |href: String, resource: Resource, dead_props: &[Element]| {
        body.response(&href, &propstats(&owner, &resource, dead_props, &ask, request.minimal));
    };
    match target {
        Target::Files(account, segments) => return crate::files::handle(dav, request, account, segments).await,
        Target::Root => {
            add(Target::Root.href(), Resource::Root, &[]);
            if members {
                add(Target::Principals.href(), Resource::Principals, &[]);
            }
        }
        Target::Principals => {
            add(Target::Principals.href(), Resource::Principals, &[]);
            if members {
                add(Target::Principal(me).href(), Resource::Principal, &[]);
            }
        }
        Target::Principal(_) => add(Target::Principal(me).href(), Resource::Principal, &[]),
        Target::Home(kind, _) => {
            let collections = dav.collections(*kind).await?;
            add(Target::Home(*kind, me).href(), Resource::Home(*kind), &[]);
            if members {
                for collection in &collections {
                    add(
                        dav.collection_href(collection),
                        Resource::Collection(collection),
                        &dead(collection),
                    );
                }
            }
        }
        Target::Collection(kind, _, name) => {
            let collection = dav.existing_collection(*kind, name).await?;
            add(
                dav.collection_href(&collection),
                Resource::Collection(&collection),
                &dead(&collection),
            );
            if members {
                let objects = dav.store.dav_objects(collection.id).await.map_err(store_failure)?;
                for object in &objects {
                    add(
                        dav.object_href(&collection, &object.name),
                        Resource::Object(*kind, object),
                        &[],
                    );
                }
            }
        }
        Target::Object(kind, _, collection, name) => {
            let collection = dav.existing_collection(*kind, collection).await?;
            let object = dav
                .object(&collection, name)
                .await?
                .ok_or_else(|| Response::text(404, "no such resource"))?;
            add(
                dav.object_href(&collection, &object.name),
                Resource::Object(*kind, &object),
                &[],
            );
        }
    }
    Ok(body.finish(None))
}
