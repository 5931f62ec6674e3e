//! The survey connector: `create` (a Typeform form from a template), `responses` (every response,
//! following `before` pagination) and `latest_response`, over the Typeform Create and Responses APIs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, FixedOffset, Utc};
use reqwest::{Method, StatusCode, Url};
use serde_json::Value as Json;

use super::answers::response_record;
use super::created_log::{created_log, CreatedForm, CreatedLog};
use super::template::SurveyTemplate;
use crate::config::Config;
use crate::connectors::http::status::{
    class_of_status, retry_after, transport_error, DEFAULT_MAX_RETRY_AFTER,
};
use crate::connectors::{ActionCall, Connector, ConnectorError, ErrorClass, Manifest};
use crate::value::{parse_duration, Value};

const DEFAULT_BASE_URL: &str = "https://api.typeform.com";
const DEFAULT_TOKEN_ENV: &str = "TYPEFORM_TOKEN";
pub(crate) const DEFAULT_TEMPLATES: &str = "stdlib/surveys";
const DEFAULT_CREATED_LOG: &str = ".flowc/survey";
/// Typeform's largest page.
const MAX_PAGE_SIZE: u32 = 1000;
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// A guard against a server whose pagination never ends (a million responses at the largest page).
const MAX_PAGES: usize = 1000;

/// Typeform surveys for flows.
pub struct SurveyConnector {
    manifest: Manifest,
    client: reqwest::Client,
    base_url: Url,
    token_env: String,
    templates: PathBuf,
    page_size: u32,
    workspace_href: Option<String>,
    created: CreatedLog,
}

