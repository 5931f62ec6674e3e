//! [`NotionConnector`]: the `notion` actions executed against the Notion API.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use reqwest::Method;
use serde_json::{json, Map, Value as Json};
use tokio::sync::OnceCell;

use super::client::Client;
use super::errors::invalid;
use super::filter::{equality_filter, sorts};
use super::properties::{flatten_page, to_notion, UNKNOWN_PROPERTY};
use super::schema::DatabaseSchema;
use super::settings::Settings;
use super::NotionError;
use crate::config::Config;
use crate::connectors::{Access, ActionCall, Connector, ConnectorError, Grants, Manifest};
use crate::value::Value;

/// Notion's largest page of query results.
const MAX_PAGE_SIZE: usize = 100;

/// A database resolved to its (first) data source and that data source's schema.
#[derive(Debug)]
pub(crate) struct DataSource {
    pub(crate) id: String,
    pub(crate) schema: DatabaseSchema,
}

/// Resolved data sources by (entity, logical database); each resolved at most once.
type SourceCache = HashMap<(String, String), Arc<OnceCell<Arc<DataSource>>>>;

/// One entity's access: its client (when the token variable is set) and database ids.
#[derive(Debug)]
struct EntityAccess {
    client: Result<Client, String>,
    databases: BTreeMap<String, String>,
}

/// The `notion` connector, configured from `flowc.toml`.
///
/// Every entity uses its own integration token (read from the environment variable that
/// `[entities.NAME] notion_token_env` names); calls with the same token share one rate limit
/// across the whole process.
pub struct NotionConnector {
    manifest: Manifest,
    settings: Settings,
    entities: BTreeMap<String, EntityAccess>,
    grants: Grants,
    sources: Mutex<SourceCache>,
}

