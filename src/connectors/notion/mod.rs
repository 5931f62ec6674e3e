//! The `notion` connector: its manifest, the client that runs it, the schema pull and an
//! emulator of the Notion API for tests and local runs.

mod client;
mod connector;
pub mod emulator;
mod errors;
mod filter;
mod properties;
mod pull;
pub mod schema;
mod settings;

use std::path::PathBuf;

pub use crate::contract::manifests::notion::{manifest, page_type};
pub(crate) use client::Client;
pub use client::{DEFAULT_BASE_URL, NOTION_VERSION};
pub use connector::NotionConnector;
pub use pull::{pull, pull_with, schema_path, PullReport, DEFAULT_SCHEMA_PATH};

use crate::connectors::ConnectorError;

/// Each property of a Notion page object as the plain value a flow reads, in JSON (`Status`:
/// `"Done"`): what the host compares to see whether a property changed.
pub(crate) fn plain_properties(
    page: &serde_json::Value,
) -> std::collections::BTreeMap<String, serde_json::Value> {
    let mut out = std::collections::BTreeMap::new();
    if let Some(serde_json::Value::Object(properties)) = page.get("properties") {
        for (name, property) in properties {
            out.insert(name.clone(), properties::property_to_value(property).to_json());
        }
    }
    out
}

/// Why the Notion connector could not be set up or `pull` could not finish.
#[derive(Debug, thiserror::Error)]
pub enum NotionError {
    /// `flowc.toml` says something the connector cannot use.
    #[error("{0}")]
    Config(String),
    /// Notion (or the network) refused a request.
    #[error("cannot read {what}: {error}")]
    Api {
        /// What was being read.
        what: String,
        /// The classified failure.
        error: ConnectorError,
    },
    /// The schema file could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}
