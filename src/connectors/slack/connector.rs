//! The slack connector: `post` calls Slack's `chat.postMessage` with the entity's bot token
//! (Bearer) and a JSON body, at most once per idempotency key: an attempt whose answer was lost
//! is looked up in the conversation's history before any new request.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::history::{sha256_hex, Bot, Wanted};
use super::settings::SlackSettings;
use super::web_api::{self, Args};
use crate::config::Config;
use crate::connectors::keyed_log::{Keyed, KeyedLog};
use crate::connectors::notification::{outcome_unknown, Notifications, Outcome, SendOutcome};
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

/// An attempt about to post, filed under the call's idempotency key before the request goes: a
/// key with an intent and no [`Posted`] is in doubt (Slack may have the message).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct PostIntent {
    key: String,
    /// The channel as the call named it.
    channel: String,
    /// SHA-256 of the text (hex): the text itself stays out of the log.
    text_sha256: String,
    /// When the request went (UTC).
    at: DateTime<Utc>,
}

impl Keyed for PostIntent {
    fn key(&self) -> &str {
        &self.key
    }
}

/// Slack messages for flows.
pub struct SlackConnector {
    manifest: Manifest,
    slack: Arc<Slack>,
    notifications: Option<Arc<Notifications>>,
}

/// The settings, client and logs: what posting and looking up a post need, shared with the
/// notification ledger (which asks what became of a post).
struct Slack {
    settings: SlackSettings,
    client: reqwest::Client,
    posted: KeyedLog<Posted>,
    intents: KeyedLog<PostIntent>,
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
            slack: Arc::new(Slack {
                client: crate::connectors::table::client(settings.timeout)?,
                posted: KeyedLog::new(&settings.sent_log_dir, "posted.jsonl", "slack sent log"),
                intents: KeyedLog::new(&settings.sent_log_dir, "intents.jsonl", "slack intent log"),
                settings,
                env: Box::new(env),
            }),
            notifications: None,
        })
    }

    /// Takes part in the host's notification ledger: a post for a `notification` claims it,
    /// and a post for a notification another channel claimed first asks that channel.
    pub fn with_notifications(mut self, notifications: Arc<Notifications>) -> SlackConnector {
        let slack: Arc<dyn SendOutcome> = self.slack.clone();
        notifications.register("slack", Arc::downgrade(&slack));
        self.notifications = Some(notifications);
        self
    }

    async fn post(&self, call: &ActionCall) -> Result<Value, ConnectorError> {
        let slack = &self.slack;
        if let Some(done) = slack.posted.lookup(&call.idempotency_key).await? {
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
        let token = slack.token(&call.entity)?;
        let text_sha256 = sha256_hex(text);
        // An earlier attempt whose answer never came (a timeout, a crash): Slack may have the
        // message. The conversation's history says; only a message it does not have goes again.
        if let Some(intent) = slack.intents.lookup(&call.idempotency_key).await? {
            if intent.channel == channel && intent.text_sha256 == text_sha256 {
                match slack.find_posted(&token, &intent).await {
                    Ok(Some(found)) => return Ok(slack.keep_found(found).await),
                    Ok(None) => {}
                    Err(e) => {
                        let why = "an earlier attempt's outcome is unknown (Slack may have the message) and the channel's history cannot be read, so it is not posted again yet";
                        return Err(outcome_unknown(e, why, None));
                    }
                }
            }
        }
        if let Some(notifications) = &self.notifications {
            if let Some(earlier) = notifications.before_send("slack", call, true).await? {
                return Ok(Value::record([
                    ("channel", Value::text("")),
                    ("ts", Value::text("")),
                    ("sent_by", Value::text(earlier)),
                ]));
            }
        }
        slack
            .intents
            .record(PostIntent {
                key: call.idempotency_key.to_string(),
                channel: channel.to_string(),
                text_sha256,
                at: Utc::now(),
            })
            .await?;
        let json = web_api::call(
            &slack.client,
            &slack.settings.base_url,
            &token,
            "chat.postMessage",
            Args::Json(&body),
        )
        .await?;
        let (Some(channel_id), Some(ts)) = (json["channel"].as_str(), json["ts"].as_str()) else {
            return Err(ConnectorError::transient(
                "Slack chat.postMessage answered ok without `channel` and `ts`",
            ));
        };
        let record = Posted {
            key: call.idempotency_key.to_string(),
            channel: channel_id.to_string(),
            ts: ts.to_string(),
        };
        let result = record.result();
        if let Err(e) = slack.posted.record(record).await {
            // Slack has the message: failing now would make the retry post it again.
            tracing::warn!(key = %call.idempotency_key, "slack message posted but not recorded: {e}");
        }
        Ok(result)
    }
}

