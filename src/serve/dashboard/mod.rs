//! The dashboard: server-rendered pages at `/` (instances, KPIs, failures with a retry button)
//! and `/dashboard/instances/ID` (an instance's graph, timeline and history), behind the API
//! token (a session cookie set once from `?token=`). Its stylesheet and script are embedded.

mod graph_svg;
mod instance_page;
mod overview;
mod page;
pub(crate) mod session;
mod step_states;

use std::sync::Arc;

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::host::Host;
use super::journal::{self, Plans};
use super::kpi;

/// The dashboard's routes.
pub(crate) fn routes(host: Arc<Host>) -> Router<Arc<Host>> {
    let pages = Router::new()
        .route("/", get(front))
        .route("/dashboard/instances/{id}", get(instance))
        .layer(axum::middleware::from_fn_with_state(host, signed_in));
    Router::new()
        .route("/dashboard/assets/dashboard.css", get(css))
        .route("/dashboard/assets/dashboard.js", get(js))
        .merge(pages)
}

async fn signed_in(State(host): State<Arc<Host>>, request: Request, next: Next) -> Response {
    match session::check(host.options.api_token.as_ref(), request.uri(), request.headers()) {
        session::Access::Granted => {
            let mut response = next.run(request).await;
            let headers = response.headers_mut();
            // The pages carry no inline script: a value that slipped past escaping cannot run.
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'"),
            );
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        session::Access::Answer(response) => response,
    }
}

async fn front(State(host): State<Arc<Host>>, Query(filter): Query<overview::Filter>) -> Response {
    let host2 = host.clone();
    // Reading the journal is blocking work (SQLite).
    let page = tokio::task::spawn_blocking(move || {
        let entries = journal::entries(&host2);
        let kpis = kpi::of_entries(&host2, &entries);
        overview::render(&entries, &kpis, &filter)
    })
    .await;
    match page {
        Ok(page) => page.into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot render the page: {e}"),
        )
            .into_response(),
    }
}

async fn instance(State(host): State<Arc<Host>>, Path(id): Path<String>) -> Response {
    let page = tokio::task::spawn_blocking(move || {
        let history = match &host.options.store {
            Some(store) => store.history(&id),
            None => host.engine.history(&crate::runtime::InstanceId(id.clone())),
        };
        let record = crate::runtime::InstanceRecord::from_history(&id, &history)?;
        let children: Vec<crate::runtime::InstanceRecord> = host
            .options
            .store
            .as_ref()
            .map(|s| s.records())
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.parent.as_deref() == Some(id.as_str()))
            .collect();
        let mut plans = Plans::default();
        let plan = plans.flow(&host, &record);
        Some(instance_page::render(&record, &history, plan, &children))
    })
    .await;
    match page {
        Ok(Some(page)) => page.into_response(),
        Ok(None) => (
            StatusCode::NOT_FOUND,
            page::layout(
                "Not found",
                "<h1>No such instance</h1><p><a href=\"/\">← instances</a></p>",
            ),
        )
            .into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot render the page: {e}"),
        )
            .into_response(),
    }
}

async fn css() -> Response {
    asset("text/css; charset=utf-8", include_str!("assets/dashboard.css"))
}

async fn js() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("assets/dashboard.js"),
    )
}

fn asset(content_type: &'static str, text: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        text,
    )
        .into_response()
}