impl std::fmt::Debug for NotionConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotionConnector")
            .field("base_url", &self.settings.base_url)
            .field("entities", &self.entities.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl NotionConnector {
    /// Builds the connector from `[connectors.notion]` and each entity's `notion_token_env` and
    /// `databases`. A token variable that is not set is only an error when that entity calls.
    pub fn from_config(config: &Config) -> Result<NotionConnector, NotionError> {
        NotionConnector::from_config_with_env(config, |name| std::env::var(name).ok())
    }

    /// Like [`NotionConnector::from_config`], reading variables through `env` (for hosts that
    /// keep secrets elsewhere, and for tests).
    pub fn from_config_with_env(
        config: &Config,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<NotionConnector, NotionError> {
        let settings = Settings::from_table(&config.connector("notion"))?;
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .build()
            .map_err(|e| NotionError::Config(format!("cannot build the HTTP client: {e}")))?;
        let mut entities = BTreeMap::new();
        for (name, entity) in &config.entities {
            let client = super::client::entity_client(&http, &settings, name, entity, &env);
            entities.insert(
                name.clone(),
                EntityAccess {
                    client,
                    databases: entity.databases.clone(),
                },
            );
        }
        Ok(NotionConnector {
            manifest: super::manifest(),
            settings,
            entities,
            grants: Grants::default(),
            sources: Mutex::new(HashMap::new()),
        })
    }

    /// The project's grants, checked when a page is reached by id (`get_page`, `update_page`).
    /// Without them a flow reaches only its own entity's pages.
    pub fn with_grants(mut self, grants: Grants) -> NotionConnector {
        self.grants = grants;
        self
    }

    /// Refuses `page` unless it lies in a database flowc.toml lists for the acting entity and
    /// the flow's entity may have `access` to it (its own, or granted). A page id is only text
    /// a flow was given: checking where the page lives is what keeps one entity's flows out of
    /// another's records.
    fn check_page(&self, call: &ActionCall, page: &Json, access: Access) -> Result<String, ConnectorError> {
        let id = page.get("id").and_then(Json::as_str).unwrap_or_default();
        let parent = page.get("parent").unwrap_or(&Json::Null);
        let database_id = parent.get("database_id").and_then(Json::as_str);
        let owner = database_id.and_then(|db_id| {
            self.entities.iter().find_map(|(entity, e)| {
                e.databases
                    .iter()
                    .find(|(_, id)| same_id(id, db_id))
                    .map(|(name, _)| (entity.as_str(), name.as_str()))
            })
        });
        let verb = match access {
            Access::Read => "read",
            Access::Write => "write",
        };
        let refuse = |message: String| {
            Err(invalid(message).with_details(Value::record([
                ("code", Value::text("not_granted")),
                ("page", Value::text(id)),
            ])))
        };
        let Some((owner, database)) = owner else {
            return refuse(format!(
                "page `{id}` is not in a database flowc.toml lists for any entity; flows of `{}` may not {verb} it",
                call.flow_entity
            ));
        };
        if *owner != *call.entity {
            return refuse(format!(
                "page `{id}` is in `{database}` of `{owner}`, not of `{}` whose token was used",
                call.entity
            ));
        }
        if !self.grants.allows(&call.flow_entity, owner, database, access) {
            return refuse(format!(
                "flows of `{}` may not {verb} page `{id}`: it is in `{database}` of `{owner}`, which grants no {verb} access to `{}`; add `grant {verb} {database} to {}` to `entity {owner}` if it agrees",
                call.flow_entity, call.flow_entity, call.flow_entity
            ));
        }
        Ok(database.to_string())
    }

    fn entity(&self, entity: &str) -> Result<&EntityAccess, ConnectorError> {
        self.entities.get(entity).ok_or_else(|| {
            invalid(format!(
                "entity `{entity}` has no `[entities.{entity}]` table in flowc.toml"
            ))
        })
    }

    fn client(&self, entity: &str) -> Result<&Client, ConnectorError> {
        self.entity(entity)?
            .client
            .as_ref()
            .map_err(|message| invalid(message.clone()))
    }

    /// The data source of logical database `database` of `entity`, fetched once and cached.
    pub(crate) async fn data_source(
        &self,
        entity: &str,
        database: &str,
    ) -> Result<Arc<DataSource>, ConnectorError> {
        let access = self.entity(entity)?;
        let database_id = access.databases.get(database).ok_or_else(|| {
            invalid(format!(
                "entity `{entity}` has no id for database `{database}`; add it under `[entities.{entity}.databases]` in flowc.toml"
            ))
        })?;
        let client = self.client(entity)?;
        let cell = {
            let mut sources = self.sources.lock().unwrap_or_else(|e| e.into_inner());
            sources
                .entry((entity.to_string(), database.to_string()))
                .or_default()
                .clone()
        };
        cell.get_or_try_init(|| async {
            let db = client
                .send(
                    Method::GET,
                    &format!("/v1/databases/{}", path_id(database_id)?),
                    None,
                    "retrieve database",
                )
                .await?;
            let source_id = db
                .get("data_sources")
                .and_then(Json::as_array)
                .and_then(|s| s.first())
                .and_then(|s| s.get("id"))
                .and_then(Json::as_str)
                .ok_or_else(|| {
                    invalid(format!(
                        "Notion database `{database}` ({database_id}) has no data source"
                    ))
                })?
                .to_string();
            let source = client
                .send(
                    Method::GET,
                    &format!("/v1/data_sources/{}", path_id(&source_id)?),
                    None,
                    "retrieve data source",
                )
                .await?;
            Ok(Arc::new(DataSource {
                id: source_id,
                schema: DatabaseSchema::from_json(&source),
            }))
        })
        .await
        .cloned()
    }

    /// Drops the cached data source of `database`, so the next call fetches its schema again.
    fn forget(&self, entity: &str, database: &str) {
        let mut sources = self.sources.lock().unwrap_or_else(|e| e.into_inner());
        sources.remove(&(entity.to_string(), database.to_string()));
    }

    async fn query_pages(
        &self,
        client: &Client,
        source: &DataSource,
        filter: Option<Json>,
        sorts: Vec<Json>,
        limit: Option<usize>,
    ) -> Result<Vec<Json>, ConnectorError> {
        let mut pages = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let wanted = limit.map_or(MAX_PAGE_SIZE, |l| l.saturating_sub(pages.len()));
            if wanted == 0 {
                break;
            }
            let mut body = json!({ "page_size": wanted.min(MAX_PAGE_SIZE) });
            if let Some(filter) = &filter {
                body["filter"] = filter.clone();
            }
            if !sorts.is_empty() {
                body["sorts"] = Json::Array(sorts.clone());
            }
            if let Some(cursor) = &cursor {
                body["start_cursor"] = json!(cursor);
            }
            let answer = client
                .send(
                    Method::POST,
                    &format!("/v1/data_sources/{}/query", path_id(&source.id)?),
                    Some(&body),
                    "query",
                )
                .await?;
            if let Some(results) = answer.get("results").and_then(Json::as_array) {
                pages.extend(results.iter().cloned());
            }
            let has_more = answer.get("has_more").and_then(Json::as_bool) == Some(true);
            let next = answer
                .get("next_cursor")
                .and_then(Json::as_str)
                .map(str::to_string);
            match next {
                // A cursor that does not move would loop forever.
                Some(next) if has_more && cursor.as_deref() != Some(next.as_str()) => cursor = Some(next),
                _ => break,
            }
        }
        if let Some(limit) = limit {
            pages.truncate(limit);
        }
        Ok(pages)
    }

    /// Creates a page unless an earlier attempt of the same step already did (found by its
    /// idempotency key); returns the page.
    async fn create_once(
        &self,
        client: &Client,
        source: &DataSource,
        mut properties: Map<String, Json>,
        key: &str,
    ) -> Result<Json, ConnectorError> {
        if let Some(key_property) = self.key_property(source) {
            if let Some(page) = self.find_by_key(client, source, key).await? {
                return Ok(page);
            }
            properties.insert(
                key_property.to_string(),
                json!({ "rich_text": [{ "type": "text", "text": { "content": key } }] }),
            );
        }
        let body = json!({
            "parent": { "type": "data_source_id", "data_source_id": source.id },
            "properties": properties,
        });
        client
            .send(Method::POST, "/v1/pages", Some(&body), "create page")
            .await
    }

    /// The idempotency property, when this data source has it as rich text.
    fn key_property(&self, source: &DataSource) -> Option<&str> {
        let name = self.settings.idempotency_property.as_str();
        let property = source.schema.properties.get(name)?;
        (property.kind == "rich_text" && !name.is_empty()).then_some(name)
    }

    async fn find_by_key(
        &self,
        client: &Client,
        source: &DataSource,
        key: &str,
    ) -> Result<Option<Json>, ConnectorError> {
        let Some(property) = self.key_property(source) else {
            return Ok(None);
        };
        if key.is_empty() {
            return Ok(None);
        }
        let filter = json!({ "property": property, "rich_text": { "equals": key } });
        let pages = self
            .query_pages(client, source, Some(filter), Vec::new(), Some(1))
            .await?;
        Ok(pages.into_iter().next())
    }

    async fn run(&self, call: &ActionCall) -> Result<Value, ConnectorError> {
        let client = self.client(&call.entity)?;
        match &*call.action {
            "create_page" => {
                let (db, source) = self.source_arg(call).await?;
                let properties = to_notion(&source.schema, &db, call.arg("properties"))?;
                let page = self
                    .create_once(client, &source, properties, &call.idempotency_key)
                    .await?;
                Ok(flatten_page(&page))
            }
            "get_page" => {
                let id = path_id(text_arg(call, "id")?)?;
                let page = client
                    .send(Method::GET, &format!("/v1/pages/{id}"), None, "retrieve page")
                    .await?;
                self.check_page(call, &page, Access::Read)?;
                Ok(flatten_page(&page))
            }
            "update_page" => {
                let id = path_id(text_arg(call, "id")?)?;
                // The page is read first, whatever `db` says: where it lives decides whether
                // this flow may change it.
                let page = client
                    .send(Method::GET, &format!("/v1/pages/{id}"), None, "retrieve page")
                    .await?;
                let home = self.check_page(call, &page, Access::Write)?;
                let (db, schema) = match call.arg("db") {
                    // Without `db`, the page itself says what type each property has.
                    Value::Null => ("the page".to_string(), DatabaseSchema::from_json(&page)),
                    _ => {
                        let (db, source) = self.source_arg(call).await?;
                        if db != home {
                            return Err(invalid(format!(
                                "page `{id}` is in `{home}`, not in `{db}` as `db` says"
                            )));
                        }
                        (db, source.schema.clone())
                    }
                };
                let properties = to_notion(&schema, &db, call.arg("properties"))?;
                let body = json!({ "properties": properties });
                let page = client
                    .send(
                        Method::PATCH,
                        &format!("/v1/pages/{id}"),
                        Some(&body),
                        "update page",
                    )
                    .await?;
                Ok(flatten_page(&page))
            }
            "query" | "query_one" => {
                let (db, source) = self.source_arg(call).await?;
                let filter = equality_filter(&source.schema, &db, call.arg("where"))?;
                let sorts = sorts(&source.schema, &db, call.arg("sort"))?;
                let limit = if &*call.action == "query_one" {
                    Some(1)
                } else {
                    limit_arg(call)?
                };
                let pages = self.query_pages(client, &source, filter, sorts, limit).await?;
                let mut records: Vec<Value> = pages.iter().map(flatten_page).collect();
                if &*call.action == "query_one" {
                    Ok(records.pop().unwrap_or(Value::Null))
                } else {
                    Ok(Value::List(records))
                }
            }
            "find_or_create" => self.find_or_create(client, call).await,
            other => Err(invalid(format!("the notion connector has no action `{other}`"))),
        }
    }

    async fn find_or_create(&self, client: &Client, call: &ActionCall) -> Result<Value, ConnectorError> {
        let (db, source) = self.source_arg(call).await?;
        let matching = call.arg("match");
        let filter = equality_filter(&source.schema, &db, matching)?.ok_or_else(|| {
            invalid("`match` must name at least one property, e.g. `{ Email: input.email }`")
        })?;
        let with_created = |page: &Json, created: bool| {
            let mut record = flatten_page(page);
            if let Value::Record(fields) = &mut record {
                fields.insert("created".to_string(), Value::Bool(created));
            }
            record
        };
        // A page an earlier attempt of this very step created counts as created by it.
        if let Some(page) = self.find_by_key(client, &source, &call.idempotency_key).await? {
            return Ok(with_created(&page, true));
        }
        let found = self
            .query_pages(client, &source, Some(filter), Vec::new(), Some(1))
            .await?;
        if let Some(page) = found.first() {
            return Ok(with_created(page, false));
        }
        let mut properties = to_notion(&source.schema, &db, call.arg("properties"))?;
        // The matched values are written too: the new page must match next time.
        properties.extend(to_notion(&source.schema, &db, matching)?);
        let page = self
            .create_once(client, &source, properties, &call.idempotency_key)
            .await?;
        Ok(with_created(&page, true))
    }

    async fn source_arg(&self, call: &ActionCall) -> Result<(String, Arc<DataSource>), ConnectorError> {
        let db = text_arg(call, "db")?.to_string();
        let source = self.data_source(&call.entity, &db).await?;
        Ok((db, source))
    }
}

fn text_arg<'a>(call: &'a ActionCall, name: &str) -> Result<&'a str, ConnectorError> {
    match call.arg(name) {
        Value::Text(s) if !s.is_empty() => Ok(s),
        Value::Null => Err(invalid(format!("`notion.{}` needs `{name}`", call.action))),
        other => Err(invalid(format!(
            "`{name}` of `notion.{}` must be text, got {}",
            call.action,
            other.kind()
        ))),
    }
}

