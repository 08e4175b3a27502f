//! The HTTP listener: health, metrics, the account API (`/api/...`),
//! JMAP (`/.well-known/jmap`, `/jmap/...`), mail client
//! autoconfiguration, the MTA-STS policy, CalDAV and CardDAV (`/dav`);
//! admin API later.

use crate::Shared;
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{any, get, post};
use estafeta_net::{CancellationToken, Listener, TaskTracker};
use std::sync::Arc;

pub fn spawn(listener: Listener, shared: Arc<Shared>, shutdown: &CancellationToken, tracker: &TaskTracker) {
    let app = router(shared);
    let stop = shutdown.clone();
    tracker.spawn(async move {
        let socket = listener.into_tokio();
        let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
        if let Err(error) = axum::serve(socket, app)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await
        {
            tracing::error!(%error, "http listener failed");
        }
    });
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/api/verify", post(crate::api::verify::verify))
        .route(
            "/.well-known/autoconfig/mail/config-v1.1.xml",
            get(crate::api::autoconfig::config),
        )
        .route("/mail/config-v1.1.xml", get(crate::api::autoconfig::config))
        .route("/apple/mobileconfig", get(crate::api::mobileconfig::profile))
        .route("/autodiscover/autodiscover.xml", post(crate::api::autodiscover::serve))
        .route("/Autodiscover/Autodiscover.xml", post(crate::api::autodiscover::serve))
        .route("/.well-known/mta-sts.txt", get(crate::api::mta_sts::serve))
        .route("/.well-known/jmap", get(crate::api::jmap::session))
        .route("/jmap/session", get(crate::api::jmap::session))
        .route(
            "/jmap/api",
            post(crate::api::jmap::api).layer(DefaultBodyLimit::max(crate::api::jmap::MAX_REQUEST)),
        )
        .route(
            "/jmap/api/",
            post(crate::api::jmap::api).layer(DefaultBodyLimit::max(crate::api::jmap::MAX_REQUEST)),
        )
        .route(
            "/jmap/upload/{account}/",
            post(crate::api::jmap::upload).layer(DefaultBodyLimit::max(crate::api::jmap::MAX_UPLOAD)),
        )
        .route(
            "/jmap/download/{account}/{blob}/{name}",
            get(crate::api::jmap::download),
        )
        .route("/jmap/eventsource/", get(crate::api::jmap_push::event_source))
        .route("/.well-known/caldav", any(crate::api::dav::well_known))
        .route("/.well-known/carddav", any(crate::api::dav::well_known))
        .route(
            "/dav",
            any(crate::api::dav::serve).layer(DefaultBodyLimit::max(crate::api::dav::MAX_BODY)),
        )
        .route(
            "/dav/",
            any(crate::api::dav::serve).layer(DefaultBodyLimit::max(crate::api::dav::MAX_BODY)),
        )
        .route(
            "/dav/{*path}",
            any(crate::api::dav::serve).layer(DefaultBodyLimit::max(crate::api::dav::MAX_BODY)),
        )
        .route(
            "/unsubscribe/{token}",
            get(crate::api::unsubscribe::page).post(crate::api::unsubscribe::one_click),
        )
        .fallback(not_found)
        .with_state(shared)
}

/// 200 when the store answers a read, 503 otherwise: a load balancer should
/// stop sending users to a node that cannot reach its mail.
async fn health(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    match shared.store.domain_list().await {
        Ok(_) => (StatusCode::OK, axum::Json(serde_json::json!({"status": "ok"}))),
        Err(error) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({"status": "unavailable", "error": error.to_string()})),
        ),
    }
}

async fn metrics(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    // Read from the store at each scrape: `estafeta tenant resume` (another
    // process, or another node) changes it.
    if let Ok(tenants) = shared.store.tenant_list().await {
        for tenant in tenants {
            shared
                .metrics
                .gauge(
                    "estafeta_tenant_paused",
                    "1 while a tenant's bulk mail is paused for its bounce or complaint rate.",
                    &[("tenant", &tenant.name)],
                )
                .set(i64::from(tenant.paused.is_some()));
        }
    }
    if let Ok(pools) = shared.store.pool_list().await {
        for pool in pools {
            for address in pool.addresses {
                shared
                    .metrics
                    .gauge(
                        "estafeta_pool_address_listed",
                        "1 while a pool address is on a blocklist (and out of its pool).",
                        &[("pool", &pool.name), ("address", &address.address)],
                    )
                    .set(i64::from(address.listed.is_some()));
            }
        }
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        shared.metrics.render(),
    )
}

async fn not_found() -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        axum::Json(serde_json::json!({"error": "not found"})),
    )
}
