//! One call of Slack's Web API: the method's URL under `base_url`, the bot token as Bearer, and
//! the answer read as Slack gives it: `"ok": true` and the method's fields, or an error
//! classified by [`api_error`] (most arrive with HTTP 200 and `"ok": false`).

use reqwest::Url;
use serde_json::Value as Json;

use super::errors::api_error;
use crate::connectors::http::status::transport_error;
use crate::connectors::ConnectorError;

/// A method's arguments, as Slack takes them: a JSON body (methods that write, such as
/// `chat.postMessage`), a query string (`GET`, the methods that read) or a form.
pub(crate) enum Args<'a> {
    Json(&'a Json),
    Query(&'a [(&'a str, &'a str)]),
    Form(&'a [(&'a str, &'a str)]),
}

/// Calls `method` with `args`; the answer's JSON when it is `ok`.
pub(crate) async fn call(
    client: &reqwest::Client,
    base_url: &Url,
    token: &str,
    method: &str,
    args: Args<'_>,
) -> Result<Json, ConnectorError> {
    let mut url = base_url.clone();
    url.path_segments_mut()
        .map_err(|_| {
            ConnectorError::permanent("`base_url` in `[connectors.slack]` cannot have paths appended")
        })?
        .pop_if_empty()
        .push(method);
    let request = match args {
        Args::Json(body) => client.post(url).json(body),
        Args::Query(query) => client.get(url).query(query),
        Args::Form(form) => client.post(url).form(form),
    };
    let what = format!("Slack {method}");
    let response = request
        .bearer_auth(token)
        .send()
        .await
        .map_err(|e| transport_error(&e, &what))?;
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.map_err(|e| transport_error(&e, &what))?;
    let json: Json = serde_json::from_str(&text).unwrap_or(Json::Null);
    if !status.is_success() || json["ok"] != Json::Bool(true) {
        return Err(api_error(method, status, &headers, &text));
    }
    Ok(json)
}