impl Slack {
    /// The bot token of `entity`'s workspace, from the environment.
    fn token(&self, entity: &str) -> Result<String, ConnectorError> {
        let token_env = self.settings.token_envs.get(entity).ok_or_else(|| {
            ConnectorError::permanent(format!(
                "entity `{entity}` has no Slack workspace: add `[connectors.slack.entities.{entity}]` with `token_env` to flowc.toml"
            ))
        })?;
        (self.env)(token_env).ok_or_else(|| {
            ConnectorError::permanent(format!(
                "environment variable `{token_env}` (the Slack bot token of `{entity}`, `token_env` in `[connectors.slack.entities.{entity}]`) is not set"
            ))
        })
    }

    /// The message of `intent`, if the conversation's history has it.
    async fn find_posted(&self, token: &str, intent: &PostIntent) -> Result<Option<Posted>, ConnectorError> {
        let bot = Bot {
            client: &self.client,
            base_url: &self.settings.base_url,
            token,
        };
        let wanted = Wanted {
            channel: &intent.channel,
            text_sha256: &intent.text_sha256,
            at: intent.at,
        };
        Ok(bot.find_posted(&wanted).await?.map(|(channel, ts)| Posted {
            key: intent.key.clone(),
            channel,
            ts,
        }))
    }

    /// A message found in the history, recorded as posted; its result.
    async fn keep_found(&self, found: Posted) -> Value {
        let result = found.result();
        let key = found.key.clone();
        if let Err(e) = self.posted.record(found).await {
            tracing::warn!(%key, "slack message found but not recorded: {e}");
        }
        result
    }

    /// What became of the post of `key`, in `entity`'s workspace.
    async fn resolve(&self, key: &str, entity: &str) -> Result<Outcome, ConnectorError> {
        if self.posted.lookup(key).await?.is_some() {
            return Ok(Outcome::Sent);
        }
        // No intent: the request never went.
        let Some(intent) = self.intents.lookup(key).await? else {
            return Ok(Outcome::NotSent);
        };
        let token = self.token(entity)?;
        Ok(match self.find_posted(&token, &intent).await? {
            Some(found) => {
                self.keep_found(found).await;
                Outcome::Sent
            }
            None => Outcome::NotSent,
        })
    }
}

#[async_trait]
impl SendOutcome for Slack {
    async fn outcome(&self, key: &str, entity: &str) -> Outcome {
        self.resolve(key, entity).await.unwrap_or_else(Outcome::Unknown)
    }
}

#[async_trait]
impl Connector for SlackConnector {
    fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    fn keep_effects_in(&self, store: Arc<dyn crate::runtime::Store>) {
        self.slack.posted.keep_in(store.clone(), "slack.posted");
        // Another host must see an attempt in doubt as in doubt, not as never made.
        self.slack.intents.keep_in(store.clone(), "slack.intents");
        if let Some(notifications) = &self.notifications {
            notifications.keep_in(store);
        }
    }

    async fn call(&self, call: ActionCall) -> Result<Value, ConnectorError> {
        match &*call.action {
            "post" => self.post(&call).await,
            other => Err(ConnectorError::permanent(format!(
                "the slack connector has no action `{other}`"
            ))),
        }
    }
}
