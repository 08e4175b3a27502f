//! Who is calling the API: HTTP Basic (RFC 7617) with an account's own
//! password, checked like any login (the shared limiter, Argon2 on its
//! own threads). Passwords travel only where nobody can read them: from
//! this host (a TLS proxy in front, or the operator), or anywhere when
//! `auth.allow_plaintext` says so.

use crate::Shared;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use estafeta_core::auth::Credentials;
use estafeta_core::auth::sasl::decode_basic;
use estafeta_store::login::{LoginError, check_locks, login};
use std::net::SocketAddr;

/// The account the request acts for.
pub struct Caller {
    pub account: String,
}

pub fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(serde_json::json!({ "error": message.into() }))).into_response()
}

fn challenge(message: &str) -> Response {
    let mut response = error(StatusCode::UNAUTHORIZED, message);
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"estafeta\", charset=\"UTF-8\""),
    );
    response
}

fn basic(headers: &HeaderMap) -> Option<Credentials> {
    decode_basic(headers.get(header::AUTHORIZATION)?.to_str().ok()?).ok()
}

pub async fn caller(shared: &Shared, peer: SocketAddr, headers: &HeaderMap) -> Result<Caller, Response> {
    if !peer.ip().is_loopback() && !shared.config.auth.allow_plaintext {
        return Err(error(
            StatusCode::FORBIDDEN,
            "the API takes passwords only from this host (put a TLS proxy in front) or with auth.allow_plaintext",
        ));
    }
    let Some(credentials) = basic(headers) else {
        return Err(challenge("log in with HTTP Basic: your account and password"));
    };
    // A remembered password is still subject to a lockout, as a checked one is.
    if let Some((address, checked_against)) = shared.verified.remembered(&credentials)
        && check_locks(shared.store.as_ref(), &shared.logins, peer.ip(), &credentials)
            .await
            .is_ok()
        && let Ok(Some(account)) = shared.store.account_get(&address).await
        && account.password_hash == checked_against
    {
        return Ok(Caller { account: address });
    }
    match login(shared.store.as_ref(), &shared.logins, peer.ip(), &credentials).await {
        Ok(account) => {
            shared.verified.remember(&credentials, &account);
            Ok(Caller {
                account: account.address,
            })
        }
        Err(LoginError::Invalid) => {
            shared.metrics.auth_failure("http");
            Err(challenge("wrong account or password"))
        }
        Err(LoginError::Locked { retry_after }) => {
            let mut response = error(StatusCode::TOO_MANY_REQUESTS, "too many failed logins; try again later");
            if let Ok(seconds) = HeaderValue::from_str(&retry_after.as_secs().max(1).to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, seconds);
            }
            Err(response)
        }
        Err(LoginError::Unavailable(why)) => Err(error(StatusCode::SERVICE_UNAVAILABLE, why)),
    }
}
