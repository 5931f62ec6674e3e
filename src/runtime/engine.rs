//! The engine: owns instances, runs their connector calls on tokio, and wakes them on timers.
//!
//! Each instance is a state machine ([`Instance`]) behind its own lock; a reaction (start, a
//! call's result, a timer, a signal) runs under the lock and returns effects, which the engine
//! carries out after releasing it. Waits hold no task: a suspended instance is data plus a timer
//! in the store, woken by the one timer driver task.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, Semaphore};
use tracing::Instrument;

use super::clock::{Clock, SystemClock};
use super::eval::{self, MapEnv};
use super::event::{Event, EventKind};
use super::input;
use super::instance::{
    CallResult, Ctx, Effect, FlowRt, Globals, Instance, InstanceStatus, ParentLink, PreparedCall,
};
use super::pacing::{self, Pacer};
use super::recording::StubAnswer;
use super::scheduler::PlanRt;
use super::store::{Commit, MemoryStore, Store, TimerRecord};
use super::templates::Templates;
use crate::connectors::{ActionCall, Connector, ConnectorError, DeclaredOnly, Registry};
use crate::plan::{self, Bundle};
use crate::project::Project;
use crate::value::Value;

thread_local! {
    static INLINE_DEPTH: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// How many calls may run nested on one thread's stack before the next is spawned.
const MAX_INLINE_DEPTH: u32 = 8;

/// An instance's id.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstanceId(pub String);

impl std::fmt::Display for InstanceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why the engine could not do what was asked.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EngineError {
    /// The project or a plan could not be loaded or compiled.
    #[error("{0}")]
    Setup(String),
    /// No flow by that name.
    #[error("no flow called `{0}`")]
    UnknownFlow(String),
    /// The input does not match the flow's `input` declaration.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// No instance with that id.
    #[error("no instance `{0}`")]
    UnknownInstance(String),
    /// The instance failed.
    #[error("instance failed at step `{step}`: {message}")]
    Failed {
        /// The step.
        step: String,
        /// Why.
        message: String,
        /// The error class.
        class: String,
    },
    /// The instance was cancelled.
    #[error("instance was cancelled")]
    Cancelled,
    /// The engine is shutting down.
    #[error("the engine is shutting down")]
    ShuttingDown,
}

/// An instance behind its lock.
pub(crate) struct Cell {
    inst: Mutex<Instance>,
}

impl Cell {
    fn lock(&self) -> std::sync::MutexGuard<'_, Instance> {
        self.inst.lock().unwrap_or_else(|e| e.into_inner())
    }
}

struct TimerEntry {
    cell: Arc<Cell>,
    scope: u32,
    node: u32,
    id: u64,
}

/// A timer's place in the queue: due time, the order its instance armed it in, its id.
type TimerKey = (DateTime<Utc>, u64, u64);

/// The flows of one bundle, by key.
type FlowsByKey = HashMap<String, Arc<FlowRt>>;

/// Answers sub-flow calls instead of starting them (flow tests): `(flow key, step path, input)`.
pub(crate) type FlowHook = Arc<dyn Fn(&str, &str, &Value) -> Option<StubAnswer> + Send + Sync>;

struct Inner {
    flow_hook: Option<FlowHook>,
    start_triggered: bool,
    pacer: Pacer,
    globals: Globals,
    flows: HashMap<String, Arc<FlowRt>>,
    by_name: HashMap<String, Vec<String>>,
    compile_errors: HashMap<String, String>,
    registry: Registry,
    clock: Arc<dyn Clock>,
    store: Arc<dyn Store>,
    /// Ended instances keep only their start, output and end in the store.
    compact_ended: bool,
    /// The bundles this engine was built with, by hash: kept in the store when an instance
    /// first starts on one.
    bundles: HashMap<String, Bundle>,
    /// Hashes of bundles already handed to the store.
    stored_plans: Mutex<HashSet<String>>,
    /// Flows of older bundles that recovered instances are pinned to, by bundle hash.
    pinned: Mutex<HashMap<String, Arc<FlowsByKey>>>,
    instances: Mutex<HashMap<String, Arc<Cell>>>,
    /// By due time, then the order the instance armed them in (see [`Effect::Timer`]).
    timers: Mutex<BTreeMap<TimerKey, TimerEntry>>,
    timer_seq: AtomicU64,
    timer_notify: Arc<Notify>,
    driver_token: AtomicBool,
    global: Arc<Semaphore>,
    in_flight: AtomicUsize,
    idle: Notify,
    shutting_down: AtomicBool,
}

/// Runs flows: start instances, signal them, wait for their output.
///
/// ```
/// use std::sync::Arc;
/// use flowc::config::Config;
/// use flowc::runtime::Engine;
/// use flowc::Project;
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let src = r#"
/// entity shop {}
/// flow greet for shop {
///   input { name: text }
///   let greeting = "Hello {{ input.name }}"
///   output { greeting }
/// }"#;
/// let project = Project::from_sources(std::path::Path::new("/demo"), Config::default(), [("demo.flow", src)]);
/// let engine = Engine::builder().project_value(project).build().unwrap();
/// let id = engine.start("greet", serde_json::json!({ "name": "Ada" })).await.unwrap();
/// let output = engine.output(&id).await.unwrap();
/// assert_eq!(output.get("greeting").as_str(), Some("Hello Ada"));
/// engine.shutdown().await;
/// # });
/// ```
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

