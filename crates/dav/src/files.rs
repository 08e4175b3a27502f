//! The account's plain WebDAV space (`/dav/files/{account}/`, RFC 4918):
//! collections nested in collections and files of any type, each with
//! properties of the client's own. A desktop mounts it as a network
//! folder; a DAV test suite finds here a class 1 server.

use crate::context::{Answer, Dav, Depth, Request, forbidden, precondition, store_failure};
use crate::path::Target;
use crate::propfind::Ask;
use crate::props::Owner;
use crate::response::{Multistatus, Response, Value};
use crate::xml::{DAV, Element, Name, parse_many};
use estafeta_store::StoreError;
use estafeta_store::dav::{DavFile, DavPrecondition, DavPut};

/// The largest file a PUT stores.
pub const MAX_FILE: usize = 16 << 20;

/// The properties the server keeps itself: a client cannot set them.
const LIVE: &[&str] = &[
    "resourcetype",
    "getetag",
    "getcontenttype",
    "getcontentlength",
    "getlastmodified",
    "creationdate",
    "lockdiscovery",
    "supportedlock",
    "current-user-principal",
    "current-user-privilege-set",
    "owner",
];

/// What a request names in the space.
struct Place<'a> {
    account: &'a str,
    segments: &'a [String],
}

impl Place<'_> {
    fn path(&self) -> String {
        self.segments.join("/")
    }

    fn is_root(&self) -> bool {
        self.segments.is_empty()
    }
}

fn href(account: &str, path: &str, collection: bool) -> String {
    let segments = if path.is_empty() {
        Vec::new()
    } else {
        path.split('/').map(str::to_owned).collect()
    };
    let mut href = Target::Files(account.to_owned(), segments).href();
    if collection && !href.ends_with('/') {
        href.push('/');
    }
    href
}

fn http_date(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0)
        .map(|time| time.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
        .unwrap_or_default()
}

fn live(owner: &Owner, file: Option<&DavFile>, name: &Name) -> Option<Value> {
    if name.ns != DAV {
        return None;
    }
    let collection = file.is_none_or(|file| file.collection);
    let text = |value: String| Some(Value::Text(value));
    match name.local.as_str() {
        "resourcetype" => Some(if collection {
            Value::Markup("<D:collection/>".into())
        } else {
            Value::Empty
        }),
        "current-user-principal" | "owner" => Some(Value::Hrefs(vec![owner.principal()])),
        "current-user-privilege-set" => Some(Value::Markup(
            [
                "all",
                "read",
                "write",
                "write-properties",
                "write-content",
                "bind",
                "unbind",
            ]
            .iter()
            .map(|p| format!("<D:privilege><D:{p}/></D:privilege>"))
            .collect(),
        )),
        "getetag" => file.filter(|f| !f.collection).and_then(|f| text(f.etag.clone())),
        "getcontenttype" => file
            .filter(|f| !f.collection)
            .and_then(|f| text(f.content_type.clone())),
        "getcontentlength" => file.filter(|f| !f.collection).and_then(|f| text(f.length.to_string())),
        "getlastmodified" => file.and_then(|f| text(http_date(f.modified_at))),
        _ => None,
    }
}

fn propstats(owner: &Owner, file: Option<&DavFile>, ask: &Ask, minimal: bool) -> Vec<(u16, Vec<(Name, Value)>)> {
    let dead = file.map(|f| parse_many(&f.dead)).unwrap_or_default();
    let all_live: Vec<Name> = LIVE
        .iter()
        .map(|local| Name::new(DAV, local))
        .filter(|name| live(owner, file, name).is_some())
        .collect();
    let value = |name: &Name| {
        dead.iter()
            .find(|element| element.name == *name)
            .map(|element| Value::Element(element.to_xml()))
            .or_else(|| live(owner, file, name))
    };
    let (mut found, mut missing) = (Vec::new(), Vec::new());
    let names: Vec<Name> = match ask {
        Ask::Props(names) => names.clone(),
        Ask::AllProp(include) => {
            let mut names: Vec<Name> = all_live
                .iter()
                .filter(|name| !matches!(name.local.as_str(), "current-user-privilege-set"))
                .cloned()
                .collect();
            names.extend(dead.iter().map(|element| element.name.clone()));
            names.extend(include.iter().filter(|name| value(name).is_some()).cloned());
            names.dedup();
            names
        }
        Ask::PropName => {
            let mut names = all_live.clone();
            names.extend(dead.iter().map(|element| element.name.clone()));
            return vec![(200, names.into_iter().map(|name| (name, Value::Empty)).collect())];
        }
    };
    for name in names {
        match value(&name) {
            Some(v) => found.push((name, v)),
            None => missing.push((name, Value::Empty)),
        }
    }
    let mut stats = vec![(200, found)];
    if !minimal {
        stats.push((404, missing));
    }
    stats
}

