//! The `http` connector: `get` and `request` to allowed hosts, with secret headers read from the
//! environment and failures classified by status.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use reqwest::{Method, Url};

use super::allow_list::{refusal, AllowList};
use super::status::{class_of_status, retry_after, transport_error, DEFAULT_MAX_RETRY_AFTER};
use crate::config::Config;
use crate::connectors::{ActionCall, Connector, ConnectorError, ErrorClass, Manifest};
use crate::value::{parse_duration, Value};

/// Requests that wait longer than this fail as transient (override with `timeout = "10s"`).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Larger bodies are refused rather than held in memory (override with `max_response_bytes`).
const DEFAULT_MAX_RESPONSE_BYTES: usize = 10 * 1024 * 1024;
/// Redirects followed (each one checked against the allow-list) before giving up.
const MAX_REDIRECTS: usize = 10;

/// Makes HTTP requests for flows, only to hosts listed in `[connectors.http] allow_hosts`.
pub struct HttpConnector {
    manifest: Manifest,
    client: reqwest::Client,
    allow: AllowList,
    max_response_bytes: usize,
    max_retry_after: Duration,
}

impl HttpConnector {
    /// Reads `[connectors.http]` (`allow_hosts`, `timeout`, `max_response_bytes`,
    /// `max_retry_after`).
    ///
    /// A missing table is valid and allows no host at all.
    pub fn from_config(config: &Config, _root: &Path) -> Result<HttpConnector, ConnectorError> {
        let table = config.connector("http");
        let allow_hosts = match table.get("allow_hosts") {
            None => Vec::new(),
            Some(toml::Value::Array(items)) => items
                .iter()
                .map(|item| {
                    item.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| config_error("allow_hosts", "must be a list of host names"))
                })
                .collect::<Result<Vec<_>, _>>()?,
            Some(_) => return Err(config_error("allow_hosts", "must be a list of host names")),
        };
        let allow = AllowList::parse(allow_hosts.iter().map(String::as_str))
            .map_err(|e| config_error("allow_hosts", &e))?;
        let timeout = duration_setting(&table, "timeout", DEFAULT_TIMEOUT)?;
        let max_retry_after = duration_setting(&table, "max_retry_after", DEFAULT_MAX_RETRY_AFTER)?;
        let max_response_bytes = match table.get("max_response_bytes") {
            None => DEFAULT_MAX_RESPONSE_BYTES,
            Some(toml::Value::Integer(n)) if *n > 0 => *n as usize,
            Some(_) => {
                return Err(config_error(
                    "max_response_bytes",
                    "must be a positive number of bytes",
                ))
            }
        };
        // Redirects are followed here, not by reqwest: each hop must pass the allow-list, and
        // secret headers must not follow a hop to another origin (reqwest only strips the
        // headers it knows to be sensitive, not `X-Api-Key`).
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("flowc/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ConnectorError::permanent(format!("cannot set up the http client: {e}")))?;
        Ok(HttpConnector {
            manifest: super::manifest(),
            client,
            allow,
            max_response_bytes,
            max_retry_after,
        })
    }