/// Configures an [`Engine`].
#[derive(Default)]
pub struct EngineBuilder {
    project_path: Option<PathBuf>,
    project: Option<Project>,
    bundles: Vec<Bundle>,
    connectors: Vec<Arc<dyn Connector>>,
    clock: Option<Arc<dyn Clock>>,
    store: Option<Arc<dyn Store>>,
    global_limit: Option<usize>,
    per_instance_limit: Option<usize>,
    flow_hook: Option<FlowHook>,
    no_triggers: bool,
    compact_ended: bool,
}

impl EngineBuilder {
    /// Loads the project containing `path` (`flowc.toml` is looked for upward).
    pub fn project(mut self, path: impl Into<PathBuf>) -> Self {
        self.project_path = Some(path.into());
        self
    }

    /// Uses an already loaded project.
    pub fn project_value(mut self, project: Project) -> Self {
        self.project = Some(project);
        self
    }

    /// Adds a compiled plan bundle (e.g. read from `flowc build` output).
    pub fn bundle(mut self, bundle: Bundle) -> Self {
        self.bundles.push(bundle);
        self
    }

    /// Adds (or replaces, by manifest name) a connector.
    pub fn connector(mut self, connector: Arc<dyn Connector>) -> Self {
        self.connectors.push(connector);
        self
    }

    /// The clock (default: the wall clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The store (default: in memory).
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// Whether an instance's history is compacted when it ends, keeping its start, output and
    /// end (default: no, the whole history stays).
    pub fn compact_ended(mut self, yes: bool) -> Self {
        self.compact_ended = yes;
        self
    }

    /// Connector calls in flight across all instances (default 1024).
    pub fn max_concurrent_steps(mut self, n: usize) -> Self {
        self.global_limit = Some(n.max(1));
        self
    }

    /// Connector calls in flight per instance (default 64).
    pub fn max_steps_per_instance(mut self, n: usize) -> Self {
        self.per_instance_limit = Some(n.max(1));
        self
    }

    /// Whether `emit` starts the flows declared `on event` with its name (default: yes; flow
    /// tests run one instance and turn it off).
    pub fn start_triggered_flows(mut self, yes: bool) -> Self {
        self.no_triggers = !yes;
        self
    }

    /// Lets `hook` answer sub-flow calls (flow tests stub them).
    pub(crate) fn flow_hook(mut self, hook: FlowHook) -> Self {
        self.flow_hook = Some(hook);
        self
    }

    /// Compiles the flows and starts the timer driver. Must be called inside a tokio runtime.
    pub fn build(self) -> Result<Engine, EngineError> {
        let mut registry = Registry::new();
        for m in crate::connectors::builtin_manifests() {
            registry.register(Arc::new(DeclaredOnly::new(m)));
        }
        for c in &self.connectors {
            registry.register(c.clone());
        }
        let mut bundles = self.bundles;
        let mut compile_errors = HashMap::new();
        let project = match (self.project, self.project_path) {
            (Some(p), _) => Some(p),
            (None, Some(path)) => Some(Project::load(&path).map_err(|e| EngineError::Setup(e.to_string()))?),
            (None, None) => None,
        };
        if let Some(project) = &project {
            // A project with check errors is refused whole (`plan::compile_project`).
            let compiled =
                plan::compile_project(project, &registry).map_err(|e| EngineError::Setup(e.message))?;
            for (name, result) in compiled {
                match result {
                    Ok(b) => bundles.push(b),
                    Err(e) => {
                        compile_errors.insert(name, e.message);
                    }
                }
            }
        }
        let mut flows: HashMap<String, Arc<FlowRt>> = HashMap::new();
        let mut by_name: HashMap<String, Vec<String>> = HashMap::new();
        let mut entities = BTreeMap::new();
        let mut databases = HashSet::new();
        let mut secrets = BTreeMap::new();
        for bundle in &bundles {
            for (name, e) in &bundle.entities {
                if entities.contains_key(name) {
                    continue;
                }
                let env = MapEnv {
                    names: BTreeMap::new(),
                    now: Utc::now(),
                };
                let mut rec = BTreeMap::new();
                rec.insert("name".to_string(), Value::text(name));
                rec.insert(
                    "title".to_string(),
                    e.title.clone().map(Value::Text).unwrap_or(Value::Null),
                );
                for (k, expr) in &e.settings {
                    let v = eval::eval(expr, &env)
                        .map_err(|err| EngineError::Setup(format!("setting `{name}.{k}`: {err}")))?;
                    rec.insert(k.clone(), v);
                }
                databases.extend(e.databases.iter().cloned());
                secrets.insert(name.clone(), e.secrets.clone());
                entities.insert(name.clone(), Value::Record(rec));
            }
            for (key, rt) in flow_rts(bundle, |k| flows.contains_key(k))? {
                by_name.entry(rt.plan.name.clone()).or_default().push(key.clone());
                flows.insert(key, rt);
            }
        }
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let inner = Arc::new(Inner {
            flow_hook: self.flow_hook,
            start_triggered: !self.no_triggers,
            pacer: Pacer::default(),
            globals: Globals {
                entities,
                secrets,
                databases,
                per_instance_limit: self.per_instance_limit.unwrap_or(64),
            },
            flows,
            by_name,
            compile_errors,
            registry,
            clock: clock.clone(),
            store: self.store.unwrap_or_else(|| Arc::new(MemoryStore::new())),
            compact_ended: self.compact_ended,
            bundles: bundles.into_iter().map(|b| (b.hash.clone(), b)).collect(),
            stored_plans: Mutex::new(HashSet::new()),
            pinned: Mutex::new(HashMap::new()),
            instances: Mutex::new(HashMap::new()),
            timers: Mutex::new(BTreeMap::new()),
            timer_seq: AtomicU64::new(first_timer_id()),
            timer_notify: Arc::new(Notify::new()),
            driver_token: AtomicBool::new(false),
            global: Arc::new(Semaphore::new(self.global_limit.unwrap_or(1024))),
            in_flight: AtomicUsize::new(0),
            idle: Notify::new(),
            shutting_down: AtomicBool::new(false),
        });
        clock.enter();
        tokio::spawn(timer_driver(Arc::downgrade(&inner), inner.timer_notify.clone()));
        Ok(Engine { inner })
    }
}

