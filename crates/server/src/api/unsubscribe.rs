//! One-click unsubscribe (RFC 8058): a mail client POSTs
//! `List-Unsubscribe=One-Click` to the link in the message, and the
//! recipient is suppressed for the sender domain's mail at once. A GET
//! (a person, or a scanner following links) only shows a button: RFC 8058
//! 3.2 keeps GET from unsubscribing anyone.

use crate::Shared;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

fn text(status: StatusCode, body: &'static str) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}

pub async fn page(State(shared): State<Arc<Shared>>, Path(token): Path<String>) -> Response {
    match shared.ledger.unsubscribe_target(&token).await {
        Ok(Some(_)) => (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            "<!doctype html><title>Unsubscribe</title>\
             <form method=post><input type=hidden name=List-Unsubscribe value=One-Click>\
             <p>Stop receiving this mail?</p><button>Unsubscribe</button></form>",
        )
            .into_response(),
        Ok(None) => text(StatusCode::NOT_FOUND, "This link is not valid (or too old).\n"),
        Err(_) => text(StatusCode::SERVICE_UNAVAILABLE, "Try again in a moment.\n"),
    }
}

pub async fn one_click(State(shared): State<Arc<Shared>>, Path(token): Path<String>, body: Bytes) -> Response {
    // RFC 8058 3.2: the body is the form field List-Unsubscribe=One-Click.
    let form = String::from_utf8_lossy(&body);
    let one_click = form
        .split('&')
        .any(|pair| pair.trim().eq_ignore_ascii_case("List-Unsubscribe=One-Click"));
    if !one_click {
        return text(
            StatusCode::BAD_REQUEST,
            "Expected List-Unsubscribe=One-Click (RFC 8058).\n",
        );
    }
    match shared.ledger.unsubscribe(&token).await {
        Ok(Some(_)) => text(StatusCode::OK, "Unsubscribed.\n"),
        Ok(None) => text(StatusCode::NOT_FOUND, "This link is not valid (or too old).\n"),
        Err(error) => {
            tracing::error!(%error, "could not record an unsubscribe");
            text(StatusCode::SERVICE_UNAVAILABLE, "Try again in a moment.\n")
        }
    }
}
