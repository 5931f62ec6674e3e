//! The emulator's HTTP surface: checks every request as Notion does, then routes it.

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value as Json};

use super::query::{matches, sort};
use super::store::{data_source_json, database_json, new_id, page_json, same_id, Database};
use super::{Fault, Shared};
use crate::connectors::faults::Fault as PlannedFault;
use crate::connectors::notion::client::NOTION_VERSION;

pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

/// Notion's error JSON.
fn error(status: u16, code: &str, message: impl Into<String>) -> Response {
    error_with(status, code, message, None)
}

fn error_with(status: u16, code: &str, message: impl Into<String>, retry_after: Option<u64>) -> Response {
    let body = json!({
        "object": "error",
        "status": status,
        "code": code,
        "message": message.into(),
        "request_id": new_id(),
    });
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, axum::Json(body)).into_response();
    if let Some(seconds) = retry_after {
        response
            .headers_mut()
            .insert("retry-after", HeaderValue::from(seconds));
    }
    response
}

fn ok(body: Json) -> Response {
    let mut body = body;
    if let Some(object) = body.as_object_mut() {
        object.insert("request_id".into(), json!(new_id()));
    }
    (StatusCode::OK, axum::Json(body)).into_response()
}

fn fault_response(fault: &Fault) -> Response {
    let code = match fault.status {
        429 => "rate_limited",
        500 => "internal_server_error",
        502 => "bad_gateway",
        503 => "service_unavailable",
        504 => "gateway_timeout",
        529 => "service_overloaded",
        400 => "validation_error",
        401 => "unauthorized",
        403 => "restricted_resource",
        404 => "object_not_found",
        409 => "conflict_error",
        _ => "internal_server_error",
    };
    error_with(
        fault.status,
        code,
        format!("Injected fault: HTTP {}.", fault.status),
        fault.retry_after,
    )
}

async fn handle(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (latency, fault, planned) = {
        let mut control = shared.control();
        control.requests += 1;
        (control.latency, control.faults.pop_front(), control.plan.clone())
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let planned_fault = match &planned {
        Some(gate) => gate.next().await,
        None => None,
    };
    match planned_fault {
        Some(PlannedFault::Status(status)) => {
            let retry_after = (status == 429).then_some(1);
            return fault_response(&Fault { status, retry_after });
        }
        Some(PlannedFault::Down) => {
            return fault_response(&Fault {
                status: 503,
                retry_after: None,
            })
        }
        // The work is done (a page may be created) but the answer never comes: what idempotent
        // writes are for. The gateway gives up after the hold.
        Some(PlannedFault::Timeout) => {
            let _ = serve(shared.clone(), method, uri, headers, body).await;
            if let Some(gate) = &planned {
                gate.hold().await;
            }
            return fault_response(&Fault {
                status: 504,
                retry_after: None,
            });
        }
        None => {}
    }
    if let Some(fault) = fault {
        return fault_response(&fault);
    }
    serve(shared, method, uri, headers, body).await
}

/// Checks a request as Notion does and answers it.
async fn serve(shared: Arc<Shared>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    match headers.get("notion-version").and_then(|v| v.to_str().ok()) {
        None => {
            return error(
                400,
                "missing_version",
                "Notion-Version header failed validation: Notion-Version header should be defined, instead was `undefined`.",
            )
        }
        Some(NOTION_VERSION) => {}
        Some(other) => {
            return error(
                400,
                "validation_error",
                format!("This emulator speaks Notion-Version {NOTION_VERSION}; the request asked for `{other}`."),
            )
        }
    }
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    let (retry_after, workspace) = {
        let mut control = shared.control();
        let Some((token, workspace)) = token.and_then(|t| control.tokens.get(&t).cloned().map(|w| (t, w)))
        else {
            return error(401, "unauthorized", "API token is invalid.");
        };
        let retry_after = match control.rate {
            None => None,
            Some((rate, burst)) => {
                let allowance = control
                    .allowances
                    .entry(token)
                    .or_insert_with(|| super::limit::Allowance::new(rate, burst));
                match allowance.admit() {
                    Ok(()) => None,
                    Err(seconds) => {
                        control.rate_limited += 1;
                        Some(seconds)
                    }
                }
            }
        };
        (retry_after, workspace)
    };
    if let Some(seconds) = retry_after {
        return error_with(
            429,
            "rate_limited",
            "You have been rate limited. Please try again in a few minutes.",
            Some(seconds),
        );
    }
    let body: Json = if body.is_empty() {
        Json::Null
    } else {
        match serde_json::from_slice(&body) {
            Ok(json) => json,
            Err(e) => return error(400, "invalid_json", format!("Error parsing JSON body: {e}")),
        }
    };
    let segments: Vec<&str> = uri.path().trim_matches('/').split('/').collect();
    let seen = Seen(workspace);
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["v1", "databases", id]) => get_database(&shared, &seen, id),
        ("GET", ["v1", "data_sources", id]) => get_data_source(&shared, &seen, id),
        ("POST", ["v1", "data_sources", id, "query"]) => query(&shared, &seen, id, &body),
        ("POST", ["v1", "pages"]) => after_write(&shared, create_page(&shared, &seen, &body)),
        ("GET", ["v1", "pages", id]) => get_page(&shared, &seen, id),
        ("PATCH", ["v1", "pages", id]) => after_write(&shared, update_page(&shared, &seen, id, &body)),
        _ => error(400, "invalid_request_url", "Invalid request URL."),
    }
}

/// What the request's token may see: one workspace, or every one (`None`). Notion answers
/// 404 for what a token cannot see, never 403, so that ids of other workspaces leak nothing.
struct Seen(Option<String>);