    async fn request(&self, call: &ActionCall, method: Method) -> Result<Value, ConnectorError> {
        let url_text = call
            .arg("url")
            .as_str()
            .ok_or_else(|| ConnectorError::permanent("`url` must be text"))?;
        let url = Url::parse(url_text)
            .map_err(|e| ConnectorError::permanent(format!("`{url_text}` is not a URL: {e}")))?;
        self.allow.check(&url)?;

        let mut headers = header_map(call.arg("headers"), "headers", |v| Ok(v.to_string()))?;
        let secret = header_map(call.arg("secret_headers"), "secret_headers", |env_name| {
            std::env::var(env_name).map_err(|_| {
                ConnectorError::permanent(format!(
                    "environment variable `{env_name}` is not set (named in `secret_headers`); set it before running the flow"
                ))
            })
        })?;
        for (name, value) in &secret {
            let mut value = value.clone();
            // Keeps the secret out of debug output and HTTP/2 header compression tables.
            value.set_sensitive(true);
            headers.insert(name.clone(), value);
        }
        // Lets services that honour it (Stripe-style APIs) drop a retried duplicate.
        if method != Method::GET && !headers.contains_key("idempotency-key") {
            if let Ok(value) = HeaderValue::from_str(&call.idempotency_key) {
                headers.insert(HeaderName::from_static("idempotency-key"), value);
            }
        }

        let body = call.arg("body");
        let body = (!body.is_null()).then(|| body.to_json());
        let what = format!("{method} {url}");
        let response = self.follow(method, url, headers, &secret, body, &what).await?;
        let status = response.status();
        let response_headers = response.headers().clone();
        let body = self.read_body(response, &what).await?;
        let body_value = parse_body(&response_headers, &body);

        if status.is_success() {
            return Ok(Value::record([
                ("status", Value::Int(i64::from(status.as_u16()))),
                ("headers", headers_value(&response_headers)),
                ("body", body_value),
            ]));
        }
        let class = if status.is_redirection() {
            ErrorClass::Permanent
        } else {
            class_of_status(status)
        };
        let message = format!("{what} answered {status}{}", snippet(&body));
        let details = Value::record([
            ("status", Value::Int(i64::from(status.as_u16()))),
            ("body", body_value),
        ]);
        let error = match class {
            ErrorClass::RateLimited => {
                ConnectorError::rate_limited(message, retry_after(&response_headers, self.max_retry_after))
            }
            class => ConnectorError::new(class, message),
        };
        Err(error.with_details(details))
    }

