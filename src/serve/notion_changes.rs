//! Notion changes in, flows out: each entity's Notion webhook endpoint (`PATH/ENTITY`, signed
//! with the verification token of that entity's subscription), and the one place where a page
//! seen (by a webhook or by a poll) is judged and the flows it sets off are started.
//!
//! Events carry ids, not values: the page is fetched with the entity's own token (so a page of
//! another workspace is invisible, as it is to that entity's flows), then compared with what
//! was remembered of it. Sightings of one entity are judged one at a time, so a change seen by
//! a webhook and by a poll starts one instance.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::body::Body as HttpBody;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use reqwest::Method;
use serde_json::{json, Value as JsonValue};

use super::host::Host;
use super::notion_memory::NotionMemory;
use super::notion_triggers::{judge, notion_triggers, NotionTrigger, PageView, Sighting};
use super::settings::{NotionTriggerSettings, Scheme, WebhookSettings};
use super::verifiers::{Delivery, Verdict, Verifier};
use super::webhooks::error;
use crate::connectors::notion::Client;
use crate::connectors::ErrorClass;
use crate::plan::Bundle;
use crate::project::Project;
use crate::runtime::{EngineError, InstanceId};

/// The environment variable holding the verification token of `entity`'s Notion webhook
/// subscription (`NOTION_WEBHOOK_TOKEN_THE_7_SPACE`); unset, the handshake provides it.
pub(crate) fn token_env(entity: &str) -> String {
    format!("NOTION_WEBHOOK_TOKEN_{}", entity.to_uppercase())
}

/// The name of `entity`'s Notion verifier (its token is kept in the state folder under it).
fn verifier_name(entity: &str) -> String {
    format!("notion-{entity}")
}

/// One entity whose Notion databases start flows.
pub(crate) struct Watched {
    pub(crate) client: Client,
    verifier: Verifier,
    /// Logical database → its id in flowc.toml, for the databases watched.
    pub(crate) databases: BTreeMap<String, String>,
    /// The triggers, by logical database.
    triggers: BTreeMap<String, Vec<NotionTrigger>>,
}

/// Everything the host needs to turn Notion changes into instances.
pub(crate) struct NotionWatch {
    pub(crate) settings: NotionTriggerSettings,
    pub(crate) entities: BTreeMap<String, Watched>,
    /// Judging and remembering happen under this lock (see the module's comment).
    pub(crate) memory: tokio::sync::Mutex<NotionMemory>,
    /// Data source ids of the databases polled, resolved once.
    pub(crate) sources: Mutex<HashMap<String, String>>,
}

