//! The sms connector: `send` creates a Message resource on Twilio's Messages API (form-encoded
//! POST, basic auth with the entity's account SID and auth token), at most once per idempotency
//! key.

use std::path::Path;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::errors::api_error;
use super::settings::{Account, SmsSettings};
use crate::config::Config;
use crate::connectors::http::status::transport_error;
use crate::connectors::keyed_log::{Keyed, KeyedLog};
use crate::connectors::{ActionCall, Connector, ConnectorError, Manifest};
use crate::contract::phone_number::{is_e164, shape_problem};
use crate::value::Value;

/// Twilio refuses longer bodies (error 21617).
const MAX_BODY_CHARS: usize = 1600;

/// One message Twilio accepted, filed under the call's idempotency key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct SentSms {
    key: String,
    sid: String,
    to: String,
    status: String,
    segments: i64,
}

impl Keyed for SentSms {
    fn key(&self) -> &str {
        &self.key
    }
}

impl SentSms {
    fn result(&self) -> Value {
        Value::record([
            ("sid", Value::text(&self.sid)),
            ("to", Value::text(&self.to)),
            ("status", Value::text(&self.status)),
            ("segments", Value::Int(self.segments)),
        ])
    }
}

/// Text messages by Twilio for flows.
pub struct SmsConnector {
    manifest: Manifest,
    settings: SmsSettings,
    client: reqwest::Client,
    sent: KeyedLog<SentSms>,
    env: crate::connectors::table::Env,
}

impl SmsConnector {
    /// Reads `[connectors.sms]` (docs/connectors/sms.md); the auth tokens are read from the
    /// environment at each call.
    pub fn from_config(config: &Config, root: &Path) -> Result<SmsConnector, ConnectorError> {
        SmsConnector::from_config_with_env(config, root, |name| std::env::var(name).ok())
    }

    /// As [`SmsConnector::from_config`], with the environment read through `env` (emulated runs).
    pub fn from_config_with_env(
        config: &Config,
        root: &Path,
        env: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Result<SmsConnector, ConnectorError> {
        let settings = SmsSettings::read(config, root)?;
        Ok(SmsConnector {
            manifest: super::manifest(),
            client: crate::connectors::table::client(settings.timeout)?,
            sent: KeyedLog::new(&settings.sent_log_dir, "sent.jsonl", "sms sent log"),
            settings,
            env: Box::new(env),
        })
    }

    async fn send(&self, call: &ActionCall) -> Result<Value, ConnectorError> {
        if let Some(done) = self.sent.lookup(&call.idempotency_key).await? {
            return Ok(done.result());
        }
        let to = call
            .arg("to")
            .as_str()
            .ok_or_else(|| ConnectorError::permanent("`to` must be a phone number as text"))?;
        if !is_e164(to) {
            // The number itself stays out of the message: it is the recipient's personal data.
            return Err(ConnectorError::permanent(format!(
                "`to` is not a phone number in E.164 form ({}): write `+`, the country code and the number, without spaces (`+14155550123`)",
                shape_problem(to)
            )));
        }
        let body = call.message_text("sms", "body")?;
        if body.trim().is_empty() {
            return Err(ConnectorError::permanent(
                "`body` is empty: Twilio sends no empty message",
            ));
        }
        let chars = body.chars().count();
        if chars > MAX_BODY_CHARS {
            return Err(ConnectorError::permanent(format!(
                "`body` has {chars} characters; Twilio sends at most {MAX_BODY_CHARS}"
            )));
        }
        let account = self.account(&call.entity)?;
        let token = (self.env)(&account.auth_token_env).ok_or_else(|| {
            ConnectorError::permanent(format!(
                "environment variable `{}` (the Twilio auth token of `{}`, `auth_token_env` in `[connectors.sms.entities.{}]`) is not set",
                account.auth_token_env, call.entity, call.entity
            ))
        })?;
        let mut url = self.settings.base_url.clone();
        url.path_segments_mut()
            .map_err(|_| {
                ConnectorError::permanent("`base_url` in `[connectors.sms]` cannot have paths appended")
            })?
            .pop_if_empty()
            .extend(["2010-04-01", "Accounts", &account.account_sid, "Messages.json"]);
        let mut form = vec![("To", to), ("From", account.from.as_str()), ("Body", body)];
        if let Some(callback) = &account.status_callback {
            form.push(("StatusCallback", callback.as_str()));
        }
        let what = "Twilio POST Messages.json";
        let response = self
            .client
            .post(url)
            .basic_auth(&account.account_sid, Some(token))
            .form(&form)
            .send()
            .await
            .map_err(|e| transport_error(&e, what))?;
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.map_err(|e| transport_error(&e, what))?;
        if !status.is_success() {
            return Err(api_error(status, &headers, &text));
        }
        let json: Json = serde_json::from_str(&text)
            .map_err(|_| ConnectorError::transient(format!("{what} answered {status} without JSON")))?;
        let sid = json["sid"]
            .as_str()
            .ok_or_else(|| ConnectorError::transient(format!("{what} answered {status} without a `sid`")))?;
        let record = SentSms {
            key: call.idempotency_key.clone(),
            sid: sid.to_string(),
            to: to.to_string(),
            status: json["status"].as_str().unwrap_or("queued").to_string(),
            // Twilio gives counts as text ("1").
            segments: match &json["num_segments"] {
                Json::String(s) => s.parse().unwrap_or(0),
                other => other.as_i64().unwrap_or(0),
            },
        };
        let result = record.result();
        if let Err(e) = self.sent.record(record).await {
            // Twilio has the message: failing now would make the retry send it again.
            tracing::warn!(key = %call.idempotency_key, "sms sent but not recorded: {e}");
        }
        Ok(result)
    }

    fn account(&self, entity: &str) -> Result<&Account, ConnectorError> {
        self.settings.accounts.get(entity).ok_or_else(|| {
            ConnectorError::permanent(format!(
                "entity `{entity}` has no Twilio account: add `[connectors.sms.entities.{entity}]` with `account_sid`, `auth_token_env` and `from` to flowc.toml"
            ))
        })
    }
}

#[async_trait]
impl Connector for SmsConnector {
    fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    fn keep_effects_in(&self, store: std::sync::Arc<dyn crate::runtime::Store>) {
        self.sent.keep_in(store, "sms.sent");
    }

    async fn call(&self, call: ActionCall) -> Result<Value, ConnectorError> {
        match call.action.as_str() {
            "send" => self.send(&call).await,
            other => Err(ConnectorError::permanent(format!(
                "the sms connector has no action `{other}`"
            ))),
        }
    }
}
