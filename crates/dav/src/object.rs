//! Calendar and address resources themselves: GET and HEAD, PUT (RFC
//! 4791 5.3.2, RFC 6352 6.3.2) with the conditional headers of RFC 9110
//! 13.1, DELETE (RFC 4918 9.6), COPY and MOVE (RFC 4918 9.8, 9.9) between
//! the caller's collections of one kind.

use crate::context::{Answer, Dav, Request, forbidden, precondition, store_failure};
use crate::path::Target;
use crate::props::{MAX_RESOURCE, components, content_type};
use crate::resource::{calendar_resource, card_resource};
use crate::response::Response;
use crate::xml::{CALDAV, CARDDAV};
use estafeta_store::dav::{DavCollection, DavDelete, DavKind, DavObject, DavPrecondition, DavPut};

pub async fn get(dav: &Dav<'_>, request: &Request, target: &Target) -> Answer {
    let Target::Object(kind, _, collection, name) = target else {
        return Ok(match target {
            Target::Root => Response::text(
                200,
                "Estafeta CalDAV and CardDAV. Point a client at this server with your mail address and password; \
                 it finds your calendars and address books from here.\n",
            ),
            _ => Response::text(405, "a collection is read with PROPFIND or REPORT").with_header(
                "allow",
                "OPTIONS, PROPFIND, PROPPATCH, REPORT, DELETE, MKCOL, MKCALENDAR",
            ),
        });
    };
    let collection = dav.existing_collection(*kind, collection).await?;
    let object = dav
        .object(&collection, name)
        .await?
        .ok_or_else(|| Response::text(404, "no such resource"))?;
    if let Some(tags) = &request.if_none_match
        && tag_listed(tags, &object.etag)
    {
        return Ok(Response::empty(304).with_header("etag", object.etag));
    }
    Ok(Response {
        status: 200,
        headers: vec![("content-type", content_type(*kind).into()), ("etag", object.etag)],
        body: object.content.into_bytes(),
    })
}

/// Whether an `If-Match` / `If-None-Match` list names this tag (or `*`).
/// RFC 9110 13.1.1: weak tags never match for a write, so `W/` is kept
/// and never equals a stored strong tag.
fn tag_listed(header: &str, etag: &str) -> bool {
    header.split(',').map(str::trim).any(|tag| tag == "*" || tag == etag)
}

