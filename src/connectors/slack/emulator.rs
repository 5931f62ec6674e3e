//! A local emulator of Slack's `chat.postMessage` as the slack connector uses it, written from
//! Slack's docs: `POST /api/chat.postMessage` with a Bearer bot token and a JSON body; HTTP 200
//! with `{"ok": true, "channel", "ts", "message"}` or `{"ok": false, "error"}` (`not_authed`,
//! `invalid_auth`, `channel_not_found`, `not_in_channel`, `is_archived`, `no_text`,
//! `msg_too_long`, `invalid_blocks`, `invalid_post_type`); HTTP 429 with `Retry-After` and
//! `"error": "ratelimited"`. Channels are declared with [`SlackEmulator::channel`]; an emulator
//! with none declared (`flowc run --emulate`) takes every channel and has the bot in it.
//! Posted messages are kept for tests and, with an outbox, written as JSON files.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json as JsonBody, Router};
use serde_json::{json, Value as Json};
use tokio::sync::oneshot;

use crate::connectors::faults::{self, EmulatorFaults, ServiceFaults};

/// A running emulator on `127.0.0.1` (a free port); it stops when dropped.
pub struct SlackEmulator {
    addr: SocketAddr,
    state: Shared,
    _shutdown: oneshot::Sender<()>,
}

struct Channel {
    id: String,
    member: bool,
    archived: bool,
}

struct EmulatorState {
    tokens: Vec<String>,
    /// By name (without `#`).
    channels: BTreeMap<String, Channel>,
    messages: Vec<Json>,
    faults: EmulatorFaults,
    outbox: Option<PathBuf>,
    next: u64,
}

type Shared = Arc<Mutex<EmulatorState>>;

fn lock(state: &Shared) -> MutexGuard<'_, EmulatorState> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

impl SlackEmulator {
    /// Starts an emulator that accepts the bot tokens `tokens`.
    pub async fn start(tokens: &[&str]) -> std::io::Result<SlackEmulator> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state: Shared = Arc::new(Mutex::new(EmulatorState {
            tokens: tokens.iter().map(|t| t.to_string()).collect(),
            channels: BTreeMap::new(),
            messages: Vec::new(),
            faults: EmulatorFaults::default(),
            outbox: None,
            next: 0,
        }));
        let app = Router::new()
            .route("/api/chat.postMessage", post(post_message))
            .with_state(Arc::clone(&state));
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let server = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = rx.await;
            });
            if let Err(e) = server.await {
                tracing::warn!("slack emulator stopped: {e}");
            }
        });
        Ok(SlackEmulator {
            addr,
            state,
            _shutdown: tx,
        })
    }

    /// The base URL to put in `[connectors.slack] base_url`.
    pub fn base_url(&self) -> String {
        format!("http://{}/api", self.addr)
    }

    /// Declares channel `name` (without `#`) with id `id`; `member`: the bot was invited;
    /// `archived`: nobody can post in it.
    pub fn channel(&self, name: &str, id: &str, member: bool, archived: bool) {
        let channel = Channel {
            id: id.to_string(),
            member,
            archived,
        };
        lock(&self.state).channels.insert(name.to_string(), channel);
    }

    /// Every message posted so far (`channel` is the channel's id, `ts` its timestamp).
    pub fn messages(&self) -> Vec<Json> {
        lock(&self.state).messages.clone()
    }

    /// Writes each posted message to `dir` as `{ts}.json` (created with the first one).
    pub fn keep_in(&self, dir: PathBuf) {
        lock(&self.state).outbox = Some(dir);
    }

    /// The next `times` requests fail with `status` (429 with `retry_after` seconds, or a 5xx).
    pub fn fail_next(&self, status: u16, times: usize, retry_after: Option<u64>) {
        lock(&self.state).faults.fail_next(status, times, retry_after);
    }

    /// Draws faults for every request from `faults` (a fault plan's `slack` part) and `seed`.
    pub fn set_fault_plan(&self, faults: ServiceFaults, seed: u64) {
        lock(&self.state).faults.set_plan(faults, seed);
    }

    /// Draws faults for every request from a run's gate (a fault plan's `slack` part, its time
    /// on the run's clock), as the other emulators' `set_faults`.
    pub fn set_faults(&self, gate: Arc<crate::connectors::faults::FaultGate>) {
        lock(&self.state).faults.set_gate(gate);
    }
}

/// Slack's failure body, with HTTP 200 as the Web API answers most errors.
fn refused(error: &str) -> Response {
    (StatusCode::OK, JsonBody(json!({ "ok": false, "error": error }))).into_response()
}

