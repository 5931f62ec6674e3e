//! The JSON API under `/api`, behind a bearer token (or the dashboard's session cookie): list
//! and read instances, start a flow by hand, send an event, cancel, retry. `/api/openapi.json`
//! describes it. On a store hosts share, an event, cancel or retry for an instance another host
//! holds is passed on to that host (`forward`).

use std::sync::Arc;

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::dashboard::session;
use super::forward::forward;
use super::host::Host;
use super::journal;
use super::verifiers::constant_time_eq;
use super::webhooks::error;
use crate::runtime::{
    Command, EngineError, Event, EventKind, InstanceId, InstanceRecord, InstanceStatus, RetryError,
};

/// The `/api` routes (mounted under `/api` by the host's router).
pub(crate) fn routes(host: Arc<Host>) -> Router<Arc<Host>> {
    Router::new()
        .route("/openapi.json", get(openapi))
        .route("/instances", get(list))
        .route("/instances/{id}", get(one))
        .route("/instances/{id}/events/{name}", post(send_event))
        .route("/instances/{id}/cancel", post(cancel))
        .route("/instances/{id}/retry", post(retry))
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
    let by_bearer = given.is_some_and(|g| constant_time_eq(g.trim().as_bytes(), token.bytes()));
    // The dashboard's pages call the API with their session cookie instead.
    let by_dashboard = given.is_none()
        && session::has_session(request.headers(), token)
        && session::cookie_may(request.method(), request.headers());
    if by_bearer || by_dashboard {
        next.run(request).await
    } else {
        error(
            StatusCode::UNAUTHORIZED,
            "give the API token as `Authorization: Bearer TOKEN`",
        )
    }
}

#[derive(serde::Deserialize)]
struct Filter {
    flow: Option<String>,
    entity: Option<String>,
    status: Option<String>,
    /// Started at or after this time (RFC 3339).
    since: Option<String>,
    /// Started before this time (RFC 3339).
    until: Option<String>,
}

/// A time of the list's filter, or why it cannot be read.
fn filter_time(name: &str, value: Option<&str>) -> Result<Option<DateTime<Utc>>, String> {
    let Some(text) = value else { return Ok(None) };
    DateTime::parse_from_rfc3339(text)
        .map(|t| Some(t.with_timezone(&Utc)))
        .map_err(|e| format!("`{name}` must be an RFC 3339 time such as 2026-12-03T10:00:00Z: {e}"))
}

fn status_name(host: &Host, id: &str) -> String {
    match host.engine.status(&InstanceId(id.to_string())) {
        Ok(s) if !s.is_final() && waiting(host, id) => "waiting".to_string(),
        Ok(s) => match s.name() {
            "failing" => "running".to_string(),
            other => other.to_string(),
        },
        // Ended and let go from memory: its stored history says how it ended.
        Err(_) => InstanceRecord::from_history(id, &host.engine.history(&InstanceId(id.to_string())))
            .map_or_else(|| "unknown".to_string(), |r| stored_status(host, &r)),
    }
}

/// Whether a wait of the instance has started and not ended.
fn waiting(host: &Host, id: &str) -> bool {
    journal::waiting(&host.engine.history(&InstanceId(id.to_string())))
}

async fn list(State(host): State<Arc<Host>>, Query(filter): Query<Filter>) -> Response {
    let times = filter_time("since", filter.since.as_deref())
        .and_then(|since| Ok((since, filter_time("until", filter.until.as_deref())?)));
    let (since, until) = match times {
        Ok(times) => times,
        Err(reason) => return error(StatusCode::BAD_REQUEST, reason),
    };
    let in_time = |at: &DateTime<Utc>| since.is_none_or(|s| *at >= s) && until.is_none_or(|u| *at < u);
    let known = host.known.lock().unwrap_or_else(|e| e.into_inner()).list();
    let held: std::collections::HashSet<&str> = known.iter().map(|k| k.id.as_str()).collect();
    // What the store has that this process does not hold (ended before a restart, or started
    // by another run on the same state), oldest first, then what this process started.
    let stored = host
        .options
        .store
        .as_ref()
        .map(|s| s.records())
        .unwrap_or_default()
        .into_iter()
        .filter(|r| !held.contains(r.id.as_str()) && r.parent.is_none() && in_time(&r.started_at))
        .map(|r| {
            let status = stored_status(&host, &r);
            let item = json!({ "id": r.id, "flow": r.flow, "entity": r.entity, "trigger": null,
                               "started_at": r.started_at, "status": status, "plan": r.plan });
            (r.flow, r.entity, status, item)
        });
    let current = known.iter().filter(|k| in_time(&k.started_at)).map(|k| {
        let status = status_name(&host, &k.id);
        let item = json!({ "id": k.id, "flow": k.flow, "entity": k.entity, "trigger": k.trigger,
                           "started_at": k.started_at, "status": status });
        (k.flow.clone(), k.entity.clone(), status, item)
    });
    let items: Vec<Value> = stored
        .chain(current)
        .filter(|(flow, _, _, _)| filter.flow.as_ref().is_none_or(|f| names_flow(f, flow)))
        .filter(|(_, entity, _, _)| filter.entity.as_ref().is_none_or(|e| e == entity))
        .filter(|(_, _, status, _)| filter.status.as_ref().is_none_or(|f| f == status))
        .map(|(_, _, _, item)| item)
        .collect();
    Json(json!({ "instances": items })).into_response()
}

