//! `flowc.toml`: project configuration that is not logic (database ids, secret names, connector
//! settings). Found by walking up from the paths given, as cargo finds `Cargo.toml`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The file name looked for.
pub const FILE_NAME: &str = "flowc.toml";

/// The parsed `flowc.toml`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[project]`
    #[serde(default)]
    pub project: ProjectConfig,
    /// `[entities.NAME]`: per-entity settings (database ids, token variable, sender).
    #[serde(default)]
    pub entities: BTreeMap<String, EntityConfig>,
    /// `[connectors.NAME]`: each connector reads its own table.
    #[serde(default)]
    pub connectors: BTreeMap<String, toml::Table>,
    /// `[webhooks.NAME]`: signature schemes that `on webhook ... verified by NAME` refers to.
    #[serde(default)]
    pub webhooks: BTreeMap<String, WebhookConfig>,
}

/// `[project]`
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectConfig {
    /// A name for logs.
    #[serde(default)]
    pub name: String,
    /// Folders (relative to the root) holding `.flow` files; default: the whole root.
    #[serde(default)]
    pub sources: Vec<PathBuf>,
    /// Where `flowc notion pull` writes schemas (relative to the root).
    #[serde(default)]
    pub notion_schema: Option<PathBuf>,
}

/// `[entities.NAME]`
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct EntityConfig {
    /// Environment variable holding the entity's Notion integration token.
    #[serde(default)]
    pub notion_token_env: Option<String>,
    /// Logical database name → Notion database id.
    #[serde(default)]
    pub databases: BTreeMap<String, String>,
    /// Sender address (`The 7 Space <hello@the7space.example>`).
    #[serde(default)]
    pub email_from: Option<String>,
    /// Reply-To address.
    #[serde(default)]
    pub reply_to: Option<String>,
    /// Environment variables the entity's flows may read with `secret(NAME)`; no other.
    #[serde(default)]
    pub secrets: Vec<String>,
    /// Anything else, for connectors that read more.
    #[serde(flatten)]
    pub extra: toml::Table,
}

/// `[webhooks.NAME]`: how incoming requests are verified.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// `hmac-sha256` (signature of the raw body) or `token` (shared secret in a header).
    pub scheme: String,
    /// The header carrying the signature or token.
    pub header: String,
    /// Environment variable holding the secret.
    pub secret_env: String,
}

/// A `flowc.toml` that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has unknown keys.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong (with line and column).
        message: String,
    },
}

impl Config {
    /// Parses `flowc.toml` text.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Invalid {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    /// Reads `flowc.toml` from `root`; a missing file is the default configuration.
    pub fn load(root: &Path) -> Result<Config, ConfigError> {
        let path = root.join(FILE_NAME);
        match std::fs::read_to_string(&path) {
            Ok(text) => Config::parse(&text, &path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
            Err(source) => Err(ConfigError::Io { path, source }),
        }
    }

    /// The table of connector `name` (empty when absent).
    pub fn connector(&self, name: &str) -> toml::Table {
        self.connectors.get(name).cloned().unwrap_or_default()
    }
}

/// The folder holding `flowc.toml` at or above `start` (a file or a folder), if any.
pub fn find_root(start: &Path) -> Option<PathBuf> {
    let start = if start.is_file() { start.parent()? } else { start };
    // The parent of a bare file name (`flowc run booking.flow`) is "", the current folder.
    let start = if start.as_os_str().is_empty() {
        Path::new(".")
    } else {
        start
    };
    let start = std::fs::canonicalize(start).ok()?;
    start
        .ancestors()
        .find(|dir| dir.join(FILE_NAME).is_file())
        .map(Path::to_path_buf)
}
