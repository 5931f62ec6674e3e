//! The sms connector: `send` creates a Message resource on Twilio's Messages API (form-encoded
//! POST, basic auth with the entity's account SID and auth token), at most once per idempotency
//! key: an attempt whose answer was lost is looked up in Twilio's list of messages before any
//! new request.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use sha2::{Digest, Sha256};

use super::errors::api_error;
use super::settings::{Account, SmsSettings};
use crate::config::Config;
use crate::connectors::http::status::transport_error;
use crate::connectors::keyed_log::{Keyed, KeyedLog};
use crate::connectors::notification::{outcome_unknown, Notifications, Outcome, SendOutcome};
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
    /// The record of Twilio's Message resource `json` (as created or as listed).
    fn from_resource(key: &str, sid: &str, to: &str, json: &Json) -> SentSms {
        SentSms {
            key: key.to_string(),
            sid: sid.to_string(),
            to: to.to_string(),
            status: json["status"].as_str().unwrap_or("queued").to_string(),
            // Twilio gives counts as text ("1").
            segments: match &json["num_segments"] {
                Json::String(s) => s.parse().unwrap_or(0),
                other => other.as_i64().unwrap_or(0),
            },
        }
    }

    fn result(&self) -> Value {
        Value::record([
            ("sid", Value::text(&self.sid)),
            ("to", Value::text(&self.to)),
            ("status", Value::text(&self.status)),
            ("segments", Value::Int(self.segments)),
        ])
    }
}

/// An attempt about to send, filed under the call's idempotency key before the request goes: a
/// key with an intent and no [`SentSms`] is in doubt (Twilio may have the message).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct SmsIntent {
    key: String,
    to: String,
    from: String,
    /// SHA-256 of the body (hex): the text itself stays out of the log.
    body_sha256: String,
    /// When the request went (UTC).
    at: DateTime<Utc>,
}

impl Keyed for SmsIntent {
    fn key(&self) -> &str {
        &self.key
    }
}

/// How far Twilio's `date_created` may be before our intent's time (clocks differ).
const CLOCK_SKEW: chrono::Duration = chrono::Duration::minutes(5);

/// The most recent messages to a number that are searched for one in doubt.
const LIST_PAGE_SIZE: &str = "50";

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Text messages by Twilio for flows.
pub struct SmsConnector {
    manifest: Manifest,
    twilio: Arc<Twilio>,
    notifications: Option<Arc<Notifications>>,
}

