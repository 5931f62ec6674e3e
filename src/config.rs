//! `flowc.toml`: project configuration that is not logic (database ids, secret names, connector
//! settings). Found by walking up from the paths given, as cargo finds `Cargo.toml`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

mod connectors;
mod duration;
mod problem;
mod quiet_hours;

pub use duration::ConfigDuration;
use problem::Stage;
pub(crate) use quiet_hours::add_settings as add_quiet_hours;
pub use quiet_hours::{ClockTime, QuietHours};

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
    pub webhooks: BTreeMap<String, crate::serve::settings::WebhookSettings>,
    /// `[serve]`: settings of `flowc serve` (docs/serve.md).
    #[serde(default)]
    pub serve: crate::serve::settings::ServeSettings,
    /// `[faults]`: what goes wrong in the emulators of `--emulate` runs (docs/faults.md).
    #[serde(
        default,
        skip_serializing_if = "crate::connectors::faults::FaultPlan::is_empty"
    )]
    pub faults: crate::connectors::faults::FaultPlan,
    /// `[store]`: where instances are journaled (docs/postgres.md).
    #[serde(default, skip_serializing_if = "StoreConfig::is_unset")]
    pub store: StoreConfig,
}

/// `[store]`
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// `postgres://USER@HOST:PORT/DB` (the password from `FLOWC_STORE_PASSWORD`) or
    /// `sqlite:PATH`; unset: `flowc.db` in the state folder.
    #[serde(default)]
    pub url: Option<String>,
    /// PostgreSQL: how long a host holds an instance between renewals, so how long a dead
    /// host's instances wait before another host takes them over (default 30s).
    #[serde(default)]
    pub lease: Option<ConfigDuration>,
}

impl StoreConfig {
    fn is_unset(&self) -> bool {
        self.url.is_none() && self.lease.is_none()
    }
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
#[serde(deny_unknown_fields)]
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
    /// `[entities.NAME.quiet_hours]`: when non-urgent notices wait; unset: 21:00 until 08:00.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet_hours: Option<QuietHours>,
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
    /// The file is not valid TOML, has unknown keys or a value of the wrong form: shown as a
    /// diagnostic on the file's text.
    #[error("{rendered}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The diagnostic code (E0900-E0903).
        code: crate::diagnostic::Code,
        /// Where in the file.
        span: crate::syntax::Span,
        /// What is wrong.
        message: String,
        /// What to write instead.
        help: String,
        /// The diagnostic rendered with the lines of the file it points at.
        rendered: String,
    },
}

impl Config {
    /// Parses `flowc.toml` text: unknown keys and webhook schemes are refused, with the closest
    /// known one suggested.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let invalid = |stage| move |e: toml::de::Error| problem::invalid(path, text, &e, stage);
        let table = toml::from_str::<toml::Table>(text).map_err(invalid(Stage::Syntax))?;
        // Reading the settings from the parsed table spares two more parses of the text (0.2 ms
        // of every command that loads the project), but its errors have no position: a file
        // with a mistake is read again below, to say where.
        let table = toml::Value::Table(table);
        if let (Ok(config), Ok(_)) = (
            Config::deserialize(table.clone()),
            connectors::Tables::deserialize(table),
        ) {
            return Ok(config);
        }
        // Unknown webhook schemes are unknown variants of `serve::settings::Scheme`.
        let config: Config = toml::from_str(text).map_err(invalid(Stage::Settings))?;
        toml::from_str::<connectors::Tables>(text).map_err(invalid(Stage::Settings))?;
        Ok(config)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &str) -> String {
        match Config::parse(text, Path::new("flowc.toml")) {
            Ok(_) => panic!("accepted: {text}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn unknown_keys_and_schemes_are_refused_with_a_suggestion() {
        let e = error("[webhooks.amelia]\nscheme = \"tokn\"\nheader = \"X-T\"\nsecret_env = \"T\"\n");
        assert!(e.contains("did you mean `token`?"), "{e}");
        let e = error("[entities.studio]\nsecret = [\"CRM_TOKEN\"]\n");
        assert!(e.contains("did you mean `secrets`?"), "{e}");
        let e = error("[project]\nnotion_schem = \"x.json\"\n");
        assert!(e.contains("did you mean `notion_schema`?"), "{e}");
        assert!(Config::parse("[entities.studio]\nsecrets = [\"CRM_TOKEN\"]\n", Path::new("f")).is_ok());
    }

    #[test]
    fn quiet_hours_are_two_times_of_day_with_known_keys() {
        let e = error("[entities.studio.quiet_hours]\nform = \"21:00\"\nuntil = \"08:00\"\n");
        assert!(e.contains("did you mean `from`?"), "{e}");
        let e = error("[entities.studio.quiet_hours]\nfrom = \"25:00\"\nuntil = \"08:00\"\n");
        assert!(e.contains("\"25:00\" is not a time of day"), "{e}");
        assert!(e.contains("write a time of day such as \"21:00\""), "{e}");
        let e = error("[entities.studio.quiet_hours]\nfrom = 21\nuntil = \"08:00\"\n");
        assert!(e.contains("quiet_hours"), "{e}");
        let e = error("[entities.studio.quiet_hours]\nfrom = \"08:00\"\nuntil = \"08:00\"\n");
        assert!(e.contains("are empty"), "{e}");
        let e = error("[entities.studio]\nquiet_hour = { from = \"21:00\", until = \"08:00\" }\n");
        assert!(e.contains("did you mean `quiet_hours`?"), "{e}");
        let ok = "[entities.studio.quiet_hours]\nfrom = \"22:30\"\nuntil = \"07:00\"\n";
        let config = Config::parse(ok, Path::new("f")).unwrap();
        let quiet = config.entities["studio"].quiet_hours.unwrap();
        assert_eq!(
            (quiet.from.to_string(), quiet.until.to_string()),
            ("22:30".into(), "07:00".into())
        );
    }
}