pub async fn handle(dav: &Dav<'_>, request: &Request, account: &str, segments: &[String]) -> Answer {
    let place = Place { account, segments };
    match request.method.as_str() {
        "PROPFIND" => propfind(dav, request, &place).await,
        "PROPPATCH" => proppatch(dav, request, &place).await,
        "MKCOL" => mkcol(dav, request, &place).await,
        "GET" | "HEAD" => get(dav, &place).await,
        "PUT" => put(dav, request, &place).await,
        "DELETE" => delete(dav, request, &place).await,
        "COPY" | "MOVE" => copy_or_move(dav, request, &place).await,
        "REPORT" => Err(precondition(
            403,
            DAV,
            "supported-report",
            "the file space runs no report",
        )),
        "MKCALENDAR" => Err(Response::text(403, "calendars live in the calendar home")),
        _ => Err(Response::text(405, "this method is not one of DAV's here").with_header("allow", crate::ALLOW)),
    }
}

async fn lookup(dav: &Dav<'_>, place: &Place<'_>) -> Result<Option<DavFile>, Response> {
    if place.is_root() {
        return Ok(None);
    }
    dav.store
        .dav_file(dav.account.id, &place.path())
        .await
        .map_err(store_failure)
}

async fn existing(dav: &Dav<'_>, place: &Place<'_>) -> Result<DavFile, Response> {
    lookup(dav, place)
        .await?
        .ok_or_else(|| Response::text(404, "nothing here"))
}

async fn propfind(dav: &Dav<'_>, request: &Request, place: &Place<'_>) -> Answer {
    let (depth, ask) = crate::propfind::asked(request)?;
    let owner = Owner {
        address: &dav.account.address,
    };
    let file = if place.is_root() {
        None
    } else {
        Some(existing(dav, place).await?)
    };
    let collection = file.as_ref().is_none_or(|f| f.collection);
    let path = place.path();
    let mut out = Multistatus::new();
    out.response(
        &href(place.account, &path, collection),
        &propstats(&owner, file.as_ref(), &ask, request.minimal),
    );
    if depth == Depth::One && collection {
        let depth_of = |p: &str| if p.is_empty() { 0 } else { p.split('/').count() };
        let children = dav
            .store
            .dav_file_tree(dav.account.id, &path)
            .await
            .map_err(store_failure)?;
        for child in children.iter().filter(|c| depth_of(&c.path) == depth_of(&path) + 1) {
            out.response(
                &href(place.account, &child.path, child.collection),
                &propstats(&owner, Some(child), &ask, request.minimal),
            );
        }
    }
    Ok(out.finish(None))
}

async fn proppatch(dav: &Dav<'_>, request: &Request, place: &Place<'_>) -> Answer {
    if place.is_root() {
        return Err(forbidden("the space itself keeps no properties"));
    }
    let file = existing(dav, place).await?;
    let mut dead = parse_many(&file.dead);
    let results = crate::proppatch::update(request, |element, set| {
        if element.name.ns == DAV && LIVE.contains(&element.name.local.as_str()) {
            return Err(403);
        }
        dead.retain(|have| have.name != element.name);
        if set {
            dead.push(element.clone());
        }
        Ok(())
    })?;
    if results.iter().all(|(_, status)| *status == 200) {
        let stored: String = dead.iter().map(Element::to_xml).collect();
        dav.store
            .dav_file_set_dead(dav.account.id, &file.path, &stored)
            .await
            .map_err(store_failure)?;
    }
    Ok(crate::proppatch::answer(
        &href(place.account, &file.path, file.collection),
        &results,
    ))
}

fn parent_missing(error: StoreError) -> Response {
    match error {
        StoreError::NotFound(_) => Response::text(409, "the parent collection does not exist"),
        StoreError::Invalid(why) => Response::text(405, why),
        other => store_failure(other),
    }
}

async fn mkcol(dav: &Dav<'_>, request: &Request, place: &Place<'_>) -> Answer {
    // RFC 4918 9.3: a body this server does not understand is 415.
    if !request.body.is_empty() {
        return Err(Response::text(415, "MKCOL here takes no body"));
    }
    if place.is_root() || lookup(dav, place).await?.is_some() {
        return Err(Response::text(405, "something is there already").with_header("allow", crate::ALLOW));
    }
    match dav
        .store
        .dav_file_write(
            dav.account.id,
            &place.path(),
            true,
            b"",
            "",
            &DavPrecondition::IfNoneMatch,
        )
        .await
    {
        Ok(DavPut::Written { .. }) => Ok(Response::empty(201)),
        Ok(_) => Err(Response::text(405, "something is there already")),
        Err(error) => Err(parent_missing(error)),
    }
}