/// The flows of `bundle` ready to run, skipping the keys `skip` says are known already.
fn flow_rts(bundle: &Bundle, skip: impl Fn(&str) -> bool) -> Result<Vec<(String, Arc<FlowRt>)>, EngineError> {
    let templates = Arc::new(Templates::new(&bundle.templates).map_err(EngineError::Setup)?);
    Ok(bundle
        .flows
        .iter()
        .filter(|(key, _)| !skip(key))
        .map(|(key, flow)| {
            let rt = Arc::new(FlowRt {
                root: PlanRt::new(&flow.body),
                handler: flow.on_error.as_ref().map(PlanRt::new),
                plan: flow.clone(),
                templates: templates.clone(),
                bundle: bundle.hash.clone(),
            });
            (key.clone(), rt)
        })
        .collect())
}

/// Timer ids start from the process's start time (in the high bits), so a restarted engine
/// never reuses the id of a timer an earlier process left in a durable store.
fn first_timer_id() -> u64 {
    let ms = Utc::now().timestamp_millis().max(0) as u64;
    (ms << 20) | 1
}

impl Engine {
    /// A builder.
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }

    /// The engine's clock.
    pub fn clock(&self) -> Arc<dyn Clock> {
        self.inner.clock.clone()
    }

    /// Names of the flows this engine can start.
    pub fn flows(&self) -> Vec<String> {
        let mut names: Vec<String> = self.inner.by_name.keys().cloned().collect();
        names.sort();
        names
    }

    /// Starts an instance of `flow` (a flow name or bundle key) with `input` (a JSON object
    /// checked against the flow's input declaration; defaults applied, dates parsed).
    /// With a durable store it returns once the instance's start is kept.
    pub async fn start(&self, flow: &str, input: serde_json::Value) -> Result<InstanceId, EngineError> {
        let id = self.inner.start(flow, input, None)?;
        self.inner.kept(self.inner.store.sync()).await?;
        Ok(id)
    }

    /// Delivers event `name` to instance `id`: the first `wait for event` that accepts it ends;
    /// otherwise it is kept for a later one.
    pub async fn signal(
        &self,
        id: &InstanceId,
        name: &str,
        payload: serde_json::Value,
    ) -> Result<(), EngineError> {
        let cell = self.inner.cell(id)?;
        self.inner.react(&cell, |inst, ctx| {
            inst.on_signal(ctx, name, Value::from_json(&payload))
        });
        Ok(())
    }

    /// Cancels instance `id`; calls in flight finish but their results are ignored.
    pub async fn cancel(&self, id: &InstanceId) -> Result<(), EngineError> {
        let cell = self.inner.cell(id)?;
        self.inner.cancel_tree(cell);
        Ok(())
    }

    /// Picks up every unfinished instance the store knows (after a restart): each is rebuilt
    /// from its history and continues; steps with a recorded result are not called again and
    /// waits end at the time they were set for. Sub-flow instances are left to their parents.
    /// Returns the instances resumed.
    pub async fn recover(&self) -> Vec<InstanceId> {
        let inner = &self.inner;
        let mut resumed = Vec::new();
        let mut timers: HashMap<String, Vec<u64>> = HashMap::new();
        for t in inner.store.timers() {
            timers.entry(t.instance).or_default().push(t.id);
        }
        for id in inner.store.unfinished() {
            if inner.cell(&InstanceId(id.clone())).is_ok() {
                continue;
            }
            let history = inner.store.history(&id);
            let Some(EventKind::InstanceStarted {
                flow,
                input,
                parent,
                entity,
                plan,
            }) = history.first().map(|e| &e.kind)
            else {
                continue;
            };
            if parent.is_some() || super::event::has_ended(&history) {
                continue;
            }
            let flow = match inner.resolve_in(flow, plan.as_deref()) {
                Ok(flow) => flow,
                Err(e) => {
                    tracing::warn!(instance = %id, "cannot resume: {e}");
                    continue;
                }
            };
            // Its timers are set again from the history.
            for t in timers.remove(&id).unwrap_or_default() {
                inner.store.remove_timer(t);
            }
            let entity = entity.clone().unwrap_or_else(|| flow.plan.entity.clone());
            let cell = Arc::new(Cell {
                inst: Mutex::new(Instance::new(id.clone(), flow, input.clone(), entity, None)),
            });
            inner
                .instances
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(id.clone(), cell.clone());
            inner.react(&cell, |inst, ctx| inst.resume(ctx, &history));
            resumed.push(InstanceId(id));
        }
        let _ = inner.kept(inner.store.sync()).await;
        resumed
    }

    /// The instance's status.
    pub fn status(&self, id: &InstanceId) -> Result<InstanceStatus, EngineError> {
        Ok(self.inner.cell(id)?.lock().status.clone())
    }

    /// Drops a finished instance from memory (its history stays in the store). Long-running
    /// hosts call this once they have its output; returns whether it was dropped.
    pub fn forget(&self, id: &InstanceId) -> bool {
        let mut map = self.inner.instances.lock().unwrap_or_else(|e| e.into_inner());
        let finished = map.get(&id.0).is_some_and(|c| c.lock().status.is_final());
        if finished {
            map.remove(&id.0);
        }
        finished
    }

    /// The instance's history.
    pub fn history(&self, id: &InstanceId) -> Vec<Event> {
        self.inner.store.history(&id.0)
    }

    /// Waits for the instance to end and returns its output.
    pub async fn output(&self, id: &InstanceId) -> Result<Value, EngineError> {
        let cell = self.inner.cell(id)?;
        let rx = {
            let mut inst = cell.lock();
            if inst.status.is_final() {
                None
            } else {
                let (tx, rx) = tokio::sync::oneshot::channel();
                inst.waiters.push(tx);
                Some(rx)
            }
        };
        if let Some(rx) = rx {
            let _ = rx.await;
        }
        // The status changes under the lock before the store has kept the change: the answer
        // waits for it.
        self.inner.kept(self.inner.store.sync()).await?;
        let inst = cell.lock();
        match &inst.status {
            InstanceStatus::Completed => Ok(inst.output.clone()),
            InstanceStatus::Failed { step, message, class } => Err(EngineError::Failed {
                step: step.clone(),
                message: message.clone(),
                class: class.clone(),
            }),
            InstanceStatus::Cancelled => Err(EngineError::Cancelled),
            _ => Err(EngineError::ShuttingDown),
        }
    }

    /// Stops taking new instances and waits for running steps to finish. Waiting instances stay
    /// in the store.
    pub async fn shutdown(&self) {
        self.inner.shutting_down.store(true, Ordering::SeqCst);
        self.inner.wake_driver();
        loop {
            let notified = self.inner.idle.notified();
            if self.inner.in_flight.load(Ordering::SeqCst) == 0 {
                break;
            }
            notified.await;
        }
    }
}

