//! JMAP on the HTTP listener (RFC 8620 2 and 3): the session resource at
//! `/.well-known/jmap` and the API at `/jmap/api/`, for an account logged
//! in as for the rest of the API (see [`super::auth`]).

use super::auth::{caller, error};
use crate::Shared;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use estafeta_jmap::{Context, LIMITS};
use estafeta_store::Account;
use std::net::SocketAddr;
use std::sync::Arc;

async fn account(shared: &Shared, peer: SocketAddr, headers: &HeaderMap) -> Result<Account, Response> {
    let caller = caller(shared, peer, headers).await?;
    match shared.store.account_get(&caller.account).await {
        Ok(Some(account)) => Ok(account),
        Ok(None) => Err(error(StatusCode::UNAUTHORIZED, "the account is gone")),
        Err(why) => Err(error(StatusCode::SERVICE_UNAVAILABLE, why.to_string())),
    }
}

/// Where the client reached us: the Host it asked for, over https when a
/// TLS proxy on this host says so.
fn base_url(peer: SocketAddr, headers: &HeaderMap) -> String {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let scheme = match header("x-forwarded-proto") {
        Some("https") if peer.ip().is_loopback() => "https",
        _ => "http",
    };
    let host = header("host").filter(|h| !h.is_empty() && !h.contains(['/', ' ']));
    format!("{scheme}://{}", host.unwrap_or("localhost"))
}

fn json(status: StatusCode, body: &serde_json::Value, content_type: &'static str) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// `GET /.well-known/jmap` (RFC 8620 2.2) and `GET /jmap/session`.
pub async fn session(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let account = match account(&shared, peer, &headers).await {
        Ok(account) => account,
        Err(refusal) => return refusal,
    };
    let session = estafeta_jmap::session(&account, &base_url(peer, &headers));
    let mut response = json(StatusCode::OK, &session, "application/json");
    // RFC 8620 2: the session changes with the account; clients refetch it
    // when a response's sessionState differs.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache, no-store"));
    response
}

/// `POST /jmap/api/` (RFC 8620 3.1).
pub async fn api(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let account = match account(&shared, peer, &headers).await {
        Ok(account) => account,
        Err(refusal) => return refusal,
    };
    let context = Context {
        store: shared.store.as_ref(),
        account: &account,
    };
    match estafeta_jmap::api(&context, &body).await {
        Ok(response) => json(StatusCode::OK, &response, "application/json"),
        Err(problem) => json(StatusCode::BAD_REQUEST, &problem.problem(), "application/problem+json"),
    }
}

/// Uploads, downloads and push are named by the session (RFC 8620 2) but
/// not served yet: a clear answer instead of a 404.
pub async fn not_yet() -> Response {
    error(
        StatusCode::NOT_IMPLEMENTED,
        "JMAP uploads, downloads and push are not served yet",
    )
}

/// The largest API request body accepted; the session says the same.
pub const MAX_REQUEST: usize = LIMITS.max_size_request;
