//! One `[connectors.NAME]` table of flowc.toml as the sms and slack connectors read it: known keys
//! only, text values, a timeout, a base URL, and the per-entity tables
//! (`[connectors.NAME.entities.ENTITY]`), each error naming its place in the file.

use std::time::Duration;

use reqwest::Url;

use crate::connectors::ConnectorError;
use crate::value::parse_duration;

/// A table and where it is (`[connectors.sms]`, `[connectors.sms.entities.studio]`).
pub(crate) struct Table {
    place: String,
    values: toml::Table,
}

impl Table {
    /// The `[connectors.NAME]` table of `config`, refusing keys not in `known`.
    pub(crate) fn connector(
        config: &crate::config::Config,
        name: &str,
        known: &[&str],
    ) -> Result<Table, ConnectorError> {
        Table::new(format!("[connectors.{name}]"), config.connector(name), known)
    }

    fn new(place: String, values: toml::Table, known: &[&str]) -> Result<Table, ConnectorError> {
        let table = Table { place, values };
        for key in table.values.keys() {
            if !known.contains(&key.as_str()) {
                return Err(table.error(
                    key,
                    &format!("is not a setting here (known: {})", known.join(", ")),
                ));
            }
        }
        Ok(table)
    }

    /// A text value.
    pub(crate) fn text(&self, key: &str) -> Result<Option<String>, ConnectorError> {
        match self.values.get(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(self.error(key, "must be text")),
        }
    }

    /// A duration such as `"30s"`, or `default`.
    pub(crate) fn duration(&self, key: &str, default: Duration) -> Result<Duration, ConnectorError> {
        match self.text(key)? {
            None => Ok(default),
            Some(t) => parse_duration(&t)
                .filter(|ms| *ms > 0)
                .map(|ms| Duration::from_millis(ms as u64))
                .ok_or_else(|| self.error(key, "must be a duration such as \"30s\"")),
        }
    }

    /// An http(s) URL without a trailing `/`, or `default`.
    pub(crate) fn url(&self, key: &str, default: &str) -> Result<Url, ConnectorError> {
        let text = self.text(key)?.unwrap_or_else(|| default.to_string());
        Url::parse(text.trim_end_matches('/'))
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| self.error(key, &format!("must be an http(s) URL such as \"{default}\"")))
    }

    /// Each `entities.ENTITY` table, refusing keys not in `known`.
    pub(crate) fn entities(&self, known: &[&str]) -> Result<Vec<(String, Table)>, ConnectorError> {
        let tables = match self.values.get("entities") {
            None => return Ok(Vec::new()),
            Some(toml::Value::Table(t)) => t,
            Some(_) => return Err(self.error("entities", "must be a table of entities")),
        };
        let mut out = Vec::new();
        for (entity, value) in tables {
            let place = format!("{}.entities.{entity}]", self.place.trim_end_matches(']'));
            let toml::Value::Table(values) = value else {
                return Err(ConnectorError::permanent(format!(
                    "`{entity}` in `{}` of flowc.toml must be a table such as `{place}`",
                    self.place
                )));
            };
            out.push((entity.clone(), Table::new(place, values.clone(), known)?));
        }
        Ok(out)
    }

    /// A required text value.
    pub(crate) fn required(&self, key: &str) -> Result<String, ConnectorError> {
        self.text(key)?.ok_or_else(|| self.error(key, "is missing"))
    }

    /// An error about `key` of this table.
    pub(crate) fn error(&self, key: &str, problem: &str) -> ConnectorError {
        ConnectorError::permanent(format!(
            "`{key}` in the `{}` table of flowc.toml {problem}",
            self.place
        ))
    }
}

/// An http client with `timeout` and flowc's user agent.
pub(crate) fn client(timeout: Duration) -> Result<reqwest::Client, ConnectorError> {
    reqwest::Client::builder()
        .timeout(timeout)
        .user_agent(concat!("flowc/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ConnectorError::permanent(format!("cannot set up the http client: {e}")))
}

/// How a connector reads environment variables (the process's, or an emulated run's).
pub(crate) type Env = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;