async fn get(dav: &Dav<'_>, place: &Place<'_>) -> Answer {
    let file = if place.is_root() {
        None
    } else {
        Some(existing(dav, place).await?)
    };
    match file {
        Some(file) if !file.collection => Ok(Response {
            status: 200,
            headers: vec![
                ("content-type", file.content_type),
                ("etag", file.etag),
                ("last-modified", http_date(file.modified_at)),
            ],
            body: file.content,
        }),
        // A collection reads as the list of what it holds.
        _ => {
            let path = place.path();
            let depth = if path.is_empty() { 0 } else { path.split('/').count() };
            let tree = dav
                .store
                .dav_file_tree(dav.account.id, &path)
                .await
                .map_err(store_failure)?;
            let names: Vec<String> = tree
                .iter()
                .filter(|child| child.path.split('/').count() == depth + 1)
                .map(|child| {
                    let name = child.path.rsplit('/').next().unwrap_or_default();
                    if child.collection {
                        format!("{name}/\n")
                    } else {
                        format!("{name}\n")
                    }
                })
                .collect();
            Ok(Response::text(200, names.concat()))
        }
    }
}

fn write_condition(request: &Request, existing: Option<&DavFile>) -> Result<DavPrecondition, Response> {
    let failed = || Response::text(412, "the resource is not as If-Match or If-None-Match said");
    let listed = |header: &str, etag: &str| header.split(',').map(str::trim).any(|t| t == "*" || t == etag);
    if let Some(tags) = &request.if_none_match {
        if existing.is_some_and(|f| listed(tags, &f.etag)) {
            return Err(failed());
        }
        if tags.trim() == "*" {
            return Ok(DavPrecondition::IfNoneMatch);
        }
    }
    if let Some(tags) = &request.if_match {
        return match existing {
            Some(file) if listed(tags, &file.etag) => Ok(DavPrecondition::IfMatch(file.etag.clone())),
            _ => Err(failed()),
        };
    }
    Ok(DavPrecondition::None)
}

async fn put(dav: &Dav<'_>, request: &Request, place: &Place<'_>) -> Answer {
    if place.is_root() {
        return Err(Response::text(405, "the space itself is a collection"));
    }
    if request.body.len() > MAX_FILE {
        return Err(Response::text(413, format!("a file holds at most {MAX_FILE} bytes")));
    }
    let found = lookup(dav, place).await?;
    if found.as_ref().is_some_and(|f| f.collection) {
        return Err(Response::text(405, "a collection is there"));
    }
    let condition = write_condition(request, found.as_ref())?;
    let content_type = request
        .content_type
        .clone()
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "application/octet-stream".into());
    match dav
        .store
        .dav_file_write(
            dav.account.id,
            &place.path(),
            false,
            &request.body,
            &content_type,
            &condition,
        )
        .await
    {
        Ok(DavPut::Written { etag, created }) => {
            Ok(Response::empty(if created { 201 } else { 204 }).with_header("etag", etag))
        }
        Ok(_) => Err(Response::text(
            412,
            "the resource is not as If-Match or If-None-Match said",
        )),
        Err(error) => Err(parent_missing(error)),
    }
}

async fn delete(dav: &Dav<'_>, request: &Request, place: &Place<'_>) -> Answer {
    if place.is_root() {
        return Err(forbidden("the space itself stays"));
    }
    let file = existing(dav, place).await?;
    if request.if_match.is_some() {
        write_condition(request, Some(&file))?;
    }
    dav.store
        .dav_file_delete(dav.account.id, &file.path)
        .await
        .map_err(store_failure)?;
    Ok(Response::empty(204))
}

async fn copy_or_move(dav: &Dav<'_>, request: &Request, place: &Place<'_>) -> Answer {
    let moving = request.method == "MOVE";
    if place.is_root() {
        return Err(forbidden("the space itself stays where it is"));
    }
    let source = existing(dav, place).await?;
    let destination = request
        .destination
        .as_deref()
        .ok_or_else(|| Response::text(400, "a Destination header is required"))?;
    let Some(Target::Files(to_account, to_segments)) = Target::parse(destination) else {
        return Err(forbidden("the destination is not in the file space"));
    };
    if !to_account.eq_ignore_ascii_case(&dav.account.address) {
        return Err(forbidden("files move within the caller's own space"));
    }
    if to_segments.is_empty() {
        return Err(forbidden("the space itself cannot be replaced"));
    }
    let to = to_segments.join("/");
    if to == source.path || to.starts_with(&format!("{}/", source.path)) {
        return Err(forbidden("the source and the destination overlap"));
    }
    // RFC 4918 9.8.3, 9.9.2: COPY of a collection takes Depth 0 or
    // infinity; MOVE always moves the whole subtree.
    let recursive = match request.depth(Depth::Infinity)? {
        Depth::Infinity => true,
        Depth::Zero if !moving => false,
        _ => return Err(Response::text(400, "COPY takes Depth 0 or infinity, MOVE infinity")),
    };
    let overwrite = !request
        .overwrite
        .as_deref()
        .is_some_and(|value| value.trim().eq_ignore_ascii_case("F"));
    let there = dav.store.dav_file(dav.account.id, &to).await.map_err(store_failure)?;
    if there.is_some() && !overwrite {
        return Err(Response::text(412, "the destination exists and Overwrite is F"));
    }
    let replaced = dav
        .store
        .dav_file_copy(dav.account.id, &source.path, &to, recursive, moving)
        .await
        .map_err(parent_missing)?;
    Ok(Response::empty(if replaced { 204 } else { 201 }))
}
