//! One instance of a flow as a state machine: it reacts to inputs (started, a call's result, a
//! timer, a signal, cancel) by recording history events, updating node states, and returning
//! [`Effect`]s for the engine to carry out (call a connector, start a sub-flow, set a timer).
//!
//! Nothing here awaits or spawns: the engine holds the instance's lock only while one reaction
//! runs, then performs the effects outside it.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;

use super::eval::{self, Env, With};
use super::event::{Event, EventKind};
use super::redact::Redactor;
use super::scheduler::{NState, PlanRt, Scope, ScopeKind};
use super::templates::Templates;
use crate::connectors::{ConnectorError, ErrorClass};
use crate::plan::{ArmTest, CallTarget, FallbackPlan, FlowPlan, NodeKind, RetryPolicy, WaitUntil};
use crate::value::Value;

/// Where an instance is.
#[derive(Clone, Debug, PartialEq)]
pub enum InstanceStatus {
    /// Steps are running or waiting.
    Running,
    /// A step failed; the error handler is running.
    Failing,
    /// Everything ran; the output is available.
    Completed,
    /// A step failed for good (or `fail` ran).
    Failed {
        /// The step's path.
        step: String,
        /// Why.
        message: String,
        /// The error class.
        class: String,
    },
    /// Cancelled from outside.
    Cancelled,
}

impl InstanceStatus {
    /// Whether the instance has ended.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            InstanceStatus::Completed | InstanceStatus::Failed { .. } | InstanceStatus::Cancelled
        )
    }

    /// `running`, `failing`, `completed`, `failed` or `cancelled`.
    pub fn name(&self) -> &'static str {
        match self {
            InstanceStatus::Running => "running",
            InstanceStatus::Failing => "failing",
            InstanceStatus::Completed => "completed",
            InstanceStatus::Failed { .. } => "failed",
            InstanceStatus::Cancelled => "cancelled",
        }
    }
}

/// A flow ready to run: its plan and indexed sub-plans.
pub(crate) struct FlowRt {
    pub(crate) plan: FlowPlan,
    pub(crate) root: Arc<PlanRt>,
    pub(crate) handler: Option<Arc<PlanRt>>,
    pub(crate) templates: Arc<Templates>,
    /// The hash of the bundle it came from (instances are pinned to it).
    pub(crate) bundle: String,
}

/// What every instance of an engine shares.
pub(crate) struct Globals {
    pub(crate) entities: BTreeMap<String, Value>,
    /// Per entity, the secrets its plan declares (what `secret(...)` may read at run time).
    pub(crate) secrets: BTreeMap<String, Vec<String>>,
    pub(crate) databases: HashSet<String>,
    pub(crate) per_instance_limit: usize,
}

/// Everything a reaction needs besides the instance.
pub(crate) struct Ctx<'a> {
    pub(crate) globals: &'a Globals,
    pub(crate) now: DateTime<Utc>,
}

/// A connector call ready to be made.
pub(crate) struct PreparedCall {
    pub(crate) scope: u32,
    pub(crate) node: u32,
    /// The plan holding the call node (its target, retry policy and timeout).
    pub(crate) plan: Arc<PlanRt>,
    /// Behind a lock only so the last attempt can take them instead of copying.
    pub(crate) args: std::sync::Mutex<BTreeMap<String, Value>>,
    pub(crate) entity: String,
    pub(crate) step: String,
    pub(crate) idempotency_key: String,
    /// Per attempt: written on the step, or computed when it started.
    pub(crate) timeout_ms: Option<i64>,
    /// The attempt to make next (1-based).
    pub(crate) attempt: u32,
    /// Not before when: the end of the backoff before a retry (after a restart, a retry
    /// sequence carries on where the journal says it was instead of starting at attempt 1).
    pub(crate) not_before: Option<DateTime<Utc>>,
}

impl PreparedCall {
    fn node(&self) -> Option<&crate::plan::CallNode> {
        match &self.plan.node(self.node).kind {
            NodeKind::Call(c) => Some(c),
            _ => None,
        }
    }

    /// `(connector, action)`.
    pub(crate) fn target(&self) -> (&str, &str) {
        match self.node().map(|c| &c.target) {
            Some(CallTarget::Action { connector, action }) => (connector, action),
            _ => ("", ""),
        }
    }

    /// The retry policy.
    pub(crate) fn retry(&self) -> &RetryPolicy {
        static ONCE: std::sync::OnceLock<RetryPolicy> = std::sync::OnceLock::new();
        match self.node() {
            Some(c) => &c.retry,
            None => ONCE.get_or_init(RetryPolicy::none),
        }
    }

    /// Per-attempt timeout.
    pub(crate) fn timeout_ms(&self) -> Option<i64> {
        self.timeout_ms
    }
}

/// What the engine must do after a reaction.
pub(crate) enum Effect {
    Call(Box<PreparedCall>),
    StartChild {
        scope: u32,
        node: u32,
        step: String,
        key: String,
        input: Value,
        /// 1-based: a retried sub-flow runs as a new instance.
        attempt: u32,
    },
    /// Cancels a sub-flow instance whose attempt timed out (its result no longer counts).
    CancelChild {
        id: String,
    },
    Timer {
        at: DateTime<Utc>,
        scope: u32,
        node: u32,
        step: String,
        /// Orders timers due at the same instant: the position in the instance's history of
        /// the event that armed it, the same after a restart, so a replay fires ties as the
        /// live run did.
        order: u64,
    },
    /// `emit`: wake instances waiting for the event, start flows it triggers.
    Emit {
        name: String,
        payload: Value,
    },
    Finished {
        waiters: Vec<oneshot::Sender<()>>,
        parent: Option<ParentLink>,
        result: Result<Value, ConnectorError>,
    },
}

/// The sub-flow step an instance answers to.
#[derive(Clone)]
pub(crate) struct ParentLink {
    pub(crate) id: String,
    /// The parent's step path (the child's id is `parent/step`).
    pub(crate) step: String,
    pub(crate) cell: Arc<super::engine::Cell>,
    pub(crate) scope: u32,
    pub(crate) node: u32,
    /// Which attempt of the step the child is.
    pub(crate) attempt: u32,
}

impl ParentLink {
    /// The child's instance id: `parent/step`, then `parent/step#2`, ... for retries.
    pub(crate) fn child_id(&self) -> String {
        child_id(&self.id, &self.step, self.attempt)
    }
}

/// A sub-flow instance's id from its parent, the calling step's path and the attempt.
pub(crate) fn child_id(parent: &str, step: &str, attempt: u32) -> String {
    if attempt <= 1 {
        format!("{parent}/{step}")
    } else {
        format!("{parent}/{step}#{attempt}")
    }
}

/// A sub-flow call step in progress: its attempts, the current one's deadline, the next one's
/// start. Timers are not cancelled, so a timer firing checks these times before acting.
struct ChildCall {
    key: String,
    input: Value,
    timeout_ms: Option<i64>,
    attempt: u32,
    deadline: Option<DateTime<Utc>>,
    retry_at: Option<DateTime<Utc>>,
}

struct FanState {
    items: Vec<Value>,
    results: Vec<Value>,
    next: usize,
    active: usize,
    done: usize,
    limit: usize,
    var: String,
    path: String,
}

struct EventWait {
    scope: u32,
    node: u32,
    event: String,
}

