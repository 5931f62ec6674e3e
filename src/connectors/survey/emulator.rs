//! A local emulator of the Typeform endpoints the survey connector uses, for tests and offline
//! runs: `POST /forms` (Create API), `GET /forms/{form_id}`, `GET /forms/{form_id}/responses`
//! (Responses API: `page_size`, `since`, `until`, `before`, `after`), bearer-token auth and
//! Typeform's error JSON (`{ code, description, details }`). Tests submit responses with
//! [`TypeformEmulator::submit`] and inject failures with [`TypeformEmulator::fail_next`].

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json as JsonBody, Router};
use chrono::{DateTime, Duration as ChronoDuration, FixedOffset, NaiveDateTime, TimeZone, Utc};
use serde_json::{json, Value as Json};
use tokio::sync::oneshot;

use super::form_journal::{Entry, FormJournal};
use super::form_rules::{is_field_ref, is_hidden_name, DOCUMENTED_FIELD_TYPES};

/// A running emulator on `127.0.0.1` (a free port); it stops when dropped.
pub struct TypeformEmulator {
    addr: SocketAddr,
    state: Arc<Mutex<EmulatorState>>,
    shutdown: Option<oneshot::Sender<()>>,
}

#[derive(Default)]
struct EmulatorState {
    token: String,
    display_base: String,
    forms: BTreeMap<String, StoredForm>,
    next_id: u64,
    failures: VecDeque<Failure>,
    requests: Vec<String>,
    /// Where forms and responses are kept (`flowc emulate --state DIR`), if anywhere.
    journal: Option<FormJournal>,
    /// A fault plan's Typeform part.
    faults: Option<Arc<crate::connectors::faults::FaultGate>>,
}

struct StoredForm {
    /// Creation order.
    seq: u64,
    definition: Json,
    /// In submission order.
    responses: Vec<StoredResponse>,
}

struct StoredResponse {
    seq: u64,
    submitted_at: DateTime<FixedOffset>,
    item: Json,
}

#[derive(Clone)]
struct Failure {
    status: StatusCode,
    retry_after: Option<u64>,
}

type Shared = Arc<Mutex<EmulatorState>>;

