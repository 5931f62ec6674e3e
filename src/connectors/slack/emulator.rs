//! A local emulator of Slack's `chat.postMessage` as the slack connector uses it, written from
//! Slack's docs: `POST /api/chat.postMessage` with a Bearer bot token and a JSON body; HTTP 200
//! with `{"ok": true, "channel", "ts", "message"}` or `{"ok": false, "error"}` (`not_authed`,
//! `invalid_auth`, `channel_not_found`, `not_in_channel`, `is_archived`, `no_text`,
//! `msg_too_long`, `invalid_blocks`, `invalid_post_type`); HTTP 429 with `Retry-After` and
//! `"error": "ratelimited"`. A post to a user's id (`U…`) goes to the bot's direct-message
//! channel with them (`D…`). The methods the connector reads with (by `GET` and a query, or
//! `POST` and a form, as Slack takes both): `conversations.history` (a conversation's messages
//! newest first, `oldest`/`latest`/`inclusive`, `limit`, cursor pages with `has_more` and
//! `response_metadata.next_cursor`; `channel_not_found`, `not_in_channel`, `invalid_cursor`),
//! `conversations.list` (channels by cursor pages) and `conversations.open` (`users`: the direct
//! channel's id; `user_not_found`). Channels are declared with [`SlackEmulator::channel`]; an
//! emulator with none declared (`flowc run --emulate`) takes every channel and has the bot in
//! it. Posted messages are kept for tests and, with an outbox, written as JSON files.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json as JsonBody, Router};
use base64::Engine as _;
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
    /// Channels were declared: only those exist. Otherwise every channel does, made on its
    /// first post.
    declared: bool,
    /// Direct-message channel ids by user id.
    directs: BTreeMap<String, String>,
    messages: Vec<Json>,
    faults: EmulatorFaults,
    outbox: Option<PathBuf>,
    next: u64,
    /// The next posts whose answer is held this long (the message is kept: Slack posted it, the
    /// answer is lost to the client's timeout).
    hang_after_posting: Vec<Duration>,
    /// How many coming reads (history, list, open) fail with 503.
    failing_reads: usize,
}

type Shared = Arc<Mutex<EmulatorState>>;
type Params = BTreeMap<String, String>;

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
            declared: false,
            directs: BTreeMap::new(),
            messages: Vec::new(),
            faults: EmulatorFaults::default(),
            outbox: None,
            next: 0,
            hang_after_posting: Vec::new(),
            failing_reads: 0,
        }));
        let app = Router::new()
            .route("/api/chat.postMessage", post(post_message))
            .route(
                "/api/conversations.history",
                get(|st: State<Shared>, h: HeaderMap, Query(q): Query<Params>| read(st, h, q, history))
                    .post(|st: State<Shared>, h: HeaderMap, Form(f): Form<Params>| read(st, h, f, history)),
            )
            .route(
                "/api/conversations.list",
                get(|st: State<Shared>, h: HeaderMap, Query(q): Query<Params>| read(st, h, q, list))
                    .post(|st: State<Shared>, h: HeaderMap, Form(f): Form<Params>| read(st, h, f, list)),
            )
            .route(
                "/api/conversations.open",
                post(|st: State<Shared>, h: HeaderMap, Form(f): Form<Params>| read(st, h, f, open)),
            )
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
        let mut s = lock(&self.state);
        s.declared = true;
        s.channels.insert(name.to_string(), channel);
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

    /// The next `times` posts are made (kept, as Slack would) but their answer is held for
    /// `hold`: past the client's timeout, the answer is lost.
    pub fn accept_then_hang(&self, times: usize, hold: Duration) {
        lock(&self.state)
            .hang_after_posting
            .extend(std::iter::repeat_n(hold, times));
    }

    /// The next `times` reads (`conversations.history`, `.list`, `.open`) fail with 503.
    pub fn fail_next_reads(&self, times: usize) {
        lock(&self.state).failing_reads += times;
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

/// The bot token's refusal, if any (`not_authed`, `invalid_auth`).
fn unauthorized(s: &EmulatorState, headers: &HeaderMap) -> Option<Response> {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match token {
        None => Some(refused("not_authed")),
        Some(t) if !s.tokens.iter().any(|known| known == t) => Some(refused("invalid_auth")),
        Some(_) => None,
    }
}

/// A stable id made from `seed`, as Slack's are: `kind` and eight hex digits.
fn made_id(kind: char, seed: &str) -> String {
    let hash = seed
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    format!("{kind}{hash:08X}")
}

/// A user id (`U…`, `W…`): a post to it goes to the bot's direct channel with them.
fn is_user(channel: &str) -> bool {
    super::history::is_id(channel, &['U', 'W'])
}

impl EmulatorState {
    /// The direct channel with `user`, opened if need be.
    fn direct(&mut self, user: &str) -> String {
        self.directs
            .entry(user.to_string())
            .or_insert_with(|| made_id('D', user))
            .clone()
    }

    /// The id of the channel a post names, or Slack's refusal.
    fn post_target(&mut self, channel: &str) -> Result<String, &'static str> {
        if is_user(channel) {
            return Ok(self.direct(channel));
        }
        if self.directs.values().any(|id| id == channel) {
            return Ok(channel.to_string());
        }
        let name = channel.trim_start_matches('#');
        let found = self
            .channels
            .iter()
            .find(|(n, c)| n.as_str() == name || c.id == channel);
        match found {
            Some((_, c)) if c.archived => Err("is_archived"),
            Some((_, c)) if !c.member => Err("not_in_channel"),
            Some((_, c)) => Ok(c.id.clone()),
            None if self.declared => Err("channel_not_found"),
            None => {
                // Every channel exists: ids are made from names, as stable as Slack's.
                let id = if channel.starts_with('C') && !channel.starts_with('#') {
                    channel.to_string()
                } else {
                    made_id('C', name)
                };
                let made = Channel {
                    id: id.clone(),
                    member: true,
                    archived: false,
                };
                self.channels.insert(name.to_string(), made);
                Ok(id)
            }
        }
    }
}

