//! JMAP on the HTTP listener (RFC 8620 2 and 3): the session resource at
//! `/.well-known/jmap` and the API at `/jmap/api/`, for an account logged
//! in as for the rest of the API (see [`super::auth`]).

use super::auth::{caller, error};
use crate::Shared;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use estafeta_jmap::submission::{Refusal, Sender};
use estafeta_jmap::{Context, LIMITS};
use estafeta_store::Account;
use std::net::SocketAddr;
use std::sync::Arc;

pub(super) async fn account(shared: &Shared, peer: SocketAddr, headers: &HeaderMap) -> Result<Account, Response> {
    let caller = caller(shared, peer, headers).await?;
    match shared.store.account_get(&caller.account).await {
        Ok(Some(account)) => Ok(account),
        Ok(None) => Err(error(StatusCode::UNAUTHORIZED, "the account is gone")),
        Err(why) => Err(error(StatusCode::SERVICE_UNAVAILABLE, why.to_string())),
    }
}

/// Whether the request came over TLS: a TLS proxy on this host says so.
fn behind_tls(peer: SocketAddr, headers: &HeaderMap) -> bool {
    let proto = headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok());
    proto == Some("https") && peer.ip().is_loopback()
}

/// Mail a JMAP client sends goes the submission port's way (its checks,
/// its records), as the logged-in account.
struct Submit<'a> {
    smtp: &'a Arc<estafeta_smtp::SmtpContext>,
    peer: std::net::IpAddr,
    tls: bool,
}

#[async_trait::async_trait]
impl Sender for Submit<'_> {
    async fn send(
        &self,
        account: &Account,
        mail_from: &str,
        rcpt_to: &[String],
        message: Vec<u8>,
    ) -> Result<String, Refusal> {
        let submission = estafeta_smtp::submit::Submission {
            account: &account.address,
            peer: self.peer,
            tls: self.tls,
            mail_from,
            rcpt_to,
            message,
        };
        let reply = estafeta_smtp::submit::submit(self.smtp, submission).await;
        let text = reply.lines.join(" ");
        if reply.code < 300 {
            Ok(text)
        } else {
            Err(Refusal { code: reply.code, text })
        }
    }
}

/// Where the client reached us: the Host it asked for, over https when a
/// TLS proxy on this host says so.
fn base_url(peer: SocketAddr, headers: &HeaderMap) -> String {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let scheme = if behind_tls(peer, headers) { "https" } else { "http" };
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
    let submit = shared.smtp.get().map(|smtp| Submit {
        smtp,
        peer: peer.ip(),
        tls: behind_tls(peer, &headers),
    });
    let context = Context {
        store: shared.store.as_ref(),
        account: &account,
        uploads: &shared.uploads,
        sender: submit.as_ref().map(|s| s as &dyn Sender),
    };
    match estafeta_jmap::api(&context, &body).await {
        Ok(response) => json(StatusCode::OK, &response, "application/json"),
        Err(problem) => json(StatusCode::BAD_REQUEST, &problem.problem(), "application/problem+json"),
    }
}

/// `POST /jmap/upload/{accountId}/` (RFC 8620 6.1): the body is kept as a
/// blob of the account, typed by its Content-Type.
pub async fn upload(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(account_id): Path<String>,
    body: Bytes,
) -> Response {
    let account = match account(&shared, peer, &headers).await {
        Ok(account) => account,
        Err(refusal) => return refusal,
    };
    if account_id != estafeta_jmap::account_id(&account) {
        return error(StatusCode::NOT_FOUND, "no such account here");
    }
    let media_type = media_type(headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok())).to_owned();
    let size = body.len();
    let blob = shared.uploads.put(account.id, body.to_vec(), &media_type);
    let answer = serde_json::json!({
        "accountId": account_id,
        "blobId": estafeta_jmap::upload::upload_id(&blob),
        "type": media_type,
        "size": size,
    });
    json(StatusCode::CREATED, &answer, "application/json")
}

/// The largest upload taken; the session says the same.
pub const MAX_UPLOAD: usize = LIMITS.max_size_upload;

#[derive(serde::Deserialize)]
pub struct DownloadQuery {
    accept: Option<String>,
}

/// A media type as RFC 6838 4.2 spells one (its parameters dropped), or
/// none.
fn media_type(asked: Option<&str>) -> &str {
    let asked = asked.map(|t| t.split(';').next().unwrap_or_default().trim());
    let restricted = |s: &str| {
        !s.is_empty()
            && s.len() <= 127
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    match asked.and_then(|t| t.split_once('/')) {
        Some((kind, subtype)) if restricted(kind) && restricted(subtype) => asked.unwrap_or_default(),
        _ => "application/octet-stream",
    }
}

/// RFC 8187 3.2.1: the name as `filename*=UTF-8''...`, every byte outside
/// attr-char escaped.
fn disposition(name: &str) -> String {
    let mut encoded = String::with_capacity(name.len());
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    format!("attachment; filename*=UTF-8''{encoded}")
}

/// `GET /jmap/download/{accountId}/{blobId}/{name}?accept={type}` (RFC 8620
/// 6.2): a message or one of its parts, for the account that holds it.
pub async fn download(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path((account_id, blob_id, name)): Path<(String, String, String)>,
    Query(query): Query<DownloadQuery>,
) -> Response {
    let account = match account(&shared, peer, &headers).await {
        Ok(account) => account,
        Err(refusal) => return refusal,
    };
    let not_found = || error(StatusCode::NOT_FOUND, "no such blob in this account");
    if account_id != estafeta_jmap::account_id(&account) {
        return not_found();
    }
    let context = Context {
        store: shared.store.as_ref(),
        account: &account,
        uploads: &shared.uploads,
        sender: None,
    };
    match estafeta_jmap::blob::download(&context, &blob_id).await {
        Ok(Some(bytes)) => {
            let mut response = (StatusCode::OK, bytes).into_response();
            let set = response.headers_mut();
            let content_type = media_type(query.accept.as_deref());
            set.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_str(content_type).expect("checked"),
            );
            if let Ok(value) = HeaderValue::from_str(&disposition(&name)) {
                set.insert(header::CONTENT_DISPOSITION, value);
            }
            // RFC 8620 6.2: a blob never changes, so it may be cached.
            set.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, immutable, max-age=31536000"),
            );
            response
        }
        Ok(None) => not_found(),
        Err(why) => error(StatusCode::SERVICE_UNAVAILABLE, why.to_string()),
    }
}

/// The largest API request body accepted; the session says the same.
pub const MAX_REQUEST: usize = LIMITS.max_size_request;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn download_headers_carry_only_safe_types_and_encoded_names() {
        assert_eq!(media_type(Some("application/pdf")), "application/pdf");
        for bad in [None, Some("pdf"), Some("text/html\r\nX: y"), Some("a/b c"), Some("/x")] {
            assert_eq!(media_type(bad), "application/octet-stream", "{bad:?}");
        }
        assert_eq!(
            disposition("relatório 1.pdf"),
            "attachment; filename*=UTF-8''relat%C3%B3rio%201.pdf"
        );
        assert_eq!(disposition("a\"b;c"), "attachment; filename*=UTF-8''a%22b%3Bc");
    }
}
