//! The world the end-to-end tests run in: the repository's own project (flows, stdlib,
//! flowc.toml) on the real connectors — Notion against the Notion emulator seeded from
//! `notion/schema.json` with flowc.toml's database ids, surveys against the Typeform emulator,
//! email through a real SMTP server (aiosmtpd) — on a virtual clock driven by the test.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use flowc::connectors::email::EmailConnector;
use flowc::connectors::notion::emulator::Emulator;
use flowc::connectors::notion::schema::NotionSchemas;
use flowc::connectors::notion::NotionConnector;
use flowc::connectors::survey::emulator::TypeformEmulator;
use flowc::connectors::survey::SurveyConnector;
use flowc::connectors::{ActionCall, Connector, ConnectorError, Manifest};
use flowc::runtime::{Clock, Engine, EngineError, InstanceId, VirtualClock};
use flowc::value::Value;
use flowc::Project;
use serde_json::{json, Value as Json};

use crate::smtp_server::{Received, SmtpServer};

const TYPEFORM_TOKEN: &str = "tfp_e2e_token";
const TYPEFORM_TOKEN_ENV: &str = "FLOWC_E2E_TYPEFORM_TOKEN";

/// One email the flows sent, with the virtual time of the send.
#[derive(Clone, Debug)]
pub struct Sent {
    pub at: DateTime<Utc>,
    pub to: String,
    pub template: String,
}

/// The real email connector, noting the virtual time of each message it delivers (the SMTP
/// server only sees real time).
struct Timed {
    inner: EmailConnector,
    clock: Arc<VirtualClock>,
    sent: Arc<Mutex<Vec<Sent>>>,
}

#[async_trait]
impl Connector for Timed {
    fn manifest(&self) -> &Manifest {
        self.inner.manifest()
    }

    async fn call(&self, call: ActionCall) -> Result<Value, ConnectorError> {
        let at = self.clock.now();
        let to = call.arg("to").as_str().unwrap_or_default().to_string();
        let template = call.arg("template").as_str().unwrap_or_default().to_string();
        let result = self.inner.call(call).await;
        if result.is_ok() {
            self.sent.lock().unwrap().push(Sent { at, to, template });
        }
        result
    }
}

pub struct World {
    pub notion: Emulator,
    pub typeform: TypeformEmulator,
    pub smtp: SmtpServer,
    pub clock: Arc<VirtualClock>,
    pub engine: Engine,
    /// Ids of the seeded pages by key.
    pub keys: BTreeMap<String, String>,
    sent: Arc<Mutex<Vec<Sent>>>,
    _state: tempfile::TempDir,
}

pub fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

impl World {
    /// The project at the repository root, its Notion workspaces holding the pages of `seed`
    /// (see the emulator's seed format), the clock reading `start`. The test drives the clock:
    /// it holds it still until [`World::until`] or [`World::finish`].
    pub async fn new(start: &str, seed: Json) -> World {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut project = Project::load(&root.join("flows")).expect("the repository's project loads");
        let schemas = NotionSchemas::load(&root.join("notion/schema.json")).unwrap();

        // One integration token per entity, as each workspace has its own.
        let tokens: HashMap<String, String> = project
            .config
            .entities
            .iter()
            .map(|(name, e)| (e.notion_token_env.clone().unwrap(), format!("secret_e2e_{name}")))
            .collect();
        let token_list: Vec<(&str, &str)> = project
            .config
            .entities
            .iter()
            .map(|(name, e)| {
                (
                    name.as_str(),
                    tokens[e.notion_token_env.as_deref().unwrap()].as_str(),
                )
            })
            .collect();
        let notion = Emulator::start_for(&schemas, &token_list, &project.config)
            .await
            .unwrap();
        let keys = notion.seed(&seed).expect("the seed is valid");
        let typeform = TypeformEmulator::start(TYPEFORM_TOKEN).await.unwrap();
        let smtp = SmtpServer::start();
        // Once for the whole binary: setting the environment while other threads read it is
        // a race, so later tests find it set.
        static TOKEN_SET: std::sync::Once = std::sync::Once::new();
        TOKEN_SET.call_once(|| std::env::set_var(TYPEFORM_TOKEN_ENV, TYPEFORM_TOKEN));

        // flowc.toml as it is, pointed at the local servers; idempotency logs in a fresh folder so
        // no earlier run's records are replayed.
        let state = tempfile::tempdir().unwrap();
        let table = |pairs: Vec<(&str, toml::Value)>| -> toml::Table {
            pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
        };
        let s = |t: &str| toml::Value::String(t.to_string());
        let config = &mut project.config;
        let notion_table = config.connectors.entry("notion".into()).or_default();
        notion_table.insert("base_url".into(), s(&notion.base_url()));
        notion_table.insert("requests_per_second".into(), toml::Value::Float(1000.0));
        notion_table.insert("burst".into(), toml::Value::Integer(1000));
        config.connectors.insert(
            "email".into(),
            table(vec![
                ("url", s(&smtp.url())),
                ("sent_log", s(state.path().join("sent").to_str().unwrap())),
            ]),
        );
        config.connectors.insert(
            "survey".into(),
            table(vec![
                ("base_url", s(&typeform.base_url())),
                ("token_env", s(TYPEFORM_TOKEN_ENV)),
                ("templates", s("stdlib/surveys")),
                ("created_log", s(state.path().join("survey").to_str().unwrap())),
            ]),
        );

        let notion_connector =
            NotionConnector::from_config_with_env(&project.config, move |name| tokens.get(name).cloned())
                .unwrap()
                .with_grants(flowc::connectors::Grants::from_project(&project));
        let email = EmailConnector::from_config(&project.config, &project.root).unwrap();
        let survey = SurveyConnector::from_config(&project.config, &project.root).unwrap();
        let clock = Arc::new(VirtualClock::new(at(start)));
        let sent = Arc::new(Mutex::new(Vec::new()));
        let engine = Engine::builder()
            .project_value(project)
            .clock(clock.clone())
            .connector(Arc::new(notion_connector))
            .connector(Arc::new(Timed {
                inner: email,
                clock: clock.clone(),
                sent: sent.clone(),
            }))
            .connector(Arc::new(survey))
            // Each test starts the flows production would start (webhooks, Notion triggers) itself.
            .start_triggered_flows(false)
            .build()
            .unwrap();
        // The test is a unit of work: the clock stays still until the test lets it move.
        clock.enter();
        World {
            notion,
            typeform,
            smtp,
            clock,
            engine,
            keys,
            sent,
            _state: state,
        }
    }