impl TypeformEmulator {
    /// Starts an emulator that accepts `Authorization: Bearer {token}`.
    pub async fn start(token: &str) -> std::io::Result<TypeformEmulator> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state: Shared = Arc::new(Mutex::new(EmulatorState {
            token: token.to_string(),
            display_base: format!("http://{addr}"),
            ..EmulatorState::default()
        }));
        let app = router(Arc::clone(&state));
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let server = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = rx.await;
            });
            if let Err(e) = server.await {
                tracing::warn!("typeform emulator stopped: {e}");
            }
        });
        Ok(TypeformEmulator {
            addr,
            state,
            shutdown: Some(tx),
        })
    }

    /// An emulator whose forms and responses are kept in `dir` (restored from it when it holds
    /// any). It does not listen: its owner serves [`TypeformEmulator::router`] at `addr`
    /// (`flowc emulate`).
    pub fn persistent(
        token: &str,
        dir: &std::path::Path,
        addr: SocketAddr,
    ) -> std::io::Result<TypeformEmulator> {
        let (journal, entries) = FormJournal::open(dir)?;
        let mut state = EmulatorState {
            token: token.to_string(),
            display_base: format!("http://{addr}"),
            ..EmulatorState::default()
        };
        for entry in entries {
            match entry {
                Entry::Form { id, seq, definition } => {
                    state.next_id = state.next_id.max(seq);
                    let form = StoredForm {
                        seq,
                        definition,
                        responses: Vec::new(),
                    };
                    state.forms.insert(id, form);
                }
                Entry::Response {
                    form,
                    seq,
                    submitted_at,
                    item,
                } => {
                    state.next_id = state.next_id.max(seq);
                    let (Some(stored), Ok(submitted_at)) = (
                        state.forms.get_mut(&form),
                        DateTime::parse_from_rfc3339(&submitted_at),
                    ) else {
                        continue;
                    };
                    stored.responses.push(StoredResponse {
                        seq,
                        submitted_at,
                        item,
                    });
                }
            }
        }
        state.journal = Some(journal);
        Ok(TypeformEmulator {
            addr,
            state: Arc::new(Mutex::new(state)),
            shutdown: None,
        })
    }

    /// The HTTP service, for an owner that serves it itself ([`TypeformEmulator::persistent`]).
    pub fn router(&self) -> Router {
        router(Arc::clone(&self.state))
    }

    /// The base URL to put in `[connectors.survey] base_url`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The form `form_id` as created (with ids and `_links`), if it exists.
    pub fn form(&self, form_id: &str) -> Option<Json> {
        lock(&self.state).forms.get(form_id).map(|f| f.definition.clone())
    }

    /// The ids of every form created, in creation order.
    pub fn form_ids(&self) -> Vec<String> {
        let state = lock(&self.state);
        let mut forms: Vec<(&String, &StoredForm)> = state.forms.iter().collect();
        forms.sort_by_key(|(_, f)| f.seq);
        forms.into_iter().map(|(id, _)| id.clone()).collect()
    }

    /// Requests received so far, as `METHOD /path?query`.
    pub fn requests(&self) -> Vec<String> {
        lock(&self.state).requests.clone()
    }

    /// The next `times` requests fail with `status` (e.g. 429 with `retry_after` seconds, or 503).
    pub fn fail_next(&self, status: u16, times: usize, retry_after: Option<u64>) {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut state = lock(&self.state);
        for _ in 0..times {
            state.failures.push_back(Failure { status, retry_after });
        }
    }

    /// Follows a fault plan's Typeform part from now on (see [`crate::connectors::faults`]), its
    /// time on the gate's clock.
    pub fn set_faults(&self, gate: Arc<crate::connectors::faults::FaultGate>) {
        lock(&self.state).faults = Some(gate);
    }

    /// Submits a response to `form_id` as a respondent would: `answers` maps field refs to plain
    /// values (text, number, bool, a choice label, a list of labels, `YYYY-MM-DD`), typed here by
    /// the field's type; `hidden` gives hidden field values. Returns the response id.
    pub fn submit(
        &self,
        form_id: &str,
        submitted_at: &str,
        answers: Json,
        hidden: Json,
    ) -> Result<String, String> {
        let submitted =
            DateTime::parse_from_rfc3339(submitted_at).map_err(|e| format!("submitted_at: {e}"))?;
        let mut state = lock(&self.state);
        state.next_id += 1;
        let seq = state.next_id;
        let form = state
            .forms
            .get_mut(form_id)
            .ok_or_else(|| format!("no form `{form_id}`"))?;
        let fields = form.definition["fields"].as_array().cloned().unwrap_or_default();
        let given = answers.as_object().ok_or("answers must be an object")?;
        let mut typed = Vec::new();
        for field in &fields {
            let reference = field["ref"].as_str().unwrap_or_default();
            let Some(value) = given.get(reference) else {
                if field["validations"]["required"] == json!(true) {
                    return Err(format!("field `{reference}` is required"));
                }
                continue;
            };
            typed.push(typed_answer(field, value)?);
        }
        if let Some(unknown) = given
            .keys()
            .find(|k| !fields.iter().any(|f| f["ref"] == json!(k)))
        {
            return Err(format!("form `{form_id}` has no field `{unknown}`"));
        }
        let declared: Vec<&str> = form.definition["hidden"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Json::as_str)
            .collect();
        let mut hidden_values = serde_json::Map::new();
        for (name, value) in hidden.as_object().into_iter().flatten() {
            // Like Typeform, values for undeclared hidden fields are dropped.
            if declared.contains(&name.as_str()) {
                let text = value
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| value.to_string());
                hidden_values.insert(name.clone(), Json::String(text));
            }
        }
        let id = format!("r{seq:07}");
        let utc = submitted.with_timezone(&Utc);
        let item = json!({
            "landing_id": id,
            "token": id,
            "response_id": id,
            "landed_at": (utc - ChronoDuration::minutes(3)).format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "submitted_at": utc.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "metadata": { "user_agent": "flowc-emulator", "platform": "other", "referer": format!("{}/to/{form_id}", state_display(&form.definition)), "network_id": "emulated", "browser": "default" },
            "hidden": hidden_values,
            "calculated": { "score": 0 },
            "answers": typed,
        });
        let entry = Entry::Response {
            form: form_id.to_string(),
            seq,
            submitted_at: submitted.to_rfc3339(),
            item: item.clone(),
        };
        form.responses.push(StoredResponse {
            seq,
            submitted_at: submitted,
            item,
        });
        if let Some(journal) = state.journal.as_mut() {
            journal.write(&entry);
        }
        Ok(id)
    }
}

