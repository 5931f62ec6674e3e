//! Slack's answers → error classes (the same for every Web API method). The Web API answers most failures with HTTP 200 and
//! `{"ok": false, "error": "channel_not_found"}`; a rate limit is HTTP 429 with `Retry-After`
//! (seconds) and `"error": "ratelimited"`; Slack's own trouble is a 5xx or `internal_error`,
//! `fatal_error`, `service_unavailable`, `request_timeout`.

use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::Value as Json;

use crate::connectors::http::status::{retry_after, DEFAULT_MAX_RETRY_AFTER};
use crate::connectors::{ConnectorError, ErrorClass};
use crate::value::Value;

/// Errors that may pass on another attempt. Every other `error` (channel_not_found,
/// not_in_channel, invalid_auth, not_authed, is_archived, msg_too_long, no_text, invalid_blocks,
/// missing_scope, token_revoked, ...) fails the same way again.
const TRANSIENT: [&str; 5] = [
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
    "team_added_to_org",
];

/// What an error means for whoever reads the step's failure.
fn hint(error: &str) -> &'static str {
    match error {
        "channel_not_found" => ": no such channel, or the bot cannot see it; check the channel id or name",
        "not_in_channel" => ": the bot is not a member of the channel; invite it with `/invite @bot`",
        "invalid_auth" | "not_authed" | "token_revoked" | "account_inactive" => {
            ": the bot token is refused; check the variable named by `token_env`"
        }
        "missing_scope" => ": the bot token lacks a scope the method needs (`chat:write`; to look up a message whose answer was lost, `channels:history`, `groups:history`, `im:history`, `channels:read`, `groups:read`, `im:write`)",
        _ => "",
    }
}

/// The classified error of an answer that is not `{"ok": true}`.
pub(crate) fn api_error(method: &str, status: StatusCode, headers: &HeaderMap, text: &str) -> ConnectorError {
    let json: Json = serde_json::from_str(text).unwrap_or(Json::Null);
    let code = json["error"].as_str().unwrap_or("");
    let mut message = format!("Slack {method} answered {status}");
    if code.is_empty() {
        let shown: String = text.trim().chars().take(200).collect();
        if !shown.is_empty() {
            message.push_str(&format!(": {shown}"));
        }
    } else {
        message.push_str(&format!(" `{code}`{}", hint(code)));
    }
    let details = Value::record([
        ("status", Value::Int(i64::from(status.as_u16()))),
        ("error", Value::text(code)),
    ]);
    let error = if status == StatusCode::TOO_MANY_REQUESTS || matches!(code, "ratelimited" | "rate_limited") {
        ConnectorError::rate_limited(message, retry_after(headers, DEFAULT_MAX_RETRY_AFTER))
    } else if status.is_server_error() || TRANSIENT.contains(&code) {
        ConnectorError::new(ErrorClass::Transient, message)
    } else {
        ConnectorError::new(ErrorClass::Permanent, message)
    };
    error.with_details(details)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderValue, RETRY_AFTER};

    #[test]
    fn documented_answers_are_classified() {
        let ok = StatusCode::OK;
        let none = HeaderMap::new();
        for code in ["channel_not_found", "not_in_channel", "invalid_auth", "no_text"] {
            let e = api_error(
                "chat.postMessage",
                ok,
                &none,
                &format!(r#"{{"ok": false, "error": "{code}"}}"#),
            );
            assert_eq!(e.class, ErrorClass::Permanent, "{code}");
            assert!(e.message.contains(code), "{}", e.message);
        }
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("30"));
        let e = api_error(
            "chat.postMessage",
            StatusCode::TOO_MANY_REQUESTS,
            &headers,
            r#"{"ok": false, "error": "ratelimited"}"#,
        );
        assert_eq!(e.class, ErrorClass::RateLimited);
        assert_eq!(e.retry_after, Some(std::time::Duration::from_secs(30)));
        let e = api_error(
            "chat.postMessage",
            ok,
            &none,
            r#"{"ok": false, "error": "internal_error"}"#,
        );
        assert_eq!(e.class, ErrorClass::Transient);
        let e = api_error(
            "chat.postMessage",
            StatusCode::BAD_GATEWAY,
            &none,
            "<html>bad gateway</html>",
        );
        assert_eq!(e.class, ErrorClass::Transient);
    }
}