    /// Sends the request and follows redirects (up to [`MAX_REDIRECTS`]), each hop checked
    /// against the allow-list. Secret headers go only to the origin the flow named: once a hop
    /// leaves it they are dropped for good, so a redirect cannot hand a token to another site.
    async fn follow(
        &self,
        mut method: Method,
        mut url: Url,
        mut headers: HeaderMap,
        secret: &HeaderMap,
        mut body: Option<serde_json::Value>,
        what: &str,
    ) -> Result<reqwest::Response, ConnectorError> {
        let origin = url.origin();
        let mut hops = 0;
        loop {
            let mut request = self
                .client
                .request(method.clone(), url.clone())
                .headers(headers.clone());
            if let Some(body) = &body {
                request = request.json(body);
            }
            let response = request.send().await.map_err(|e| transport_error(&e, what))?;
            let status = response.status();
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok());
            let Some(location) = location.filter(|_| status.is_redirection()) else {
                return Ok(response);
            };
            if hops == MAX_REDIRECTS {
                return Err(ConnectorError::permanent(format!(
                    "{what} failed: more than {MAX_REDIRECTS} redirects"
                )));
            }
            hops += 1;
            let next = url.join(location).map_err(|e| {
                ConnectorError::permanent(format!("{what} redirected to `{location}`, not a URL: {e}"))
            })?;
            if !matches!(next.scheme(), "http" | "https") || !self.allow.allows(&next) {
                return Err(ConnectorError::permanent(format!(
                    "{what} failed: redirected to a host that is not allowed: {}",
                    refusal(&next)
                )));
            }
            if next.origin() != origin {
                for name in secret.keys() {
                    headers.remove(name);
                }
            }
            // 303, and 301/302 after a POST (as every browser does), become a GET without body.
            let to_get = status == reqwest::StatusCode::SEE_OTHER
                || (matches!(status.as_u16(), 301 | 302) && method == Method::POST);
            if to_get {
                method = Method::GET;
                body = None;
                headers.remove(CONTENT_TYPE);
            }
            url = next;
        }
    }

    async fn read_body(
        &self,
        mut response: reqwest::Response,
        what: &str,
    ) -> Result<Vec<u8>, ConnectorError> {
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| transport_error(&e, what))? {
            if body.len() + chunk.len() > self.max_response_bytes {
                return Err(ConnectorError::permanent(format!(
                    "{what}: the response is larger than {} bytes; raise `max_response_bytes` in `[connectors.http]` if it is expected",
                    self.max_response_bytes
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

#[async_trait]
impl Connector for HttpConnector {
    fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    async fn call(&self, call: ActionCall) -> Result<Value, ConnectorError> {
        match &*call.action {
            "get" => self.request(&call, Method::GET).await,
            "request" => {
                let method = match call.arg("method").as_str().map(str::to_ascii_uppercase) {
                    Some(m) if ["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&m.as_str()) => {
                        Method::from_bytes(m.as_bytes())
                            .map_err(|e| ConnectorError::permanent(format!("bad method `{m}`: {e}")))?
                    }
                    _ => {
                        return Err(ConnectorError::permanent(format!(
                            "`method` must be one of GET, POST, PUT, PATCH, DELETE (got {})",
                            shown(call.arg("method"))
                        )))
                    }
                };
                self.request(&call, method).await
            }
            other => Err(ConnectorError::permanent(format!(
                "the http connector has no action `{other}`"
            ))),
        }
    }
}

/// A duration setting of `[connectors.http]` (`"30s"`, `"1h"`), or `default` when absent.
fn duration_setting(table: &toml::Table, key: &str, default: Duration) -> Result<Duration, ConnectorError> {
    match table.get(key) {
        None => Ok(default),
        Some(toml::Value::String(text)) => parse_duration(text)
            .filter(|ms| *ms > 0)
            .map(|ms| Duration::from_millis(ms as u64))
            .ok_or_else(|| config_error(key, "must be a duration such as \"30s\"")),
        Some(_) => Err(config_error(key, "must be a duration such as \"30s\"")),
    }
}

fn config_error(key: &str, problem: &str) -> ConnectorError {
    ConnectorError::permanent(format!(
        "`{key}` in the `[connectors.http]` table of flowc.toml {problem}"
    ))
}

fn shown(value: &Value) -> String {
    match value {
        Value::Null => "nothing".to_string(),
        Value::Text(s) => format!("`{s}`"),
        other => format!("a {}", other.kind()),
    }
}

/// Builds headers from a record argument; `value_of` turns each text value into the header value.
fn header_map(
    arg: &Value,
    param: &str,
    value_of: impl Fn(&str) -> Result<String, ConnectorError>,
) -> Result<HeaderMap, ConnectorError> {
    let mut map = HeaderMap::new();
    let fields = match arg {
        Value::Null => return Ok(map),
        Value::Record(fields) => fields,
        other => {
            return Err(ConnectorError::permanent(format!(
                "`{param}` must be a record of header names to values, not a {}",
                other.kind()
            )))
        }
    };
    for (name, value) in fields {
        let text = match value {
            Value::Text(s) => s.clone(),
            Value::Int(_) | Value::Number(_) | Value::Bool(_) => value.to_json().to_string(),
            other => {
                return Err(ConnectorError::permanent(format!(
                    "header `{name}` in `{param}` must be text, not a {}",
                    other.kind()
                )))
            }
        };
        let header_name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            ConnectorError::permanent(format!("`{name}` in `{param}` is not a valid header name"))
        })?;
        let value = value_of(&text)?;
        let header_value = HeaderValue::from_str(&value).map_err(|_| {
            ConnectorError::permanent(format!(
                "the value of header `{name}` in `{param}` has characters headers cannot carry"
            ))
        })?;
        map.append(header_name, header_value);
    }
    Ok(map)
}

/// Response headers as a record of lowercase names; repeated headers are joined with `, `.
fn headers_value(headers: &HeaderMap) -> Value {
    let mut fields: BTreeMap<String, Value> = BTreeMap::new();
    for (name, value) in headers {
        let text = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match fields.get_mut(name.as_str()) {
            Some(Value::Text(existing)) => {
                existing.push_str(", ");
                existing.push_str(&text);
            }
            _ => {
                fields.insert(name.as_str().to_string(), Value::Text(text));
            }
        }
    }
    Value::Record(fields)
}

/// JSON bodies become values; anything else stays text; an empty body is none.
fn parse_body(headers: &HeaderMap, body: &[u8]) -> Value {
    if body.is_empty() {
        return Value::Null;
    }
    let is_json = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|ct| {
            let mime = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
            mime == "application/json" || mime.ends_with("+json")
        })
        .unwrap_or(false);
    if is_json {
        if let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) {
            return Value::from_json(&json);
        }
    }
    Value::Text(String::from_utf8_lossy(body).into_owned())
}

/// The start of an error body, for the message (the whole body is in the details).
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return String::new();
    }
    let short: String = text.chars().take(200).collect();
    let ellipsis = if short.len() < text.len() { "…" } else { "" };
    format!(": {short}{ellipsis}")
}
