//! The host's state: the engine, the webhook routes with their verifiers, the deliveries seen,
//! the metrics, and whether it is ready to take traffic.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::deliveries::Deliveries;
use super::known::{Known, KnownInstances};
use super::metrics::Metrics;
use super::settings::DeliveryIdSource;
use super::triggers::{project_bundles, webhook_routes, WebhookRoute};
use super::verifiers::Verifier;
use crate::project::Project;
use crate::runtime::{Engine, EngineError, InstanceId, Store};

/// Webhook bodies larger than this are refused (413) unless [`HostOptions`] says otherwise.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// How a [`Host`] is set up.
#[derive(Clone)]
pub struct HostOptions {
    /// Where deliveries seen and Notion verification tokens are kept (none: in memory only).
    pub state: Option<PathBuf>,
    /// The largest webhook body taken, in bytes.
    pub body_limit: usize,
    /// The bearer token of `/api` (none: the API answers 401 to everyone).
    pub api_token: Option<super::verifiers::Secret>,
    /// The engine's store: `/api` lists from it the instances this process does not hold
    /// (ended before a restart, or started by another run on the same state).
    pub store: Option<Arc<dyn Store>>,
}

impl std::fmt::Debug for HostOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostOptions")
            .field("state", &self.state)
            .field("body_limit", &self.body_limit)
            .field("api_token", &self.api_token)
            .field("store", &self.store.as_ref().map(|_| "a store"))
            .finish()
    }
}

impl Default for HostOptions {
    fn default() -> Self {
        HostOptions {
            state: None,
            body_limit: DEFAULT_BODY_LIMIT,
            api_token: None,
            store: None,
        }
    }
}

/// A host serving one engine's flows.
pub struct Host {
    pub(crate) engine: Engine,
    pub(crate) routes: HashMap<String, WebhookRoute>,
    pub(crate) verifiers: HashMap<String, Verifier>,
    pub(crate) delivery_ids: HashMap<String, DeliveryIdSource>,
    pub(crate) deliveries: Deliveries,
    pub(crate) metrics: Metrics,
    /// The KPIs `/metrics` shows, read from the journal once and kept up to date.
    pub(crate) kpis: super::kpi_tally::KpiTally,
    pub(crate) options: HostOptions,
    pub(crate) known: Mutex<KnownInstances>,
    /// The Notion triggers, once `flowc serve` has set them up.
    pub(crate) notion: std::sync::OnceLock<super::notion_changes::NotionWatch>,
    /// The WorkflowInstance mirror, once `flowc serve` has set it up.
    pub(crate) mirror: std::sync::OnceLock<super::mirror::Mirror>,
    ready: AtomicBool,
}

