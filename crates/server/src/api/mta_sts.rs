//! The MTA-STS policy of our domains (RFC 8461 3.2), served at
//! `https://mta-sts.<domain>/.well-known/mta-sts.txt` (the http listener
//! behind the TLS proxy that answers for that name). It names this
//! server's hostname as the one MX. Mode `testing`: senders report
//! failures (TLS-RPT) but still deliver, because the zero-config
//! certificate is self-signed; with a certificate senders can verify,
//! `enforce` is the operator's step. `estafeta dns-records` publishes the
//! `_mta-sts` TXT with the id this policy has, so the two move together.

use crate::Shared;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// A week: long enough to protect, short enough to change (RFC 8461 3.2
/// allows up to a year).
const MAX_AGE: u32 = 604_800;

pub fn policy(hostname: &str) -> String {
    format!(
        "version: STSv1\r\nmode: testing\r\nmx: {}\r\nmax_age: {MAX_AGE}\r\n",
        hostname.trim_end_matches('.')
    )
}

/// The `id` of the `_mta-sts` TXT record (RFC 8461 3.1): it changes when
/// the policy does, so senders fetch the new one.
pub fn policy_id(policy: &str) -> String {
    Sha256::digest(policy.as_bytes())
        .iter()
        .take(8)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

pub async fn serve(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let host = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .map(|host| host.split(':').next().unwrap_or_default().to_ascii_lowercase())
        .unwrap_or_default();
    let Some(domain) = host.strip_prefix("mta-sts.") else {
        return (StatusCode::NOT_FOUND, "ask for mta-sts.<domain>\n").into_response();
    };
    match shared.store.domain_is_local(domain).await {
        Ok(true) => ([(header::CONTENT_TYPE, "text/plain")], policy(&shared.config.hostname)).into_response(),
        Ok(false) => (StatusCode::NOT_FOUND, "no policy for that domain here\n").into_response(),
        Err(error) => {
            tracing::warn!(%error, "mta-sts: cannot read the domains");
            (StatusCode::SERVICE_UNAVAILABLE, "try again later\n").into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_names_the_host_and_its_id_follows_it() {
        let one = policy("mail.example.com.");
        assert!(one.starts_with("version: STSv1\r\n") && one.contains("mx: mail.example.com\r\n"));
        assert_eq!(policy_id(&one), policy_id(&policy("mail.example.com")));
        assert_ne!(policy_id(&one), policy_id(&policy("mx2.example.com")));
        // RFC 8461 3.1: id is 1 to 32 letters and digits.
        let id = policy_id(&one);
        assert!(id.len() <= 32 && id.chars().all(|c| c.is_ascii_alphanumeric()), "{id}");
    }
}