/// The answer to an injected failure of `status`.
fn failure(status: StatusCode, retry_after: Option<u64>) -> Response {
    let error = match status {
        StatusCode::TOO_MANY_REQUESTS => "ratelimited",
        s if s.is_server_error() => "service_unavailable",
        _ => "invalid_arguments",
    };
    let mut response = (status, JsonBody(json!({ "ok": false, "error": error }))).into_response();
    if let Some(seconds) = retry_after {
        if let Ok(value) = seconds.to_string().parse() {
            response.headers_mut().insert("retry-after", value);
        }
    }
    response
}

async fn post_message(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let next = lock(&state).faults.next();
    if let Some((status, retry_after)) = faults::befall(next).await {
        return failure(status, retry_after);
    }
    let mut s = lock(&state);
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match token {
        None => return refused("not_authed"),
        Some(t) if !s.tokens.iter().any(|known| known == t) => return refused("invalid_auth"),
        Some(_) => {}
    }
    let json_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json_type {
        return refused("invalid_post_type");
    }
    let Ok(args) = serde_json::from_slice::<Json>(&body) else {
        return refused("invalid_json");
    };
    let Some(channel) = args["channel"].as_str().filter(|c| !c.is_empty()) else {
        return refused("channel_not_found");
    };
    let name = channel.trim_start_matches('#');
    let lenient = s.channels.is_empty();
    let channel_id = if lenient {
        // Every channel exists: ids are made from names, as stable as Slack's.
        if channel.starts_with('C') && !channel.starts_with('#') {
            channel.to_string()
        } else {
            format!(
                "C{:08X}",
                name.bytes()
                    .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)))
            )
        }
    } else {
        let found = s
            .channels
            .iter()
            .find(|(n, c)| n.as_str() == name || c.id == channel);
        match found {
            None => return refused("channel_not_found"),
            Some((_, c)) if c.archived => return refused("is_archived"),
            Some((_, c)) if !c.member => return refused("not_in_channel"),
            Some((_, c)) => c.id.clone(),
        }
    };
    let text = args["text"].as_str().unwrap_or("");
    let blocks = &args["blocks"];
    if !blocks.is_null() && !blocks.is_array() {
        return refused("invalid_blocks");
    }
    if text.is_empty() && blocks.as_array().is_none_or(|b| b.is_empty()) {
        return refused("no_text");
    }
    if text.chars().count() > 40_000 {
        return refused("msg_too_long");
    }
    s.next += 1;
    let ts = format!("{}.{:06}", chrono::Utc::now().timestamp(), s.next);
    let mut message = json!({
        "type": "message",
        "subtype": "bot_message",
        "text": text,
        "bot_id": "B0EMULATED",
        "ts": ts,
    });
    if blocks.is_array() {
        message["blocks"] = blocks.clone();
    }
    s.messages
        .push(json!({ "channel": channel_id, "ts": ts, "message": message }));
    if let Some(dir) = &s.outbox {
        let kept = json!({ "channel": channel_id, "channel_name": channel, "message": message });
        let written = std::fs::create_dir_all(dir)
            .and_then(|_| std::fs::write(dir.join(format!("{ts}.json")), kept.to_string()));
        if let Err(e) = written {
            tracing::warn!("cannot keep message {ts} in {}: {e}", dir.display());
        }
    }
    JsonBody(json!({ "ok": true, "channel": channel_id, "ts": ts, "message": message })).into_response()
}

/// The environment variable an emulated run's slack connector reads the bot token from.
pub const EMULATED_TOKEN_ENV: &str = "FLOWC_EMULATED_SLACK_TOKEN";
/// The bot token of every emulated workspace.
pub const EMULATED_TOKEN: &str = "xoxb-emulated";

/// Points `config`'s `[connectors.slack]` at an emulator at `base_url`: every entity's bot token
/// is [`EMULATED_TOKEN`], and the sent log is in `sent_log`.
pub fn point_at(config: &mut crate::config::Config, base_url: &str, sent_log: &std::path::Path) {
    let text = |s: &str| toml::Value::String(s.to_string());
    let entities: toml::Table = config
        .entities
        .keys()
        .map(|entity| {
            let workspace = toml::Table::from_iter([("token_env".to_string(), text(EMULATED_TOKEN_ENV))]);
            (entity.clone(), toml::Value::Table(workspace))
        })
        .collect();
    let table = config.connectors.entry("slack".into()).or_default();
    table.insert("base_url".into(), text(base_url));
    table.insert("sent_log".into(), text(&sent_log.to_string_lossy()));
    table.insert("entities".into(), toml::Value::Table(entities));
}
