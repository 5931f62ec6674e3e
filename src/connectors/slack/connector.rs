//! The slack connector: `post` calls Slack's `chat.postMessage` with the entity's bot token
//! (Bearer) and a JSON body, at most once per idempotency key.

use std::path::Path;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};

use super::errors::api_error;
use super::settings::SlackSettings;
use crate::config::Config;
use crate::connectors::http::status::transport_error;
use crate::connectors::keyed_log::{Keyed, KeyedLog};
use crate::connectors::{ActionCall, Connector, ConnectorError, Manifest};
use crate::value::Value;

/// Slack truncates longer text.
const MAX_TEXT_CHARS: usize = 40_000;
/// Slack takes at most 50 blocks in a message.
const MAX_BLOCKS: usize = 50;

/// One message Slack accepted, filed under the call's idempotency key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Posted {
    key: String,
    channel: String,
    ts: String,
}

impl Keyed for Posted {
    fn key(&self) -> &str {
        &self.key
    }
}

impl Posted {
    fn result(&self) -> Value {
        Value::record([
            ("channel", Value::text(&self.channel)),
            ("ts", Value::text(&self.ts)),
        ])
    }
}

/// Slack messages for flows.
pub struct SlackConnector {
    manifest: Manifest,
    settings: SlackSettings,
    client: reqwest::Client,
    posted: KeyedLog<Posted>,
    env: crate::connectors::table::Env,
}

impl SlackConnector {
    /// Reads `[connectors.slack]` (docs/connectors/slack.md); the bot tokens are read from the
    /// environment at each call.
    pub fn from_config(config: &Config, root: &Path) -> Result<SlackConnector, ConnectorError> {
        SlackConnector::from_config_with_env(config, root, |name| std::env::var(name).ok())
    }

    /// As [`SlackConnector::from_config`], with the environment read through `env` (emulated runs).
    pub fn from_config_with_env(
        config: &Config,
        root: &Path,
        env: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Result<SlackConnector, ConnectorError> {
        let settings = SlackSettings::read(config, root)?;
        Ok(SlackConnector {
            manifest: super::manifest(),
            client: crate::connectors::table::client(settings.timeout)?,
            posted: KeyedLog::new(&settings.sent_log_dir, "posted.jsonl", "slack sent log"),
            settings,
            env: Box::new(env),
        })
    }

    async fn post(&self, call: &ActionCall) -> Result<Value, ConnectorError> {
        if let Some(done) = self.posted.lookup(&call.idempotency_key).await? {
            return Ok(done.result());
        }
        let channel = call
            .arg("channel")
            .as_str()
            .filter(|c| !c.trim().is_empty())
            .ok_or_else(|| ConnectorError::permanent("`channel` must be a channel id or name"))?;
        let text = call.message_text("slack", "text")?;
        let chars = text.chars().count();
        if chars > MAX_TEXT_CHARS {
            return Err(ConnectorError::permanent(format!(
                "`text` has {chars} characters; Slack keeps at most {MAX_TEXT_CHARS}"
            )));
        }
        let mut body = json!({ "channel": channel, "text": text });
        match call.arg("blocks") {
            Value::Null => {}
            Value::List(blocks) if blocks.len() <= MAX_BLOCKS => {
                body["blocks"] = Value::List(blocks.clone()).to_json();
            }
            Value::List(blocks) => {
                return Err(ConnectorError::permanent(format!(
                    "`blocks` has {} blocks; Slack takes at most {MAX_BLOCKS}",
                    blocks.len()
                )))
            }
            other => {
                return Err(ConnectorError::permanent(format!(
                    "`blocks` must be a list of blocks, not a {}",
                    other.kind()
                )))
            }
        }
        let token_env = self.settings.token_envs.get(&call.entity).ok_or_else(|| {
            ConnectorError::permanent(format!(
                "entity `{0}` has no Slack workspace: add `[connectors.slack.entities.{0}]` with `token_env` to flowc.toml",
                call.entity
            ))
        })?;
        let token = (self.env)(token_env).ok_or_else(|| {
            ConnectorError::permanent(format!(
                "environment variable `{token_env}` (the Slack bot token of `{0}`, `token_env` in `[connectors.slack.entities.{0}]`) is not set",
                call.entity
            ))
        })?;
        let mut url = self.settings.base_url.clone();
        url.path_segments_mut()
            .map_err(|_| {
                ConnectorError::permanent("`base_url` in `[connectors.slack]` cannot have paths appended")
            })?
            .pop_if_empty()
            .push("chat.postMessage");
        let what = "Slack chat.postMessage";
        let response = self
            .client
            .post(url)
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .map_err(|e| transport_error(&e, what))?;
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.map_err(|e| transport_error(&e, what))?;
        let json: Json = serde_json::from_str(&text).unwrap_or(Json::Null);
        if !status.is_success() || json["ok"] != Json::Bool(true) {
            return Err(api_error(status, &headers, &text));
        }
        let (Some(channel_id), Some(ts)) = (json["channel"].as_str(), json["ts"].as_str()) else {
            return Err(ConnectorError::transient(format!(
                "{what} answered ok without `channel` and `ts`"
            )));
        };
        let record = Posted {
            key: call.idempotency_key.clone(),
            channel: channel_id.to_string(),
            ts: ts.to_string(),
        };
        let result = record.result();
        if let Err(e) = self.posted.record(record).await {
            // Slack has the message: failing now would make the retry post it again.
            tracing::warn!(key = %call.idempotency_key, "slack message posted but not recorded: {e}");
        }
        Ok(result)
    }
}

#[async_trait]
impl Connector for SlackConnector {
    fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    fn keep_effects_in(&self, store: std::sync::Arc<dyn crate::runtime::Store>) {
        self.posted.keep_in(store, "slack.posted");
    }

    async fn call(&self, call: ActionCall) -> Result<Value, ConnectorError> {
        match call.action.as_str() {
            "post" => self.post(&call).await,
            other => Err(ConnectorError::permanent(format!(
                "the slack connector has no action `{other}`"
            ))),
        }
    }
}