impl Inner {
    /// Cancels an instance and, with it, its sub-flow instances.
    fn cancel_tree(self: &Arc<Self>, cell: Arc<Cell>) {
        let mut pending = vec![cell];
        while let Some(cell) = pending.pop() {
            self.react(&cell, |inst, ctx| inst.cancel(ctx));
            let children = std::mem::take(&mut cell.lock().children);
            for child in children {
                if let Ok(c) = self.cell(&InstanceId(child)) {
                    pending.push(c);
                }
            }
        }
    }

    fn cell(&self, id: &InstanceId) -> Result<Arc<Cell>, EngineError> {
        self.instances
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id.0)
            .cloned()
            .ok_or_else(|| EngineError::UnknownInstance(id.0.clone()))
    }

    fn resolve(&self, flow: &str) -> Result<Arc<FlowRt>, EngineError> {
        if let Some(f) = self.flows.get(flow) {
            return Ok(f.clone());
        }
        match self.by_name.get(flow).map(Vec::as_slice) {
            Some([key]) if self.flows.contains_key(key) => Ok(self.flows[key].clone()),
            Some(keys) if keys.len() > 1 => Err(EngineError::Setup(format!(
                "several flows are called `{flow}`: use one of {}",
                keys.join(", ")
            ))),
            _ => match self.compile_errors.get(flow) {
                Some(e) => Err(EngineError::Setup(format!("flow `{flow}` does not compile: {e}"))),
                None => Err(EngineError::UnknownFlow(flow.to_string())),
            },
        }
    }

    /// Waits until the store has kept what was appended (a durable store's commit).
    async fn kept(&self, commit: Commit) -> Result<(), EngineError> {
        match commit {
            Commit::Done => Ok(()),
            Commit::Pending(rx) => match rx.await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(EngineError::Setup(format!("the store failed: {e}"))),
                Err(_) => Err(EngineError::ShuttingDown),
            },
        }
    }

    /// The flow `key` as the bundle `hash` has it: an instance finishes on the plan it started
    /// with. Bundles of an earlier build are read back from the store; without a hash (or when
    /// the store lost it) the engine's own flow is used.
    fn resolve_in(&self, key: &str, hash: Option<&str>) -> Result<Arc<FlowRt>, EngineError> {
        let Some(hash) = hash.filter(|h| !self.bundles.contains_key(*h)) else {
            return self.resolve(key);
        };
        let mut pinned = self.pinned.lock().unwrap_or_else(|e| e.into_inner());
        if !pinned.contains_key(hash) {
            let Some(text) = self.store.plan(hash) else {
                tracing::warn!(
                    plan = hash,
                    "the store has no plan with this hash: using today's `{key}`"
                );
                return self.resolve(key);
            };
            let bundle: Bundle = serde_json::from_str(&text)
                .map_err(|e| EngineError::Setup(format!("the stored plan {hash} cannot be read: {e}")))?;
            let flows = flow_rts(&bundle, |_| false)?.into_iter().collect();
            pinned.insert(hash.to_string(), Arc::new(flows));
        }
        match pinned.get(hash).and_then(|flows| flows.get(key)) {
            Some(flow) => Ok(flow.clone()),
            None => Err(EngineError::UnknownFlow(key.to_string())),
        }
    }

    /// Hands the bundle `hash` to the store the first time an instance starts on it.
    fn keep_plan(&self, hash: &str) {
        if !self.bundles.contains_key(hash) {
            return;
        }
        let mut stored = self.stored_plans.lock().unwrap_or_else(|e| e.into_inner());
        if stored.insert(hash.to_string()) {
            if let Ok(text) = serde_json::to_string(&self.bundles[hash]) {
                self.store.put_plan(hash, &text);
            }
        }
    }

    fn start(
        self: &Arc<Self>,
        flow: &str,
        input: serde_json::Value,
        parent: Option<ParentLink>,
    ) -> Result<InstanceId, EngineError> {
        if self.shutting_down.load(Ordering::SeqCst) {
            return Err(EngineError::ShuttingDown);
        }
        // A sub-flow runs on its caller's plan.
        let flow = match &parent {
            Some(p) => {
                let bundle = p.cell.lock().flow.bundle.clone();
                self.resolve_in(flow, Some(&bundle))?
            }
            None => self.resolve(flow)?,
        };
        self.keep_plan(&flow.bundle);
        let input = input::validate(&flow.plan.input, &input).map_err(EngineError::InvalidInput)?;
        // A sub-flow's id derives from its parent's step, so a parent resumed after a restart
        // finds the same child again instead of starting another.
        let id = match &parent {
            Some(p) => p.child_id(),
            // UUIDv7: unique across runs and processes (so are the idempotency keys derived
            // from it), and ordered by creation time, which keeps a store's index append-mostly.
            None => uuid::Uuid::now_v7().to_string(),
        };
        // A sub-flow works in its caller's workspace.
        let entity = match &parent {
            Some(p) => p.cell.lock().entity.clone(),
            None => flow.plan.entity.clone(),
        };
        let cell = Arc::new(Cell {
            inst: Mutex::new(Instance::new(id.clone(), flow, input, entity, parent)),
        });
        self.instances
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.clone(), cell.clone());
        self.react(&cell, |inst, ctx| inst.start(ctx));
        Ok(InstanceId(id))
    }

    /// Runs one reaction of an instance under its lock, then its effects.
    fn react(self: &Arc<Self>, cell: &Arc<Cell>, f: impl FnOnce(&mut Instance, &Ctx) -> Vec<Effect>) {
        self.clock.enter();
        let (fx, span, commit) = {
            let mut inst = cell.lock();
            let span = tracing::info_span!(
                "instance",
                instance = %inst.id,
                flow = %inst.flow.plan.name,
                entity = %inst.flow.plan.entity
            );
            let ctx = Ctx {
                globals: &self.globals,
                now: self.clock.now(),
            };
            let fx = span.in_scope(|| f(&mut inst, &ctx));
            // Handed over under the lock, so an instance's batches reach the store in order.
            let events = inst.take_pending();
            let commit = if events.is_empty() {
                Commit::Done
            } else {
                self.store.append_batch(&inst.id, events)
            };
            (fx, span, commit)
        };
        match commit {
            Commit::Done => span.in_scope(|| self.apply(cell, fx)),
            Commit::Pending(rx) => self.apply_when_kept(cell, fx, span, rx),
        }
        self.clock.leave();
    }

    /// Carries out a reaction's effects once the store has kept its events: nothing is called,
    /// timed or answered on the strength of a decision a crash could still lose.
    fn apply_when_kept(
        self: &Arc<Self>,
        cell: &Arc<Cell>,
        fx: Vec<Effect>,
        span: tracing::Span,
        rx: tokio::sync::oneshot::Receiver<Result<(), super::store::StoreError>>,
    ) {
        if fx.is_empty() {
            return;
        }
        self.clock.enter();
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        let inner = self.clone();
        let cell = cell.clone();
        tokio::spawn(async move {
            match rx.await {
                Ok(Ok(())) => span.in_scope(|| inner.apply(&cell, fx)),
                Ok(Err(e)) => {
                    tracing::error!(parent: &span, "the store did not keep the history, the instance stops here: {e}")
                }
                Err(_) => tracing::error!(parent: &span, "the store stopped before keeping the history"),
            }
            if inner.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
                inner.idle.notify_waiters();
            }
            inner.clock.leave();
        });
    }

    fn apply(self: &Arc<Self>, cell: &Arc<Cell>, fx: Vec<Effect>) {
        for effect in fx {
            match effect {
                Effect::Call(pc) => {
                    self.clock.enter();
                    self.in_flight.fetch_add(1, Ordering::SeqCst);
                    let inner = self.clone();
                    let cell = cell.clone();
                    let mut task = Box::pin(async move {
                        run_call(inner.clone(), cell, pc).await;
                        if inner.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
                            inner.idle.notify_waiters();
                        }
                        inner.clock.leave();
                    });
                    // A connector that answers at once (a cache, a stub) finishes on this first
                    // poll, saving a task switch; anything that waits is handed to tokio, whose
                    // first poll registers the real waker. The depth bound keeps chains of such
                    // steps from growing the stack.
                    let depth = INLINE_DEPTH.with(|d| d.get());
                    if depth < MAX_INLINE_DEPTH {
                        INLINE_DEPTH.with(|d| d.set(depth + 1));
                        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
                        let ready = task.as_mut().poll(&mut cx).is_ready();
                        INLINE_DEPTH.with(|d| d.set(depth));
                        if !ready {
                            tokio::spawn(task);
                        }
                    } else {
                        tokio::spawn(task);
                    }
                }
                Effect::StartChild {
                    scope,
                    node,
                    step,
                    key,
                    input,
                    attempt,
                } => {
                    if let Some(hook) = &self.flow_hook {
                        match hook(&key, &step, &input) {
                            Some(StubAnswer::Returns(v)) => {
                                self.react(cell, |inst, ctx| {
                                    inst.on_call_result(ctx, scope, node, Ok((v, attempt)), false)
                                });
                                continue;
                            }
                            Some(StubAnswer::Fails(class, message)) => {
                                let err = ConnectorError::new(class, message);
                                self.react(cell, |inst, ctx| {
                                    inst.on_call_result(ctx, scope, node, Err((err, attempt)), false)
                                });
                                continue;
                            }
                            Some(StubAnswer::Hangs) => continue,
                            None => {}
                        }
                    }
                    let parent_id = cell.lock().id.clone();
                    let link = ParentLink {
                        id: parent_id,
                        step,
                        cell: cell.clone(),
                        scope,
                        node,
                        attempt,
                    };
                    if self.reattach_child(&link) {
                        continue;
                    }
                    match self.start(&key, input.to_json(), Some(link)) {
                        Ok(child) => cell.lock().children.push(child.0),
                        Err(e) => {
                            let err = ConnectorError::permanent(e.to_string());
                            self.react(cell, |inst, ctx| {
                                inst.on_call_result(ctx, scope, node, Err((err, attempt)), false)
                            });
                        }
                    }
                }
                Effect::CancelChild { id } => {
                    if let Ok(child) = self.cell(&InstanceId(id)) {
                        // Detached first: its end must not answer the step again.
                        child.lock().parent = None;
                        self.cancel_tree(child);
                    }
                }
                Effect::Timer {
                    at,
                    scope,
                    node,
                    step,
                    order,
                } => {
                    let id = self.timer_seq.fetch_add(1, Ordering::Relaxed);
                    let instance = cell.lock().id.clone();
                    self.store.put_timer(TimerRecord {
                        id,
                        instance,
                        at,
                        step,
                    });
                    let earliest = {
                        let mut timers = self.timers.lock().unwrap_or_else(|e| e.into_inner());
                        timers.insert(
                            (at, order, id),
                            TimerEntry {
                                cell: cell.clone(),
                                scope,
                                node,
                                id,
                            },
                        );
                        timers.keys().next() == Some(&(at, order, id))
                    };
                    if earliest {
                        self.wake_driver();
                    }
                }
                Effect::Emit { name, payload } => self.broadcast(cell, &name, &payload),
                Effect::Finished {
                    waiters,
                    parent,
                    result,
                } => {
                    if self.compact_ended {
                        self.store.compact(&cell.lock().id);
                    }
                    for w in waiters {
                        let _ = w.send(());
                    }
                    if let Some(p) = parent {
                        let attempt = p.attempt;
                        let r: CallResult = result.map(|v| (v, attempt)).map_err(|e| (e, attempt));
                        self.react(&p.cell, |inst, ctx| {
                            inst.on_call_result(ctx, p.scope, p.node, r, false)
                        });
                    }
                }
            }
        }
    }

    /// After a restart: if the sub-flow instance of this step already exists in the store, its
    /// result (when it ended) or the resumed instance (when it did not) answers the parent.
    fn reattach_child(self: &Arc<Self>, link: &ParentLink) -> bool {
        let child_id = link.child_id();
        if self.cell(&InstanceId(child_id.clone())).is_ok() {
            return false;
        }
        let history = self.store.history(&child_id);
        let Some(EventKind::InstanceStarted {
            flow, input, plan, ..
        }) = history.first().map(|e| &e.kind)
        else {
            return false;
        };
        let ended = history
            .iter()
            .rev()
            .filter(|_| super::event::has_ended(&history))
            .find_map(|e| match &e.kind {
                EventKind::InstanceCompleted => Some(Ok(history
                    .iter()
                    .rev()
                    .find_map(|e| match &e.kind {
                        EventKind::Output { value } => Some(value.clone()),
                        _ => None,
                    })
                    .unwrap_or(Value::Null))),
                EventKind::InstanceFailed { step, message, class } => Some(Err(ConnectorError::new(
                    crate::connectors::ErrorClass::from_name(class)
                        .unwrap_or(crate::connectors::ErrorClass::Permanent),
                    format!("{step}: {message}"),
                ))),
                EventKind::InstanceCancelled => Some(Err(ConnectorError::permanent("cancelled"))),
                _ => None,
            });
        let (scope, node, attempt) = (link.scope, link.node, link.attempt);
        if let Some(result) = ended {
            let r: CallResult = result.map(|v| (v, attempt)).map_err(|e| (e, attempt));
            self.react(&link.cell, |inst, ctx| {
                inst.on_call_result(ctx, scope, node, r, false)
            });
            return true;
        }
        let Ok(flow) = self.resolve_in(flow, plan.as_deref()) else {
            return false;
        };
        let entity = link.cell.lock().entity.clone();
        let cell = Arc::new(Cell {
            inst: Mutex::new(Instance::new(
                child_id.clone(),
                flow,
                input.clone(),
                entity,
                Some(link.clone()),
            )),
        });
        self.instances
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(child_id.clone(), cell.clone());
        link.cell.lock().children.push(child_id);
        self.react(&cell, |inst, ctx| inst.resume(ctx, &history));
        true
    }

    /// Delivers an emitted event to every other instance waiting for it, and starts the flows
    /// it triggers (`on event "name"`) with the payload as input.
    fn broadcast(self: &Arc<Self>, from: &Arc<Cell>, name: &str, payload: &Value) {
        let cells: Vec<Arc<Cell>> = self
            .instances
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .filter(|c| !Arc::ptr_eq(c, from))
            .cloned()
            .collect();
        for cell in cells {
            self.react(&cell, |inst, ctx| inst.on_broadcast(ctx, name, payload));
        }
        if !self.start_triggered {
            return;
        }
        let mut triggered: Vec<&String> = self
            .flows
            .iter()
            .filter(|(_, f)| f.plan.listens_to(name))
            .map(|(k, _)| k)
            .collect();
        triggered.sort();
        for key in triggered {
            if let Err(e) = self.start(key, payload.to_json(), None) {
                tracing::warn!(event = name, flow = %key, "event did not start the flow: {e}");
            }
        }
    }

    /// Wakes the timer driver, counting it busy until it has looked at the timers again.
    fn wake_driver(&self) {
        if !self.driver_token.swap(true, Ordering::SeqCst) {
            self.clock.enter();
        }
        self.timer_notify.notify_one();
    }
}