impl NotionWatch {
    /// The watch over `bundles`' Notion triggers (none when no flow has one). `env` reads the
    /// verification tokens; `notion_env` the entities' integration tokens (the emulated ones
    /// under `--emulate`). Every problem found is returned.
    pub(crate) fn new(
        project: &Project,
        bundles: &[Bundle],
        state: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
        notion_env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<NotionWatch>, Vec<String>> {
        let triggers = notion_triggers(bundles).map_err(|e| vec![e])?;
        if triggers.is_empty() {
            return Ok(None);
        }
        let mut problems = Vec::new();
        let mut by_entity: BTreeMap<String, Vec<NotionTrigger>> = BTreeMap::new();
        for t in triggers {
            by_entity.entry(t.entity.clone()).or_default().push(t);
        }
        let mut entities = BTreeMap::new();
        for (entity, triggers) in by_entity {
            let config = project.config.entities.get(&entity);
            let mut databases = BTreeMap::new();
            let mut by_database: BTreeMap<String, Vec<NotionTrigger>> = BTreeMap::new();
            for t in triggers {
                match config.and_then(|c| c.databases.get(&t.database)) {
                    Some(id) => {
                        databases.insert(t.database.clone(), id.clone());
                    }
                    None => problems.push(format!(
                        "flow `{}`: `on notion {}` watches a database `[entities.{entity}.databases]` of flowc.toml does not list",
                        t.flow, t.database
                    )),
                }
                by_database.entry(t.database.clone()).or_default().push(t);
            }
            let client = match Client::for_entity(&project.config, &entity, notion_env) {
                Ok(c) => c,
                Err(e) => {
                    problems.push(format!("the Notion triggers of `{entity}`: {e}"));
                    continue;
                }
            };
            let name = verifier_name(&entity);
            let settings = WebhookSettings {
                scheme: Scheme::Notion,
                secret_env: token_env(&entity),
                header: None,
                param: None,
                encoding: None,
                prefix: None,
                tolerance: None,
                delivery_id: None,
            };
            let verifier = match Verifier::new(&name, &settings, env) {
                Ok(v) => v,
                Err(e) => {
                    problems.push(e);
                    continue;
                }
            };
            if let Some(token) = state.and_then(|s| super::host::saved_notion_token(s, &name)) {
                verifier.set_notion_token(&token);
            }
            entities.insert(
                entity,
                Watched {
                    client,
                    verifier,
                    databases,
                    triggers: by_database,
                },
            );
        }
        let memory = NotionMemory::open(state).unwrap_or_else(|e| {
            problems.push(e);
            NotionMemory::default()
        });
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Some(NotionWatch {
            settings: project.config.serve.notion.clone(),
            entities,
            memory: tokio::sync::Mutex::new(memory),
            sources: Mutex::new(HashMap::new()),
        }))
    }

    /// The path of `entity`'s webhook endpoint.
    pub(crate) fn webhook_path(&self, entity: &str) -> String {
        format!("{}/{entity}", self.settings.webhook_path.trim_end_matches('/'))
    }

    /// Lets `entity`'s webhooks be verified with `token` from now on (the emulator's
    /// subscription under `flowc serve --emulate`).
    pub(crate) fn set_verification_token(&self, entity: &str, token: &str) {
        if let Some(w) = self.entities.get(entity) {
            w.verifier.set_notion_token(token);
        }
    }
}

/// Judges `page` (a Notion page object of `entity`) seen through `sighting`, starts the flows it
/// sets off and remembers it. Returns the instances started.
pub(crate) async fn observe(
    host: &Arc<Host>,
    entity: &str,
    page: &JsonValue,
    sighting: &Sighting,
) -> Result<Vec<InstanceId>, EngineError> {
    let Some(watch) = host.notion.get() else {
        return Ok(Vec::new());
    };
    let Some(watched) = watch.entities.get(entity) else {
        return Ok(Vec::new());
    };
    let Some(view) = PageView::read(page) else {
        return Ok(Vec::new());
    };
    let parent = page.pointer("/parent/database_id").and_then(JsonValue::as_str);
    let Some(database) = parent.and_then(|p| {
        watched
            .databases
            .iter()
            .find(|(_, id)| id.replace('-', "") == p.replace('-', ""))
            .map(|(name, _)| name.clone())
    }) else {
        return Ok(Vec::new());
    };
    let Some(triggers) = watched.triggers.get(&database) else {
        return Ok(Vec::new());
    };
    let mut memory = watch.memory.lock().await;
    let since = memory.cursor(entity, &database).map(|c| c.since);
    let verdict = judge(triggers, &view, sighting, memory.page(entity, &view.id), since);
    let mut started = Vec::new();
    for trigger in verdict.fire {
        let input = json!({ "id": view.id });
        match host.start(&trigger.flow, entity, "notion", input).await {
            Ok(id) => {
                tracing::info!(flow = %trigger.flow, page = %view.id, instance = %id, "notion change started a flow");
                started.push(id);
            }
            // Not remembered: after the restart the change is seen again and starts it then.
            Err(EngineError::ShuttingDown) => return Err(EngineError::ShuttingDown),
            Err(e) => {
                tracing::warn!(flow = %trigger.flow, page = %view.id, "notion change could not start the flow: {e}")
            }
        }
    }
    if let Some(seen) = verdict.remember {
        memory.remember(entity, &view.id, seen);
    }
    Ok(started)
}