impl Host {
    /// Sets up the host of `engine` for `project`'s webhooks; `env` reads the environment (the
    /// verifiers' secrets). Every problem found is returned, not only the first.
    pub fn new(
        engine: Engine,
        project: &Project,
        options: HostOptions,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Arc<Host>, Vec<String>> {
        let mut problems = Vec::new();
        let mut routes = HashMap::new();
        let bundles = project_bundles(project).map_err(|e| vec![e])?;
        for route in webhook_routes(&bundles) {
            if super::router::RESERVED
                .iter()
                .any(|r| route.path == *r || route.path.starts_with(&format!("{r}/")) && *r != "/")
            {
                problems.push(format!(
                    "flow `{}`: webhook path `{}` is one of the host's own paths",
                    route.flow, route.path
                ));
            } else if let Some(other) = routes.get(&route.path) {
                let other: &WebhookRoute = other;
                problems.push(format!(
                    "webhook path `{}` is used by flows `{}` and `{}`",
                    route.path, other.flow, route.flow
                ));
            } else {
                routes.insert(route.path.clone(), route);
            }
        }
        let mut verifiers = HashMap::new();
        let mut delivery_ids = HashMap::new();
        for name in routes.values().filter_map(|r| r.verifier.clone()) {
            if verifiers.contains_key(&name) {
                continue;
            }
            let Some(settings) = project.config.webhooks.get(&name) else {
                problems.push(format!(
                    "webhook verifier `{name}` is not in `[webhooks]` of flowc.toml"
                ));
                continue;
            };
            match Verifier::new(&name, settings, env) {
                Ok(v) => {
                    if let Some(token) = options
                        .state
                        .as_deref()
                        .and_then(|s| saved_notion_token(s, &name))
                    {
                        v.set_notion_token(&token);
                    }
                    verifiers.insert(name.clone(), v);
                }
                Err(e) => problems.push(e),
            }
            if let Ok(Some(source)) = settings.delivery_id_source() {
                delivery_ids.insert(name.clone(), source);
            }
        }
        let deliveries =
            Deliveries::open(options.state.as_deref(), options.store.clone()).unwrap_or_else(|e| {
                problems.push(e);
                Deliveries::default()
            });
        if !problems.is_empty() {
            return Err(problems);
        }
        let host = Arc::new(Host {
            engine,
            routes,
            verifiers,
            delivery_ids,
            deliveries,
            metrics: Metrics::new(),
            kpis: super::kpi_tally::KpiTally::new(&bundles),
            options,
            known: Mutex::new(KnownInstances::default()),
            notion: std::sync::OnceLock::new(),
            mirror: std::sync::OnceLock::new(),
            ready: AtomicBool::new(false),
        });
        // Before the host starts or resumes anything: from here on the tally sees every end.
        host.kpis.load(&host);
        Ok(host)
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Whether `/readyz` says ready: set once recovery is done, cleared when shutting down.
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }

    pub(crate) fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    /// Starts `flow` with `input` and keeps an eye on the instance for metrics and listings.
    pub(crate) async fn start(
        self: &Arc<Self>,
        flow: &str,
        entity: &str,
        trigger: &str,
        input: serde_json::Value,
    ) -> Result<InstanceId, EngineError> {
        self.start_delivery(flow, entity, trigger, input, None).await
    }

    /// [`Host::start`] of webhook delivery `delivery`, journaled with the start when the store
    /// keeps deliveries.
    pub(crate) async fn start_delivery(
        self: &Arc<Self>,
        flow: &str,
        entity: &str,
        trigger: &str,
        input: serde_json::Value,
        delivery: Option<&str>,
    ) -> Result<InstanceId, EngineError> {
        let id = match delivery {
            Some(key) => self.engine.start_delivery(flow, input, key).await?,
            None => self.engine.start(flow, input).await?,
        };
        self.metrics
            .started
            .with_label_values(&[flow, entity, trigger])
            .inc();
        self.kpis.started(&id.0, flow);
        self.follow(id.clone(), flow, entity, trigger);
        Ok(id)
    }

    /// Lists `id` and counts its end in the metrics when it comes.
    pub(crate) fn follow(self: &Arc<Self>, id: InstanceId, flow: &str, entity: &str, trigger: &str) {
        // The engine's clock, as the journal's times: on a virtual clock the wall clock's would
        // disagree with the instances listed from the journal.
        let started_at = self.engine.clock().now();
        if let Some(mirror) = self.mirror.get() {
            mirror.follow(&id, flow, entity, trigger != "recovered");
        }
        self.known
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(Known {
                id: id.0.clone(),
                flow: flow.to_string(),
                entity: entity.to_string(),
                trigger: trigger.to_string(),
                started_at,
            });
        self.count_end(id, flow, entity, started_at);
    }

    /// Counts the end of `id` (started at `started_at`) in the metrics when it comes: after its
    /// start, and again after a retry.
    pub(crate) fn count_end(
        self: &Arc<Self>,
        id: InstanceId,
        flow: &str,
        entity: &str,
        started_at: chrono::DateTime<chrono::Utc>,
    ) {
        let host = Arc::downgrade(self);
        let (flow, entity) = (flow.to_string(), entity.to_string());
        let engine = self.engine.clone();
        tokio::spawn(async move {
            let status = match engine.output(&id).await {
                Ok(_) => "completed",
                Err(EngineError::Failed { .. }) => "failed",
                Err(EngineError::Cancelled) => "cancelled",
                // Shutting down: the instance continues after the restart.
                Err(_) => return,
            };
            if let Some(host) = host.upgrade() {
                host.metrics
                    .ended
                    .with_label_values(&[&flow, &entity, status])
                    .inc();
                let secs = (engine.clock().now() - started_at).num_milliseconds() as f64 / 1000.0;
                host.metrics.duration.with_label_values(&[&flow]).observe(secs);
                let sub_flows = host.kpis.ended(&host, &id);
                let stored = host.options.store.is_some();
                host.known
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .ended(&id.0, stored);
                // Its sub-flows ended before it: they go with it.
                for sub_flow in &sub_flows {
                    engine.forget(sub_flow);
                }
            }
            // Its history is in the store, where the API and the mirror read it: a host that
            // runs for months must not hold every instance it ever ran in memory.
            engine.forget(&id);
        });
    }

    /// Keeps the verification token Notion sent in its handshake: in the verifier, and in the
    /// state folder (owner-only) so the operator can paste it into Notion and a restart keeps it.
    pub(crate) fn keep_notion_token(&self, verifier: &str, token: &str) {
        if let Some(v) = self.verifiers.get(verifier) {
            v.set_notion_token(token);
        }
        self.keep_token_file(verifier, token);
    }

    /// Writes the verification token of Notion verifier `verifier` to the state folder.
    pub(crate) fn keep_token_file(&self, verifier: &str, token: &str) {
        let Some(state) = &self.options.state else {
            tracing::warn!(
                verifier,
                "Notion verification token received; without --state it is kept in memory only"
            );
            return;
        };
        let path = notion_token_path(state, verifier);
        match write_private(&path, token) {
            Ok(()) => tracing::warn!(
                verifier,
                "Notion verification token received: paste the content of {} into Notion to activate the subscription",
                path.display()
            ),
            Err(e) => tracing::warn!(verifier, "cannot keep the Notion verification token in {}: {e}", path.display()),
        }
    }
}

fn notion_token_path(state: &Path, verifier: &str) -> PathBuf {
    state.join(format!("notion-verification-token-{verifier}"))
}

pub(crate) fn saved_notion_token(state: &Path, verifier: &str) -> Option<String> {
    let text = std::fs::read_to_string(notion_token_path(state, verifier)).ok()?;
    Some(text.trim().to_string()).filter(|t| !t.is_empty())
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.create(true).write(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Durability, SqliteStore};
    use tower::ServiceExt;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    /// A host that has run many deliveries holds per instance only what is running and a
    /// bounded tail: a host that runs for months does not grow with what it ran.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn after_many_deliveries_the_host_holds_a_bounded_amount() {
        let dir = tempfile::tempdir().unwrap();
        let flows = "entity shop {}\nflow signup for shop {\n  on webhook \"/hooks/signups\" verified by standard\n  input { name: text }\n  output { name: input.name }\n}\n";
        let config = crate::config::Config::parse(
            "[webhooks.standard]\nscheme = \"standard-webhooks\"\nsecret_env = \"S\"\n",
            Path::new("flowc.toml"),
        )
        .unwrap();
        let project = Project::from_sources(dir.path(), config, [("shop.flow", flows)]);
        let store: Arc<dyn Store> =
            Arc::new(SqliteStore::open(&dir.path().join("flowc.db"), Durability::Normal).unwrap());
        let engine = Engine::builder()
            .project_value(project.clone())
            .store(store.clone())
            .build()
            .unwrap();
        let options = HostOptions {
            state: Some(dir.path().to_path_buf()),
            store: Some(store.clone()),
            ..HostOptions::default()
        };
        let host = Host::new(engine, &project, options, &|_| Some(SECRET.to_string())).unwrap();
        let app = super::super::host_router(host.clone());
        let total = 2 * super::super::known::KEEP_ENDED + 500;
        let body = br#"{"name": "Ada"}"#;
        for chunk in (0..total).collect::<Vec<_>>().chunks(100) {
            let sent = chunk.iter().map(|i| {
                let id = format!("msg_{i}");
                let now = chrono::Utc::now().timestamp();
                let signature =
                    crate::serve::verifiers::sign_standard_webhook(SECRET, &id, now, body).unwrap();
                let request = axum::http::Request::post("/hooks/signups")
                    .header("content-type", "application/json")
                    .header("webhook-id", id)
                    .header("webhook-timestamp", now.to_string())
                    .header("webhook-signature", signature)
                    .body(axum::body::Body::from(body.to_vec()))
                    .unwrap();
                app.clone().oneshot(request)
            });
            for answer in futures::future::join_all(sent).await {
                assert_eq!(answer.unwrap().status(), axum::http::StatusCode::ACCEPTED);
            }
        }
        // Every instance ends at once; its end is counted (and it is let go) soon after.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while host.engine.resident() > 0 && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        assert_eq!(store.instances().len(), total);
        assert_eq!(host.engine.resident(), 0, "ended instances are let go");
        assert_eq!(host.deliveries.in_flight(), 0, "deliveries are in the journal");
        let listed = host.known.lock().unwrap_or_else(|e| e.into_inner()).len();
        assert_eq!(
            listed,
            super::super::known::KEEP_ENDED,
            "the tail of ended instances"
        );
    }
}
