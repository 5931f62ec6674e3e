//! A local emulator of Twilio's Messages API as the sms connector uses it, written from Twilio's
//! docs: `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` (form-encoded `To`, `From`, `Body`,
//! optional `StatusCallback`), HTTP basic auth with the account SID and auth token, `201` with the
//! Message resource (`sid`, `status: "queued"`, `num_segments` as text, RFC 2822 dates), and
//! Twilio's error JSON (`code`, `message`, `more_info`, `status`): 20003 (401), 21602, 21603,
//! 21604, 21617, 21211 (400), 20429 (429 with `Retry-After`); `GET .../Messages.json` lists the
//! account's messages newest first, filtered by `To` and `From`. Accepted messages are kept for
//! tests ([`TwilioEmulator::messages`]) and, with an outbox, written as JSON files.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Form, Json as JsonBody, Router};
use base64::Engine as _;
use serde_json::{json, Value as Json};
use tokio::sync::oneshot;

use crate::connectors::faults::{self, EmulatorFaults, ServiceFaults};
use crate::contract::phone_number::is_e164;
use crate::contract::sms_segments::segments;

/// A running emulator on `127.0.0.1` (a free port); it stops when dropped.
pub struct TwilioEmulator {
    addr: SocketAddr,
    state: Shared,
    _shutdown: oneshot::Sender<()>,
}

struct EmulatorState {
    /// Account SID → auth token.
    accounts: BTreeMap<String, String>,
    messages: Vec<Json>,
    faults: EmulatorFaults,
    outbox: Option<PathBuf>,
    next: u64,
    /// The next created messages whose answer is held this long (the message is kept: Twilio
    /// accepted it, the answer is lost to the client's timeout).
    hang_after_accepting: Vec<Duration>,
    /// How many coming list requests fail with 503.
    failing_lists: usize,
}

type Shared = Arc<Mutex<EmulatorState>>;

fn lock(state: &Shared) -> MutexGuard<'_, EmulatorState> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

impl TwilioEmulator {
    /// Starts an emulator that knows `accounts` (account SID, auth token).
    pub async fn start(accounts: &[(&str, &str)]) -> std::io::Result<TwilioEmulator> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state: Shared = Arc::new(Mutex::new(EmulatorState {
            accounts: accounts
                .iter()
                .map(|(sid, token)| (sid.to_string(), token.to_string()))
                .collect(),
            messages: Vec::new(),
            faults: EmulatorFaults::default(),
            outbox: None,
            next: 0,
            hang_after_accepting: Vec::new(),
            failing_lists: 0,
        }));
        let app = Router::new()
            .route(
                "/2010-04-01/Accounts/{account}/Messages.json",
                post(create_message).get(list_messages),
            )
            .with_state(Arc::clone(&state));
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let server = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = rx.await;
            });
            if let Err(e) = server.await {
                tracing::warn!("twilio emulator stopped: {e}");
            }
        });
        Ok(TwilioEmulator {
            addr,
            state,
            _shutdown: tx,
        })
    }

    /// The base URL to put in `[connectors.sms] base_url`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every message accepted so far, as the Message resource answered for it.
    pub fn messages(&self) -> Vec<Json> {
        lock(&self.state).messages.clone()
    }

    /// Writes each accepted message to `dir` as `{sid}.json` (created with the first one).
    pub fn keep_in(&self, dir: PathBuf) {
        lock(&self.state).outbox = Some(dir);
    }

    /// The next `times` requests fail with `status` (429 with `retry_after` seconds, or a 5xx).
    pub fn fail_next(&self, status: u16, times: usize, retry_after: Option<u64>) {
        lock(&self.state).faults.fail_next(status, times, retry_after);
    }

    /// The next `times` messages are accepted (kept, as Twilio would) but their answer is held
    /// for `hold`: past the client's timeout, the answer is lost.
    pub fn accept_then_hang(&self, times: usize, hold: Duration) {
        lock(&self.state)
            .hang_after_accepting
            .extend(std::iter::repeat_n(hold, times));
    }

    /// The next `times` requests to list messages fail with 503.
    pub fn fail_next_lists(&self, times: usize) {
        lock(&self.state).failing_lists += times;
    }

    /// Draws faults for every request from `faults` (a fault plan's `twilio` part) and `seed`.
    pub fn set_fault_plan(&self, faults: ServiceFaults, seed: u64) {
        lock(&self.state).faults.set_plan(faults, seed);
    }

    /// Draws faults for every request from a run's gate (a fault plan's `twilio` part, its time
    /// on the run's clock), as the other emulators' `set_faults`.
    pub fn set_faults(&self, gate: Arc<crate::connectors::faults::FaultGate>) {
        lock(&self.state).faults.set_gate(gate);
    }
}