impl Drop for TypeformEmulator {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// The emulator's routes.
fn router(state: Shared) -> Router {
    Router::new()
        .route("/forms", post(create_form))
        .route("/forms/{form_id}", get(get_form))
        .route("/forms/{form_id}/responses", get(list_responses))
        .route("/to/{form_id}", get(display_form))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            planned_faults,
        ))
        .with_state(state)
}

fn lock(state: &Mutex<EmulatorState>) -> MutexGuard<'_, EmulatorState> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

fn state_display(definition: &Json) -> String {
    let display = definition["_links"]["display"].as_str().unwrap_or_default();
    display
        .rsplit_once("/to/")
        .map(|(base, _)| base.to_string())
        .unwrap_or_default()
}

/// A Typeform answer object for `value` given to `field`.
fn typed_answer(field: &Json, value: &Json) -> Result<Json, String> {
    let reference = field["ref"].as_str().unwrap_or_default();
    let kind = field["type"].as_str().unwrap_or_default();
    let field_ref = json!({ "id": field["id"], "type": kind, "ref": reference });
    let wrong = |expected: &str| format!("field `{reference}` ({kind}) needs {expected}, got {value}");
    let choices: Vec<Json> = field["properties"]["choices"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let choice_ref = |label: &str| -> Result<Json, String> {
        choices
            .iter()
            .find(|c| c["label"] == json!(label))
            .map(|c| c["ref"].clone())
            .ok_or_else(|| format!("field `{reference}` has no choice `{label}`"))
    };
    let answer = match kind {
        "short_text" | "long_text" => {
            json!({ "type": "text", "text": value.as_str().ok_or_else(|| wrong("text"))? })
        }
        "email" => json!({ "type": "email", "email": value.as_str().ok_or_else(|| wrong("an email"))? }),
        "website" => json!({ "type": "url", "url": value.as_str().ok_or_else(|| wrong("a URL"))? }),
        "phone_number" => {
            json!({ "type": "phone_number", "phone_number": value.as_str().ok_or_else(|| wrong("a phone number"))? })
        }
        "number" | "rating" | "opinion_scale" | "nps" => {
            json!({ "type": "number", "number": value.as_f64().ok_or_else(|| wrong("a number"))? })
        }
        "yes_no" | "legal" => {
            json!({ "type": "boolean", "boolean": value.as_bool().ok_or_else(|| wrong("a bool"))? })
        }
        "date" => {
            let text = value.as_str().ok_or_else(|| wrong("a date"))?;
            chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| wrong("a YYYY-MM-DD date"))?;
            json!({ "type": "date", "date": text })
        }
        "multiple_choice" | "dropdown" => {
            let multiple = field["properties"]["allow_multiple_selection"] == json!(true);
            match (multiple, value) {
                (true, Json::Array(labels)) => {
                    let labels: Vec<&str> = labels
                        .iter()
                        .map(|l| l.as_str().ok_or_else(|| wrong("choice labels")))
                        .collect::<Result<_, _>>()?;
                    let refs = labels
                        .iter()
                        .map(|l| choice_ref(l))
                        .collect::<Result<Vec<_>, _>>()?;
                    json!({ "type": "choices", "choices": { "labels": labels, "refs": refs } })
                }
                (false, Json::String(label)) => {
                    json!({ "type": "choice", "choice": { "label": label, "ref": choice_ref(label)? } })
                }
                (true, _) => return Err(wrong("a list of choice labels")),
                (false, _) => return Err(wrong("one choice label")),
            }
        }
        other => return Err(format!("field `{reference}` ({other}) takes no answer")),
    };
    let mut answer = answer;
    answer["field"] = field_ref;
    Ok(answer)
}