impl SurveyConnector {
    /// Reads `[connectors.survey]`: `base_url`, `token_env`, `templates` and `created_log`
    /// (relative to `root`), `page_size`, `timeout`, `workspace_href`. All are optional; the token
    /// is read from the environment at each call.
    pub fn from_config(config: &Config, root: &Path) -> Result<SurveyConnector, ConnectorError> {
        let table = config.connector("survey");
        for key in table.keys() {
            if ![
                "base_url",
                "token_env",
                "templates",
                "page_size",
                "timeout",
                "workspace_href",
                "created_log",
            ]
            .contains(&key.as_str())
            {
                return Err(config_error(key, "is not a setting of the survey connector (known: base_url, token_env, templates, page_size, timeout, workspace_href, created_log)"));
            }
        }
        let text = |key: &str| -> Result<Option<String>, ConnectorError> {
            match table.get(key) {
                None => Ok(None),
                Some(toml::Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(config_error(key, "must be text")),
            }
        };
        let base_text = text("base_url")?.unwrap_or_else(|| DEFAULT_BASE_URL.to_string());
        let base_url = Url::parse(base_text.trim_end_matches('/'))
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| {
                config_error(
                    "base_url",
                    "must be an http(s) URL such as \"https://api.typeform.com\"",
                )
            })?;
        let page_size = match table.get("page_size") {
            None => MAX_PAGE_SIZE,
            Some(toml::Value::Integer(n)) if (1..=i64::from(MAX_PAGE_SIZE)).contains(n) => *n as u32,
            Some(_) => return Err(config_error("page_size", "must be a number from 1 to 1000")),
        };
        let timeout = match text("timeout")? {
            None => DEFAULT_TIMEOUT,
            Some(t) => parse_duration(&t)
                .filter(|ms| *ms > 0)
                .map(|ms| Duration::from_millis(ms as u64))
                .ok_or_else(|| config_error("timeout", "must be a duration such as \"30s\""))?,
        };
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("flowc/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ConnectorError::permanent(format!("cannot set up the http client: {e}")))?;
        Ok(SurveyConnector {
            manifest: super::manifest(),
            client,
            base_url,
            token_env: text("token_env")?.unwrap_or_else(|| DEFAULT_TOKEN_ENV.to_string()),
            templates: root.join(text("templates")?.unwrap_or_else(|| DEFAULT_TEMPLATES.to_string())),
            page_size,
            workspace_href: text("workspace_href")?,
            created: created_log(
                &root.join(text("created_log")?.unwrap_or_else(|| DEFAULT_CREATED_LOG.to_string())),
            ),
        })
    }

    async fn create(&self, call: &ActionCall) -> Result<Value, ConnectorError> {
        if let Some(done) = self.created.lookup(&call.idempotency_key).await? {
            return Ok(Value::record([
                ("form_id", Value::text(done.form_id)),
                ("url", Value::text(done.url)),
            ]));
        }
        let name = call
            .arg("template")
            .as_str()
            .ok_or_else(|| ConnectorError::permanent("`template` must be the name of a survey template"))?;
        let template = SurveyTemplate::load(&self.templates, name)?;
        let hidden_values = hidden_values(call.arg("hidden"))?;
        let hidden_names: Vec<String> = hidden_values.iter().map(|(k, _)| k.clone()).collect();
        let title = match call.arg("title") {
            Value::Null => None,
            Value::Text(t) => Some(t.as_str()),
            other => {
                return Err(ConnectorError::permanent(format!(
                    "`title` must be text, not a {}",
                    other.kind()
                )))
            }
        };
        let payload = template.to_typeform(title, &hidden_names, self.workspace_href.as_deref());
        let form = self.send(Method::POST, &["forms"], &[], Some(&payload)).await?;
        let form_id = form["id"]
            .as_str()
            .ok_or_else(|| ConnectorError::transient("Typeform created a form but its answer has no `id`"))?;
        let display = form["_links"]["display"]
            .as_str()
            .ok_or_else(|| ConnectorError::transient("Typeform's answer has no `_links.display`"))?;
        let url = with_hidden(display, &hidden_values);
        let record = CreatedForm {
            key: call.idempotency_key.to_string(),
            form_id: form_id.to_string(),
            url: url.clone(),
            created_at: Utc::now().to_rfc3339(),
        };
        if let Err(e) = self.created.record(record).await {
            // The form exists: failing now would make the retry create a second one.
            tracing::warn!(key = %call.idempotency_key, "form created but not recorded: {e}");
        }
        Ok(Value::record([
            ("form_id", Value::text(form_id)),
            ("url", Value::text(url)),
        ]))
    }

    async fn responses(&self, call: &ActionCall) -> Result<Value, ConnectorError> {
        let form_id = form_id(call)?;
        let since = match call.arg("since") {
            Value::Null => None,
            Value::DateTime(t) => Some(*t),
            Value::Text(text) => Some(DateTime::parse_from_rfc3339(text).map_err(|_| {
                ConnectorError::permanent(format!("`since` must be a datetime, not `{text}`"))
            })?),
            other => {
                return Err(ConnectorError::permanent(format!(
                    "`since` must be a datetime, not a {}",
                    other.kind()
                )))
            }
        };
        let mut query = vec![("page_size".to_string(), self.page_size.to_string())];
        if let Some(since) = since {
            // Typeform's `since` is inclusive and to the second; the exact filter is below.
            query.push((
                "since".to_string(),
                since.with_timezone(&Utc).format("%Y-%m-%dT%H:%M:%S").to_string(),
            ));
        }
        let mut items: Vec<Json> = Vec::new();
        let mut before: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut page_query = query.clone();
            if let Some(token) = &before {
                page_query.push(("before".to_string(), token.clone()));
            }
            let page = self
                .send(Method::GET, &["forms", form_id, "responses"], &page_query, None)
                .await?;
            let page_items = page["items"].as_array().cloned().unwrap_or_default();
            let count = page_items.len();
            let last_token = page_items
                .last()
                .and_then(|i| i["token"].as_str())
                .map(str::to_string);
            items.extend(page_items);
            if count < self.page_size as usize {
                return Ok(finish(items, since));
            }
            match last_token {
                Some(token) if before.as_deref() != Some(token.as_str()) => before = Some(token),
                _ => {
                    return Err(ConnectorError::permanent(
                        "Typeform's response pages did not advance (no new `token` on a full page)",
                    ))
                }
            }
        }
        Err(ConnectorError::permanent(format!(
            "form `{form_id}` has more than {MAX_PAGES} pages of responses; narrow them with `since`"
        )))
    }