/// The account settings, client and logs: what sending and looking up a send need, shared
/// with the notification ledger (which asks what became of a text).
struct Twilio {
    settings: SmsSettings,
    client: reqwest::Client,
    sent: KeyedLog<SentSms>,
    intents: KeyedLog<SmsIntent>,
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
            twilio: Arc::new(Twilio {
                client: crate::connectors::table::client(settings.timeout)?,
                sent: KeyedLog::new(&settings.sent_log_dir, "sent.jsonl", "sms sent log"),
                intents: KeyedLog::new(&settings.sent_log_dir, "intents.jsonl", "sms intent log"),
                settings,
                env: Box::new(env),
            }),
            notifications: None,
        })
    }

    /// Takes part in the host's notification ledger: a text sent for a `notification` claims
    /// it, and a text for a notification another channel claimed first asks that channel.
    pub fn with_notifications(mut self, notifications: Arc<Notifications>) -> SmsConnector {
        let twilio: Arc<dyn SendOutcome> = self.twilio.clone();
        notifications.register("sms", Arc::downgrade(&twilio));
        self.notifications = Some(notifications);
        self
    }

    async fn send(&self, call: &ActionCall) -> Result<Value, ConnectorError> {
        let twilio = &self.twilio;
        if let Some(done) = twilio.sent.lookup(&call.idempotency_key).await? {
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
        let account = twilio.account(&call.entity)?;
        let token = twilio.token(account, &call.entity)?;
        let url = twilio.messages_url(account)?;
        let body_sha256 = sha256_hex(body);
        // An earlier attempt whose answer never came (a timeout, a crash): Twilio may have the
        // message. Its list of messages says; only a message it does not have is sent again.
        if let Some(intent) = twilio.intents.lookup(&call.idempotency_key).await? {
            if intent.to == to && intent.from == account.from && intent.body_sha256 == body_sha256 {
                match twilio.find_sent(&url, account, &token, &intent).await {
                    Ok(Some(found)) => return Ok(twilio.keep_found(found).await),
                    Ok(None) => {}
                    Err(e) => {
                        let why = "an earlier attempt's outcome is unknown (Twilio may have the message) and Twilio's message list cannot be read, so it is not sent again yet";
                        return Err(outcome_unknown(e, why, None));
                    }
                }
            }
        }
        if let Some(notifications) = &self.notifications {
            if let Some(channel) = notifications.before_send("sms", call, true).await? {
                return Ok(Value::record([
                    ("sid", Value::text("")),
                    ("to", Value::text(to)),
                    ("status", Value::text(format!("sent by {channel}"))),
                    ("segments", Value::Int(0)),
                    ("sent_by", Value::text(channel)),
                ]));
            }
        }
        twilio
            .intents
            .record(SmsIntent {
                key: call.idempotency_key.to_string(),
                to: to.to_string(),
                from: account.from.clone(),
                body_sha256,
                at: Utc::now(),
            })
            .await?;
        let mut form = vec![("To", to), ("From", account.from.as_str()), ("Body", body)];
        if let Some(callback) = &account.status_callback {
            form.push(("StatusCallback", callback.as_str()));
        }
        let what = "Twilio POST Messages.json";
        let response = twilio
            .client
            .post(url)
            .basic_auth(&account.account_sid, Some(token))
            .form(&form)
            .send()
            .await
            .map_err(|e| transport_error(&e, what))?;
        let (status, json) = read_json(response, what).await?;
        let sid = json["sid"]
            .as_str()
            .ok_or_else(|| ConnectorError::transient(format!("{what} answered {status} without a `sid`")))?;
        let record = SentSms::from_resource(&call.idempotency_key, sid, to, &json);
        let result = record.result();
        if let Err(e) = twilio.sent.record(record).await {
            // Twilio has the message: failing now would make the retry send it again.
            tracing::warn!(key = %call.idempotency_key, "sms sent but not recorded: {e}");
        }
        Ok(result)
    }
}

impl Twilio {
    /// The auth token of `account`, from the environment.
    fn token(&self, account: &Account, entity: &str) -> Result<String, ConnectorError> {
        (self.env)(&account.auth_token_env).ok_or_else(|| {
            ConnectorError::permanent(format!(
                "environment variable `{}` (the Twilio auth token of `{entity}`, `auth_token_env` in `[connectors.sms.entities.{entity}]`) is not set",
                account.auth_token_env
            ))
        })
    }

    /// A message found in Twilio's list, recorded as sent; its result.
    async fn keep_found(&self, found: SentSms) -> Value {
        let result = found.result();
        let key = found.key.clone();
        if let Err(e) = self.sent.record(found).await {
            tracing::warn!(%key, "sms found but not recorded: {e}");
        }
        result
    }

    /// `.../Accounts/{sid}/Messages.json`: where messages are created and listed.
    fn messages_url(&self, account: &Account) -> Result<reqwest::Url, ConnectorError> {
        let mut url = self.settings.base_url.clone();
        url.path_segments_mut()
            .map_err(|_| {
                ConnectorError::permanent("`base_url` in `[connectors.sms]` cannot have paths appended")
            })?
            .pop_if_empty()
            .extend(["2010-04-01", "Accounts", &account.account_sid, "Messages.json"]);
        Ok(url)
    }