fn limit_arg(call: &ActionCall) -> Result<Option<usize>, ConnectorError> {
    match call.arg("limit") {
        Value::Null => Ok(None),
        Value::Int(n) if *n >= 0 => Ok(Some(usize::try_from(*n).unwrap_or(usize::MAX))),
        Value::Number(n) if n.is_finite() && *n >= 0.0 && n.fract() == 0.0 => Ok(Some(*n as usize)),
        other => Err(invalid(format!(
            "`limit` must be a whole number of at least 0, got {other}"
        ))),
    }
}

/// Whether two Notion ids are the same, with or without dashes.
fn same_id(a: &str, b: &str) -> bool {
    a.chars()
        .filter(|c| *c != '-')
        .eq(b.chars().filter(|c| *c != '-'))
}

/// An id safe to put in a URL path: Notion ids are hex with optional dashes.
fn path_id(id: &str) -> Result<&str, ConnectorError> {
    if !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        Ok(id)
    } else {
        Err(invalid(format!("`{id}` is not a Notion id")))
    }
}

#[async_trait]
impl Connector for NotionConnector {
    fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    fn paces_itself(&self) -> bool {
        true
    }

    async fn call(&self, call: ActionCall) -> Result<Value, ConnectorError> {
        match self.run(&call).await {
            // The cached schema may predate a property added in Notion since: fetch it again
            // once before calling the property unknown.
            Err(e) if e.details.get("code").as_str() == Some(UNKNOWN_PROPERTY) => {
                if let Value::Text(db) = call.arg("db") {
                    self.forget(&call.entity, db);
                    return self.run(&call).await;
                }
                Err(e)
            }
            other => other,
        }
    }
}
