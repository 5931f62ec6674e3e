//! The engine: owns instances, runs their connector calls on tokio, and wakes them on timers.
//!
//! Each instance is a state machine ([`Instance`]) behind its own lock; a reaction (start, a
//! call's result, a timer, a signal) runs under the lock and returns effects, which the engine
//! carries out after releasing it. Waits hold no task: a suspended instance is data plus a timer
//! in the store, woken by the one timer driver task.

mod builder;
mod calls;
mod effects;
mod lost;
mod revive;
mod sleep;
mod timer_queue;
mod timers;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{Notify, Semaphore};

use builder::flow_rts;
pub use builder::EngineBuilder;
use calls::run_call;
use sleep::{Sleepers, Slot};
use timer_queue::TimerQueue;
use timers::{timer_driver, TimerEntry};

use super::clock::Clock;
use super::event::Event;
use super::input;
use super::instance::{FlowRt, Globals, Instance, InstanceStatus, ParentLink};
use super::pacing::Pacer;
use super::recording::StubAnswer;
use super::store::{Commit, Store};
use crate::connectors::Registry;
use crate::plan::Bundle;
use crate::value::Value;

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
struct Cell {
    /// The instance's id (shared with the instances map and the timer queue).
    id: Arc<str>,
    /// Which life in memory this is: each wake from the store makes a new cell, and timers
    /// armed by an earlier one are ignored.
    generation: u64,
    inst: Mutex<Instance>,
    /// Reactions whose effects are being carried out: the instance is not dropped meanwhile
    /// (an effect still to come may arm its next timer).
    applying: AtomicU32,
    /// Reactions whose events the store has not kept yet: dropped, it would be read back
    /// without them.
    unkept: AtomicU32,
    /// Dropped from memory (set under the instance's lock): a reaction that finds it set goes
    /// to the instance's next cell.
    evicted: AtomicBool,
    /// The store did not keep one of its reactions (set with `evicted`): this life's memory is
    /// ahead of the journal, so reactions that still find it are dropped, not passed on.
    lost: AtomicBool,
}

impl Cell {
    fn new(inner: &Inner, id: Arc<str>, inst: Instance) -> Cell {
        Cell {
            id,
            generation: inner.generations.fetch_add(1, Ordering::Relaxed),
            inst: Mutex::new(inst),
            applying: AtomicU32::new(0),
            unkept: AtomicU32::new(0),
            evicted: AtomicBool::new(false),
            lost: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Instance> {
        self.inst.lock().unwrap_or_else(|e| e.into_inner())
    }
}

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
    /// Every instance the engine knows: in memory, or asleep in the store.
    instances: Mutex<HashMap<Arc<str>, Slot>>,
    /// Asleep instances by the events they wait for (see [`sleep`]).
    sleepers: Mutex<Sleepers>,
    /// Whether instances idle in a wait are dropped from memory (default: yes).
    evict_idle: bool,
    /// The next cell's generation.
    generations: AtomicU64,
    /// By due time, then the order the instance armed them in (see [`Effect::Timer`]).
    timers: Mutex<TimerQueue>,
    timer_seq: AtomicU64,
    timer_notify: Arc<Notify>,
    driver_token: AtomicBool,
    global: Arc<Semaphore>,
    in_flight: AtomicUsize,
    idle: Notify,
    shutting_down: AtomicBool,
    /// Held by [`Engine::retry`] while it revives an instance.
    retrying: tokio::sync::Mutex<()>,
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
        let (id, kept) = self.inner.start(flow, input, None, None)?;
        self.inner.kept(kept).await?;
        Ok(id)
    }

    /// [`Engine::start`] for webhook delivery `key`: a store that keeps deliveries
    /// ([`Store::keeps_deliveries`]) journals the key in the same commit as the start.
    pub async fn start_delivery(
        &self,
        flow: &str,
        input: serde_json::Value,
        key: &str,
    ) -> Result<InstanceId, EngineError> {
        let (id, kept) = self.inner.start(flow, input, None, Some(key))?;
        self.inner.kept(kept).await?;
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
        self.inner.react(&cell, |inst, ctx| inst.cancel(ctx));
        Ok(())
    }

    /// The instance's status.
    pub fn status(&self, id: &InstanceId) -> Result<InstanceStatus, EngineError> {
        // An instance asleep in the store is waiting: no need to wake it to say so.
        match self.inner.live(&id.0) {
            Some(Some(cell)) => Ok(cell.lock().status.clone()),
            Some(None) => Ok(InstanceStatus::Running),
            None => Err(EngineError::UnknownInstance(id.0.clone())),
        }
    }

