//! WorkflowInstance mirroring: each instance the host runs is a page of its entity's
//! WorkflowInstance database (as the seed's `create_workflow_instance` made them), kept up to
//! date with its status, current step and step history, so the people of the business see
//! their automations where they work.
//!
//! The mirror reads the journal, never the other way round: it looks every
//! `[serve.mirror] every` at the instances it follows and writes those that changed, through
//! the entity's Notion rate limit (shared with the flows' own calls). Only the properties the
//! database has are written, so a workspace without `Current Step` or `Step History` still
//! gets the rest.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use reqwest::Method;
use serde_json::{json, Map, Value as JsonValue};

use super::host::Host;
use super::settings::MirrorSettings;
use crate::connectors::notion::Client;
use crate::connectors::ConnectorError;
use crate::project::Project;
use crate::runtime::{Event, EventKind, InstanceId};

/// The logical database instances are mirrored into.
const DATABASE: &str = "WorkflowInstance";
/// Notion refuses rich text over 2,000 characters; the history keeps its latest lines within.
const TEXT_LIMIT: usize = 1900;

/// What the mirror writes of one instance.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Snapshot {
    pub(crate) status: &'static str,
    pub(crate) current_step: String,
    pub(crate) history: String,
    pub(crate) error: String,
    pub(crate) started: Option<chrono::DateTime<chrono::Utc>>,
    pub(crate) ended: bool,
}

impl Snapshot {
    /// The instance as its history tells it.
    pub(crate) fn of(history: &[Event]) -> Snapshot {
        let mut status = "Running";
        let mut open: Vec<String> = Vec::new();
        let mut lines: Vec<String> = Vec::new();
        let mut error = String::new();
        let close = |open: &mut Vec<String>, step: &str| open.retain(|s| s != step);
        for event in history {
            let time = event.at.format("%Y-%m-%d %H:%M:%S");
            match &event.kind {
                EventKind::StepScheduled { step } | EventKind::StepStarted { step, .. }
                    if !open.iter().any(|s| s == step) =>
                {
                    open.push(step.to_string());
                }
                EventKind::StepSucceeded { step, fallback, .. } => {
                    close(&mut open, step);
                    let how = if *fallback { "fallback" } else { "done" };
                    lines.push(format!("{time} {step}: {how}"));
                }
                EventKind::StepFailed {
                    step,
                    message,
                    will_retry,
                    ..
                } => {
                    if !will_retry {
                        close(&mut open, step);
                    }
                    lines.push(format!("{time} {step}: failed: {message}"));
                }
                EventKind::StepSkipped { step } => close(&mut open, step),
                EventKind::WaitStarted { step, .. } => open.push(format!("wait {step}")),
                EventKind::WaitEnded { step, .. } => close(&mut open, &format!("wait {step}")),
                EventKind::InstanceCompleted => status = "Completed",
                EventKind::InstanceFailed { step, message, .. } => {
                    status = "Failed";
                    error = format!("{step}: {message}");
                }
                EventKind::InstanceCancelled => status = "Cancelled",
                EventKind::InstanceRetried => {
                    status = "Running";
                    error.clear();
                }
                _ => {}
            }
        }
        let ended = matches!(status, "Completed" | "Failed" | "Cancelled");
        if ended {
            open.clear();
        } else if open.iter().any(|s| s.starts_with("wait ")) {
            status = "Waiting";
        }
        Snapshot {
            status,
            current_step: open.last().cloned().unwrap_or_default(),
            history: latest_lines(&lines),
            error,
            started: history.first().map(|e| e.at),
            ended,
        }
    }
}

/// The last lines that fit in one rich text value, the oldest dropped first.
fn latest_lines(lines: &[String]) -> String {
    let mut kept: Vec<&str> = Vec::new();
    let mut size = 0;
    for line in lines.iter().rev() {
        if size + line.len() + 1 > TEXT_LIMIT {
            kept.push("…");
            break;
        }
        size += line.len() + 1;
        kept.push(line);
    }
    kept.reverse();
    kept.join("\n")
}