    pub fn key(&self, key: &str) -> String {
        self.keys[key].clone()
    }

    pub async fn start(&self, flow: &str, input: Json) -> InstanceId {
        self.engine.start(flow, input).await.unwrap()
    }

    /// Lets virtual time run until `t`: every instance does what it has to until then.
    pub async fn until(&self, t: &str) {
        let sleep = self.clock.sleep_until(at(t));
        self.clock.leave();
        sleep.await;
        // Woken, the test holds the clock again.
    }

    /// Lets virtual time run until instance `id` ends; its output.
    pub async fn finish(&self, id: &InstanceId) -> Result<Value, EngineError> {
        self.clock.leave();
        let out = tokio::time::timeout(Duration::from_secs(60), self.engine.output(id))
            .await
            .expect("the instance ends within a minute of real time");
        self.clock.enter();
        out
    }

    /// Runs an instance that needs no waiting (a webhook flow) to its end, clock held still.
    pub async fn run_now(&self, flow: &str, input: Json) -> Value {
        let id = self.start(flow, input).await;
        tokio::time::timeout(Duration::from_secs(30), self.engine.output(&id))
            .await
            .expect("the flow ends")
            .unwrap_or_else(|e| panic!("`{flow}` failed: {e}"))
    }

    /// A respondent answers form `form_id`, and Typeform delivers the response to the
    /// `/hooks/typeform/responses` webhook flow as it does in production.
    pub async fn answer_survey(&self, form_id: &str, answers: Json, hidden: Json) -> String {
        let now = self.clock.now().to_rfc3339();
        let token = self
            .typeform
            .submit(form_id, &now, answers, hidden.clone())
            .unwrap();
        let title = self.typeform.form(form_id).unwrap()["title"].clone();
        self.run_now(
            "typeform_response",
            json!({
                "event_id": format!("evt-{token}"),
                "event_type": "form_response",
                "form_response": {
                    "form_id": form_id,
                    "token": token,
                    "submitted_at": now,
                    "hidden": hidden,
                    "definition": { "title": title },
                },
            }),
        )
        .await;
        token
    }

    /// Someone ticks task `id` Done in Notion; the Notion trigger starts `flow` (the entity's
    /// `*_task_done` flow) with the page id, as in production.
    pub async fn tick_task_done(&self, flow: &str, id: &str) {
        self.notion
            .update_page(id, json!({ "Status": { "status": { "name": "Done" } } }))
            .unwrap();
        self.run_now(flow, json!({ "id": id })).await;
    }

    /// The emails sent so far, in order, with their virtual times.
    pub fn sent(&self) -> Vec<Sent> {
        self.sent.lock().unwrap().clone()
    }

    /// The sends of `template`, in order.
    pub fn sent_with(&self, template: &str) -> Vec<Sent> {
        self.sent()
            .into_iter()
            .filter(|s| s.template == template)
            .collect()
    }

    /// The messages the SMTP server received (all `n` expected).
    pub fn received(&self, n: usize) -> Vec<Received> {
        let got = self.smtp.wait_for(n);
        assert_eq!(got.len(), n, "messages received: {:#?}", subjects(&got));
        got
    }

    /// The pages of `database` of `entity`, as flows see them, as JSON.
    pub fn pages(&self, entity: &str, database: &str) -> Vec<Json> {
        self.notion
            .pages(entity, database)
            .iter()
            .map(Value::to_json)
            .collect()
    }
}

/// The message to `to` with `subject`, which must have been received once.
pub fn message<'a>(received: &'a [Received], to: &str, subject: &str) -> &'a Received {
    let found: Vec<&Received> = received
        .iter()
        .filter(|m| m.rcpt_tos.iter().any(|r| r == to) && m.header("Subject") == subject)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one message to {to} with subject {subject:?}; got: {:#?}",
        subjects(received)
    );
    found[0]
}

fn subjects(received: &[Received]) -> Vec<String> {
    received
        .iter()
        .map(|m| format!("{:?} -> {}", m.header("Subject"), m.rcpt_tos.join(",")))
        .collect()
}