fn error(status: StatusCode, code: &str, description: &str, details: Vec<Json>) -> Response {
    let mut body = json!({ "code": code, "description": description });
    if !details.is_empty() {
        body["details"] = Json::Array(details);
    }
    (status, JsonBody(body)).into_response()
}

/// Logs the request, then answers an injected failure or an auth failure, if any.
fn gate(state: &Shared, method: &Method, uri: &Uri, headers: &HeaderMap) -> Option<Response> {
    let mut state = lock(state);
    state.requests.push(format!("{method} {uri}"));
    if let Some(failure) = state.failures.pop_front() {
        let response = if failure.status == StatusCode::TOO_MANY_REQUESTS {
            error(
                failure.status,
                "RATE_LIMIT_EXCEEDED",
                "Too many requests, slow down",
                vec![],
            )
        } else {
            error(
                failure.status,
                "SERVER_ERROR",
                "Something went wrong on our side",
                vec![],
            )
        };
        let mut response = response;
        if let Some(seconds) = failure.retry_after {
            if let Ok(value) = seconds.to_string().parse() {
                response.headers_mut().insert("retry-after", value);
            }
        }
        return Some(response);
    }
    let given = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        None => Some(error(
            StatusCode::UNAUTHORIZED,
            "AUTHENTICATION_FAILED",
            "Authentication credentials not found on the Request Headers",
            vec![],
        )),
        Some(token) if token != state.token => Some(error(
            StatusCode::UNAUTHORIZED,
            "AUTHENTICATION_FAILED",
            "The provided access token is not valid",
            vec![],
        )),
        Some(_) => None,
    }
}

/// Typeform's error JSON for a status a fault plan draws.
fn planned_error(status: u16) -> Response {
    let (code, description) = match status {
        429 => ("RATE_LIMIT_EXCEEDED", "Too many requests, slow down"),
        400 => ("BAD_REQUEST", "The request is invalid."),
        401 => ("AUTHENTICATION_FAILED", "The provided access token is not valid"),
        403 => ("FORBIDDEN", "The access token does not allow this request"),
        404 => ("NOT_FOUND", "The requested resource was not found"),
        503 => ("SERVICE_UNAVAILABLE", "The service is temporarily unavailable"),
        504 => ("GATEWAY_TIMEOUT", "The request took too long"),
        _ => ("SERVER_ERROR", "Something went wrong on our side"),
    };
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = error(status, code, description, vec![]);
    if status == StatusCode::TOO_MANY_REQUESTS {
        response
            .headers_mut()
            .insert("retry-after", axum::http::HeaderValue::from_static("1"));
    }
    response
}

/// Applies the fault plan, if any, around every endpoint: latency, statuses, a service that is
/// down, and timeouts (the request is handled, then held unanswered).
async fn planned_faults(
    State(state): State<Shared>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    use crate::connectors::faults::Fault;
    let gate = lock(&state).faults.clone();
    let Some(gate) = gate else {
        return next.run(request).await;
    };
    let fault = gate.next().await;
    let answered_here = |status: u16| {
        // Logged as every request is; those that reach an endpoint are logged there.
        lock(&state)
            .requests
            .push(format!("{} {}", request.method(), request.uri()));
        planned_error(status)
    };
    match fault {
        None => next.run(request).await,
        Some(Fault::Status(status)) => answered_here(status),
        Some(Fault::Down) => answered_here(503),
        Some(Fault::Timeout) => {
            let _ = next.run(request).await;
            gate.hold().await;
            planned_error(504)
        }
    }
}

fn detail(code: &str, field: &str, description: &str) -> Json {
    json!({ "code": code, "description": description, "field": field, "in": "body" })
}

