//! Building an engine: the builder's options, compiling the project's flows, the shared globals.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex};

use chrono::Utc;
use tokio::sync::{Notify, Semaphore};

use super::{timer_driver, Engine, EngineError, FlowHook, Inner};
use crate::connectors::{Connector, DeclaredOnly, Registry};
use crate::plan::{self, Bundle};
use crate::project::Project;
use crate::runtime::clock::{Clock, SystemClock};
use crate::runtime::eval::{self, MapEnv};
use crate::runtime::instance::{FlowRt, Globals};
use crate::runtime::pacing::Pacer;
use crate::runtime::scheduler::PlanRt;
use crate::runtime::store::{MemoryStore, Store};
use crate::runtime::templates::Templates;
use crate::value::Value;

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
    keep_idle: bool,
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

    /// Whether instances idle in a wait are dropped from memory and rebuilt from the store's
    /// history when a timer or an event wakes them (default: yes). Off, every unfinished
    /// instance stays in memory.
    pub fn evict_idle(mut self, yes: bool) -> Self {
        self.keep_idle = !yes;
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
        // A store hosts share keeps the connectors' effect logs, so a host that takes an
        // instance over sees what its first host sent.
        if let Some(store) = self.store.as_ref().filter(|s| s.keeps_effects()) {
            for c in &self.connectors {
                c.keep_effects_in(store.clone());
            }
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
            sleepers: Mutex::new(Default::default()),
            evict_idle: !self.keep_idle,
            generations: AtomicU64::new(0),
            timers: Mutex::new(Default::default()),
            timer_seq: AtomicU64::new(first_timer_id()),
            timer_notify: Arc::new(Notify::new()),
            driver_token: AtomicBool::new(false),
            global: Arc::new(Semaphore::new(self.global_limit.unwrap_or(1024))),
            in_flight: AtomicUsize::new(0),
            idle: Notify::new(),
            shutting_down: AtomicBool::new(false),
            retrying: tokio::sync::Mutex::new(()),
        });
        clock.enter();
        tokio::spawn(timer_driver(Arc::downgrade(&inner), inner.timer_notify.clone()));
        Ok(Engine { inner })
    }
}

/// The flows of `bundle` ready to run, skipping the keys `skip` says are known already.
pub(super) fn flow_rts(
    bundle: &Bundle,
    skip: impl Fn(&str) -> bool,
) -> Result<Vec<(String, Arc<FlowRt>)>, EngineError> {
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
                bundle: bundle.hash.as_str().into(),
                key: flow.key.as_str().into(),
                entity: flow.entity.as_str().into(),
            });
            (key.clone(), rt)
        })
        .collect())
}

/// Timer ids start from the process's start time (in the high bits), so a restarted engine
/// never reuses the id of a timer an earlier process left in a durable store.
pub(super) fn first_timer_id() -> u64 {
    let ms = Utc::now().timestamp_millis().max(0) as u64;
    (ms << 20) | 1
}
