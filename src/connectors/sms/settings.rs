//! `[connectors.sms]` and its per-entity accounts, read once when the project loads so that a
//! bad number or a missing account SID is reported then, not at the first message.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::Url;

use crate::config::Config;
use crate::connectors::table::Table;
use crate::connectors::ConnectorError;
use crate::contract::phone_number::is_e164;

const DEFAULT_BASE_URL: &str = "https://api.twilio.com";
const DEFAULT_SENT_LOG_DIR: &str = ".flowc/sms";
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// One entity's Twilio account and sender.
#[derive(Clone, Debug)]
pub(crate) struct Account {
    /// `AC…`: the basic-auth user and part of every path.
    pub(crate) account_sid: String,
    /// The environment variable holding the auth token (the basic-auth password).
    pub(crate) auth_token_env: String,
    /// The sending number (E.164) or alphanumeric sender id.
    pub(crate) from: String,
    /// Where Twilio posts status changes (queued, sent, delivered, undelivered, failed).
    pub(crate) status_callback: Option<Url>,
}

/// Everything the sms connector reads from flowc.toml.
#[derive(Clone, Debug)]
pub(crate) struct SmsSettings {
    pub(crate) base_url: Url,
    pub(crate) timeout: Duration,
    pub(crate) sent_log_dir: PathBuf,
    pub(crate) accounts: BTreeMap<String, Account>,
}

impl SmsSettings {
    /// Reads `[connectors.sms]`; `sent_log` is relative to `root`.
    pub(crate) fn read(config: &Config, root: &Path) -> Result<SmsSettings, ConnectorError> {
        let table = Table::connector(config, "sms", &["base_url", "timeout", "sent_log", "entities"])?;
        let mut accounts = BTreeMap::new();
        for (entity, t) in table.entities(&["account_sid", "auth_token_env", "from", "status_callback"])? {
            let account_sid = t.required("account_sid")?;
            if !(account_sid.starts_with("AC") && account_sid.len() == 34) {
                return Err(t.error(
                    "account_sid",
                    "must be a Twilio account SID (`AC` and 32 characters)",
                ));
            }
            let from = t.required("from")?;
            let alphanumeric = (1..=11).contains(&from.len())
                && from.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ')
                && from.chars().any(|c| c.is_ascii_alphabetic());
            if !is_e164(&from) && !alphanumeric {
                return Err(t.error(
                    "from",
                    "must be a number in E.164 form (`+14155550123`) or an alphanumeric sender id",
                ));
            }
            let status_callback = t
                .text("status_callback")?
                .map(|u| {
                    Url::parse(&u)
                        .ok()
                        .filter(|u| matches!(u.scheme(), "http" | "https"))
                        .ok_or_else(|| t.error("status_callback", "must be an http(s) URL"))
                })
                .transpose()?;
            if !config.entities.contains_key(&entity) {
                return Err(t.error(
                    "entities",
                    &format!("names `{entity}`, which is not an entity of `[entities]`"),
                ));
            }
            let account = Account {
                account_sid,
                auth_token_env: t.required("auth_token_env")?,
                from,
                status_callback,
            };
            accounts.insert(entity, account);
        }
        Ok(SmsSettings {
            base_url: table.url("base_url", DEFAULT_BASE_URL)?,
            timeout: table.duration("timeout", DEFAULT_TIMEOUT)?,
            sent_log_dir: root.join(
                table
                    .text("sent_log")?
                    .unwrap_or_else(|| DEFAULT_SENT_LOG_DIR.to_string()),
            ),
            accounts,
        })
    }
}
