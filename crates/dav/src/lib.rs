//! CalDAV (RFC 4791) and CardDAV (RFC 6352) over WebDAV (RFC 4918) for
//! Estafeta, on the store's calendars and address books. The HTTP
//! listener logs the caller in and hands each request under the mount
//! ([`path::MOUNT`]) to [`handle`], which answers it whole: the listener
//! only copies the answer out.
//!
//! One module per method group: `propfind`, `proppatch`, `mkcol`,
//! `object` (GET, PUT, DELETE, COPY, MOVE), `report` (the REPORTs), and
//! `resource` for what a PUT may store.

pub mod calendar_filter;
pub mod card_filter;
pub mod context;
pub mod expand;
pub mod files;
pub mod freebusy;
pub mod instances;
pub mod mkcol;
pub mod object;
pub mod path;
pub mod propfind;
pub mod proppatch;
pub mod props;
pub mod report;
pub mod resource;
pub mod response;
pub mod text_match;
pub mod xml;

pub use context::{Dav, Depth, Request};
pub use resource::{CalendarResource, CardResource, Component, ResourceError, calendar_resource, card_resource};
pub use response::Response;

/// The WebDAV classes and extensions this server offers (RFC 4918 10.1,
/// RFC 4791 5.1, RFC 6352 6.1, RFC 5689 3).
pub const DAV_HEADER: &str = "1, 3, calendar-access, addressbook, extended-mkcol";

pub const ALLOW: &str = "OPTIONS, GET, HEAD, PUT, DELETE, COPY, MOVE, PROPFIND, PROPPATCH, MKCOL, MKCALENDAR, REPORT";

/// Answers one DAV request for the logged-in account.
pub async fn handle(dav: &Dav<'_>, request: &Request) -> Response {
    let Some(target) = path::Target::parse(&request.path) else {
        return Response::text(404, "nothing here");
    };
    if let Some(account) = target.account()
        && !account.eq_ignore_ascii_case(&dav.account.address)
    {
        return Response::text(403, "this is another account's space");
    }
    if let path::Target::Files(account, segments) = &target
        && request.method != "OPTIONS"
    {
        return files::handle(dav, request, account, segments)
            .await
            .unwrap_or_else(|failure| failure);
    }
    let answer = match request.method.as_str() {
        "OPTIONS" => Ok(options()),
        "PROPFIND" => propfind::propfind(dav, request, &target).await,
        "PROPPATCH" => proppatch::proppatch(dav, request, &target).await,
        "MKCALENDAR" | "MKCOL" => mkcol::mkcol(dav, request, &target).await,
        "GET" | "HEAD" => object::get(dav, request, &target).await,
        "PUT" => object::put(dav, request, &target).await,
        "DELETE" => object::delete(dav, request, &target).await,
        "COPY" | "MOVE" => object::copy_or_move(dav, request, &target).await,
        "REPORT" => report::report(dav, request, &target).await,
        _ => Ok(Response::text(405, "this method is not one of DAV's here").with_header("allow", ALLOW)),
    };
    // HEAD keeps GET's body: the listener sends its length, not its bytes.
    answer.unwrap_or_else(|failure| failure)
}

/// What OPTIONS answers anywhere under the mount, before any login.
pub fn options() -> Response {
    Response::empty(200)
        .with_header("dav", DAV_HEADER)
        .with_header("allow", ALLOW)
}
