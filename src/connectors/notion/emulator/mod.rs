//! An emulator of the Notion API (version 2025-09-03) for tests and local runs.
//!
//! It serves the endpoints the connector uses, on 127.0.0.1 only, with Notion's request
//! validation and error shapes, cursor pagination, filters and sorts, a configurable rate limit
//! answering 429 with `Retry-After`, and fault injection. It is seeded from the same
//! [`NotionSchemas`] that `flowc notion pull` writes; each database gets fresh ids, which
//! [`Emulator::config`] maps into a [`Config`].

mod http;
mod limit;
mod persist;
mod query;
mod rules;
mod seed;
mod store;
mod webhooks;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::oneshot;

use super::schema::NotionSchemas;
use crate::config::{Config, EntityConfig};
use crate::value::Value;
use store::Store;

/// A failure the emulator answers instead of handling a request.
#[derive(Clone, Debug)]
struct Fault {
    status: u16,
    retry_after: Option<u64>,
}

/// What tests can change while the emulator runs.
#[derive(Debug, Default)]
struct Control {
    /// Integration tokens and the workspace (entity) each one belongs to; `None`: a token that
    /// sees every workspace, a convenience for tests of one workspace.
    tokens: HashMap<String, Option<String>>,
    rate: Option<(f64, u32)>,
    allowances: HashMap<String, limit::Allowance>,
    faults: VecDeque<Fault>,
    write_faults: VecDeque<Fault>,
    latency: Duration,
    /// A fault plan's Notion part.
    plan: Option<Arc<crate::connectors::faults::FaultGate>>,
    requests: u64,
    rate_limited: u64,
}

/// State shared with the server task.
#[derive(Debug)]
struct Shared {
    store: Mutex<Store>,
    control: Mutex<Control>,
    webhooks: webhooks::Webhooks,
}

impl Shared {
    fn new(store: Store, tokens: HashMap<String, Option<String>>) -> Shared {
        Shared {
            store: Mutex::new(store),
            control: Mutex::new(Control {
                tokens,
                ..Control::default()
            }),
            webhooks: webhooks::Webhooks::default(),
        }
    }