async fn post_message(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let next = lock(&state).faults.next();
    if let Some((status, retry_after)) = faults::befall(next).await {
        return failure(status, retry_after);
    }
    let (response, hang) = post_now(&state, &headers, &body);
    match hang {
        Some(hold) => {
            // Posted, and the answer lost: the client's timeout ends the wait first.
            tokio::time::sleep(hold).await;
            failure(StatusCode::SERVICE_UNAVAILABLE, None)
        }
        None => response,
    }
}

/// Posts the message of `body` (or refuses it) as Slack does; also says whether its answer is
/// to be held (see [`SlackEmulator::accept_then_hang`]).
fn post_now(state: &Shared, headers: &HeaderMap, body: &Bytes) -> (Response, Option<Duration>) {
    let refuse = |error: &str| (refused(error), None);
    let mut s = lock(state);
    if let Some(refusal) = unauthorized(&s, headers) {
        return (refusal, None);
    }
    let json_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json_type {
        return refuse("invalid_post_type");
    }
    let Ok(args) = serde_json::from_slice::<Json>(body) else {
        return refuse("invalid_json");
    };
    let Some(channel) = args["channel"].as_str().filter(|c| !c.is_empty()) else {
        return refuse("channel_not_found");
    };
    let text = args["text"].as_str().unwrap_or("");
    let blocks = &args["blocks"];
    if !blocks.is_null() && !blocks.is_array() {
        return refuse("invalid_blocks");
    }
    if text.is_empty() && blocks.as_array().is_none_or(|b| b.is_empty()) {
        return refuse("no_text");
    }
    if text.chars().count() > 40_000 {
        return refuse("msg_too_long");
    }
    let channel_id = match s.post_target(channel) {
        Ok(id) => id,
        Err(error) => return refuse(error),
    };
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
    let hang = (!s.hang_after_posting.is_empty()).then(|| s.hang_after_posting.remove(0));
    let answer = json!({ "ok": true, "channel": channel_id, "ts": ts, "message": message });
    (JsonBody(answer).into_response(), hang)
}

/// A read method's answer after the faults and the token are passed.
async fn read(
    State(state): State<Shared>,
    headers: HeaderMap,
    params: Params,
    method: fn(&mut EmulatorState, &Params) -> Response,
) -> Response {
    let next = lock(&state).faults.next();
    if let Some((status, retry_after)) = faults::befall(next).await {
        return failure(status, retry_after);
    }
    let mut s = lock(&state);
    if s.failing_reads > 0 {
        s.failing_reads -= 1;
        return failure(StatusCode::SERVICE_UNAVAILABLE, None);
    }
    if let Some(refusal) = unauthorized(&s, &headers) {
        return refusal;
    }
    method(&mut s, &params)
}

/// A message timestamp (`"1767603600.000100"`) as comparable numbers.
fn ts_key(ts: &str) -> Option<(i64, u64)> {
    let (secs, micros) = ts.split_once('.').unwrap_or((ts, "0"));
    Some((secs.parse().ok()?, micros.parse().ok()?))
}

/// Slack's opaque cursor, here `next_ts:{ts}` in base64: where the next page starts.
fn cursor_for(ts: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("next_ts:{ts}"))
}

fn ts_of_cursor(cursor: &str) -> Option<(i64, u64)> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(cursor).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    ts_key(text.strip_prefix("next_ts:")?)
}

/// `limit` as Slack reads it: 100 unless given, at most 999.
fn limit(params: &Params, default: usize) -> Result<usize, &'static str> {
    match params.get("limit") {
        None => Ok(default),
        Some(n) => match n.parse::<usize>() {
            Ok(0) => Ok(default),
            Ok(n) => Ok(n.min(999)),
            Err(_) => Err("invalid_limit"),
        },
    }
}