async fn create_form(
    State(state): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(response) = gate(&state, &method, &uri, &headers) {
        return response;
    }
    let Ok(mut form) = serde_json::from_slice::<Json>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "The request body is not valid JSON",
            vec![],
        );
    };
    let problems = validate_form(&form);
    if !problems.is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            "The payload is invalid.",
            problems,
        );
    }
    let mut state = lock(&state);
    state.next_id += 1;
    let seq = state.next_id;
    let id = format!("F{seq:07}");
    if let Some(fields) = form["fields"].as_array_mut() {
        for (i, field) in fields.iter_mut().enumerate() {
            field["id"] = json!(format!("{id}_f{}", i + 1));
        }
    }
    form["id"] = json!(id);
    form["type"] = json!("form");
    if form.get("hidden").is_none() {
        form["hidden"] = json!([]);
    }
    form["_links"] = json!({ "display": format!("{}/to/{id}", state.display_base) });
    state.forms.insert(
        id.clone(),
        StoredForm {
            seq,
            definition: form.clone(),
            responses: Vec::new(),
        },
    );
    if let Some(journal) = state.journal.as_mut() {
        journal.write(&Entry::Form {
            id: id.clone(),
            seq,
            definition: form.clone(),
        });
    }
    (StatusCode::CREATED, JsonBody(form)).into_response()
}

/// The Create API's checks on what the connector sends (a subset of Typeform's).
fn validate_form(form: &Json) -> Vec<Json> {
    let mut problems = Vec::new();
    match form["title"].as_str() {
        Some(title) if !title.trim().is_empty() => {}
        Some(_) => problems.push(detail("invalid_value", "/title", "title must not be empty")),
        None => problems.push(detail("required", "/title", "title is required")),
    }
    let mut refs = Vec::new();
    match form.get("fields") {
        None => {}
        Some(Json::Array(fields)) => {
            for (i, field) in fields.iter().enumerate() {
                let at = |key: &str| format!("/fields/{i}/{key}");
                match field["type"].as_str() {
                    Some(kind) if DOCUMENTED_FIELD_TYPES.contains(&kind) => {
                        let choices = &field["properties"]["choices"];
                        if matches!(kind, "multiple_choice" | "dropdown") {
                            let ok = choices.as_array().is_some_and(|c| {
                                !c.is_empty()
                                    && c.iter()
                                        .all(|c| c["label"].as_str().is_some_and(|l| !l.is_empty()))
                            });
                            if !ok {
                                problems.push(detail(
                                    "invalid_value",
                                    &at("properties/choices"),
                                    "choices must be a non-empty list of labels",
                                ));
                            }
                        }
                        if let Some(steps) = field["properties"]["steps"].as_u64() {
                            let range = match kind {
                                "rating" => 3..=10,
                                "opinion_scale" => 5..=11,
                                _ => 0..=u64::MAX,
                            };
                            if !range.contains(&steps) {
                                problems.push(detail(
                                    "invalid_value",
                                    &at("properties/steps"),
                                    "steps is out of range",
                                ));
                            }
                        }
                        if kind == "statement" && field.get("validations").is_some() {
                            problems.push(detail(
                                "invalid_value",
                                &at("validations"),
                                "statements take no validations",
                            ));
                        }
                    }
                    Some(kind) => problems.push(detail(
                        "invalid_value",
                        &at("type"),
                        &format!("`{kind}` is not a field type"),
                    )),
                    None => problems.push(detail("required", &at("type"), "type is required")),
                }
                if field["title"].as_str().is_none_or(|t| t.trim().is_empty()) {
                    problems.push(detail("required", &at("title"), "title is required"));
                }
                if let Some(r) = field.get("ref") {
                    match r.as_str() {
                        Some(r) if is_field_ref(r) && !refs.contains(&r) => refs.push(r),
                        Some(r) if is_field_ref(r) => problems.push(detail(
                            "duplicate",
                            &at("ref"),
                            &format!("ref `{r}` is used twice"),
                        )),
                        _ => problems.push(detail(
                            "invalid_value",
                            &at("ref"),
                            "ref must be 1-255 of [a-zA-Z0-9_-]",
                        )),
                    }
                }
            }
        }
        Some(_) => problems.push(detail("invalid_type", "/fields", "fields must be an array")),
    }
    match form.get("hidden") {
        None => {}
        Some(Json::Array(names)) => {
            for (i, name) in names.iter().enumerate() {
                if !name.as_str().is_some_and(is_hidden_name) {
                    problems.push(detail(
                        "invalid_value",
                        &format!("/hidden/{i}"),
                        "hidden field names are lowercase letters, digits and _",
                    ));
                }
            }
        }
        Some(_) => problems.push(detail(
            "invalid_type",
            "/hidden",
            "hidden must be an array of names",
        )),
    }
    problems
}

