//! `POST /api/verify`: one address (`{"address": "..."}`, answered with
//! its report) or a batch (`{"addresses": [...]}`, answered with
//! `{"results": [...]}` in the order asked), up to `verify.api_batch`.
//! A request cannot wait minutes for a greylisting server to be asked
//! again: temporary answers are reported as they are. Addresses on the
//! caller's tenant's suppression list are reported as suppressed.

use super::auth::{caller, error};
use crate::Shared;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use estafeta_verify::Report;
use estafeta_verify::batch::{Batch, Retries, verify_all};
use serde::Deserialize;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    address: Option<String>,
    addresses: Option<Vec<String>>,
}

pub async fn verify(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let caller = match caller(&shared, peer, &headers).await {
        Ok(caller) => caller,
        Err(refusal) => return refusal,
    };
    let request: Request = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(why) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("expected {{\"address\": \"...\"}} or {{\"addresses\": [...]}}: {why}"),
            );
        }
    };
    let limit = shared.config.verify.api_batch;
    let (addresses, single) = match (request.address, request.addresses) {
        (Some(address), None) => (vec![address], true),
        (None, Some(addresses)) if addresses.is_empty() => {
            return error(StatusCode::BAD_REQUEST, "`addresses` is empty");
        }
        (None, Some(addresses)) if addresses.len() > limit => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "at most {limit} addresses a request (verify.api_batch); use estafeta verify --input for lists"
                ),
            );
        }
        (None, Some(addresses)) => (addresses, false),
        _ => return error(StatusCode::BAD_REQUEST, "give either `address` or `addresses`"),
    };
    tracing::info!(account = %caller.account, addresses = addresses.len(), "api: verify");
    let mut distinct = addresses.clone();
    distinct.sort();
    distinct.dedup();
    // The caller's tenant's suppression list is consulted.
    let domain = caller.account.rsplit('@').next().unwrap_or("");
    let tenant = match shared.store.domain_tenant(domain).await {
        Ok(tenant) => tenant,
        Err(why) => return error(StatusCode::SERVICE_UNAVAILABLE, why.to_string()),
    };
    let batch = Batch {
        window: limit,
        retries: Retries::Skip,
        tenant,
    };
    let mut receiver = verify_all(Arc::clone(&shared.verifier), distinct, batch);
    let mut reports: HashMap<String, Report> = HashMap::new();
    while let Some(report) = receiver.recv().await {
        reports.insert(report.address.clone(), report);
    }
    let mut ordered: Vec<&Report> = addresses.iter().filter_map(|a| reports.get(a)).collect();
    if single && let Some(report) = ordered.pop() {
        return axum::Json(report).into_response();
    }
    axum::Json(serde_json::json!({ "results": ordered })).into_response()
}