/// Twilio's error body.
fn error(status: StatusCode, code: u32, message: &str) -> Response {
    let body = json!({
        "code": code,
        "message": message,
        "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
        "status": status.as_u16(),
    });
    (status, JsonBody(body)).into_response()
}

/// The answer to an injected failure of `status`.
fn failure(status: StatusCode, retry_after: Option<u64>) -> Response {
    let mut response = match status {
        StatusCode::TOO_MANY_REQUESTS => error(status, 20429, "Too Many Requests"),
        s if s.is_server_error() => error(s, 20500, "An internal server error has occurred"),
        s => error(s, 20001, "Unknown parameter"),
    };
    if let Some(seconds) = retry_after {
        if let Ok(value) = seconds.to_string().parse() {
            response.headers_mut().insert("retry-after", value);
        }
    }
    response
}

/// `user:password` of a basic `Authorization` header.
fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get("authorization")?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

async fn create_message(
    State(state): State<Shared>,
    Path(account): Path<String>,
    headers: HeaderMap,
    Form(form): Form<BTreeMap<String, String>>,
) -> Response {
    let next = lock(&state).faults.next();
    if let Some((status, retry_after)) = faults::befall(next).await {
        return failure(status, retry_after);
    }
    let (response, hang) = accept(&state, &account, &headers, &form);
    match hang {
        Some(hold) => {
            // Accepted, and the answer lost: the client's timeout ends the wait first.
            tokio::time::sleep(hold).await;
            failure(StatusCode::SERVICE_UNAVAILABLE, None)
        }
        None => response,
    }
}

/// Creates the message of `form` (or refuses it) as Twilio does; also says whether its answer
/// is to be held (see [`TwilioEmulator::accept_then_hang`]).
fn accept(
    state: &Shared,
    account: &str,
    headers: &HeaderMap,
    form: &BTreeMap<String, String>,
) -> (Response, Option<Duration>) {
    let refused = |r: Response| (r, None);
    let mut s = lock(state);
    let authorized = basic_auth(headers).is_some_and(|(user, password)| {
        user == account && s.accounts.get(account).is_some_and(|token| *token == password)
    });
    if !authorized {
        return refused(error(StatusCode::UNAUTHORIZED, 20003, "Authenticate"));
    }
    let field = |name: &str| form.get(name).map(String::as_str).filter(|v| !v.is_empty());
    let Some(to) = field("To") else {
        return refused(error(
            StatusCode::BAD_REQUEST,
            21604,
            "A 'To' phone number is required.",
        ));
    };
    let Some(from) = field("From") else {
        return refused(error(
            StatusCode::BAD_REQUEST,
            21603,
            "A 'From' phone number is required.",
        ));
    };
    let Some(body) = field("Body") else {
        return refused(error(StatusCode::BAD_REQUEST, 21602, "Message body is required."));
    };
    if body.chars().count() > 1600 {
        return refused(error(
            StatusCode::BAD_REQUEST,
            21617,
            "The concatenated message body exceeds the 1600 character limit.",
        ));
    }
    // Twilio refuses numbers that cannot exist, and a number sending to itself; North American
    // numbers have 10 digits after the country code.
    let nanp_wrong = to.starts_with("+1") && to.len() != 12;
    if !is_e164(to) || nanp_wrong || to == from {
        return refused(error(
            StatusCode::BAD_REQUEST,
            21211,
            &format!("The 'To' number {to} is not a valid phone number."),
        ));
    }
    s.next += 1;
    let sid = format!("SM{:032x}", s.next);
    let now = chrono::Utc::now().to_rfc2822();
    let message = json!({
        "account_sid": account,
        "api_version": "2010-04-01",
        "body": body,
        "date_created": now,
        "date_sent": null,
        "date_updated": now,
        "direction": "outbound-api",
        "error_code": null,
        "error_message": null,
        "from": from,
        "messaging_service_sid": null,
        "num_media": "0",
        "num_segments": segments(body).to_string(),
        "price": null,
        "price_unit": "USD",
        "sid": sid,
        "status": "queued",
        "status_callback": form.get("StatusCallback"),
        "subresource_uris": { "media": format!("/2010-04-01/Accounts/{account}/Messages/{sid}/Media.json") },
        "to": to,
        "uri": format!("/2010-04-01/Accounts/{account}/Messages/{sid}.json"),
    });
    s.messages.push(message.clone());
    if let Some(dir) = &s.outbox {
        let written = std::fs::create_dir_all(dir)
            .and_then(|_| std::fs::write(dir.join(format!("{sid}.json")), message.to_string()));
        if let Err(e) = written {
            tracing::warn!("cannot keep message {sid} in {}: {e}", dir.display());
        }
    }
    let hang = (!s.hang_after_accepting.is_empty()).then(|| s.hang_after_accepting.remove(0));
    ((StatusCode::CREATED, JsonBody(message)).into_response(), hang)
}