enum Work {
    Run(u32, u32),
    Finish(u32, u32, NState, Value),
    ScopeDone(u32),
}

/// Where a retry sequence was when the history ends.
#[derive(Clone, Copy)]
enum NextAttempt {
    /// This attempt waits for its backoff to end at this instant.
    Due(u32, DateTime<Utc>),
    /// This attempt had started (in flight): it is made again at once.
    Started(u32),
}

/// What an instance's history says already happened: read back after a restart so that the
/// instance continues where it was instead of repeating its calls.
#[derive(Default)]
pub(crate) struct Replay {
    results: HashMap<String, Value>,
    failed: HashMap<String, ConnectorError>,
    wait_until: HashMap<String, Option<DateTime<Utc>>>,
    wait_ended: HashSet<String>,
    /// Steps whose retry sequence was under way: the next attempt and when it is due.
    next_attempt: HashMap<String, NextAttempt>,
    /// Per path, the history position after the event that last armed a timer for it.
    armed: HashMap<String, u64>,
    /// The instant `now()` gave each node path (its first reading).
    clock: HashMap<String, DateTime<Utc>>,
    /// Events already in the history (as JSON): replaying them again records nothing.
    seen: HashSet<String>,
}

impl Replay {
    /// Reads a history: the replay, the events not yet consumed by a wait, and the next seq.
    pub(crate) fn from_history(events: &[Event]) -> (Replay, Vec<(String, Value)>) {
        let mut r = Replay::default();
        let mut received = Vec::new();
        // Failures a retry sets aside: they may be recorded again if they happen again.
        let mut failures = Vec::new();
        for e in events {
            if let Ok(json) = serde_json::to_string(&e.kind) {
                if matches!(
                    e.kind,
                    EventKind::InstanceFailed { .. }
                        | EventKind::StepFailed {
                            will_retry: false,
                            ..
                        }
                ) {
                    failures.push(json.clone());
                }
                r.seen.insert(json);
            }
            match &e.kind {
                EventKind::WaitStarted { step, .. }
                | EventKind::StepRetried { step, .. }
                | EventKind::StepStarted { step, .. } => {
                    r.armed.insert(step.clone(), e.seq + 1);
                }
                _ => {}
            }
            match &e.kind {
                EventKind::InstanceRetried => {
                    r.failed.clear();
                    for json in failures.drain(..) {
                        r.seen.remove(&json);
                    }
                }
                EventKind::StepRetried {
                    step,
                    attempt,
                    delay_ms,
                } => {
                    let due = eval::add_ms(e.at, (*delay_ms).min(i64::MAX as u64) as i64);
                    r.next_attempt
                        .insert(step.clone(), NextAttempt::Due(*attempt, due));
                }
                EventKind::StepStarted { step, attempt } if *attempt > 1 => {
                    r.next_attempt
                        .insert(step.clone(), NextAttempt::Started(*attempt));
                }
                EventKind::StepSucceeded { step, value, .. } => {
                    r.next_attempt.remove(step);
                    r.failed.remove(step);
                    r.results.insert(step.clone(), value.clone());
                    if let Some(i) = received.iter().position(|(_, p)| p == value) {
                        received.remove(i);
                    }
                }
                EventKind::StepFailed {
                    step,
                    class,
                    message,
                    will_retry: false,
                    ..
                } => {
                    r.next_attempt.remove(step);
                    let class = ErrorClass::from_name(class).unwrap_or(ErrorClass::Permanent);
                    r.failed
                        .insert(step.clone(), ConnectorError::new(class, message.clone()));
                }
                EventKind::WaitStarted { step, until } => {
                    r.wait_until.insert(step.clone(), *until);
                }
                EventKind::WaitEnded { step, .. } => {
                    r.wait_ended.insert(step.clone());
                }
                EventKind::EventReceived { name, payload } => received.push((name.clone(), payload.clone())),
                EventKind::ClockRead { step, at } => {
                    r.clock.entry(step.clone()).or_insert(*at);
                }
                _ => {}
            }
        }
        (r, received)
    }
}

/// The result of one call attempt sequence, as the engine reports it.
pub(crate) type CallResult = Result<(Value, u32), (ConnectorError, u32)>;

/// A running instance.
pub(crate) struct Instance {
    pub(crate) id: String,
    pub(crate) flow: Arc<FlowRt>,
    pub(crate) status: InstanceStatus,
    input: Value,
    /// The entity whose workspace it works in: the flow's own, or for a sub-flow its caller's
    /// (stdlib flows file a booking's client in the booking's workspace). Its record lives in
    /// [`Globals`] (one copy for all instances).
    pub(crate) entity: String,
    scopes: Vec<Option<Scope>>,
    pub(crate) output: Value,
    error: Option<Value>,
    running: usize,
    queue: VecDeque<Box<PreparedCall>>,
    /// Calls waiting for the timer that starts their next attempt (their backoff).
    retries: HashMap<(u32, u32), Box<PreparedCall>>,
    fanouts: HashMap<(u32, u32), FanState>,
    child_calls: HashMap<(u32, u32), ChildCall>,
    event_waits: Vec<EventWait>,
    inbox: Vec<(String, Value)>,
    pub(crate) parent: Option<ParentLink>,
    /// Sub-flow instances started by this one (cancelled with it).
    pub(crate) children: Vec<String>,
    replay: Option<Box<Replay>>,
    seq: u64,
    /// Events of the reaction under way: the engine hands them to the store as one batch.
    pending: Vec<Event>,
    pub(crate) waiters: Vec<oneshot::Sender<()>>,
}

/// Name lookup for a node of a scope: the scope chain, then instance-wide names.
struct NodeEnv<'a> {
    inst: &'a Instance,
    scope: u32,
    ctx: &'a Ctx<'a>,
    /// What `now()` answers: the journaled instant when replaying, else the reaction's.
    now: DateTime<Utc>,
    /// Whether `now()` was read (then the instant is journaled).
    read_clock: std::cell::Cell<bool>,
}

impl NodeEnv<'_> {
    /// Calls `f` with the value of `name`, borrowed where it lives.
    fn with_value<R>(&self, name: &str, f: impl FnOnce(&Value) -> R) -> Option<R> {
        let mut s = Some(self.scope);
        while let Some(si) = s {
            let Some(scope) = self.inst.scopes.get(si as usize).and_then(Option::as_ref) else {
                break;
            };
            if let Some(&n) = scope.plan.names.get(name) {
                return Some(f(&scope.values[n as usize]));
            }
            if let Some((var, v)) = &scope.local {
                if var == name {
                    return Some(f(v));
                }
            }
            s = scope.parent.map(|(p, _)| p);
        }
        match name {
            "input" => Some(f(&self.inst.input)),
            "entity" => match self.ctx.globals.entities.get(&self.inst.entity) {
                Some(e) => Some(f(e)),
                None => Some(f(&Value::record([("name", Value::text(&self.inst.entity))]))),
            },
            "error" => Some(f(self.inst.error.as_ref().unwrap_or(&Value::Null))),
            _ => {
                if let Some(e) = self.ctx.globals.entities.get(name) {
                    Some(f(e))
                } else if self.ctx.globals.databases.contains(name) {
                    Some(f(&Value::text(name)))
                } else {
                    None
                }
            }
        }
    }
}

