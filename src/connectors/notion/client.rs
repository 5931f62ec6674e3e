//! The HTTP client for one integration token: paced, versioned, and with classified errors.

use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use serde_json::Value as Json;

use super::errors;
use crate::connectors::{ConnectorError, ErrorClass};
use crate::runtime::pacing::{self, Limiter};

/// The API version this connector speaks: databases hold data sources, queried by data source.
pub const NOTION_VERSION: &str = "2025-09-03";

/// The public API.
pub const DEFAULT_BASE_URL: &str = "https://api.notion.com";

/// Requests to Notion with one token.
#[derive(Clone, Debug)]
pub(crate) struct Client {
    http: reqwest::Client,
    base_url: String,
    token: String,
    limiter: Arc<Limiter>,
    rate_limit_retries: u32,
}

/// The client of `entity`'s integration token (its `notion_token_env`, read through `env`); all
/// clients of one token share one limiter, process-wide: Notion counts per integration.
pub(crate) fn entity_client(
    http: &reqwest::Client,
    settings: &super::settings::Settings,
    name: &str,
    entity: &crate::config::EntityConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Client, String> {
    let Some(var) = &entity.notion_token_env else {
        return Err(format!(
            "entity `{name}` has no `notion_token_env` in flowc.toml; name the environment variable holding its Notion token"
        ));
    };
    match env(var) {
        Some(token) if !token.trim().is_empty() => {
            let limiter = crate::runtime::pacing::shared(
                &format!("notion:{token}"),
                settings.requests_per_second,
                settings.burst,
            );
            Ok(Client::new(
                http.clone(),
                &settings.base_url,
                token,
                limiter,
                settings.rate_limit_retries,
            ))
        }
        _ => Err(format!(
            "environment variable `{var}` (the Notion token of `{name}`) is not set"
        )),
    }
}

impl Client {
    /// The client of `entity` as the `notion` connector of `config` would make it (same base
    /// URL, same shared rate limit), for the host's own reads and writes.
    pub(crate) fn for_entity(
        config: &crate::config::Config,
        entity: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Client, String> {
        let settings =
            super::settings::Settings::from_table(&config.connector("notion")).map_err(|e| e.to_string())?;
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let config = config
            .entities
            .get(entity)
            .ok_or_else(|| format!("no entity `{entity}` in flowc.toml"))?;
        entity_client(&http, &settings, entity, config, env)
    }

    pub(crate) fn new(
        http: reqwest::Client,
        base_url: &str,
        token: String,
        limiter: Arc<Limiter>,
        rate_limit_retries: u32,
    ) -> Client {
        Client {
            http,
            base_url: base_url.trim_end_matches('/').to_string(),
            token,
            limiter,
            rate_limit_retries,
        }
    }

    /// Sends a request (after waiting for the token's limiter) and returns the JSON answer.
    /// `what` names the operation in error messages.
    ///
    /// A 429 is pacing feedback rather than a failure: the limiter is paused for `Retry-After`
    /// and the request is sent again, up to `rate_limit_retries` times, before the caller sees
    /// a `rate_limited` error (as Notion's own SDK does). Nothing else is retried here: that is
    /// the step's retry policy's job.
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Json>,
        what: &str,
    ) -> Result<Json, ConnectorError> {
        let mut retries = 0;
        loop {
            match self.send_once(method.clone(), path, body, what).await {
                Err(e) if e.class == ErrorClass::RateLimited && retries < self.rate_limit_retries => {
                    retries += 1;
                }
                other => return other,
            }
        }
    }

    async fn send_once(
        &self,
        method: Method,
        path: &str,
        body: Option<&Json>,
        what: &str,
    ) -> Result<Json, ConnectorError> {
        pacing::acquire(&self.limiter).await;
        let url = format!("{}{}", self.base_url, path);
        let mut request = self
            .http
            .request(method, &url)
            .bearer_auth(&self.token)
            .header("Notion-Version", NOTION_VERSION);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| errors::from_network(&e, what))?;
        let status = response.status().as_u16();
        let retry_after = errors::parse_retry_after(
            response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok()),
        );
        let text = response
            .text()
            .await
            .map_err(|e| errors::from_network(&e, what))?;
        if (200..300).contains(&status) {
            return serde_json::from_str(&text)
                .map_err(|e| ConnectorError::transient(format!("notion {what} returned invalid JSON: {e}")));
        }
        let error = errors::from_response(status, retry_after, &text, what);
        if error.class == ErrorClass::RateLimited {
            // Every caller sharing this token backs off, those already queued included, not
            // just the one that was told.
            let delay = error.retry_after.unwrap_or(Duration::from_secs(1));
            self.limiter.pause(pacing::wall_seconds(), delay);
        }
        Err(error)
    }
}