/// Makes one attempt of a call and hands its answer to the instance, which decides what
/// follows (a retry waits on a journaled timer, not in this task).
async fn run_call(inner: Arc<Inner>, cell: Arc<Cell>, pc: Box<PreparedCall>) {
    // Span fields are recorded when the span is made, so borrowing under the lock is enough.
    let (instance, flow_entity, span) = {
        let inst = cell.lock();
        let span = tracing::info_span!(
            "step",
            instance = %inst.id,
            flow = %inst.flow.plan.name,
            entity = %pc.entity,
            step = %pc.step
        );
        (inst.id.clone(), inst.entity.clone(), span)
    };
    let result = attempt(&inner, pc.as_ref(), &instance, flow_entity)
        .instrument(span)
        .await;
    inner.react(&cell, |inst, ctx| inst.on_attempt(ctx, pc, result));
}

async fn attempt(
    inner: &Arc<Inner>,
    pc: &PreparedCall,
    instance: &str,
    flow_entity: String,
) -> Result<Value, ConnectorError> {
    let (connector_name, action_name) = pc.target();
    let Some(connector) = inner.registry.get(connector_name).cloned() else {
        return Err(ConnectorError::permanent(format!(
            "no connector `{connector_name}`"
        )));
    };
    let rate_limit = inner
        .registry
        .action(connector_name, action_name)
        .and_then(|a| a.rate_limit.clone());
    // Connectors that pace themselves (Notion, at flowc.toml's rate) are not paced twice.
    let limiter = match &rate_limit {
        Some(limit) if !connector.paces_itself() => {
            Some(inner.pacer.limiter(connector_name, &pc.entity, limit))
        }
        _ => None,
    };
    if let Some(limiter) = &limiter {
        pace(inner, limiter).await;
    }
    let permit = match inner.global.clone().try_acquire_owned() {
        Ok(p) => Ok(p),
        Err(_) => inner.global.clone().acquire_owned().await,
    };
    let attempt = pc.attempt;
    let call = ActionCall {
        action: action_name.to_string(),
        // The last possible attempt can have the arguments themselves.
        args: if attempt >= pc.retry().attempts {
            std::mem::take(&mut *pc.args.lock().unwrap_or_else(|e| e.into_inner()))
        } else {
            pc.args.lock().unwrap_or_else(|e| e.into_inner()).clone()
        },
        entity: pc.entity.clone(),
        flow_entity,
        instance: instance.to_string(),
        step: pc.step.clone(),
        attempt,
        idempotency_key: pc.idempotency_key.clone(),
    };
    let attempt_span = tracing::info_span!("attempt", attempt);
    attempt_span.in_scope(|| tracing::debug!("calling {connector_name}.{action_name}"));
    let fut = connector.call(call).instrument(attempt_span);
    let outcome = match pc.timeout_ms() {
        Some(ms) => {
            let deadline = super::eval::add_ms(inner.clock.now(), ms);
            let sleep = inner.clock.sleep_until(deadline);
            tokio::select! {
                biased;
                r = fut => r,
                _ = sleep => {
                    // The clock entered a unit of work for us when it woke us.
                    inner.clock.leave();
                    Err(ConnectorError::transient(format!(
                        "timed out after {}",
                        crate::value::format_duration(ms)
                    )))
                }
            }
        }
        None => fut.await,
    };
    drop(permit);
    if let (Some(limiter), Err(error)) = (&limiter, &outcome) {
        if let Some(after) = error.retry_after {
            // Calls of the same account already queued wait too.
            limiter.pause(pacing::seconds(inner.clock.now()), after);
        }
    }
    outcome
}

