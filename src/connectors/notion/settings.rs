//! `[connectors.notion]` in `flowc.toml`.

use std::time::Duration;

use super::client::DEFAULT_BASE_URL;
use super::NotionError;

/// The connector's settings, with Notion's documented limits as defaults.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Settings {
    /// The API root (an emulator's address in tests).
    pub(crate) base_url: String,
    /// Average requests per second per integration token.
    pub(crate) requests_per_second: f64,
    /// Requests allowed at once above the average.
    pub(crate) burst: u32,
    /// The rich_text property holding each created page's idempotency key.
    pub(crate) idempotency_property: String,
    /// Time allowed for one HTTP request.
    pub(crate) timeout: Duration,
    /// How many times a 429 is waited out and the request resent before failing.
    pub(crate) rate_limit_retries: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            base_url: DEFAULT_BASE_URL.to_string(),
            requests_per_second: 3.0,
            burst: 3,
            idempotency_property: "flowc_key".to_string(),
            timeout: Duration::from_secs(30),
            rate_limit_retries: 2,
        }
    }
}

impl Settings {
    /// Reads the table; unknown keys and wrong types are errors, so a typo does not silently
    /// fall back to a default.
    pub(crate) fn from_table(table: &toml::Table) -> Result<Settings, NotionError> {
        let mut settings = Settings::default();
        let bad = |key: &str, want: &str| {
            NotionError::Config(format!("`[connectors.notion] {key}` must be {want}"))
        };
        for (key, value) in table {
            match key.as_str() {
                "base_url" => {
                    settings.base_url = value
                        .as_str()
                        .filter(|s| s.starts_with("http://") || s.starts_with("https://"))
                        .ok_or_else(|| bad(key, "an http(s) URL"))?
                        .to_string();
                }
                "requests_per_second" => {
                    let rate = value
                        .as_float()
                        .or_else(|| value.as_integer().map(|i| i as f64))
                        .filter(|r| r.is_finite() && *r > 0.0)
                        .ok_or_else(|| bad(key, "a positive number"))?;
                    settings.requests_per_second = rate;
                }
                "burst" => {
                    settings.burst = value
                        .as_integer()
                        .and_then(|b| u32::try_from(b).ok())
                        .filter(|b| *b >= 1)
                        .ok_or_else(|| bad(key, "a whole number of at least 1"))?;
                }
                "idempotency_property" => {
                    settings.idempotency_property = value
                        .as_str()
                        .ok_or_else(|| bad(key, "a property name"))?
                        .to_string();
                }
                "timeout" => {
                    settings.timeout = value
                        .clone()
                        .try_into::<crate::config::ConfigDuration>()
                        .map_err(|_| bad(key, "a duration such as \"30s\""))?
                        .get();
                }
                "rate_limit_retries" => {
                    settings.rate_limit_retries = value
                        .as_integer()
                        .and_then(|b| u32::try_from(b).ok())
                        .ok_or_else(|| bad(key, "a whole number of at least 0"))?;
                }
                other => {
                    return Err(NotionError::Config(format!(
                        "unknown key `{other}` in `[connectors.notion]`; known keys are base_url, requests_per_second, burst, idempotency_property, timeout, rate_limit_retries"
                    )))
                }
            }
        }
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_rejects() {
        let table: toml::Table =
            toml::from_str("base_url = \"http://127.0.0.1:9\"\nrequests_per_second = 20\nburst = 5").unwrap();
        let s = Settings::from_table(&table).unwrap();
        assert_eq!(s.requests_per_second, 20.0);
        assert_eq!(s.burst, 5);
        let table: toml::Table = toml::from_str("requests_per_second = 0").unwrap();
        assert!(Settings::from_table(&table).is_err());
        let table: toml::Table = toml::from_str("rate = 3").unwrap();
        assert!(Settings::from_table(&table).is_err());
    }
}