async fn get_form(
    State(state): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(form_id): Path<String>,
) -> Response {
    if let Some(response) = gate(&state, &method, &uri, &headers) {
        return response;
    }
    let state = lock(&state);
    match state.forms.get(&form_id) {
        Some(form) => JsonBody(form.definition.clone()).into_response(),
        None => form_not_found(&form_id),
    }
}

fn form_not_found(form_id: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "FORM_NOT_FOUND",
        &format!("Non existing form with uid {form_id}"),
        vec![],
    )
}

/// `since`/`until`: Unix seconds or ISO 8601 to the second (UTC unless an offset is given).
fn parse_time(text: &str) -> Option<DateTime<FixedOffset>> {
    if let Ok(seconds) = text.parse::<i64>() {
        return Utc.timestamp_opt(seconds, 0).single().map(|t| t.fixed_offset());
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t);
    }
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S")
        .ok()
        .map(|t| Utc.from_utc_datetime(&t).fixed_offset())
}

async fn list_responses(
    State(state): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(form_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Some(response) = gate(&state, &method, &uri, &headers) {
        return response;
    }
    let state = lock(&state);
    let Some(form) = state.forms.get(&form_id) else {
        return form_not_found(&form_id);
    };
    let bad = |parameter: &str, description: &str| {
        error(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            "The request is invalid.",
            vec![
                json!({ "code": "invalid_value", "description": description, "field": parameter, "in": "query" }),
            ],
        )
    };
    let page_size = match query.get("page_size") {
        None => 25,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=1000).contains(&n) => n,
            _ => return bad("page_size", "page_size must be between 1 and 1000"),
        },
    };
    let mut bounds = [None, None];
    for (slot, name) in bounds.iter_mut().zip(["since", "until"]) {
        if let Some(text) = query.get(name) {
            match parse_time(text) {
                Some(t) => *slot = Some(t),
                None => return bad(name, "expected Unix seconds or YYYY-MM-DDTHH:MM:SS"),
            }
        }
    }
    let [since, until] = bounds;
    // Newest first; ties broken by arrival, as tokens are.
    let order = |r: &StoredResponse| (r.submitted_at, r.seq);
    let position = |token: &str| {
        form.responses
            .iter()
            .find(|r| r.item["token"] == json!(token))
            .map(order)
    };
    let before = match query.get("before") {
        None => None,
        Some(token) => match position(token) {
            Some(p) => Some(p),
            None => return bad("before", "unknown token"),
        },
    };
    let after = match query.get("after") {
        None => None,
        Some(token) => match position(token) {
            Some(p) => Some(p),
            None => return bad("after", "unknown token"),
        },
    };
    let mut matching: Vec<&StoredResponse> = form
        .responses
        .iter()
        .filter(|r| since.is_none_or(|s| r.submitted_at >= s))
        .filter(|r| until.is_none_or(|u| r.submitted_at <= u))
        .collect();
    matching.sort_by_key(|r| std::cmp::Reverse(order(r)));
    let total = matching.len();
    let items: Vec<Json> = matching
        .into_iter()
        .filter(|r| before.is_none_or(|b| order(r) < b))
        .filter(|r| after.is_none_or(|a| order(r) > a))
        .take(page_size)
        .map(|r| r.item.clone())
        .collect();
    JsonBody(json!({
        "total_items": total,
        "page_count": total.div_ceil(page_size).max(1),
        "items": items,
    }))
    .into_response()
}

/// A plain page listing the questions: enough to see what a link leads to.
async fn display_form(State(state): State<Shared>, Path(form_id): Path<String>) -> Response {
    let state = lock(&state);
    let Some(form) = state.forms.get(&form_id) else {
        return (StatusCode::NOT_FOUND, "no such form").into_response();
    };
    let escape = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let mut page = format!(
        "<h1>{}</h1><ol>",
        escape(form.definition["title"].as_str().unwrap_or_default())
    );
    for field in form.definition["fields"].as_array().into_iter().flatten() {
        page.push_str(&format!(
            "<li>{}</li>",
            escape(field["title"].as_str().unwrap_or_default())
        ));
    }
    page.push_str("</ol>");
    Html(page).into_response()
}