/// One instance followed.
struct Followed {
    flow: String,
    entity: String,
    /// Its page, once created or found.
    page: Option<String>,
    /// Started by this process: no page of it can exist yet, so none is looked for.
    fresh: bool,
    written: Option<Snapshot>,
}

/// One entity's WorkflowInstance database.
struct Target {
    client: Client,
    database: String,
    /// The properties the database has, read once.
    properties: tokio::sync::OnceCell<BTreeSet<String>>,
}

/// The mirror of one host.
pub(crate) struct Mirror {
    settings: MirrorSettings,
    targets: BTreeMap<String, Target>,
    followed: Mutex<HashMap<String, Followed>>,
}

impl Mirror {
    /// The mirror of `project`'s instances into the WorkflowInstance database of each entity
    /// that lists one (and whose token `notion_env` reads); none when mirroring is off or no
    /// entity has such a database: a mirror with nowhere to write would still read the history
    /// of every recovered instance to learn its entity.
    pub(crate) fn new(project: &Project, notion_env: &dyn Fn(&str) -> Option<String>) -> Option<Mirror> {
        let settings = project.config.serve.mirror.clone();
        if !settings.enabled {
            return None;
        }
        let mut targets = BTreeMap::new();
        for (entity, config) in &project.config.entities {
            let Some(database) = config.databases.get(DATABASE) else {
                continue;
            };
            match Client::for_entity(&project.config, entity, notion_env) {
                Ok(client) => {
                    targets.insert(
                        entity.clone(),
                        Target {
                            client,
                            database: database.clone(),
                            properties: tokio::sync::OnceCell::new(),
                        },
                    );
                }
                Err(e) => tracing::warn!(entity = %entity, "instances of `{entity}` are not mirrored: {e}"),
            }
        }
        if targets.is_empty() {
            return None;
        }
        Some(Mirror {
            settings,
            targets,
            followed: Mutex::new(HashMap::new()),
        })
    }

    /// Follows instance `id` of `flow` (a name or key) of `entity`; `fresh` when this process
    /// started it.
    pub(crate) fn follow(&self, id: &InstanceId, flow: &str, entity: &str, fresh: bool) {
        let name = flow.rsplit_once('.').map_or(flow, |(_, n)| n);
        if !self.settings.mirrors(name) {
            return;
        }
        // An entity without a WorkflowInstance database has nowhere to be mirrored: following
        // its instances would only read each one's history again every round. (A recovered
        // instance's entity is known only from its history: it is followed, and dropped in the
        // first round if it has no database either.)
        if !entity.is_empty() && !self.targets.contains_key(entity) {
            return;
        }
        self.followed.lock().unwrap_or_else(|e| e.into_inner()).insert(
            id.0.clone(),
            Followed {
                flow: name.to_string(),
                entity: entity.to_string(),
                page: None,
                fresh,
                written: None,
            },
        );
    }
}

/// Writes what changed, every `[serve.mirror] every`, until the host is dropped.
pub(crate) fn run_mirror(host: &Arc<Host>) {
    let Some(mirror) = host.mirror.get() else { return };
    let every = mirror.settings.every.get();
    let host = Arc::downgrade(host);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let Some(h) = host.upgrade() else { break };
            mirror_once(&h).await;
        }
    });
}

/// One round: each followed instance whose snapshot changed is written.
pub(crate) async fn mirror_once(host: &Arc<Host>) {
    let Some(mirror) = host.mirror.get() else { return };
    let ids: Vec<String> = mirror
        .followed
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .keys()
        .cloned()
        .collect();
    for id in ids {
        let history = host.engine.history(&InstanceId(id.clone()));
        let snapshot = Snapshot::of(&history);
        let (flow, mut entity, page, fresh, unchanged) = {
            let followed = mirror.followed.lock().unwrap_or_else(|e| e.into_inner());
            let Some(f) = followed.get(&id) else { continue };
            (
                f.flow.clone(),
                f.entity.clone(),
                f.page.clone(),
                f.fresh,
                f.written.as_ref() == Some(&snapshot),
            )
        };
        if unchanged {
            continue;
        }
        if entity.is_empty() {
            if let Some(EventKind::InstanceStarted { entity: Some(e), .. }) = history.first().map(|e| &e.kind)
            {
                entity = e.to_string();
            }
        }
        let Some(target) = mirror.targets.get(&entity) else {
            mirror
                .followed
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&id);
            continue;
        };
        match write(target, &id, &flow, page, fresh, &snapshot).await {
            Ok(page) => {
                let mut followed = mirror.followed.lock().unwrap_or_else(|e| e.into_inner());
                if snapshot.ended {
                    followed.remove(&id);
                } else if let Some(f) = followed.get_mut(&id) {
                    f.page = Some(page);
                    f.written = Some(snapshot);
                }
            }
            // Tried again next round.
            Err(e) => tracing::warn!(instance = %id, "cannot mirror the instance into Notion: {}", e.message),
        }
    }
}