    async fn latest_response(&self, call: &ActionCall) -> Result<Value, ConnectorError> {
        let form_id = form_id(call)?;
        // The default order is newest submission first.
        let page = self
            .send(
                Method::GET,
                &["forms", form_id, "responses"],
                &[("page_size".to_string(), "1".to_string())],
                None,
            )
            .await?;
        Ok(page["items"]
            .as_array()
            .and_then(|items| items.first())
            .map(response_record)
            .unwrap_or(Value::Null))
    }

    /// One API request; non-2xx answers become classified errors carrying Typeform's `code`.
    async fn send(
        &self,
        method: Method,
        path: &[&str],
        query: &[(String, String)],
        body: Option<&Json>,
    ) -> Result<Json, ConnectorError> {
        let token = std::env::var(&self.token_env).map_err(|_| {
            ConnectorError::permanent(format!(
                "environment variable `{}` (the Typeform token, `token_env` in `[connectors.survey]`) is not set",
                self.token_env
            ))
        })?;
        let mut url = self.base_url.clone();
        url.path_segments_mut()
            .map_err(|_| {
                ConnectorError::permanent("`base_url` in `[connectors.survey]` cannot have paths appended")
            })?
            .pop_if_empty()
            .extend(path);
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        }
        let what = format!("Typeform {method} {}", url.path());
        let mut request = self.client.request(method, url).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| transport_error(&e, &what))?;
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.map_err(|e| transport_error(&e, &what))?;
        let json: Json = serde_json::from_str(&text).unwrap_or(Json::Null);
        if status.is_success() {
            if json.is_null() {
                return Err(ConnectorError::transient(format!(
                    "{what} answered {status} without JSON"
                )));
            }
            return Ok(json);
        }
        Err(api_error(&what, status, &headers, &json, &text))
    }
}

#[async_trait]
impl Connector for SurveyConnector {
    fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    fn keep_effects_in(&self, store: std::sync::Arc<dyn crate::runtime::Store>) {
        self.created.keep_in(store, "survey.created");
    }

    async fn call(&self, call: ActionCall) -> Result<Value, ConnectorError> {
        match &*call.action {
            "create" => self.create(&call).await,
            "responses" => self.responses(&call).await,
            "latest_response" => self.latest_response(&call).await,
            other => Err(ConnectorError::permanent(format!(
                "the survey connector has no action `{other}`"
            ))),
        }
    }
}

/// Typeform's error body: `{ "code": "...", "description": "...", "details": [...] }`.
fn api_error(
    what: &str,
    status: StatusCode,
    headers: &reqwest::header::HeaderMap,
    json: &Json,
    text: &str,
) -> ConnectorError {
    let code = json["code"].as_str().unwrap_or("");
    let description = json["description"].as_str().unwrap_or("");
    let mut message = format!("{what} answered {status}");
    if !code.is_empty() {
        message.push_str(&format!(" {code}"));
    }
    if !description.is_empty() {
        message.push_str(&format!(": {description}"));
    } else if json.is_null() && !text.trim().is_empty() {
        message.push_str(&format!(
            ": {}",
            text.trim().chars().take(200).collect::<String>()
        ));
    }
    // Validation details say which part of the payload was refused.
    for detail in json["details"].as_array().into_iter().flatten().take(5) {
        let field = detail["field"].as_str().unwrap_or("");
        let text = detail["description"].as_str().unwrap_or("");
        if !field.is_empty() || !text.is_empty() {
            message.push_str(&format!("; {field}: {text}"));
        }
    }
    let details = Value::record([
        ("status", Value::Int(i64::from(status.as_u16()))),
        ("code", Value::text(code)),
        ("description", Value::text(description)),
        ("details", Value::from_json(&json["details"])),
    ]);
    let error = match class_of_status(status) {
        ErrorClass::RateLimited => {
            ConnectorError::rate_limited(message, retry_after(headers, DEFAULT_MAX_RETRY_AFTER))
        }
        class => ConnectorError::new(class, message),
    };
    error.with_details(details)
}