impl Seen {
    fn database<'a>(&self, db: Option<&'a Database>) -> Option<&'a Database> {
        db.filter(|d| self.0.as_ref().is_none_or(|w| *w == d.entity))
    }
}

/// A successful write's answer, unless a fault was queued to replace it.
fn after_write(shared: &Shared, response: Response) -> Response {
    if !response.status().is_success() {
        return response;
    }
    let fault = shared.control().write_faults.pop_front();
    match fault {
        Some(fault) => fault_response(&fault),
        None => response,
    }
}

fn not_found(kind: &str, id: &str) -> Response {
    error(
        404,
        "object_not_found",
        format!("Could not find {kind} with ID: {id}. Make sure the relevant pages and databases are shared with your integration."),
    )
}

fn get_database(shared: &Shared, seen: &Seen, id: &str) -> Response {
    match seen.database(shared.store().database(id)) {
        Some(db) => ok(database_json(db)),
        None => not_found("database", id),
    }
}

fn get_data_source(shared: &Shared, seen: &Seen, id: &str) -> Response {
    match seen.database(shared.store().database_of_source(id)) {
        Some(db) => ok(data_source_json(db)),
        None => not_found("data_source", id),
    }
}

fn query(shared: &Shared, seen: &Seen, id: &str, body: &Json) -> Response {
    let store = shared.store();
    let Some(db) = seen.database(store.database_of_source(id)) else {
        return not_found("data_source", id);
    };
    let page_size = match body.get("page_size") {
        None | Some(Json::Null) => 100,
        Some(n) => match n.as_u64() {
            Some(n) if (1..=100).contains(&n) => n as usize,
            _ => {
                return error(
                    400,
                    "validation_error",
                    format!("body failed validation: body.page_size should be a number between 1 and 100, instead was `{n}`."),
                )
            }
        },
    };
    let mut pages = Vec::new();
    for page in store.pages.iter().filter(|p| p.source_id == db.source_id) {
        match body.get("filter") {
            None | Some(Json::Null) => pages.push(page),
            Some(filter) => match matches(filter, page, db) {
                Ok(true) => pages.push(page),
                Ok(false) => {}
                Err(message) => return error(400, "validation_error", message),
            },
        }
    }
    if let Some(sorts) = body.get("sorts").filter(|s| !s.is_null()) {
        let Some(sorts) = sorts.as_array() else {
            return error(
                400,
                "validation_error",
                "body failed validation: body.sorts should be an array.",
            );
        };
        if let Err(message) = sort(&mut pages, sorts, db) {
            return error(400, "validation_error", message);
        }
    }
    let start = match body.get("start_cursor").and_then(Json::as_str) {
        None => 0,
        Some(cursor) => match pages.iter().position(|p| same_id(&p.id, cursor)) {
            Some(i) => i,
            None => {
                return error(
                    400,
                    "validation_error",
                    format!("body failed validation: body.start_cursor should be a valid cursor, instead was `{cursor}`."),
                )
            }
        },
    };
    let end = (start + page_size).min(pages.len());
    let results: Vec<Json> = pages[start..end].iter().map(|p| page_json(p)).collect();
    let next = pages.get(end).map(|p| p.id.clone());
    ok(json!({
        "object": "list",
        "results": results,
        "next_cursor": next,
        "has_more": next.is_some(),
        "type": "page_or_data_source",
        "page_or_data_source": {},
    }))
}

fn create_page(shared: &Shared, seen: &Seen, body: &Json) -> Response {
    let parent = body.get("parent");
    let source_id = parent
        .and_then(|p| p.get("data_source_id"))
        .and_then(Json::as_str);
    let database_id = parent.and_then(|p| p.get("database_id")).and_then(Json::as_str);
    let mut store = shared.store();
    let db = match (source_id, database_id) {
        (Some(id), _) => match seen.database(store.database_of_source(id)) {
            Some(db) => db.id.clone(),
            None => return not_found("data_source", id),
        },
        (None, Some(id)) => match seen.database(store.database(id)) {
            Some(db) => db.id.clone(),
            None => return not_found("database", id),
        },
        (None, None) => {
            return error(
                400,
                "validation_error",
                "body failed validation: body.parent should be an object with `data_source_id`, `database_id` or `page_id`.",
            )
        }
    };
    let properties = body.get("properties").unwrap_or(&Json::Null);
    match store.create_page(&db, properties) {
        Ok(index) => {
            shared.announce(&store, index, "page.created", properties);
            ok(page_json(&store.pages[index]))
        }
        Err(message) => error(400, "validation_error", message),
    }
}

/// The index of page `id` if the token sees its workspace.
fn visible_page(store: &super::store::Store, seen: &Seen, id: &str) -> Option<usize> {
    let index = store.page_index(id)?;
    seen.database(store.database(&store.pages[index].database_id))?;
    Some(index)
}

fn get_page(shared: &Shared, seen: &Seen, id: &str) -> Response {
    let store = shared.store();
    match visible_page(&store, seen, id) {
        Some(i) => ok(page_json(&store.pages[i])),
        None => not_found("page", id),
    }
}

fn update_page(shared: &Shared, seen: &Seen, id: &str, body: &Json) -> Response {
    let mut store = shared.store();
    let Some(index) = visible_page(&store, seen, id) else {
        return not_found("page", id);
    };
    let properties = body.get("properties").unwrap_or(&Json::Null);
    match store.update_page(index, properties) {
        Ok(()) => {
            shared.announce(&store, index, "page.properties_updated", properties);
            ok(page_json(&store.pages[index]))
        }
        Err(message) => error(400, "validation_error", message),
    }
}