/// `POST PATH/ENTITY`: one Notion webhook delivery (or the subscription's handshake).
pub(crate) async fn webhook(
    State(host): State<Arc<Host>>,
    UrlPath(entity): UrlPath<String>,
    headers: HeaderMap,
    request_body: HttpBody,
) -> Response {
    let Some(watched) = host.notion.get().and_then(|w| w.entities.get(&entity)) else {
        return error(
            StatusCode::NOT_FOUND,
            format!("no flow of `{entity}` has an `on notion` trigger"),
        );
    };
    let reject = |reason: &str| host.metrics.rejections.with_label_values(&[reason]).inc();
    let Ok(bytes) = axum::body::to_bytes(request_body, host.options.body_limit).await else {
        reject("body_too_large");
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is over the {}-byte limit", host.options.body_limit),
        );
    };
    let delivery = Delivery {
        headers: &headers,
        query: None,
        body: &bytes,
        now: chrono::Utc::now().timestamp(),
    };
    match watched.verifier.verify(&delivery) {
        Ok(Verdict::Accepted) => {}
        Ok(Verdict::Handshake { notion_token }) => {
            if let Some(token) = notion_token {
                watched.verifier.set_notion_token(&token);
                host.keep_token_file(&verifier_name(&entity), &token);
            }
            return (StatusCode::OK, Json(json!({ "handshake": "accepted" }))).into_response();
        }
        Err(rejection) => {
            reject(&format!("signature_{}", rejection.label()));
            tracing::info!(entity = %entity, "notion webhook refused: {rejection}");
            return error(
                StatusCode::UNAUTHORIZED,
                format!("verification failed: {rejection}"),
            );
        }
    }
    let event: JsonValue = match serde_json::from_slice(&bytes) {
        Ok(json @ JsonValue::Object(_)) => json,
        _ => {
            reject("malformed");
            return error(
                StatusCode::BAD_REQUEST,
                "the body is not a Notion event (a JSON object)",
            );
        }
    };
    let kind = event.get("type").and_then(JsonValue::as_str).unwrap_or_default();
    let page_id = event
        .get("entity")
        .filter(|e| e.get("type").and_then(JsonValue::as_str) == Some("page"))
        .and_then(|e| e.get("id"))
        .and_then(JsonValue::as_str);
    let (Some(page_id), "page.created" | "page.properties_updated" | "page.undeleted") = (page_id, kind)
    else {
        // Other events (comments, schema changes, content edits) start nothing; Notion only
        // needs to hear that the delivery arrived.
        return (StatusCode::OK, Json(json!({ "ignored": kind }))).into_response();
    };
    let updated = event
        .pointer("/data/updated_properties")
        .and_then(JsonValue::as_array)
        .map(|a| {
            a.iter()
                .filter_map(JsonValue::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let sighting = Sighting::Event {
        kind: kind.to_string(),
        updated,
    };
    let page = match watched
        .client
        .send(Method::GET, &format!("/v1/pages/{page_id}"), None, "get page")
        .await
    {
        Ok(page) => page,
        Err(e) if e.class == ErrorClass::Permanent => {
            // Deleted since, or not shared with the integration: nothing to start, and a retry
            // would not change that.
            return (StatusCode::OK, Json(json!({ "ignored": e.message }))).into_response();
        }
        // Notion delivers again later; by then the page can be read.
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, e.message),
    };
    match observe(&host, &entity, &page, &sighting).await {
        Ok(started) => {
            let ids: Vec<&str> = started.iter().map(|i| i.0.as_str()).collect();
            (StatusCode::OK, Json(json!({ "started": ids }))).into_response()
        }
        Err(EngineError::ShuttingDown) => error(StatusCode::SERVICE_UNAVAILABLE, "the host is shutting down"),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}