/// `conversations.history`.
fn history(s: &mut EmulatorState, params: &Params) -> Response {
    let Some(channel) = params.get("channel").filter(|c| !c.is_empty()) else {
        return refused("channel_not_found");
    };
    let known = s.channels.values().find(|c| &c.id == channel);
    match known {
        Some(c) if !c.member => return refused("not_in_channel"),
        Some(_) => {}
        None if s.directs.values().any(|id| id == channel) => {}
        None => return refused("channel_not_found"),
    }
    let inclusive = params.get("inclusive").is_some_and(|v| v == "1" || v == "true");
    let bound = |name: &str| match params.get(name) {
        None => Ok(None),
        Some(ts) => ts_key(ts).map(Some).ok_or(if name == "oldest" {
            "invalid_ts_oldest"
        } else {
            "invalid_ts_latest"
        }),
    };
    let (oldest, latest) = match (bound("oldest"), bound("latest")) {
        (Ok(o), Ok(l)) => (o, l),
        (Err(e), _) | (_, Err(e)) => return refused(e),
    };
    let limit = match limit(params, 100) {
        Ok(n) => n,
        Err(e) => return refused(e),
    };
    let start = match params.get("cursor").filter(|c| !c.is_empty()) {
        None => None,
        Some(cursor) => match ts_of_cursor(cursor) {
            Some(ts) => Some(ts),
            None => return refused("invalid_cursor"),
        },
    };
    let after_oldest = |k: (i64, u64)| oldest.is_none_or(|o| k > o || (inclusive && k == o));
    let before_latest = |k: (i64, u64)| latest.is_none_or(|l| k < l || (inclusive && k == l));
    let mut matching: Vec<(&Json, (i64, u64))> = s
        .messages
        .iter()
        .filter(|m| m["channel"].as_str() == Some(channel.as_str()))
        .filter_map(|m| Some((&m["message"], ts_key(m["ts"].as_str()?)?)))
        .filter(|(_, k)| after_oldest(*k) && before_latest(*k) && start.is_none_or(|st| *k <= st))
        .collect();
    // Newest first.
    matching.sort_by_key(|m| std::cmp::Reverse(m.1));
    let has_more = matching.len() > limit;
    let next_cursor = matching
        .get(limit)
        .and_then(|(m, _)| m["ts"].as_str())
        .map(cursor_for)
        .unwrap_or_default();
    let messages: Vec<Json> = matching.into_iter().take(limit).map(|(m, _)| m.clone()).collect();
    JsonBody(json!({
        "ok": true,
        "messages": messages,
        "has_more": has_more,
        "pin_count": 0,
        "channel_actions_ts": null,
        "channel_actions_count": 0,
        "response_metadata": { "next_cursor": next_cursor },
    }))
    .into_response()
}

/// `conversations.list`: the channels (not direct ones), by name, in pages.
fn list(s: &mut EmulatorState, params: &Params) -> Response {
    let limit = match limit(params, 100) {
        Ok(n) => n,
        Err(e) => return refused(e),
    };
    let exclude_archived = params
        .get("exclude_archived")
        .is_some_and(|v| v == "1" || v == "true");
    let decode = |c: &String| {
        base64::engine::general_purpose::STANDARD
            .decode(c)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|t| t.strip_prefix("next_name:").map(str::to_string))
    };
    let start = match params.get("cursor").filter(|c| !c.is_empty()) {
        None => None,
        Some(cursor) => match decode(cursor) {
            Some(name) => Some(name),
            None => return refused("invalid_cursor"),
        },
    };
    let channels: Vec<(&String, &Channel)> = s
        .channels
        .iter()
        .filter(|(name, c)| !(exclude_archived && c.archived) && start.as_ref().is_none_or(|st| *name >= st))
        .collect();
    let next_cursor = channels
        .get(limit)
        .map(|(name, _)| base64::engine::general_purpose::STANDARD.encode(format!("next_name:{name}")))
        .unwrap_or_default();
    let page: Vec<Json> = channels
        .into_iter()
        .take(limit)
        .map(|(name, c)| {
            json!({
                "id": c.id,
                "name": name,
                "is_channel": true,
                "is_archived": c.archived,
                "is_member": c.member,
            })
        })
        .collect();
    JsonBody(json!({ "ok": true, "channels": page, "response_metadata": { "next_cursor": next_cursor } }))
        .into_response()
}

/// `conversations.open` with `users`: the bot's direct channel with one user.
fn open(s: &mut EmulatorState, params: &Params) -> Response {
    let Some(users) = params.get("users").filter(|u| !u.is_empty()) else {
        return refused("users_list_not_supplied");
    };
    if users.contains(',') {
        // A group conversation is not needed here and not emulated.
        return refused("not_implemented");
    }
    if !is_user(users) {
        return refused("user_not_found");
    }
    let id = s.direct(users);
    JsonBody(json!({ "ok": true, "channel": { "id": id } })).into_response()
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
