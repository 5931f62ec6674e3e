//! The polling fallback of `on notion` triggers: every `[serve.notion] poll_every`, each watched
//! database is queried for the pages edited since its cursor, and each page found is judged
//! like a webhook's (one change starts one instance, whichever way it was seen first).
//!
//! The first poll of a database takes in every page without starting anything: what the pages
//! held before the host watched them is not a change. Notion rounds `last_edited_time` to the
//! minute, so each poll asks again from the minute of the cursor; pages seen already judge to
//! nothing.

use std::sync::Arc;

use chrono::{DateTime, DurationRound, Utc};
use reqwest::Method;
use serde_json::{json, Value as JsonValue};

use super::host::Host;
use super::notion_changes::{observe, NotionWatch, Watched};
use super::notion_memory::Cursor;
use super::notion_triggers::Sighting;
use crate::connectors::ConnectorError;
use crate::runtime::EngineError;

/// Polls every watched database of the host until the host is dropped or shuts down.
pub(crate) fn run_polls(host: &Arc<Host>) {
    let Some(watch) = host.notion.get() else { return };
    if !watch.settings.poll {
        return;
    }
    let every = watch.settings.poll_every.get();
    for (entity, watched) in &watch.entities {
        for database in watched.databases.keys() {
            let host = Arc::downgrade(host);
            let (entity, database) = (entity.clone(), database.clone());
            tokio::spawn(async move {
                loop {
                    let Some(h) = host.upgrade() else { break };
                    match poll_once(&h, &entity, &database).await {
                        Ok(_) => {}
                        Err(Stop::ShuttingDown) => break,
                        Err(Stop::Notion(e)) => {
                            tracing::warn!(entity = %entity, database = %database, "notion poll failed (tried again next time): {}", e.message)
                        }
                    }
                    drop(h);
                    // Wall time: the pages' timestamps are Notion's, not a virtual clock's.
                    tokio::time::sleep(every).await;
                }
            });
        }
    }
}

/// Why a poll stopped early.
pub(crate) enum Stop {
    Notion(ConnectorError),
    ShuttingDown,
}

/// One poll of `database` of `entity`: returns how many pages it looked at.
pub(crate) async fn poll_once(host: &Arc<Host>, entity: &str, database: &str) -> Result<usize, Stop> {
    let Some(watch) = host.notion.get() else {
        return Ok(0);
    };
    let Some(watched) = watch.entities.get(entity) else {
        return Ok(0);
    };
    let started_at = Utc::now();
    let cursor = watch.memory.lock().await.cursor(entity, database);
    let source = data_source(watch, watched, database)
        .await
        .map_err(Stop::Notion)?;
    let filter = cursor.map(|c| {
        let from = c
            .edited
            .duration_trunc(chrono::Duration::minutes(1))
            .unwrap_or(c.edited);
        json!({
            "timestamp": "last_edited_time",
            "last_edited_time": { "on_or_after": from.to_rfc3339_opts(chrono::SecondsFormat::Millis, true) },
        })
    });
    let mut latest = cursor.map(|c| c.edited);
    let mut seen = 0;
    let mut start_cursor: Option<String> = None;
    loop {
        let mut body = json!({
            "page_size": 100,
            "sorts": [{ "timestamp": "last_edited_time", "direction": "ascending" }],
        });
        if let Some(f) = &filter {
            body["filter"] = f.clone();
        }
        if let Some(c) = &start_cursor {
            body["start_cursor"] = json!(c);
        }
        let answer = watched
            .client
            .send(
                Method::POST,
                &format!("/v1/data_sources/{source}/query"),
                Some(&body),
                "query",
            )
            .await
            .map_err(Stop::Notion)?;
        for page in answer
            .get("results")
            .and_then(JsonValue::as_array)
            .into_iter()
            .flatten()
        {
            seen += 1;
            if let Some(edited) = edited_at(page) {
                latest = latest.max(Some(edited));
            }
            match observe(host, entity, page, &Sighting::Poll).await {
                Ok(_) => {}
                Err(EngineError::ShuttingDown) => return Err(Stop::ShuttingDown),
                Err(e) => tracing::warn!(entity, database, "notion poll: {e}"),
            }
        }
        start_cursor = answer
            .get("next_cursor")
            .and_then(JsonValue::as_str)
            .map(str::to_string)
            .filter(|_| answer.get("has_more") == Some(&json!(true)));
        if start_cursor.is_none() {
            break;
        }
    }
    let next = Cursor {
        since: cursor.map_or(started_at, |c| c.since),
        edited: latest.unwrap_or(started_at),
    };
    watch.memory.lock().await.set_cursor(entity, database, next);
    Ok(seen)
}

fn edited_at(page: &JsonValue) -> Option<DateTime<Utc>> {
    let text = page.get("last_edited_time")?.as_str()?;
    Some(DateTime::parse_from_rfc3339(text).ok()?.with_timezone(&Utc))
}

/// The data source of `database` (databases hold data sources since API 2025-09-03), asked
/// once per database.
async fn data_source(
    watch: &NotionWatch,
    watched: &Watched,
    database: &str,
) -> Result<String, ConnectorError> {
    let Some(id) = watched.databases.get(database) else {
        return Err(ConnectorError::new(
            crate::connectors::ErrorClass::Permanent,
            format!("database `{database}` is not in flowc.toml"),
        ));
    };
    if let Some(source) = watch.sources.lock().unwrap_or_else(|e| e.into_inner()).get(id) {
        return Ok(source.clone());
    }
    let answer = watched
        .client
        .send(Method::GET, &format!("/v1/databases/{id}"), None, "get database")
        .await?;
    let source = answer
        .pointer("/data_sources/0/id")
        .and_then(JsonValue::as_str)
        .ok_or_else(|| ConnectorError::transient(format!("database `{database}` lists no data source")))?
        .to_string();
    watch
        .sources
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(id.clone(), source.clone());
    Ok(source)
}
