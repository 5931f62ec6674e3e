//! The JSON API under `/api`, behind a bearer token: list and read instances, start a flow by
//! hand, send an event, cancel. `/api/openapi.json` describes it.

use std::sync::Arc;

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::host::Host;
use super::verifiers::constant_time_eq;
use super::webhooks::error;
use crate::runtime::{EngineError, EventKind, InstanceId};

/// The `/api` routes (mounted under `/api` by the host's router).
pub(crate) fn routes(host: Arc<Host>) -> Router<Arc<Host>> {
    Router::new()
        .route("/openapi.json", get(openapi))
        .route("/instances", get(list))
        .route("/instances/{id}", get(one))
        .route("/instances/{id}/events/{name}", post(send_event))
        .route("/instances/{id}/cancel", post(cancel))
        .route("/flows/{flow}/start", post(start))
        .layer(axum::middleware::from_fn_with_state(host, authorize))
}

async fn authorize(State(host): State<Arc<Host>>, request: Request, next: Next) -> Response {
    let Some(token) = &host.options.api_token else {
        return error(
            StatusCode::UNAUTHORIZED,
            "the API is off: set the token's environment variable (FLOWC_API_TOKEN unless flowc.toml's [serve] api_token_env names another)",
        );
    };
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        Some(g) if constant_time_eq(g.trim().as_bytes(), token.bytes()) => next.run(request).await,
        _ => error(
            StatusCode::UNAUTHORIZED,
            "give the API token as `Authorization: Bearer TOKEN`",
        ),
    }
}

#[derive(serde::Deserialize)]
struct Filter {
    flow: Option<String>,
    entity: Option<String>,
    status: Option<String>,
}

fn status_name(host: &Host, id: &str) -> String {
    match host.engine.status(&InstanceId(id.to_string())) {
        Ok(s) if !s.is_final() && waiting(host, id) => "waiting".to_string(),
        Ok(s) => match s.name() {
            "failing" => "running".to_string(),
            other => other.to_string(),
        },
        Err(_) => "unknown".to_string(),
    }
}

/// Whether a wait of the instance has started and not ended.
fn waiting(host: &Host, id: &str) -> bool {
    let history = host.engine.history(&InstanceId(id.to_string()));
    let started = history
        .iter()
        .filter(|e| matches!(e.kind, EventKind::WaitStarted { .. }))
        .count();
    let ended = history
        .iter()
        .filter(|e| matches!(e.kind, EventKind::WaitEnded { .. }))
        .count();
    started > ended
}

async fn list(State(host): State<Arc<Host>>, Query(filter): Query<Filter>) -> Json<Value> {
    let known = host.known.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let items: Vec<Value> = known
        .iter()
        .filter(|k| filter.flow.as_ref().is_none_or(|f| *f == k.flow))
        .filter(|k| filter.entity.as_ref().is_none_or(|e| *e == k.entity))
        .map(|k| (k, status_name(&host, &k.id)))
        .filter(|(_, s)| filter.status.as_ref().is_none_or(|f| f == s))
        .map(|(k, status)| {
            json!({ "id": k.id, "flow": k.flow, "entity": k.entity, "trigger": k.trigger,
                    "started_at": k.started_at, "status": status })
        })
        .collect();
    Json(json!({ "instances": items }))
}

async fn one(State(host): State<Arc<Host>>, Path(id): Path<String>) -> Response {
    let iid = InstanceId(id.clone());
    let Ok(status) = host.engine.status(&iid) else {
        return error(StatusCode::NOT_FOUND, format!("no instance `{id}`"));
    };
    let history = host.engine.history(&iid);
    let (flow, input) = match history.first().map(|e| &e.kind) {
        Some(EventKind::InstanceStarted { flow, input, .. }) => (json!(flow), input.to_json()),
        _ => (Value::Null, Value::Null),
    };
    let output = if status.is_final() {
        match host.engine.output(&iid).await {
            Ok(v) => v.to_json(),
            Err(_) => Value::Null,
        }
    } else {
        Value::Null
    };
    let failure = match &status {
        crate::runtime::InstanceStatus::Failed { step, message, class } => {
            json!({ "step": step, "message": message, "class": class })
        }
        _ => Value::Null,
    };
    Json(json!({
        "id": id,
        "flow": flow,
        "status": status_name(&host, &id),
        "input": input,
        "output": output,
        "failure": failure,
        "history": history,
    }))
    .into_response()
}

async fn start(
    State(host): State<Arc<Host>>,
    Path(flow): Path<String>,
    body: Option<Json<Value>>,
) -> Response {
    let input = body.map(|Json(v)| v).unwrap_or(Value::Null);
    match host.start(&flow, "", "api", input).await {
        Ok(id) => (StatusCode::ACCEPTED, Json(json!({ "instance": id.0 }))).into_response(),
        Err(e) => engine_error(e),
    }
}

async fn send_event(
    State(host): State<Arc<Host>>,
    Path((id, name)): Path<(String, String)>,
    body: Option<Json<Value>>,
) -> Response {
    let payload = body.map(|Json(v)| v).unwrap_or(Value::Null);
    match host.engine.signal(&InstanceId(id.clone()), &name, payload).await {
        Ok(()) => (
            StatusCode::ACCEPTED,
            Json(json!({ "instance": id, "event": name })),
        )
            .into_response(),
        Err(e) => engine_error(e),
    }
}

async fn cancel(State(host): State<Arc<Host>>, Path(id): Path<String>) -> Response {
    match host.engine.cancel(&InstanceId(id.clone())).await {
        Ok(()) => (
            StatusCode::ACCEPTED,
            Json(json!({ "instance": id, "cancelled": true })),
        )
            .into_response(),
        Err(e) => engine_error(e),
    }
}

fn engine_error(e: EngineError) -> Response {
    let status = match &e {
        EngineError::UnknownFlow(_) | EngineError::UnknownInstance(_) => StatusCode::NOT_FOUND,
        EngineError::InvalidInput(_) => StatusCode::BAD_REQUEST,
        EngineError::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    error(status, e.to_string())
}

async fn openapi() -> Json<Value> {
    Json(serde_json::from_str(include_str!("openapi.json")).unwrap_or(Value::Null))
}