impl Env for NodeEnv<'_> {
    fn lookup(&self, name: &str) -> Option<Value> {
        self.with_value(name, Value::clone)
    }

    fn lookup_path(&self, name: &str, path: &[String]) -> Option<Value> {
        // Only the field read is copied, not the whole step result.
        self.with_value(name, |v| {
            let mut v = v;
            for p in path {
                v = v.get(p);
            }
            v.clone()
        })
    }

    fn now(&self) -> DateTime<Utc> {
        self.read_clock.set(true);
        self.now
    }

    fn secret(&self, name: &str) -> Result<String, eval::EvalError> {
        let entity = &self.inst.entity;
        let declared = self
            .ctx
            .globals
            .secrets
            .get(entity)
            .map_or(&[][..], Vec::as_slice);
        eval::read_declared_secret(entity, declared, name)
    }
}

/// The idempotency key of a step path: the same on every attempt.
pub(crate) fn idempotency_key(instance: &str, path: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(instance.as_bytes());
    hasher.update(b"\n");
    hasher.update(path.as_bytes());
    hex::encode(&hasher.finalize()[..16])
}

fn error_record(step: &str, message: &str, class: ErrorClass) -> Value {
    Value::record([
        ("step", Value::text(step)),
        ("message", Value::text(message)),
        ("class", Value::text(class.name())),
    ])
}

impl Instance {
    pub(crate) fn new(
        id: String,
        flow: Arc<FlowRt>,
        input: Value,
        entity: String,
        parent: Option<ParentLink>,
    ) -> Instance {
        Instance {
            id,
            flow,
            status: InstanceStatus::Running,
            input,
            entity,
            scopes: Vec::new(),
            output: Value::Null,
            error: None,
            running: 0,
            queue: VecDeque::new(),
            retries: HashMap::new(),
            fanouts: HashMap::new(),
            child_calls: HashMap::new(),
            event_waits: Vec::new(),
            inbox: Vec::new(),
            parent,
            children: Vec::new(),
            replay: None,
            seq: 0,
            pending: Vec::new(),
            waiters: Vec::new(),
        }
    }

    /// Appends a history event.
    pub(crate) fn record(&mut self, ctx: &Ctx, kind: EventKind) {
        let kind = self.redactor(ctx).event(kind);
        if let Some(replay) = &self.replay {
            if serde_json::to_string(&kind).is_ok_and(|json| replay.seen.contains(&json)) {
                return;
            }
        }
        let event = Event {
            seq: self.seq,
            at: ctx.now,
            kind,
        };
        self.seq += 1;
        self.pending.push(event);
    }

    /// Hides the values of this instance's entity's secrets.
    fn redactor(&self, ctx: &Ctx) -> Redactor {
        Redactor::new(
            ctx.globals
                .secrets
                .get(&self.entity)
                .map_or(&[][..], Vec::as_slice),
        )
    }

