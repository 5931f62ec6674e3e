//! `flowc notion pull`: every entity's database schemas, fetched and saved for the checker.

use std::path::{Path, PathBuf};

use super::schema::NotionSchemas;
use super::{NotionConnector, NotionError};
use crate::config::Config;

/// Where the schema file lives when `[project] notion_schema` does not say.
pub const DEFAULT_SCHEMA_PATH: &str = "notion/schema.json";

/// What `pull` wrote.
#[derive(Debug)]
pub struct PullReport {
    /// The schema file.
    pub path: PathBuf,
    /// `(entity, database, property count)` for each database pulled.
    pub databases: Vec<(String, String, usize)>,
}

/// The schema file of the project at `root`.
pub fn schema_path(config: &Config, root: &Path) -> PathBuf {
    root.join(
        config
            .project
            .notion_schema
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_SCHEMA_PATH)),
    )
}

/// Fetches each configured database (database → its data source → properties) and writes them
/// all to the project's schema file. Nothing is written unless every database could be read.
pub async fn pull(config: &Config, root: &Path) -> Result<PullReport, NotionError> {
    pull_with(NotionConnector::from_config(config)?, config, root).await
}

/// [`pull`] with a connector built by the caller (e.g. with tokens from elsewhere).
pub async fn pull_with(
    connector: NotionConnector,
    config: &Config,
    root: &Path,
) -> Result<PullReport, NotionError> {
    let mut schemas = NotionSchemas::default();
    let mut databases = Vec::new();
    for (entity, entity_config) in &config.entities {
        for database in entity_config.databases.keys() {
            let source = connector
                .data_source(entity, database)
                .await
                .map_err(|error| NotionError::Api {
                    what: format!("database `{database}` of `{entity}`"),
                    error,
                })?;
            databases.push((entity.clone(), database.clone(), source.schema.properties.len()));
            schemas
                .entities
                .entry(entity.clone())
                .or_default()
                .insert(database.clone(), source.schema.clone());
        }
    }
    let path = schema_path(config, root);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| NotionError::Io {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    std::fs::write(&path, schemas.to_pretty_json()).map_err(|source| NotionError::Io {
        path: path.clone(),
        source,
    })?;
    Ok(PullReport { path, databases })
}