/// `GET .../Messages.json?To=&From=&PageSize=`: the account's messages, newest first, filtered
/// by `To` and `From` as Twilio does, in Twilio's page shape.
async fn list_messages(
    State(state): State<Shared>,
    Path(account): Path<String>,
    headers: HeaderMap,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    let mut s = lock(&state);
    if s.failing_lists > 0 {
        s.failing_lists -= 1;
        return failure(StatusCode::SERVICE_UNAVAILABLE, None);
    }
    let authorized = basic_auth(&headers).is_some_and(|(user, password)| {
        user == account && s.accounts.get(&account).is_some_and(|token| *token == password)
    });
    if !authorized {
        return error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
    }
    let page_size: usize = query
        .get("PageSize")
        .and_then(|n| n.parse().ok())
        .unwrap_or(50)
        .clamp(1, 1000);
    let matches = |m: &&Json, field: &str, name: &str| {
        query
            .get(name)
            .is_none_or(|want| m[field].as_str() == Some(want.as_str()))
    };
    let messages: Vec<Json> = s
        .messages
        .iter()
        .rev()
        .filter(|m| m["account_sid"].as_str() == Some(account.as_str()))
        .filter(|m| matches(m, "to", "To") && matches(m, "from", "From"))
        .take(page_size)
        .cloned()
        .collect();
    let uri = format!("/2010-04-01/Accounts/{account}/Messages.json?PageSize={page_size}&Page=0");
    let body = json!({
        "messages": messages,
        "end": messages.len().saturating_sub(1),
        "first_page_uri": uri,
        "next_page_uri": null,
        "page": 0,
        "page_size": page_size,
        "previous_page_uri": null,
        "start": 0,
        "uri": uri,
    });
    (StatusCode::OK, JsonBody(body)).into_response()
}

/// The environment variable an emulated run's sms connector reads the auth token from.
pub const EMULATED_TOKEN_ENV: &str = "FLOWC_EMULATED_TWILIO_TOKEN";
/// The auth token of every emulated account.
pub const EMULATED_TOKEN: &str = "emulated_twilio_auth_token";
/// The sender of emulated runs: the number Twilio's test credentials document as a valid `From`.
const EMULATED_FROM: &str = "+15005550006";

/// The emulated account SID of each of `entities`, in order.
pub fn emulated_accounts<'a>(entities: impl Iterator<Item = &'a str>) -> Vec<(String, String)> {
    entities
        .enumerate()
        .map(|(n, entity)| (entity.to_string(), format!("AC{:032x}", n + 1)))
        .collect()
}

/// Points `config`'s `[connectors.sms]` at an emulator at `base_url`: an emulated account per
/// entity (see [`emulated_accounts`]) and the sent log in `sent_log`.
pub fn point_at(config: &mut crate::config::Config, base_url: &str, sent_log: &std::path::Path) {
    let text = |s: &str| toml::Value::String(s.to_string());
    let accounts = emulated_accounts(config.entities.keys().map(String::as_str));
    let entities: toml::Table = accounts
        .into_iter()
        .map(|(entity, sid)| {
            let account = toml::Table::from_iter([
                ("account_sid".to_string(), text(&sid)),
                ("auth_token_env".to_string(), text(EMULATED_TOKEN_ENV)),
                ("from".to_string(), text(EMULATED_FROM)),
            ]);
            (entity, toml::Value::Table(account))
        })
        .collect();
    let table = config.connectors.entry("sms".into()).or_default();
    table.insert("base_url".into(), text(base_url));
    table.insert("sent_log".into(), text(&sent_log.to_string_lossy()));
    table.insert("entities".into(), toml::Value::Table(entities));
}