/// Creates or updates the instance's page; returns its id.
async fn write(
    target: &Target,
    id: &str,
    flow: &str,
    page: Option<String>,
    fresh: bool,
    snapshot: &Snapshot,
) -> Result<String, ConnectorError> {
    let has = target
        .properties
        .get_or_try_init(|| database_properties(target))
        .await?;
    let properties = properties(has, id, flow, snapshot);
    let page = match page {
        Some(page) => Some(page),
        None if fresh => None,
        None => find(target, id, has).await?,
    };
    let answer = match &page {
        Some(page) => {
            let body = json!({ "properties": properties });
            target
                .client
                .send(
                    Method::PATCH,
                    &format!("/v1/pages/{page}"),
                    Some(&body),
                    "update page",
                )
                .await?
        }
        None => {
            let body = json!({ "parent": { "database_id": target.database }, "properties": properties });
            target
                .client
                .send(Method::POST, "/v1/pages", Some(&body), "create page")
                .await?
        }
    };
    Ok(answer
        .get("id")
        .and_then(JsonValue::as_str)
        .map(str::to_string)
        .or(page)
        .unwrap_or_default())
}

/// The page of instance `id` made before a restart, by its `External ID`.
async fn find(target: &Target, id: &str, has: &BTreeSet<String>) -> Result<Option<String>, ConnectorError> {
    if !has.contains("External ID") {
        return Ok(None);
    }
    let source = data_source(target).await?;
    let body =
        json!({ "filter": { "property": "External ID", "rich_text": { "equals": id } }, "page_size": 1 });
    let answer = target
        .client
        .send(
            Method::POST,
            &format!("/v1/data_sources/{source}/query"),
            Some(&body),
            "query",
        )
        .await?;
    Ok(answer
        .pointer("/results/0/id")
        .and_then(JsonValue::as_str)
        .map(str::to_string))
}

async fn data_source(target: &Target) -> Result<String, ConnectorError> {
    let database = target
        .client
        .send(
            Method::GET,
            &format!("/v1/databases/{}", target.database),
            None,
            "get database",
        )
        .await?;
    database
        .pointer("/data_sources/0/id")
        .and_then(JsonValue::as_str)
        .map(str::to_string)
        .ok_or_else(|| ConnectorError::transient("the WorkflowInstance database lists no data source"))
}