/// What the data must be to live in this collection; its UID.
fn check_data(
    collection: &DavCollection,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<(String, String), Response> {
    let calendar = collection.kind == DavKind::Calendar;
    let (ns, supported) = match collection.kind {
        DavKind::Calendar => (CALDAV, "supported-calendar-data"),
        DavKind::AddressBook => (CARDDAV, "supported-address-data"),
    };
    if let Some(media) = content_type {
        let media = media.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        let fits = match collection.kind {
            DavKind::Calendar => media == "text/calendar",
            DavKind::AddressBook => matches!(media.as_str(), "text/vcard" | "text/x-vcard" | "text/directory"),
        };
        if !fits {
            return Err(precondition(
                415,
                ns,
                supported,
                &format!("{media} is not what this collection holds"),
            ));
        }
    }
    if body.len() > MAX_RESOURCE {
        return Err(precondition(
            403,
            ns,
            "max-resource-size",
            &format!("a resource holds at most {MAX_RESOURCE} bytes"),
        ));
    }
    let text = std::str::from_utf8(body).map_err(|_| {
        precondition(
            403,
            ns,
            if calendar {
                "valid-calendar-data"
            } else {
                "valid-address-data"
            },
            "the data is not UTF-8",
        )
    })?;
    let uid = if calendar {
        let resource = calendar_resource(text)
            .map_err(|error| precondition(403, CALDAV, error.precondition(true), &error.to_string()))?;
        let allowed = components(collection);
        if !allowed.contains(&resource.component.name()) {
            return Err(precondition(
                403,
                CALDAV,
                "supported-calendar-component",
                &format!("this calendar holds {}", allowed.join(", ")),
            ));
        }
        resource.uid
    } else {
        card_resource(text)
            .map_err(|error| precondition(403, CARDDAV, error.precondition(false), &error.to_string()))?
            .uid
    };
    Ok((uid, text.to_owned()))
}

fn uid_conflict(dav: &Dav<'_>, collection: &DavCollection, holder: &str) -> Response {
    let ns = match collection.kind {
        DavKind::Calendar => CALDAV,
        DavKind::AddressBook => CARDDAV,
    };
    let href = dav.object_href(collection, holder);
    let mut response = precondition(409, ns, "no-uid-conflict", &format!("{href} has this UID"));
    // RFC 4791 5.3.2.1: the element names the resource that holds the UID.
    let body = String::from_utf8_lossy(&response.body).replace(
        "<C:no-uid-conflict/>",
        &format!(
            "<C:no-uid-conflict><D:href>{}</D:href></C:no-uid-conflict>",
            crate::xml::escape(&href)
        ),
    );
    let body = body.replace(
        "<CR:no-uid-conflict/>",
        &format!(
            "<CR:no-uid-conflict><D:href>{}</D:href></CR:no-uid-conflict>",
            crate::xml::escape(&href)
        ),
    );
    response.body = body.into_bytes();
    response
}

/// Writes `content` under `name`, as PUT, COPY and MOVE do.
async fn write(
    dav: &Dav<'_>,
    collection: &DavCollection,
    name: &str,
    uid: &str,
    content: &str,
    condition: &DavPrecondition,
    existing: Option<&DavObject>,
) -> Answer {
    // RFC 4791 5.3.2.1: a resource keeps its UID; another UID is another
    // resource.
    if let Some(existing) = existing
        && existing.uid != uid
    {
        return Err(uid_conflict(dav, collection, name));
    }
    match dav
        .store
        .dav_put(collection.id, name, uid, content, condition)
        .await
        .map_err(store_failure)?
    {
        DavPut::Written { etag, created } => {
            Ok(Response::empty(if created { 201 } else { 204 }).with_header("etag", etag))
        }
        DavPut::PreconditionFailed => Err(Response::text(
            412,
            "the resource is not as If-Match or If-None-Match said",
        )),
        DavPut::UidConflict(holder) => Err(uid_conflict(dav, collection, &holder)),
    }
}

/// The precondition a write's headers ask for, checked against what is
/// there now.
fn condition(request: &Request, existing: Option<&DavObject>) -> Result<DavPrecondition, Response> {
    let failed = || Response::text(412, "the resource is not as If-Match or If-None-Match said");
    if let Some(tags) = &request.if_none_match {
        if existing.is_some_and(|object| tag_listed(tags, &object.etag)) {
            return Err(failed());
        }
        if tags.trim() == "*" {
            return Ok(DavPrecondition::IfNoneMatch);
        }
    }
    if let Some(tags) = &request.if_match {
        return match existing {
            Some(object) if tag_listed(tags, &object.etag) => Ok(DavPrecondition::IfMatch(object.etag.clone())),
            _ => Err(failed()),
        };
    }
    Ok(DavPrecondition::None)
}

pub async fn put(dav: &Dav<'_>, request: &Request, target: &Target) -> Answer {
    let Target::Object(kind, _, collection, name) = target else {
        return Err(Response::text(
            405,
            "PUT writes a resource inside a calendar or an address book",
        ));
    };
    // RFC 4918 9.7.1: a resource whose collection is missing is a conflict.
    let collection = dav
        .collection(*kind, collection)
        .await?
        .ok_or_else(|| Response::text(409, "the collection does not exist; make it first"))?;
    let (uid, content) = check_data(&collection, request.content_type.as_deref(), &request.body)?;
    let existing = dav.object(&collection, name).await?;
    let condition = condition(request, existing.as_ref())?;
    write(dav, &collection, name, &uid, &content, &condition, existing.as_ref()).await
}

pub async fn delete(dav: &Dav<'_>, request: &Request, target: &Target) -> Answer {
    match target {
        Target::Object(kind, _, collection, name) => {
            let collection = dav.existing_collection(*kind, collection).await?;
            // If-Match may list tags or say `*`; the store compares one.
            let if_match = match &request.if_match {
                None => None,
                Some(tags) => match dav.object(&collection, name).await? {
                    Some(object) if tag_listed(tags, &object.etag) => Some(object.etag),
                    Some(_) => return Err(Response::text(412, "the resource is not as If-Match said")),
                    None => return Err(Response::text(404, "no such resource")),
                },
            };
            match dav
                .store
                .dav_delete(collection.id, name, if_match.as_deref())
                .await
                .map_err(store_failure)?
            {
                DavDelete::Removed => Ok(Response::empty(204)),
                DavDelete::NotFound => Err(Response::text(404, "no such resource")),
                DavDelete::PreconditionFailed => Err(Response::text(412, "the resource is not as If-Match said")),
            }
        }
        Target::Collection(kind, _, name) => {
            let collection = dav.existing_collection(*kind, name).await?;
            dav.store
                .dav_collection_delete(collection.id)
                .await
                .map_err(store_failure)?;
            Ok(Response::empty(204))
        }
        _ => Err(forbidden("the principal and homes stay")),
    }
}

pub async fn copy_or_move(dav: &Dav<'_>, request: &Request, target: &Target) -> Answer {
    let moving = request.method == "MOVE";
    let Target::Object(kind, _, source_collection, source_name) = target else {
        return Err(forbidden("COPY and MOVE take calendar and address resources"));
    };
    let destination = request
        .destination
        .as_deref()
        .ok_or_else(|| Response::text(400, "a Destination header is required"))?;
    let Some(Target::Object(to_kind, to_account, to_collection, to_name)) = Target::parse(destination) else {
        return Err(forbidden(
            "the destination is not a resource in a calendar or an address book here",
        ));
    };
    if to_kind != *kind || !to_account.eq_ignore_ascii_case(&dav.account.address) {
        return Err(forbidden(
            "resources move between the caller's own collections of one kind",
        ));
    }
    let overwrite = !request
        .overwrite
        .as_deref()
        .is_some_and(|value| value.trim().eq_ignore_ascii_case("F"));
    let from = dav.existing_collection(*kind, source_collection).await?;
    let object = dav
        .object(&from, source_name)
        .await?
        .ok_or_else(|| Response::text(404, "no such resource"))?;
    if let Some(tags) = &request.if_match
        && !tag_listed(tags, &object.etag)
    {
        return Err(Response::text(412, "the resource is not as If-Match said"));
    }
    let to = dav
        .collection(*kind, &to_collection)
        .await?
        .ok_or_else(|| Response::text(409, "the destination collection does not exist"))?;
    if from.id == to.id && *source_name == to_name {
        return Err(forbidden("the source and the destination are the same"));
    }
    let (uid, content) = check_data(&to, None, object.content.as_bytes())?;
    let existing = dav.object(&to, &to_name).await?;
    if existing.is_some() && !overwrite {
        return Err(Response::text(412, "the destination exists and Overwrite is F"));
    }
    let condition = match &existing {
        Some(object) => DavPrecondition::IfMatch(object.etag.clone()),
        None => DavPrecondition::IfNoneMatch,
    };
    // A rename within one collection keeps the UID, so the old name goes
    // first; it comes back if the write fails.
    let renaming = moving && from.id == to.id;
    if renaming {
        dav.store
            .dav_delete(from.id, &object.name, Some(&object.etag))
            .await
            .map_err(store_failure)?;
    }
    let written = write(dav, &to, &to_name, &uid, &content, &condition, existing.as_ref()).await;
    match (&written, renaming) {
        (Err(_), true) => {
            let _ = dav
                .store
                .dav_put(
                    from.id,
                    &object.name,
                    &object.uid,
                    &object.content,
                    &DavPrecondition::IfNoneMatch,
                )
                .await;
        }
        (Ok(_), false) if moving => {
            dav.store
                .dav_delete(from.id, &object.name, Some(&object.etag))
                .await
                .map_err(store_failure)?;
        }
        _ => {}
    }
    written
}