    /// Drops a finished instance from memory (its history stays in the store). Long-running
    /// hosts call this once they have its output; returns whether it was dropped.
    pub fn forget(&self, id: &InstanceId) -> bool {
        let Some(Some(cell)) = self.inner.live(&id.0) else {
            return false;
        };
        // An ended instance never changes again: checked outside the map's lock.
        if !cell.lock().status.is_final() {
            return false;
        }
        let mut map = self.inner.instances.lock().unwrap_or_else(|e| e.into_inner());
        if matches!(map.get(id.0.as_str()), Some(Slot::Live(c)) if Arc::ptr_eq(c, &cell)) {
            map.remove(id.0.as_str());
        }
        true
    }

    /// How many instances are held in memory; the others it knows sleep in the store until a
    /// timer or an event wakes them.
    pub fn resident(&self) -> usize {
        let slots = self.inner.instances.lock().unwrap_or_else(|e| e.into_inner());
        slots.values().filter(|s| matches!(s, Slot::Live(_))).count()
    }

    /// The instance's history.
    pub fn history(&self, id: &InstanceId) -> Vec<Event> {
        self.inner.store.history(&id.0)
    }

    /// Waits for the instance to end and returns its output.
    pub async fn output(&self, id: &InstanceId) -> Result<Value, EngineError> {
        loop {
            if let Some(output) = self.output_of_life(id).await {
                return output;
            }
        }
    }

    /// [`Engine::output`] of the instance's life in memory now; `None` if that life ended
    /// without ending the instance (the store lost a reaction: it goes on in its next life).
    async fn output_of_life(&self, id: &InstanceId) -> Option<Result<Value, EngineError>> {
        let (cell, rx) = loop {
            let cell = match self.inner.cell(id) {
                Ok(cell) => cell,
                Err(e) => return Some(Err(e)),
            };
            let mut inst = cell.lock();
            // Dropped from memory meanwhile: a waiter keeps its next cell in memory.
            if cell.evicted.load(Ordering::SeqCst) {
                continue;
            }
            let rx = inst.await_end();
            drop(inst);
            break (cell, rx);
        };
        // Told of the end: its waiters are told by the end's effects, which run only once the
        // store has kept the end (and, batches of an instance being kept in order, all before).
        let told = match rx {
            Some(rx) => rx.await.is_ok(),
            None => false,
        };
        if cell.lost.load(Ordering::SeqCst) {
            return None;
        }
        // Found ended: the status changes under the lock before the store has kept the change,
        // so the answer waits for it.
        if !told {
            if let Err(e) = self.inner.kept(self.inner.store.sync()).await {
                return Some(Err(e));
            }
        }
        let inst = cell.lock();
        Some(match &inst.status {
            InstanceStatus::Completed => Ok(inst.output()),
            InstanceStatus::Failed { step, message, class } => Err(EngineError::Failed {
                step: step.clone(),
                message: message.clone(),
                class: class.clone(),
            }),
            InstanceStatus::Cancelled => Err(EngineError::Cancelled),
            _ => Err(EngineError::ShuttingDown),
        })
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
        // Looked up first: every start passes here, and the hash is copied only once.
        if !stored.contains(hash) && stored.insert(hash.to_string()) {
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
        delivery: Option<&str>,
    ) -> Result<(InstanceId, Commit), EngineError> {
        if self.shutting_down.load(Ordering::SeqCst) {
            return Err(EngineError::ShuttingDown);
        }
        // A sub-flow runs on its caller's plan.
        let flow = match &parent {
            Some(p) => self.resolve_in(flow, Some(&p.bundle))?,
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
        let entity: Arc<str> = match &parent {
            Some(p) => Arc::from(p.entity.as_str()),
            None => flow.entity.clone(),
        };
        // One copy of the id, shared by the instances map, the instance and its calls.
        let key: Arc<str> = Arc::from(id.as_str());
        let cell = Arc::new(Cell::new(
            self,
            key.clone(),
            Instance::new(key.clone(), flow, input, entity, parent),
        ));
        self.instances
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, Slot::Live(cell.clone()));
        if let Some(delivery) = delivery {
            self.store.deliver(delivery, &id);
        }
        // A new cell: no other reaction can have dropped it from memory yet.
        let kept = self.react_reporting(&cell, cell.lock(), |inst, ctx| inst.start(ctx), true);
        Ok((InstanceId(id), kept))
    }
}