async fn database_properties(target: &Target) -> Result<BTreeSet<String>, ConnectorError> {
    let source = data_source(target).await?;
    let answer = target
        .client
        .send(
            Method::GET,
            &format!("/v1/data_sources/{source}"),
            None,
            "get data source",
        )
        .await?;
    Ok(answer
        .get("properties")
        .and_then(JsonValue::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default())
}

/// The page's properties, those the database `has` only.
fn properties(has: &BTreeSet<String>, id: &str, flow: &str, s: &Snapshot) -> Map<String, JsonValue> {
    let text = |t: &str| json!({ "rich_text": [{ "text": { "content": t } }] });
    let short = id.get(..8).unwrap_or(id);
    let mut all = vec![
        (
            "Instance Name",
            json!({ "title": [{ "text": { "content": format!("{} {short}", display_name(flow)) } }] }),
        ),
        ("Workflow", json!({ "select": { "name": display_name(flow) } })),
        ("Status", json!({ "status": { "name": s.status } })),
        ("External ID", text(id)),
        ("Current Step", text(&s.current_step)),
        ("Step History", text(&s.history)),
        ("Error", text(&s.error)),
    ];
    if let Some(started) = s.started {
        all.push(("Started", json!({ "date": { "start": started.to_rfc3339() } })));
    }
    all.into_iter()
        .filter(|(name, _)| has.contains(*name))
        .map(|(name, value)| (name.to_string(), value))
        .collect()
}

/// `wellness_booking` → `Wellness Booking`, as the database's Workflow options are written.
fn display_name(flow: &str) -> String {
    flow.split('_')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect::<String>())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::value::Value;

    fn event(seq: u64, kind: EventKind) -> Event {
        Event {
            seq,
            at: Utc.with_ymd_and_hms(2026, 1, 1, 9, 0, seq as u32).unwrap(),
            kind,
        }
    }

    #[test]
    fn a_snapshot_says_what_runs_what_waits_and_what_ended() {
        let mut history = vec![
            event(
                0,
                EventKind::InstanceStarted {
                    flow: "f".into(),
                    input: Value::Null,
                    parent: None,
                    entity: None,
                    plan: None,
                },
            ),
            event(1, EventKind::StepScheduled { step: "task".into() }),
        ];
        let s = Snapshot::of(&history);
        assert_eq!((s.status, s.current_step.as_str()), ("Running", "task"));
        history.push(event(
            2,
            EventKind::StepSucceeded {
                step: "task".into(),
                attempt: 1,
                value: Value::Null.into(),
                fallback: false,
            },
        ));
        history.push(event(
            3,
            EventKind::WaitStarted {
                step: "done".into(),
                until: None,
            },
        ));
        let s = Snapshot::of(&history);
        assert_eq!((s.status, s.current_step.as_str()), ("Waiting", "wait done"));
        assert_eq!(s.history, "2026-01-01 09:00:02 task: done");
        history.push(event(
            4,
            EventKind::WaitEnded {
                step: "done".into(),
                timed_out: false,
            },
        ));
        history.push(event(5, EventKind::InstanceCompleted));
        let s = Snapshot::of(&history);
        assert_eq!(
            (s.status, s.current_step.as_str(), s.ended),
            ("Completed", "", true)
        );
    }

    #[test]
    fn a_long_history_keeps_its_latest_lines() {
        let lines: Vec<String> = (0..500).map(|i| format!("line {i}")).collect();
        let text = latest_lines(&lines);
        assert!(text.len() <= TEXT_LIMIT + 4, "{}", text.len());
        assert!(text.starts_with('…') && text.ends_with("line 499"));
    }

    #[test]
    fn flow_names_read_as_the_workflow_options() {
        assert_eq!(display_name("wellness_booking"), "Wellness Booking");
    }

    /// Only instances of an entity with a WorkflowInstance database (and a token) are followed:
    /// the others would have their history read every round for nothing.
    #[test]
    fn only_an_entity_with_a_workflow_instance_database_has_its_instances_followed() {
        let toml = "[entities.hs]\nnotion_token_env = \"T_HS\"\n\n[entities.hs.databases]\n\
                    WorkflowInstance = \"f10c0007000000000000000000000005\"\n\n\
                    [entities.shop]\nnotion_token_env = \"T_SHOP\"\n";
        let config = crate::config::Config::parse(toml, std::path::Path::new("flowc.toml")).unwrap();
        let project = Project::from_sources(std::path::Path::new("."), config, [("a.flow", "")]);
        let env = |name: &str| (name == "T_HS").then(|| "secret".to_string());
        let mirror = Mirror::new(&project, &env).unwrap();
        let follow = |id: &str, entity: &str| mirror.follow(&InstanceId(id.into()), "order", entity, true);
        follow("a", "hs");
        follow("b", "shop");
        follow("c", "nowhere");
        follow("d", "");
        let mut followed: Vec<String> = mirror.followed.lock().unwrap().keys().cloned().collect();
        followed.sort();
        assert_eq!(followed, ["a", "d"]);

        // Without the token, no entity can be mirrored: no mirror at all.
        assert!(Mirror::new(&project, &|_: &str| None).is_none());
    }
}
