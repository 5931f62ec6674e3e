//! The host's HTTP surface: `/healthz`, `/readyz`, `/metrics`, and every other path a
//! webhook (or a 404).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use super::host::{Host, HostOptions};
use super::{api, dashboard, webhooks};
use crate::project::Project;
use crate::runtime::Engine;

/// Paths the host keeps for itself (with everything under `/api/` and `/dashboard/`).
pub(crate) const RESERVED: &[&str] = &["/", "/healthz", "/readyz", "/metrics", "/api", "/dashboard"];

/// The router of a host.
pub fn host_router(host: Arc<Host>) -> Router {
    let mut router = Router::new();
    if let Some(watch) = host.notion.get() {
        router = router.route(
            &watch.webhook_path("{entity}"),
            axum::routing::post(super::notion_changes::webhook),
        );
    }
    router
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .nest("/api", api::routes(host.clone()))
        .merge(dashboard::routes(host.clone()))
        .fallback(webhooks::handle)
        .with_state(host)
}

/// The router serving `project`'s webhooks on `engine`, for a host application to mount;
/// secrets are read from the process environment. Returns every setup problem found.
pub fn router(engine: Engine, project: &Project) -> Result<Router, Vec<String>> {
    let host = Host::new(engine, project, HostOptions::default(), &|name| {
        std::env::var(name).ok()
    })?;
    host.set_ready(true);
    Ok(host_router(host))
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

async fn readyz(State(host): State<Arc<Host>>) -> Response {
    if host.is_ready() {
        Json(json!({ "status": "ready" })).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "not ready" })),
        )
            .into_response()
    }
}

async fn metrics(State(host): State<Arc<Host>>) -> Response {
    // Kept up to date as instances end: a scrape reads no history.
    let kpis = host.kpis.snapshot();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        host.metrics.render(&kpis),
    )
        .into_response()
}