    /// The events recorded since the last call (one reaction's batch).
    pub(crate) fn take_pending(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.pending)
    }

    /// Starts the flow body.
    pub(crate) fn start(&mut self, ctx: &Ctx) -> Vec<Effect> {
        let mut fx = Vec::new();
        self.record(
            ctx,
            EventKind::InstanceStarted {
                flow: self.flow.plan.key.clone(),
                input: self.input.clone(),
                parent: self.parent.as_ref().map(|p| p.id.clone()),
                entity: Some(self.entity.clone()),
                plan: Some(self.flow.bundle.clone()),
            },
        );
        let mut q = VecDeque::new();
        let root = self.flow.root.clone();
        self.open_scope(root, None, ScopeKind::Root, false, String::new(), None, &mut q);
        self.drive(ctx, q, &mut fx);
        fx
    }

    /// Rebuilds the instance from its history (`events`, as the store kept them) and carries
    /// on: steps with a recorded result are not called again, waits end when they were due.
    pub(crate) fn resume(&mut self, ctx: &Ctx, events: &[Event]) -> Vec<Effect> {
        let (replay, inbox) = Replay::from_history(events);
        self.seq = events.last().map(|e| e.seq + 1).unwrap_or(0);
        self.replay = Some(Box::new(replay));
        self.inbox = inbox;
        let fx = self.start(ctx);
        self.replay = None;
        fx
    }

    /// Whether nodes of `scope` may still run.
    pub(crate) fn active(&self, scope: u32) -> bool {
        let Some(Some(s)) = self.scopes.get(scope as usize) else {
            return false;
        };
        match self.status {
            InstanceStatus::Running => true,
            InstanceStatus::Failing => s.in_handler,
            _ => false,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn open_scope(
        &mut self,
        plan: Arc<PlanRt>,
        parent: Option<(u32, u32)>,
        kind: ScopeKind,
        in_handler: bool,
        prefix: String,
        local: Option<(String, Value)>,
        q: &mut VecDeque<Work>,
    ) -> u32 {
        let (scope, roots) = Scope::new(plan, parent, kind, in_handler, prefix, local);
        let id = self.scopes.len() as u32;
        let empty = scope.complete();
        self.scopes.push(Some(scope));
        if empty {
            q.push_back(Work::ScopeDone(id));
        }
        for r in roots {
            q.push_back(Work::Run(id, r));
        }
        id
    }

    fn drive(&mut self, ctx: &Ctx, mut q: VecDeque<Work>, fx: &mut Vec<Effect>) {
        while let Some(w) = q.pop_front() {
            match w {
                Work::Run(s, n) => self.run_node(ctx, s, n, &mut q, fx),
                Work::Finish(s, n, st, v) => {
                    let Some(Some(scope)) = self.scopes.get_mut(s as usize) else {
                        continue;
                    };
                    for d in scope.finish(n, st, v) {
                        q.push_back(Work::Run(s, d));
                    }
                    if scope.complete() {
                        q.push_back(Work::ScopeDone(s));
                    }
                }
                Work::ScopeDone(s) => self.scope_done(ctx, s, &mut q, fx),
            }
        }
    }

    fn scope(&self, s: u32) -> Option<&Scope> {
        self.scopes.get(s as usize).and_then(Option::as_ref)
    }

    /// The environment of node `n` of scope `s`. Its `now()` is the instant the journal holds
    /// for the node when one is there (a replay), so an instance resumed on a later clock
    /// computes what it computed before the crash.
    fn node_env<'a>(&'a self, ctx: &'a Ctx<'a>, s: u32, n: u32) -> NodeEnv<'a> {
        let journaled = match &self.replay {
            Some(r) if !r.clock.is_empty() => self.scope(s).and_then(|sc| r.clock.get(&sc.path(n)).copied()),
            _ => None,
        };
        NodeEnv {
            inst: self,
            scope: s,
            ctx,
            now: journaled.unwrap_or(ctx.now),
            read_clock: std::cell::Cell::new(false),
        }
    }

    /// Journals the instant `now()` gave node `n` of scope `s`, when it was read (a replay
    /// that read the journaled instant records nothing new: the event is already there).
    fn journal_clock(&mut self, ctx: &Ctx, s: u32, n: u32, read: Option<DateTime<Utc>>) {
        let Some(at) = read else { return };
        let Some(step) = self.scope(s).map(|sc| sc.path(n)) else {
            return;
        };
        self.record(ctx, EventKind::ClockRead { step, at });
    }

    /// Evaluates `expr` for node `n` of scope `s`.
    fn eval(&mut self, ctx: &Ctx, s: u32, n: u32, expr: &crate::plan::Expr) -> Result<Value, String> {
        let (result, read) = {
            let env = self.node_env(ctx, s, n);
            let result = eval::eval(expr, &env).map_err(|e| e.0);
            (result, env.read_clock.get().then_some(env.now))
        };
        self.journal_clock(ctx, s, n, read);
        result
    }

    /// A step's timeout in milliseconds: the written one (`timeout 30s`), or one computed now
    /// (`timeout EXPR`: `none` is no timeout, a negative duration is already over).
    fn step_timeout(
        &mut self,
        ctx: &Ctx,
        s: u32,
        n: u32,
        written: Option<i64>,
        expr: Option<&crate::plan::Expr>,
    ) -> Result<Option<i64>, String> {
        let Some(e) = expr else { return Ok(written) };
        match self.eval(ctx, s, n, e)? {
            Value::Duration(ms) => Ok(Some(ms.max(0))),
            Value::Null => Ok(None),
            v => Err(format!("`timeout` needs a duration, not a {}", v.kind())),
        }
    }

    /// Suspends node `n` of scope `s`: it listens for `event` (a `wait for event`) and/or wakes at
    /// `until`. The instance holds no task while suspended; the timer effect is the engine's job.
    fn arm_wait(
        &mut self,
        s: u32,
        n: u32,
        event: Option<&str>,
        until: Option<DateTime<Utc>>,
        path: String,
        fx: &mut Vec<Effect>,
    ) {
        if let Some(event) = event {
            self.event_waits.push(EventWait {
                scope: s,
                node: n,
                event: event.to_string(),
            });
        }
        if let Some(at) = until {
            fx.push(Effect::Timer {
                at,
                scope: s,
                node: n,
                order: self.timer_order(&path),
                step: path,
            });
        }
    }

    fn run_node(&mut self, ctx: &Ctx, s: u32, n: u32, q: &mut VecDeque<Work>, fx: &mut Vec<Effect>) {
        if !self.active(s) {
            return;
        }
        let Some(scope) = self.scope(s) else { return };
        let plan = scope.plan.clone();
        let node = plan.node(n);
        let path = scope.path(n);
        if let Some(g) = node.gate {
            let b = g.branch as usize;
            let taken = scope.state[b] == NState::Done && scope.values[b] == Value::Int(g.arm as i64);
            if !taken {
                if node.kind.keyword() == "step" {
                    self.record(ctx, EventKind::StepSkipped { step: path });
                }
                q.push_back(Work::Finish(s, n, NState::Skipped, Value::Null));
                return;
            }
        }
        if let Some(replay) = &self.replay {
            let is_step = matches!(
                node.kind,
                NodeKind::Call(_) | NodeKind::FanOut(_) | NodeKind::WaitEvent { .. }
            );
            if is_step {
                if let Some(v) = replay.results.get(&path) {
                    q.push_back(Work::Finish(s, n, NState::Done, v.clone()));
                    return;
                }
                if let Some(e) = replay.failed.get(&path) {
                    let e = e.clone();
                    self.set_running(s, n);
                    self.step_failed(ctx, s, n, e, 1, q, fx);
                    return;
                }
            }
            if matches!(node.kind, NodeKind::Wait { .. } | NodeKind::WaitEvent { .. }) {
                if replay.wait_ended.contains(&path) {
                    q.push_back(Work::Finish(s, n, NState::Done, Value::Null));
                    return;
                }
                if let Some(until) = replay.wait_until.get(&path).copied() {
                    self.set_running(s, n);
                    let event = match &node.kind {
                        NodeKind::WaitEvent { event, .. } => Some(event.as_str()),
                        _ => None,
                    };
                    self.arm_wait(s, n, event, until, path, fx);
                    return;
                }
            }
        }
        let eval_or_fail = |inst: &mut Instance,
                            q: &mut VecDeque<Work>,
                            fx: &mut Vec<Effect>,
                            e: &crate::plan::Expr|
         -> Option<Value> {
            match inst.eval(ctx, s, n, e) {
                Ok(v) => Some(v),
                Err(msg) => {
                    inst.fail_instance(ctx, &path, &msg, ErrorClass::Permanent, q, fx);
                    None
                }
            }
        };
        match &node.kind {
            NodeKind::Let { value } => {
                if let Some(v) = eval_or_fail(self, q, fx, value) {
                    q.push_back(Work::Finish(s, n, NState::Done, v));
                }
            }
            NodeKind::Branch(b) => {
                let subject = match &b.subject {
                    Some(e) => match eval_or_fail(self, q, fx, e) {
                        Some(v) => Some(v),
                        None => return,
                    },
                    None => None,
                };
                let mut taken = Value::Null;
                for (i, arm) in b.arms.iter().enumerate() {
                    let hit = match arm {
                        ArmTest::Else => true,
                        ArmTest::Cond(c) => match eval_or_fail(self, q, fx, c) {
                            Some(v) => v.is_true(),
                            None => return,
                        },
                        ArmTest::Pattern(p) => {
                            let v = subject.clone().unwrap_or(Value::Null);
                            let (matched, read) = {
                                let env = self.node_env(ctx, s, n);
                                let matched = eval::pattern_matches(p, &v, &env);
                                (matched, env.read_clock.get().then_some(env.now))
                            };
                            self.journal_clock(ctx, s, n, read);
                            match matched {
                                Ok(hit) => hit,
                                Err(e) => {
                                    self.fail_instance(ctx, &path, &e.0, ErrorClass::Permanent, q, fx);
                                    return;
                                }
                            }
                        }
                    };
                    if hit {
                        taken = Value::Int(i as i64);
                        break;
                    }
                }
                q.push_back(Work::Finish(s, n, NState::Done, taken));
            }
            NodeKind::Emit { event, payload } => {
                let payload = match payload {
                    Some(p) => match eval_or_fail(self, q, fx, p) {
                        Some(v) => v,
                        None => return,
                    },
                    None => Value::Null,
                };
                self.record(
                    ctx,
                    EventKind::Emitted {
                        name: event.clone(),
                        payload: payload.clone(),
                    },
                );
                fx.push(Effect::Emit {
                    name: event.clone(),
                    payload,
                });
                q.push_back(Work::Finish(s, n, NState::Done, Value::Null));
            }
            NodeKind::Fail { message } => {
                if let Some(v) = eval_or_fail(self, q, fx, message) {
                    self.fail_instance(ctx, &path, &v.to_string(), ErrorClass::Permanent, q, fx);
                }
            }
            NodeKind::Yield { value } => {
                if let Some(v) = eval_or_fail(self, q, fx, value) {
                    if let Some(Some(scope)) = self.scopes.get_mut(s as usize) {
                        scope.yielded = v.clone();
                    }
                    q.push_back(Work::Finish(s, n, NState::Done, v));
                }
            }
            NodeKind::Output { value } => {
                if let Some(v) = eval_or_fail(self, q, fx, value) {
                    self.output = self.redactor(ctx).value(v.clone());
                    self.record(ctx, EventKind::Output { value: v.clone() });
                    q.push_back(Work::Finish(s, n, NState::Done, v));
                }
            }
            NodeKind::Wait { until } => {
                let at = match until {
                    WaitUntil::For(e) => match eval_or_fail(self, q, fx, e) {
                        Some(Value::Duration(ms)) => eval::add_ms(ctx.now, ms),
                        Some(Value::Null) => ctx.now,
                        Some(v) => {
                            let msg = format!("`wait` needs a duration, not a {}", v.kind());
                            self.fail_instance(ctx, &path, &msg, ErrorClass::Permanent, q, fx);
                            return;
                        }
                        None => return,
                    },
                    WaitUntil::Until(e) => match eval_or_fail(self, q, fx, e) {
                        Some(Value::DateTime(t)) => t.with_timezone(&Utc),
                        Some(Value::Date(d)) => d.and_time(chrono::NaiveTime::MIN).and_utc(),
                        Some(Value::Null) => ctx.now,
                        Some(v) => {
                            let msg = format!("`wait until` needs a date-time, not a {}", v.kind());
                            self.fail_instance(ctx, &path, &msg, ErrorClass::Permanent, q, fx);
                            return;
                        }
                        None => return,
                    },
                };
                self.record(
                    ctx,
                    EventKind::WaitStarted {
                        step: path.clone(),
                        until: Some(at),
                    },
                );
                if at <= ctx.now {
                    self.record(
                        ctx,
                        EventKind::WaitEnded {
                            step: path,
                            timed_out: false,
                        },
                    );
                    q.push_back(Work::Finish(s, n, NState::Done, Value::Null));
                } else {
                    self.set_running(s, n);
                    self.arm_wait(s, n, None, Some(at), path, fx);
                }
            }
            NodeKind::WaitEvent {
                event,
                timeout_ms,
                timeout,
                ..
            } => {
                let timeout_ms = match self.step_timeout(ctx, s, n, *timeout_ms, timeout.as_ref()) {
                    Ok(t) => t,
                    Err(msg) => {
                        self.fail_instance(ctx, &path, &msg, ErrorClass::Permanent, q, fx);
                        return;
                    }
                };
                let until = timeout_ms.map(|ms| eval::add_ms(ctx.now, ms));
                self.record(
                    ctx,
                    EventKind::WaitStarted {
                        step: path.clone(),
                        until,
                    },
                );
                self.set_running(s, n);
                // An event that arrived before the wait began is not lost.
                let pos = (0..self.inbox.len())
                    .find(|&i| self.inbox[i].0 == *event && self.filter_accepts(ctx, s, n, &self.inbox[i].1));
                if let Some(i) = pos {
                    let (_, payload) = self.inbox.remove(i);
                    self.end_event_wait(ctx, s, n, payload, false, q);
                    return;
                }
                self.arm_wait(s, n, Some(event.as_str()), until, path, fx);
            }
            NodeKind::FanOut(f) => {
                let items = match eval_or_fail(self, q, fx, &f.over) {
                    Some(Value::List(items)) => items,
                    Some(Value::Null) => Vec::new(),
                    Some(v) => {
                        let msg = format!("`for` needs a list, not a {}", v.kind());
                        self.fail_instance(ctx, &path, &msg, ErrorClass::Permanent, q, fx);
                        return;
                    }
                    None => return,
                };
                self.record(ctx, EventKind::StepScheduled { step: path.clone() });
                if items.is_empty() {
                    self.record(
                        ctx,
                        EventKind::StepSucceeded {
                            step: path,
                            attempt: 1,
                            value: Value::List(Vec::new()),
                            fallback: false,
                        },
                    );
                    q.push_back(Work::Finish(s, n, NState::Done, Value::List(Vec::new())));
                    return;
                }
                self.set_running(s, n);
                let len = items.len();
                let limit = f.concurrency.map(|c| c.max(1) as usize).unwrap_or(len);
                self.fanouts.insert(
                    (s, n),
                    FanState {
                        results: vec![Value::Null; len],
                        items,
                        next: 0,
                        active: 0,
                        done: 0,
                        limit,
                        var: f.var.clone(),
                        path,
                    },
                );
                self.open_items(s, n, q);
            }
            NodeKind::Call(call) => {
                let mut args = BTreeMap::new();
                for (name, e) in &call.args {
                    match self.eval(ctx, s, n, e) {
                        Ok(v) => {
                            args.insert(name.clone(), v);
                        }
                        Err(msg) => {
                            self.record(ctx, EventKind::StepScheduled { step: path.clone() });
                            self.step_failed(ctx, s, n, ConnectorError::permanent(msg), 1, q, fx);
                            return;
                        }
                    }
                }
                for param in &call.template_params {
                    let Some(name) = args.get(param).and_then(|v| v.as_str()).map(str::to_string) else {
                        continue;
                    };
                    let vars = args
                        .get("with")
                        .cloned()
                        .unwrap_or(Value::Record(BTreeMap::new()));
                    match self.flow.templates.render(&name, &vars) {
                        Ok(r) => {
                            for (k, v) in [("subject", r.subject), ("text", r.text), ("html", r.html)] {
                                if let Some(v) = v {
                                    args.insert(k.to_string(), Value::Text(v));
                                }
                            }
                        }
                        Err(msg) => {
                            self.record(ctx, EventKind::StepScheduled { step: path.clone() });
                            self.step_failed(ctx, s, n, ConnectorError::permanent(msg), 1, q, fx);
                            return;
                        }
                    }
                }
                let timeout_ms = match self.step_timeout(ctx, s, n, call.timeout_ms, call.timeout.as_ref()) {
                    Ok(t) => t,
                    Err(msg) => {
                        self.record(ctx, EventKind::StepScheduled { step: path.clone() });
                        self.step_failed(ctx, s, n, ConnectorError::permanent(msg), 1, q, fx);
                        return;
                    }
                };
                self.set_running(s, n);
                self.record(ctx, EventKind::StepScheduled { step: path.clone() });
                match &call.target {
                    CallTarget::Flow { key } => {
                        self.child_calls.insert(
                            (s, n),
                            ChildCall {
                                key: key.clone(),
                                input: Value::Record(args),
                                timeout_ms,
                                attempt: 0,
                                deadline: None,
                                retry_at: None,
                            },
                        );
                        // After a restart, the attempts carry on where the journal says.
                        let next = self
                            .replay
                            .as_ref()
                            .and_then(|r| r.next_attempt.get(&path))
                            .copied();
                        // A pending retry goes through its timer even when already due, so
                        // that retries due at the same instant fire in the order they did live.
                        match next {
                            Some(NextAttempt::Due(attempt, due)) => {
                                if let Some(cc) = self.child_calls.get_mut(&(s, n)) {
                                    cc.attempt = attempt.saturating_sub(1);
                                    cc.retry_at = Some(due);
                                }
                                fx.push(Effect::Timer {
                                    at: due,
                                    scope: s,
                                    node: n,
                                    order: self.timer_order(&path),
                                    step: path,
                                });
                            }
                            Some(NextAttempt::Started(attempt)) => {
                                self.start_child_attempt(ctx, s, n, attempt, fx)
                            }
                            None => self.start_child_attempt(ctx, s, n, 1, fx),
                        }
                    }
                    CallTarget::Action { .. } => {
                        let entity = match args.get("entity") {
                            Some(Value::Text(t)) => t.clone(),
                            Some(v @ Value::Record(_)) => v.get("name").to_string(),
                            _ => self.entity.clone(),
                        };
                        let (attempt, not_before) = self
                            .replay
                            .as_ref()
                            .and_then(|r| r.next_attempt.get(&path).copied())
                            .map(|next| match next {
                                NextAttempt::Due(attempt, due) => (attempt, Some(due)),
                                NextAttempt::Started(attempt) => (attempt, None),
                            })
                            .unwrap_or((1, None));
                        let pc = Box::new(PreparedCall {
                            scope: s,
                            node: n,
                            plan: plan.clone(),
                            args: std::sync::Mutex::new(args),
                            entity,
                            idempotency_key: idempotency_key(&self.id, &path),
                            step: path,
                            timeout_ms,
                            attempt,
                            not_before,
                        });
                        if self.running < ctx.globals.per_instance_limit {
                            self.running += 1;
                            self.launch(ctx, pc, fx);
                        } else {
                            self.queue.push_back(pc);
                        }
                    }
                }
            }
        }
    }

    /// The order of a timer armed now for `path` among timers due at the same instant: where
    /// the journal armed it when replaying, else here.
    fn timer_order(&self, path: &str) -> u64 {
        self.replay
            .as_ref()
            .and_then(|r| r.armed.get(path).copied())
            .unwrap_or(self.seq)
    }

    /// Makes a call's next attempt, or, for a retry, sets the timer that will (even when its
    /// backoff is already over, so that retries due at one instant fire in a stable order):
    /// the call waits as data in `retries`, holding its slot, not as a sleeping task.
    fn launch(&mut self, ctx: &Ctx, pc: Box<PreparedCall>, fx: &mut Vec<Effect>) {
        if let Some(at) = pc.not_before {
            fx.push(Effect::Timer {
                at,
                scope: pc.scope,
                node: pc.node,
                order: self.timer_order(&pc.step),
                step: pc.step.clone(),
            });
            self.retries.insert((pc.scope, pc.node), pc);
            return;
        }
        self.record(
            ctx,
            EventKind::StepStarted {
                step: pc.step.clone(),
                attempt: pc.attempt,
            },
        );
        fx.push(Effect::Call(pc));
    }

    /// An attempt of a connector call answered: a failure the policy retries is journaled with
    /// its backoff (`step_failed`, `step_retried`) and waits on a timer; anything else is the
    /// step's result.
    pub(crate) fn on_attempt(
        &mut self,
        ctx: &Ctx,
        mut pc: Box<PreparedCall>,
        result: Result<Value, ConnectorError>,
    ) -> Vec<Effect> {
        let (s, n, attempt) = (pc.scope, pc.node, pc.attempt);
        let error = match result {
            Ok(v) => return self.on_call_result(ctx, s, n, Ok((v, attempt)), true),
            Err(e) => e,
        };
        if self.status.is_final() {
            return self.on_call_result(ctx, s, n, Err((error, attempt)), true);
        }
        let wanted = self.active(s) && self.node_state(s, n) == Some(NState::Running);
        // Jitter is drawn here once and journaled (`delay_ms`): a replay reads it back.
        let delay = if wanted {
            super::retry::next_delay(pc.retry(), attempt, &error, &mut rand::rng())
        } else {
            None
        };
        self.record(
            ctx,
            EventKind::StepFailed {
                step: pc.step.clone(),
                attempt,
                class: error.class.name().to_string(),
                message: error.message.clone(),
                will_retry: delay.is_some(),
            },
        );
        let Some(delay) = delay else {
            return self.on_call_result(ctx, s, n, Err((error, attempt)), true);
        };
        let delay_ms = delay.as_millis().min(i64::MAX as u128) as i64;
        self.record(
            ctx,
            EventKind::StepRetried {
                step: pc.step.clone(),
                attempt: attempt + 1,
                delay_ms: delay_ms as u64,
            },
        );
        pc.attempt += 1;
        pc.not_before = Some(eval::add_ms(ctx.now, delay_ms));
        let mut fx = Vec::new();
        self.launch(ctx, pc, &mut fx);
        fx
    }

    /// Starts attempt `attempt` of sub-flow call node `n`, with its timeout's timer.
    fn start_child_attempt(&mut self, ctx: &Ctx, s: u32, n: u32, attempt: u32, fx: &mut Vec<Effect>) {
        let Some(scope) = self.scope(s) else { return };
        let path = scope.path(n);
        let Some(cc) = self.child_calls.get_mut(&(s, n)) else {
            return;
        };
        let timeout_ms = cc.timeout_ms;
        cc.attempt = attempt;
        cc.retry_at = None;
        cc.deadline = timeout_ms.map(|ms| eval::add_ms(ctx.now, ms));
        let (key, input, deadline) = (cc.key.clone(), cc.input.clone(), cc.deadline);
        self.record(
            ctx,
            EventKind::StepStarted {
                step: path.clone(),
                attempt,
            },
        );
        fx.push(Effect::StartChild {
            scope: s,
            node: n,
            step: path.clone(),
            key,
            input,
            attempt,
        });
        if let Some(at) = deadline {
            fx.push(Effect::Timer {
                at,
                scope: s,
                node: n,
                order: self.timer_order(&path),
                step: path,
            });
        }
    }

    /// A timer of sub-flow call node `n`: the next attempt is due, or the current one timed out.
    fn on_child_timer(&mut self, ctx: &Ctx, s: u32, n: u32, q: &mut VecDeque<Work>, fx: &mut Vec<Effect>) {
        let Some(cc) = self.child_calls.get(&(s, n)) else {
            return;
        };
        if let Some(at) = cc.retry_at {
            if ctx.now >= at {
                let next = cc.attempt + 1;
                self.start_child_attempt(ctx, s, n, next, fx);
            }
            return;
        }
        let Some(deadline) = cc.deadline else { return };
        if ctx.now < deadline {
            return;
        }
        let timeout_ms = cc.timeout_ms.unwrap_or(0);
        let path = self.scope(s).map(|sc| sc.path(n)).unwrap_or_default();
        fx.push(Effect::CancelChild {
            id: child_id(&self.id, &path, cc.attempt),
        });
        let error = ConnectorError::transient(format!(
            "timed out after {}",
            crate::value::format_duration(timeout_ms)
        ));
        self.child_failed(ctx, s, n, error, q, fx);
    }

    /// The current attempt of sub-flow call node `n` failed: retry it by its policy, or let the
    /// step fail (its fallback, else the instance).
    fn child_failed(
        &mut self,
        ctx: &Ctx,
        s: u32,
        n: u32,
        error: ConnectorError,
        q: &mut VecDeque<Work>,
        fx: &mut Vec<Effect>,
    ) {
        let Some(scope) = self.scope(s) else { return };
        let path = scope.path(n);
        let plan = scope.plan.clone();
        let NodeKind::Call(call) = &plan.node(n).kind else {
            return;
        };
        let Some(cc) = self.child_calls.get(&(s, n)) else {
            return;
        };
        let attempt = cc.attempt;
        let delay = super::retry::next_delay(&call.retry, attempt, &error, &mut rand::rng());
        self.record(
            ctx,
            EventKind::StepFailed {
                step: path.clone(),
                attempt,
                class: error.class.name().to_string(),
                message: error.message.clone(),
                will_retry: delay.is_some(),
            },
        );
        match delay {
            Some(delay) => {
                let at = eval::add_ms(ctx.now, delay.as_millis().min(i64::MAX as u128) as i64);
                self.record(
                    ctx,
                    EventKind::StepRetried {
                        step: path.clone(),
                        attempt: attempt + 1,
                        delay_ms: delay.as_millis() as u64,
                    },
                );
                if let Some(cc) = self.child_calls.get_mut(&(s, n)) {
                    cc.retry_at = Some(at);
                    cc.deadline = None;
                }
                fx.push(Effect::Timer {
                    at,
                    scope: s,
                    node: n,
                    order: self.timer_order(&path),
                    step: path,
                });
            }
            None => {
                self.child_calls.remove(&(s, n));
                self.step_failed(ctx, s, n, error, attempt, q, fx);
            }
        }
    }

    fn set_running(&mut self, s: u32, n: u32) {
        if let Some(Some(scope)) = self.scopes.get_mut(s as usize) {
            if scope.state[n as usize] == NState::Pending {
                scope.state[n as usize] = NState::Running;
            }
        }
    }

    fn node_state(&self, s: u32, n: u32) -> Option<NState> {
        self.scope(s).map(|sc| sc.state[n as usize])
    }

    fn open_items(&mut self, s: u32, n: u32, q: &mut VecDeque<Work>) {
        let Some(body) = self.scope(s).and_then(|sc| sc.plan.children.get(&n).cloned()) else {
            return;
        };
        let in_handler = self.scope(s).is_some_and(|sc| sc.in_handler);
        loop {
            let Some(fan) = self.fanouts.get_mut(&(s, n)) else {
                return;
            };
            if fan.active >= fan.limit || fan.next >= fan.items.len() {
                return;
            }
            let i = fan.next;
            fan.next += 1;
            fan.active += 1;
            let local = Some((fan.var.clone(), fan.items[i].clone()));
            let prefix = format!("{}[{i}].", fan.path);
            self.open_scope(
                body.clone(),
                Some((s, n)),
                ScopeKind::Item(i),
                in_handler,
                prefix,
                local,
                q,
            );
        }
    }

    fn scope_done(&mut self, ctx: &Ctx, s: u32, q: &mut VecDeque<Work>, fx: &mut Vec<Effect>) {
        let Some(scope) = self.scopes.get_mut(s as usize).and_then(Option::take) else {
            return;
        };
        match scope.kind {
            ScopeKind::Root => {
                if self.status == InstanceStatus::Running {
                    self.status = InstanceStatus::Completed;
                    self.record(ctx, EventKind::InstanceCompleted);
                    self.finished(Ok(self.output.clone()), fx);
                }
            }
            ScopeKind::Item(i) => {
                let Some((ps, pn)) = scope.parent else { return };
                let Some(fan) = self.fanouts.get_mut(&(ps, pn)) else {
                    return;
                };
                fan.results[i] = scope.yielded;
                fan.active -= 1;
                fan.done += 1;
                if fan.done == fan.items.len() {
                    let fan = self.fanouts.remove(&(ps, pn));
                    if let Some(fan) = fan {
                        let value = Value::List(fan.results);
                        self.record(
                            ctx,
                            EventKind::StepSucceeded {
                                step: fan.path,
                                attempt: 1,
                                value: value.clone(),
                                fallback: false,
                            },
                        );
                        q.push_back(Work::Finish(ps, pn, NState::Done, value));
                    }
                } else {
                    self.open_items(ps, pn, q);
                }
            }
            ScopeKind::Fallback => {
                let Some((ps, pn)) = scope.parent else { return };
                let step = self.scope(ps).map(|sc| sc.path(pn)).unwrap_or_default();
                self.record(
                    ctx,
                    EventKind::StepSucceeded {
                        step,
                        attempt: 0,
                        value: scope.yielded.clone(),
                        fallback: true,
                    },
                );
                q.push_back(Work::Finish(ps, pn, NState::Done, scope.yielded));
            }
            ScopeKind::Handler => self.fail_for_good(ctx, fx),
        }
    }

    fn fail_for_good(&mut self, ctx: &Ctx, fx: &mut Vec<Effect>) {
        let err = self.error.clone().unwrap_or(Value::Null);
        let status = InstanceStatus::Failed {
            step: err.get("step").to_string(),
            message: err.get("message").to_string(),
            class: err.get("class").to_string(),
        };
        if let InstanceStatus::Failed { step, message, class } = &status {
            self.record(
                ctx,
                EventKind::InstanceFailed {
                    step: step.clone(),
                    message: message.clone(),
                    class: class.clone(),
                },
            );
        }
        let class = ErrorClass::from_name(&err.get("class").to_string()).unwrap_or(ErrorClass::Permanent);
        let message = format!("{}: {}", err.get("step"), err.get("message"));
        self.status = status;
        self.finished(Err(ConnectorError::new(class, message)), fx);
    }

    fn finished(&mut self, result: Result<Value, ConnectorError>, fx: &mut Vec<Effect>) {
        // Nothing will run again: free the scopes (a finished instance keeps only its output).
        self.scopes.clear();
        self.fanouts.clear();
        self.child_calls.clear();
        self.retries.clear();
        self.event_waits.clear();
        self.queue.clear();
        fx.push(Effect::Finished {
            waiters: std::mem::take(&mut self.waiters),
            parent: self.parent.take(),
            result,
        });
    }

    fn fail_instance(
        &mut self,
        ctx: &Ctx,
        step: &str,
        message: &str,
        class: ErrorClass,
        q: &mut VecDeque<Work>,
        fx: &mut Vec<Effect>,
    ) {
        let redactor = self.redactor(ctx);
        let message = redactor.text(message);
        match self.status {
            InstanceStatus::Running => {
                self.error = Some(error_record(step, &message, class));
                match self.flow.handler.clone() {
                    Some(handler) => {
                        self.status = InstanceStatus::Failing;
                        self.open_scope(
                            handler,
                            None,
                            ScopeKind::Handler,
                            true,
                            "on_error.".into(),
                            None,
                            q,
                        );
                    }
                    None => self.fail_for_good(ctx, fx),
                }
            }
            // A failure inside the handler ends it; the original error is what is reported.
            InstanceStatus::Failing => self.fail_for_good(ctx, fx),
            _ => {}
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn step_failed(
        &mut self,
        ctx: &Ctx,
        s: u32,
        n: u32,
        error: ConnectorError,
        attempt: u32,
        q: &mut VecDeque<Work>,
        fx: &mut Vec<Effect>,
    ) {
        let Some(scope) = self.scope(s) else { return };
        let path = scope.path(n);
        let plan = scope.plan.clone();
        let fallback = match &plan.node(n).kind {
            NodeKind::Call(c) => c.fallback.clone(),
            _ => None,
        };
        match fallback {
            Some(FallbackPlan::Value(e)) => match self.eval(ctx, s, n, &e) {
                Ok(v) => {
                    self.record(
                        ctx,
                        EventKind::StepSucceeded {
                            step: path,
                            attempt,
                            value: v.clone(),
                            fallback: true,
                        },
                    );
                    q.push_back(Work::Finish(s, n, NState::Done, v));
                }
                Err(msg) => self.fail_instance(ctx, &path, &msg, ErrorClass::Permanent, q, fx),
            },
            Some(FallbackPlan::Block(_)) => {
                let Some(body) = plan.children.get(&n).cloned() else {
                    return;
                };
                let in_handler = self.scope(s).is_some_and(|sc| sc.in_handler);
                let prefix = format!("{path}.fallback.");
                self.open_scope(
                    body,
                    Some((s, n)),
                    ScopeKind::Fallback,
                    in_handler,
                    prefix,
                    None,
                    q,
                );
            }
            None => {
                if let Some(Some(scope)) = self.scopes.get_mut(s as usize) {
                    scope.state[n as usize] = NState::Failed;
                }
                self.fail_instance(ctx, &path, &error.message, error.class, q, fx);
            }
        }
    }

    /// A connector call (or sub-flow) finished after its last attempt.
    pub(crate) fn on_call_result(
        &mut self,
        ctx: &Ctx,
        s: u32,
        n: u32,
        result: CallResult,
        counted: bool,
    ) -> Vec<Effect> {
        let mut fx = Vec::new();
        if counted {
            self.running = self.running.saturating_sub(1);
            while self.running < ctx.globals.per_instance_limit {
                let Some(pc) = self.queue.pop_front() else { break };
                if !self.active(pc.scope) {
                    continue;
                }
                self.running += 1;
                self.launch(ctx, pc, &mut fx);
            }
        }
        if !self.active(s) || self.node_state(s, n) != Some(NState::Running) {
            return fx;
        }
        let mut q = VecDeque::new();
        if let Some(cc) = self.child_calls.get(&(s, n)) {
            let attempt = match &result {
                Ok((_, a)) | Err((_, a)) => *a,
            };
            // The answer of an attempt that timed out (or of a cancelled child) comes too late.
            if attempt != cc.attempt || cc.retry_at.is_some() {
                return fx;
            }
            match result {
                Ok(_) => {
                    self.child_calls.remove(&(s, n));
                }
                Err((error, _)) => {
                    self.child_failed(ctx, s, n, error, &mut q, &mut fx);
                    self.drive(ctx, q, &mut fx);
                    return fx;
                }
            }
        }
        match result {
            Ok((value, attempt)) => {
                let step = self.scope(s).map(|sc| sc.path(n)).unwrap_or_default();
                self.record(
                    ctx,
                    EventKind::StepSucceeded {
                        step,
                        attempt,
                        value: value.clone(),
                        fallback: false,
                    },
                );
                q.push_back(Work::Finish(s, n, NState::Done, value));
            }
            Err((error, attempt)) => self.step_failed(ctx, s, n, error, attempt, &mut q, &mut fx),
        }
        self.drive(ctx, q, &mut fx);
        fx
    }

    /// A timer of node `n` fired.
    pub(crate) fn on_timer(&mut self, ctx: &Ctx, s: u32, n: u32) -> Vec<Effect> {
        let mut fx = Vec::new();
        if let Some(mut pc) = self.retries.remove(&(s, n)) {
            if !self.active(s) || self.node_state(s, n) != Some(NState::Running) {
                // No longer wanted: the retry is dropped and its slot freed.
                let gone = ConnectorError::permanent("abandoned");
                return self.on_call_result(ctx, s, n, Err((gone, pc.attempt)), true);
            }
            pc.not_before = None;
            self.launch(ctx, pc, &mut fx);
            return fx;
        }
        if !self.active(s) || self.node_state(s, n) != Some(NState::Running) {
            return fx;
        }
        let Some(scope) = self.scope(s) else { return fx };
        let path = scope.path(n);
        let is_event = matches!(scope.plan.node(n).kind, NodeKind::WaitEvent { .. });
        let is_call = matches!(scope.plan.node(n).kind, NodeKind::Call(_));
        let mut q = VecDeque::new();
        if is_call {
            self.on_child_timer(ctx, s, n, &mut q, &mut fx);
        } else if is_event {
            self.event_waits.retain(|w| !(w.scope == s && w.node == n));
            self.end_event_wait(ctx, s, n, Value::Null, true, &mut q);
        } else {
            self.record(
                ctx,
                EventKind::WaitEnded {
                    step: path,
                    timed_out: false,
                },
            );
            q.push_back(Work::Finish(s, n, NState::Done, Value::Null));
        }
        self.drive(ctx, q, &mut fx);
        fx
    }

    fn end_event_wait(
        &mut self,
        ctx: &Ctx,
        s: u32,
        n: u32,
        payload: Value,
        timed_out: bool,
        q: &mut VecDeque<Work>,
    ) {
        let path = self.scope(s).map(|sc| sc.path(n)).unwrap_or_default();
        self.record(
            ctx,
            EventKind::WaitEnded {
                step: path.clone(),
                timed_out,
            },
        );
        self.record(
            ctx,
            EventKind::StepSucceeded {
                step: path,
                attempt: 1,
                value: payload.clone(),
                fallback: false,
            },
        );
        q.push_back(Work::Finish(s, n, NState::Done, payload));
    }

    fn filter_accepts(&self, ctx: &Ctx, s: u32, n: u32, payload: &Value) -> bool {
        let Some(scope) = self.scope(s) else { return false };
        let NodeKind::WaitEvent { filter, .. } = &scope.plan.node(n).kind else {
            return false;
        };
        let Some(filter) = filter else { return true };
        // The filter's verdict is journaled with the event it let in (or not): its clock read
        // needs no entry of its own.
        let env = self.node_env(ctx, s, n);
        let with = With {
            name: "event",
            value: payload,
            inner: &env,
        };
        eval::eval(filter, &with).is_ok_and(|v| v.is_true())
    }

    /// An event sent to this instance.
    pub(crate) fn on_signal(&mut self, ctx: &Ctx, name: &str, payload: Value) -> Vec<Effect> {
        let mut fx = Vec::new();
        if self.status.is_final() {
            return fx;
        }
        self.record(
            ctx,
            EventKind::EventReceived {
                name: name.to_string(),
                payload: payload.clone(),
            },
        );
        let pos = self.event_waits.iter().position(|w| {
            w.event == name && self.active(w.scope) && self.filter_accepts(ctx, w.scope, w.node, &payload)
        });
        match pos {
            Some(i) => {
                let w = self.event_waits.remove(i);
                let mut q = VecDeque::new();
                self.end_event_wait(ctx, w.scope, w.node, payload, false, &mut q);
                self.drive(ctx, q, &mut fx);
            }
            None => self.inbox.push((name.to_string(), payload)),
        }
        fx
    }

    /// An event emitted by some instance: it ends a matching wait here, if there is one (and
    /// is otherwise not kept, unlike a signal addressed to this instance).
    pub(crate) fn on_broadcast(&mut self, ctx: &Ctx, name: &str, payload: &Value) -> Vec<Effect> {
        let mut fx = Vec::new();
        if self.status.is_final() || self.event_waits.is_empty() {
            return fx;
        }
        let pos = self.event_waits.iter().position(|w| {
            w.event == name && self.active(w.scope) && self.filter_accepts(ctx, w.scope, w.node, payload)
        });
        if let Some(i) = pos {
            self.record(
                ctx,
                EventKind::EventReceived {
                    name: name.to_string(),
                    payload: payload.clone(),
                },
            );
            let w = self.event_waits.remove(i);
            let mut q = VecDeque::new();
            self.end_event_wait(ctx, w.scope, w.node, payload.clone(), false, &mut q);
            self.drive(ctx, q, &mut fx);
        }
        fx
    }

    /// Cancels the instance.
    pub(crate) fn cancel(&mut self, ctx: &Ctx) -> Vec<Effect> {
        let mut fx = Vec::new();
        if self.status.is_final() {
            return fx;
        }
        self.status = InstanceStatus::Cancelled;
        self.record(ctx, EventKind::InstanceCancelled);
        self.finished(Err(ConnectorError::permanent("cancelled")), &mut fx);
        fx
    }
}