/// Waits on the engine clock until `limiter` lets a call go (again after a pause that came
/// while waiting).
async fn pace(inner: &Inner, limiter: &pacing::Limiter) {
    loop {
        let reservation = limiter.reserve(pacing::seconds(inner.clock.now()));
        if !reservation.wait.is_zero() {
            sleep_for(inner, reservation.wait).await;
        }
        if limiter.is_current(&reservation) {
            return;
        }
    }
}

/// Sleeps on the engine clock, idle meanwhile.
async fn sleep_for(inner: &Inner, delay: Duration) {
    let at = super::eval::add_ms(inner.clock.now(), delay.as_millis().min(i64::MAX as u128) as i64);
    let sleep = inner.clock.sleep_until(at);
    inner.clock.leave();
    sleep.await;
}

/// The one task that wakes suspended instances when their timers are due. It holds the engine
/// only while it works, so dropping every [`Engine`] handle ends it.
async fn timer_driver(weak: std::sync::Weak<Inner>, notify: Arc<Notify>) {
    let Some(clock) = weak.upgrade().map(|i| i.clock.clone()) else {
        return;
    };
    loop {
        let Some(inner) = weak.upgrade() else {
            clock.leave();
            return;
        };
        // Busy here: one unit of work is ours.
        if inner.driver_token.swap(false, Ordering::SeqCst) {
            inner.clock.leave();
        }
        let now = inner.clock.now();
        let due: Vec<TimerEntry> = {
            let mut timers = inner.timers.lock().unwrap_or_else(|e| e.into_inner());
            let keys: Vec<_> = timers
                .range(..=(now, u64::MAX, u64::MAX))
                .map(|(k, _)| *k)
                .collect();
            keys.into_iter().filter_map(|k| timers.remove(&k)).collect()
        };
        for t in due {
            inner.store.remove_timer(t.id);
            let (scope, node) = (t.scope, t.node);
            inner.react(&t.cell, |inst, ctx| inst.on_timer(ctx, scope, node));
        }
        if inner.shutting_down.load(Ordering::SeqCst) {
            inner.clock.leave();
            return;
        }
        let next = {
            let timers = inner.timers.lock().unwrap_or_else(|e| e.into_inner());
            timers.keys().next().map(|k| k.0)
        };
        if next.is_some_and(|t| t <= inner.clock.now()) {
            continue;
        }
        let notified = notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if inner.driver_token.load(Ordering::SeqCst) {
            continue;
        }
        let sleep = next.map(|t| inner.clock.sleep_until(t));
        clock.leave();
        drop(inner);
        match sleep {
            Some(sleep) => {
                tokio::select! {
                    _ = sleep => {}
                    _ = &mut notified => {
                        let token = weak.upgrade().is_some_and(|i| i.driver_token.swap(false, Ordering::SeqCst));
                        if !token {
                            clock.enter();
                        }
                    }
                }
            }
            None => {
                notified.await;
                let token = weak
                    .upgrade()
                    .is_some_and(|i| i.driver_token.swap(false, Ordering::SeqCst));
                if !token {
                    clock.enter();
                }
            }
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Wake the timer driver so that it sees the engine is gone and ends.
        self.timer_notify.notify_one();
    }
}
