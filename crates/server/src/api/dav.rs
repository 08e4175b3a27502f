//! CalDAV and CardDAV on the HTTP listener: every method under `/dav`
//! goes to `estafeta_dav`, as the logged-in account (see [`super::auth`]);
//! `/.well-known/caldav` and `/.well-known/carddav` point clients there
//! (RFC 6764 5).

use super::jmap::account;
use crate::Shared;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use estafeta_dav::{Dav, Request};
use std::net::SocketAddr;
use std::sync::Arc;

/// The largest file of the file space, and a little more, so an oversized
/// PUT hears the DAV layer's answer rather than a bare 413; a calendar
/// resource has its own, smaller cap (`max-resource-size`).
pub const MAX_BODY: usize = estafeta_dav::files::MAX_FILE + 64 * 1024;

/// RFC 6764 5: the well-known name redirects to the context path, where
/// a PROPFIND finds the caller's principal.
pub async fn well_known() -> Response {
    (
        StatusCode::MOVED_PERMANENTLY,
        [(header::LOCATION, format!("{}/", estafeta_dav::path::MOUNT))],
    )
        .into_response()
}

fn text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

pub async fn serve(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = Request {
        method: method.as_str().to_owned(),
        path: uri.path().to_owned(),
        depth: text(&headers, "depth"),
        if_match: text(&headers, "if-match"),
        if_none_match: text(&headers, "if-none-match"),
        content_type: text(&headers, "content-type"),
        destination: text(&headers, "destination"),
        overwrite: text(&headers, "overwrite"),
        minimal: text(&headers, "prefer").is_some_and(|prefer| prefer.contains("return=minimal"))
            || text(&headers, "brief").is_some_and(|brief| brief.trim().eq_ignore_ascii_case("t")),
        body: body.to_vec(),
    };
    // Clients ask what the server offers before they log in (RFC 4918 10.1).
    let answer = if method == Method::OPTIONS {
        estafeta_dav::options()
    } else {
        let account = match account(&shared, peer, &headers).await {
            Ok(account) => account,
            Err(refusal) => return refusal,
        };
        let dav = Dav {
            store: shared.store.as_ref(),
            account: &account,
        };
        estafeta_dav::handle(&dav, &request).await
    };
    let mut response = Response::new(Body::from(answer.body));
    *response.status_mut() = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in answer.headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().append(HeaderName::from_static(name), value);
        }
    }
    response
}
