//! `[connectors.slack]` and the per-entity bot token variables, read when the project loads.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::Url;

use crate::config::Config;
use crate::connectors::table::Table;
use crate::connectors::ConnectorError;

const DEFAULT_BASE_URL: &str = "https://slack.com/api";
const DEFAULT_SENT_LOG_DIR: &str = ".flowc/slack";
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Everything the slack connector reads from flowc.toml.
#[derive(Clone, Debug)]
pub(crate) struct SlackSettings {
    pub(crate) base_url: Url,
    pub(crate) timeout: Duration,
    pub(crate) sent_log_dir: PathBuf,
    /// Entity → the environment variable holding its workspace's bot token (`xoxb-…`).
    pub(crate) token_envs: BTreeMap<String, String>,
}

impl SlackSettings {
    /// Reads `[connectors.slack]`; `sent_log` is relative to `root`.
    pub(crate) fn read(config: &Config, root: &Path) -> Result<SlackSettings, ConnectorError> {
        let table = Table::connector(config, "slack", &["base_url", "timeout", "sent_log", "entities"])?;
        let mut token_envs = BTreeMap::new();
        for (entity, t) in table.entities(&["token_env"])? {
            if !config.entities.contains_key(&entity) {
                return Err(t.error(
                    "entities",
                    &format!("names `{entity}`, which is not an entity of `[entities]`"),
                ));
            }
            token_envs.insert(entity, t.required("token_env")?);
        }
        Ok(SlackSettings {
            base_url: table.url("base_url", DEFAULT_BASE_URL)?,
            timeout: table.duration("timeout", DEFAULT_TIMEOUT)?,
            sent_log_dir: root.join(
                table
                    .text("sent_log")?
                    .unwrap_or_else(|| DEFAULT_SENT_LOG_DIR.to_string()),
            ),
            token_envs,
        })
    }
}