fn config_error(key: &str, problem: &str) -> ConnectorError {
    ConnectorError::permanent(format!(
        "`{key}` in the `[connectors.survey]` table of flowc.toml {problem}"
    ))
}

fn form_id(call: &ActionCall) -> Result<&str, ConnectorError> {
    match call.arg("form_id").as_str() {
        Some(id)
            if !id.is_empty()
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') =>
        {
            Ok(id)
        }
        Some(id) => Err(ConnectorError::permanent(format!(
            "`{id}` is not a Typeform form id"
        ))),
        None => Err(ConnectorError::permanent("`form_id` must be text")),
    }
}

/// Hidden values as text, in name order; names must be valid hidden field names.
fn hidden_values(arg: &Value) -> Result<Vec<(String, String)>, ConnectorError> {
    let fields = match arg {
        Value::Null => return Ok(Vec::new()),
        Value::Record(fields) => fields,
        other => {
            return Err(ConnectorError::permanent(format!(
                "`hidden` must be a record, not a {}",
                other.kind()
            )))
        }
    };
    let mut out = Vec::new();
    for (name, value) in fields {
        if !super::template::valid_hidden(name) {
            return Err(ConnectorError::permanent(format!(
                "hidden field `{name}` must be lowercase letters, digits or `_`"
            )));
        }
        let text = match value {
            Value::Null => continue,
            Value::Text(s) => s.clone(),
            Value::Int(_) | Value::Number(_) | Value::Bool(_) | Value::Date(_) | Value::DateTime(_) => {
                match value.to_json() {
                    Json::String(s) => s,
                    other => other.to_string(),
                }
            }
            other => {
                return Err(ConnectorError::permanent(format!(
                    "hidden field `{name}` must be text, a number, a bool or a date, not a {}",
                    other.kind()
                )))
            }
        };
        out.push((name.clone(), text));
    }
    Ok(out)
}

/// Typeform reads hidden values from the link's fragment: `…/to/abc#client_id=42&x=y`.
fn with_hidden(display: &str, hidden: &[(String, String)]) -> String {
    if hidden.is_empty() {
        return display.to_string();
    }
    let pairs: Vec<String> = hidden
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    format!("{display}#{}", pairs.join("&"))
}

fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Records, newest first, strictly after `since`.
fn finish(items: Vec<Json>, since: Option<DateTime<FixedOffset>>) -> Value {
    let mut records: Vec<Value> = items.iter().map(response_record).collect();
    if let Some(since) = since {
        records.retain(|r| matches!(r.get("submitted_at"), Value::DateTime(t) if *t > since));
    }
    records.sort_by_key(|r| std::cmp::Reverse(submitted(r)));
    Value::List(records)
}

fn submitted(record: &Value) -> Option<DateTime<FixedOffset>> {
    match record.get("submitted_at") {
        Value::DateTime(t) => Some(*t),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_values_go_in_the_fragment() {
        let hidden = vec![
            ("client_id".to_string(), "c 42/é".to_string()),
            ("entity".to_string(), "am".to_string()),
        ];
        assert_eq!(
            with_hidden("https://x.typeform.com/to/abc", &hidden),
            "https://x.typeform.com/to/abc#client_id=c%2042%2F%C3%A9&entity=am"
        );
        assert_eq!(with_hidden("https://x/to/a", &[]), "https://x/to/a");
    }
}