/// Whether `asked` names `flow`: its name (`open`) or its key (`shop.open`), since the host
/// lists what it started under the name it was asked for and stored instances under their key.
fn names_flow(asked: &str, flow: &str) -> bool {
    asked == flow || flow.rsplit_once('.').is_some_and(|(_, name)| name == asked)
}

/// The API's status of an instance this process does not hold, from its stored record.
fn stored_status(host: &Host, record: &InstanceRecord) -> String {
    journal::status(record, &host.engine.history(&InstanceId(record.id.clone())))
}

async fn one(State(host): State<Arc<Host>>, Path(id): Path<String>) -> Response {
    let iid = InstanceId(id.clone());
    let history = host.engine.history(&iid);
    let Some(record) = InstanceRecord::from_history(&id, &history) else {
        return error(StatusCode::NOT_FOUND, format!("no instance `{id}`"));
    };
    let input = match history.first().map(|e| &e.kind) {
        Some(EventKind::InstanceStarted { input, .. }) => input.to_json(),
        _ => Value::Null,
    };
    let (status, output, failure) = match host.engine.status(&iid) {
        Ok(held) => {
            let output = if held.is_final() {
                match host.engine.output(&iid).await {
                    Ok(v) => v.to_json(),
                    Err(_) => Value::Null,
                }
            } else {
                Value::Null
            };
            let failure = match &held {
                InstanceStatus::Failed { step, message, class } => {
                    json!({ "step": step, "message": message, "class": class })
                }
                _ => Value::Null,
            };
            (status_name(&host, &id), output, failure)
        }
        // Not in memory: the store's history says it all.
        Err(_) => {
            let status = stored_status(&host, &record);
            let output = match status.as_str() {
                "completed" => last_output(&history),
                _ => Value::Null,
            };
            let failure = match (status.as_str(), history.last().map(|e| &e.kind)) {
                ("failed", Some(EventKind::InstanceFailed { step, message, class })) => {
                    json!({ "step": step, "message": message, "class": class })
                }
                _ => Value::Null,
            };
            (status, output, failure)
        }
    };
    Json(json!({
        "id": id,
        "flow": record.flow,
        "entity": record.entity,
        "plan": record.plan,
        "status": status,
        "input": input,
        "output": output,
        "failure": failure,
        "history": history,
    }))
    .into_response()
}

/// The value of the last `output` event of a history.
fn last_output(history: &[Event]) -> Value {
    history
        .iter()
        .rev()
        .find_map(|e| match &e.kind {
            EventKind::Output { value } => Some(value.to_json()),
            _ => None,
        })
        .unwrap_or(Value::Null)
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
    let answer = json!({ "instance": id, "event": name });
    match host
        .engine
        .signal(&InstanceId(id.clone()), &name, payload.clone())
        .await
    {
        Ok(()) => (StatusCode::ACCEPTED, Json(answer)).into_response(),
        // Another host sharing the store may hold it.
        Err(e @ EngineError::UnknownInstance(_)) => {
            let command = Command::Event { name, payload };
            forward(&host, &id, command, answer)
                .await
                .unwrap_or_else(|| engine_error(e))
        }
        Err(e) => engine_error(e),
    }
}

async fn cancel(State(host): State<Arc<Host>>, Path(id): Path<String>) -> Response {
    let answer = json!({ "instance": id, "cancelled": true });
    match host.engine.cancel(&InstanceId(id.clone())).await {
        Ok(()) => (StatusCode::ACCEPTED, Json(answer)).into_response(),
        Err(e @ EngineError::UnknownInstance(_)) => forward(&host, &id, Command::Cancel, answer)
            .await
            .unwrap_or_else(|| engine_error(e)),
        Err(e) => engine_error(e),
    }
}

async fn retry(State(host): State<Arc<Host>>, Path(id): Path<String>) -> Response {
    let iid = InstanceId(id.clone());
    // Not in this host's memory: on a store hosts share, the instance's holder retries it, so
    // two hosts asked at once do not both run it.
    if host.engine.status(&iid).is_err() {
        let answer = json!({ "instance": id, "retried": true });
        if let Some(forwarded) = forward(&host, &id, Command::Retry, answer).await {
            return forwarded;
        }
    }
    match host.engine.retry(&iid).await {
        Ok(()) => {
            let history = host.engine.history(&iid);
            if let Some(r) = InstanceRecord::from_history(&id, &history) {
                host.kpis.retried(&id, &r.flow);
                host.count_end(iid, &r.flow, &r.entity, r.started_at);
            }
            (
                StatusCode::ACCEPTED,
                Json(json!({ "instance": id, "retried": true })),
            )
                .into_response()
        }
        Err(e) => {
            let status = match &e {
                RetryError::UnknownInstance(_) => StatusCode::NOT_FOUND,
                RetryError::NotFailed { .. } | RetryError::SubFlow { .. } => StatusCode::CONFLICT,
                RetryError::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
                RetryError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
            };
            error(status, e.to_string())
        }
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