    /// The message of `intent` if Twilio has it: among the latest messages from our number to
    /// its number (Twilio lists the newest first), one with the same body created since the
    /// intent (less the clocks' skew).
    async fn find_sent(
        &self,
        url: &reqwest::Url,
        account: &Account,
        token: &str,
        intent: &SmsIntent,
    ) -> Result<Option<SentSms>, ConnectorError> {
        let what = "Twilio GET Messages.json";
        let response = self
            .client
            .get(url.clone())
            .basic_auth(&account.account_sid, Some(token))
            .query(&[
                ("To", intent.to.as_str()),
                ("From", intent.from.as_str()),
                ("PageSize", LIST_PAGE_SIZE),
            ])
            .send()
            .await
            .map_err(|e| transport_error(&e, what))?;
        let (status, json) = read_json(response, what).await?;
        let Some(messages) = json["messages"].as_array() else {
            return Err(ConnectorError::transient(format!(
                "{what} answered {status} without `messages`"
            )));
        };
        let since = intent.at - CLOCK_SKEW;
        let found = messages.iter().find(|m| {
            let created = m["date_created"]
                .as_str()
                .and_then(|d| DateTime::parse_from_rfc2822(d).ok());
            m["body"]
                .as_str()
                .is_some_and(|b| sha256_hex(b) == intent.body_sha256)
                && created.is_some_and(|c| c >= since)
        });
        Ok(found.and_then(|m| {
            let sid = m["sid"].as_str()?;
            Some(SentSms::from_resource(&intent.key, sid, &intent.to, m))
        }))
    }

    fn account(&self, entity: &str) -> Result<&Account, ConnectorError> {
        self.settings.accounts.get(entity).ok_or_else(|| {
            ConnectorError::permanent(format!(
                "entity `{entity}` has no Twilio account: add `[connectors.sms.entities.{entity}]` with `account_sid`, `auth_token_env` and `from` to flowc.toml"
            ))
        })
    }

    /// What became of the text of `key`, for `entity`'s account.
    async fn resolve(&self, key: &str, entity: &str) -> Result<Outcome, ConnectorError> {
        if self.sent.lookup(key).await?.is_some() {
            return Ok(Outcome::Sent);
        }
        // No intent: the request never went.
        let Some(intent) = self.intents.lookup(key).await? else {
            return Ok(Outcome::NotSent);
        };
        let account = self.account(entity)?;
        let token = self.token(account, entity)?;
        let url = self.messages_url(account)?;
        Ok(match self.find_sent(&url, account, &token, &intent).await? {
            Some(found) => {
                self.keep_found(found).await;
                Outcome::Sent
            }
            None => Outcome::NotSent,
        })
    }
}

#[async_trait]
impl SendOutcome for Twilio {
    async fn outcome(&self, key: &str, entity: &str) -> Outcome {
        self.resolve(key, entity).await.unwrap_or_else(Outcome::Unknown)
    }
}

#[async_trait]
impl Connector for SmsConnector {
    fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    fn keep_effects_in(&self, store: std::sync::Arc<dyn crate::runtime::Store>) {
        self.twilio.sent.keep_in(store.clone(), "sms.sent");
        // Another host must see an attempt in doubt as in doubt, not as never made.
        self.twilio.intents.keep_in(store.clone(), "sms.intents");
        if let Some(notifications) = &self.notifications {
            notifications.keep_in(store);
        }
    }

    async fn call(&self, call: ActionCall) -> Result<Value, ConnectorError> {
        match &*call.action {
            "send" => self.send(&call).await,
            other => Err(ConnectorError::permanent(format!(
                "the sms connector has no action `{other}`"
            ))),
        }
    }
}

/// A Twilio answer's status and JSON body: an error status is classified by [`api_error`], a
/// success without JSON is transient (the request may have been taken).
async fn read_json(
    response: reqwest::Response,
    what: &str,
) -> Result<(reqwest::StatusCode, Json), ConnectorError> {
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.map_err(|e| transport_error(&e, what))?;
    if !status.is_success() {
        return Err(api_error(status, &headers, &text));
    }
    let json = serde_json::from_str(&text)
        .map_err(|_| ConnectorError::transient(format!("{what} answered {status} without JSON")))?;
    Ok((status, json))
}