    /// Tells the page's workspace subscription (if any) that page `index` was created
    /// (`page.created`) or that the `properties` written changed (`page.properties_updated`).
    fn announce(&self, store: &Store, index: usize, kind: &str, properties: &serde_json::Value) {
        let page = &store.pages[index];
        let Some(db) = store.databases.get(&page.database_id) else {
            return;
        };
        let updated = match kind {
            "page.properties_updated" => store.property_ids(&db.id, properties),
            _ => Vec::new(),
        };
        self.webhooks.page_event(&db.entity, page, kind, updated);
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn control(&self) -> MutexGuard<'_, Control> {
        self.control.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running emulator; it stops when dropped.
#[derive(Debug)]
pub struct Emulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Emulator {
    /// Starts an emulator on 127.0.0.1 (a free port) holding one empty database per schema
    /// entry, accepting the integration `tokens`. Must be called inside a tokio runtime.
    /// Each of these tokens sees every workspace; [`Emulator::add_workspace_token`] gives one
    /// that sees only its own, as every real integration token does.
    pub async fn start(schemas: &NotionSchemas, tokens: &[&str]) -> std::io::Result<Emulator> {
        let tokens = tokens.iter().map(|t| (t.to_string(), None)).collect();
        Emulator::start_with(Store::seeded(schemas, &|_, _| None), tokens).await
    }

    /// An emulator of a project's workspaces: each database listed in `config`
    /// (`[entities.X.databases]`) keeps the id given there, so a project's own `flowc.toml`
    /// points at the emulator once `base_url` is set (databases it does not list get fresh ids).
    /// `workspace_tokens` pairs each entity with its integration token, which sees that
    /// workspace only: another workspace's page is `404 object_not_found` to it, as in Notion.
    pub async fn start_for(
        schemas: &NotionSchemas,
        workspace_tokens: &[(&str, &str)],
        config: &Config,
    ) -> std::io::Result<Emulator> {
        let store = Store::seeded(schemas, &|entity, database| {
            project_database_id(config, entity, database)
        });
        Emulator::start_with(store, workspace_tokens_of(workspace_tokens)).await
    }

    /// An emulator of a project's workspaces (as [`Emulator::start_for`]) whose databases and
    /// pages are kept in `dir`: restored from it when it holds them (the seed file is then not
    /// applied again), else created from `schemas` and `seed` and written there. It does not
    /// listen: its owner serves [`Emulator::router`] at `addr` (`flowc emulate`). The boolean
    /// says whether it was restored.
    pub fn persistent(
        schemas: &NotionSchemas,
        workspace_tokens: &[(&str, &str)],
        config: &Config,
        dir: &std::path::Path,
        seed: Option<&std::path::Path>,
        addr: SocketAddr,
    ) -> Result<(Emulator, bool), String> {
        let (journal, restored) =
            persist::Journal::open(dir).map_err(|e| format!("cannot open {}: {e}", dir.display()))?;
        let was_restored = restored.is_some();
        let mut store = restored.unwrap_or_else(|| {
            Store::seeded(schemas, &|entity, database| {
                project_database_id(config, entity, database)
            })
        });
        if was_restored {
            store.resume(journal);
        } else {
            if let Some(path) = seed {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                let seed = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
                seed::apply(&mut store, &seed).map_err(|e| format!("{}: {e}", path.display()))?;
            }
            store.attach(journal);
        }
        let emulator = Emulator {
            addr,
            shared: Arc::new(Shared::new(store, workspace_tokens_of(workspace_tokens))),
            shutdown: None,
        };
        Ok((emulator, was_restored))
    }

    /// The HTTP service, for an owner that serves it itself ([`Emulator::persistent`]).
    pub fn router(&self) -> axum::Router {
        http::router(self.shared.clone())
    }

    async fn start_with(store: Store, tokens: HashMap<String, Option<String>>) -> std::io::Result<Emulator> {
        let shared = Arc::new(Shared::new(store, tokens));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = oneshot::channel::<()>();
        let router = http::router(shared.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(Emulator {
            addr,
            shared,
            shutdown: Some(tx),
        })
    }

    /// Starts an emulator seeded from a schema file (as `flowc notion pull` writes it).
    pub async fn start_from_file(path: &std::path::Path, tokens: &[&str]) -> std::io::Result<Emulator> {
        let schemas =
            NotionSchemas::load(path).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        Emulator::start(&schemas, tokens).await
    }

    /// Adds a property to a database's schema, as someone editing the database in Notion would.
    pub fn add_property(&self, entity: &str, database: &str, name: &str, kind: &str) -> bool {
        self.shared.store().add_property(entity, database, name, kind)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, for `[connectors.notion] base_url`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The id given to `database` of `entity`.
    pub fn database_id(&self, entity: &str, database: &str) -> Option<String> {
        self.shared
            .store()
            .database_named(entity, database)
            .map(|d| d.id.clone())
    }

    /// The id of the data source of `database` of `entity`.
    pub fn data_source_id(&self, entity: &str, database: &str) -> Option<String> {
        self.shared
            .store()
            .database_named(entity, database)
            .map(|d| d.source_id.clone())
    }

    /// A configuration pointing at this emulator: every seeded database mapped to its id, every
    /// entity's token read from `token_env`, and `base_url` set.
    pub fn config(&self, token_env: &str) -> Config {
        let mut config = Config::default();
        for db in self.shared.store().databases.values() {
            let entity = config
                .entities
                .entry(db.entity.clone())
                .or_insert_with(|| EntityConfig {
                    notion_token_env: Some(token_env.to_string()),
                    ..EntityConfig::default()
                });
            entity.databases.insert(db.name.clone(), db.id.clone());
        }
        let mut table = toml::Table::new();
        table.insert("base_url".into(), toml::Value::String(self.base_url()));
        config.connectors.insert("notion".into(), table);
        config
    }

    /// Accepts another integration token, seeing every workspace.
    pub fn add_token(&self, token: &str) {
        self.shared.control().tokens.insert(token.to_string(), None);
    }

    /// Accepts the integration token of `entity`'s workspace: it sees only that workspace's
    /// databases and pages.
    pub fn add_workspace_token(&self, token: &str, entity: &str) {
        self.shared
            .control()
            .tokens
            .insert(token.to_string(), Some(entity.to_string()));
    }

    /// Limits each token to `per_second` requests on average with bursts of `burst`
    /// (`None`: unlimited, the default). Requests over the limit get 429 with `Retry-After`.
    pub fn set_rate_limit(&self, limit: Option<(f64, u32)>) {
        let mut control = self.shared.control();
        control.rate = limit;
        control.allowances.clear();
    }

    /// Answers the next `count` requests with `status` (e.g. 500, 503, 529, 429) instead of
    /// handling them, with `Retry-After: retry_after` seconds when given.
    pub fn fail_next(&self, count: usize, status: u16, retry_after: Option<u64>) {
        let mut control = self.shared.control();
        for _ in 0..count {
            control.faults.push_back(Fault { status, retry_after });
        }
    }

    /// Handles the next page write (create or update) — the change is stored — and then answers
    /// `status` anyway, like a gateway timing out after Notion did the work. This is the case
    /// idempotent creation exists for.
    pub fn fail_next_write(&self, status: u16) {
        self.shared.control().write_faults.push_back(Fault {
            status,
            retry_after: None,
        });
    }

    /// Follows a fault plan's Notion part (see [`crate::connectors::faults`]) from now on,
    /// drawing with `seed`: the same seed fails the same requests.
    /// Time (latency, `down=`, held timeouts) is the wall clock's; see [`Emulator::set_faults`].
    pub fn set_fault_plan(&self, faults: crate::connectors::faults::ServiceFaults, seed: u64) {
        use crate::connectors::faults::{FaultGate, FaultTime};
        self.set_faults(Arc::new(FaultGate::new(faults, seed, FaultTime::Wall)));
    }

    /// Follows a fault plan's Notion part from now on, timed by the gate's clock (a run's
    /// virtual clock, so that latency and timeouts take almost no real time).
    pub fn set_faults(&self, gate: Arc<crate::connectors::faults::FaultGate>) {
        self.shared.control().plan = Some(gate);
    }

    /// Delays every answer by `latency`.
    pub fn set_latency(&self, latency: Duration) {
        self.shared.control().latency = latency;
    }

    /// Requests received so far (all of them, failed ones included).
    pub fn request_count(&self) -> u64 {
        self.shared.control().requests
    }

    /// Requests answered with 429 by the rate limit so far.
    pub fn rate_limited_count(&self) -> u64 {
        self.shared.control().rate_limited
    }

    /// The pages of `database` of `entity` in creation order, each property read plainly (see
    /// `rules.rs`: the emulator's own reading, not the connector's).
    pub fn pages(&self, entity: &str, database: &str) -> Vec<Value> {
        self.pages_json(entity, database)
            .iter()
            .map(rules::plain_page)
            .collect()
    }

    /// The pages of `database` of `entity` in creation order, in Notion's JSON shape.
    pub fn pages_json(&self, entity: &str, database: &str) -> Vec<serde_json::Value> {
        let store = self.shared.store();
        let Some(db) = store.database_named(entity, database) else {
            return Vec::new();
        };
        store
            .pages
            .iter()
            .filter(|p| p.database_id == db.id)
            .map(store::page_json)
            .collect()
    }

    /// Adds a page directly (no HTTP, no rate limit) from request-shaped property values, e.g.
    /// `{"Name": {"title": [{"text": {"content": "Ada"}}]}}`; returns its id.
    pub fn insert_page(
        &self,
        entity: &str,
        database: &str,
        properties: serde_json::Value,
    ) -> Result<String, String> {
        let mut store = self.shared.store();
        let db = store
            .database_named(entity, database)
            .ok_or_else(|| format!("no database `{database}` for `{entity}`"))?
            .id
            .clone();
        let index = store.create_page(&db, &properties)?;
        self.shared.announce(&store, index, "page.created", &properties);
        Ok(store.pages[index].id.clone())
    }

    /// Changes page `id` directly (no HTTP, no rate limit), as someone editing it in Notion
    /// would, from request-shaped property values.
    pub fn update_page(&self, id: &str, properties: serde_json::Value) -> Result<(), String> {
        let mut store = self.shared.store();
        let index = store.page_index(id).ok_or_else(|| format!("no page `{id}`"))?;
        store.update_page(index, &properties)?;
        self.shared
            .announce(&store, index, "page.properties_updated", &properties);
        Ok(())
    }

    /// Sends `entity`'s workspace events (pages created, properties changed) to `url` from now
    /// on, signed with `verification_token` as Notion signs them; with `handshake`, the token
    /// is first posted unsigned, as Notion's verification request. Must be called inside a
    /// tokio runtime.
    pub fn subscribe(&self, entity: &str, url: &str, verification_token: &str, handshake: bool) {
        self.shared
            .webhooks
            .subscribe(entity, url, verification_token, handshake);
    }

    /// Webhook deliveries answered with success so far.
    pub fn webhooks_delivered(&self) -> u64 {
        self.shared.webhooks.delivered()
    }

    /// Adds the demo or test pages of a seed document (see `seed.rs` for its shape: plain
    /// property values, `@key` for a relation to another seeded page); returns each keyed
    /// page's id by key.
    pub fn seed(
        &self,
        seed: &serde_json::Value,
    ) -> Result<std::collections::BTreeMap<String, String>, String> {
        seed::apply(&mut self.shared.store(), seed)
    }

    /// [`Emulator::seed`] from a JSON file (a project's `notion/seed.json`).
    pub fn seed_file(
        &self,
        path: &std::path::Path,
    ) -> Result<std::collections::BTreeMap<String, String>, String> {
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let seed = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        self.seed(&seed).map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// The id `flowc.toml` gives `database` of `entity` (`[entities.X.databases]`), if any.
fn project_database_id(config: &Config, entity: &str, database: &str) -> Option<String> {
    config
        .entities
        .get(entity)
        .and_then(|e| e.databases.get(database))
        .cloned()
}

/// Tokens that each see one workspace, from (entity, token) pairs.
fn workspace_tokens_of(pairs: &[(&str, &str)]) -> HashMap<String, Option<String>> {
    pairs
        .iter()
        .map(|(entity, token)| (token.to_string(), Some(entity.to_string())))
        .collect()
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
