//! Notion's HTTP failures turned into classified [`ConnectorError`]s.
//!
//! The class decides what retry policies do: 429 and 529 carry the server's `Retry-After`,
//! 5xx and network failures are transient, and other 4xx are permanent because sending the same
//! request again cannot change the answer. Notion's `code`, `message` and `request_id` are kept
//! in `details` so that a failed instance says exactly what Notion said.

use std::time::Duration;

use crate::connectors::{ConnectorError, ErrorClass};
use crate::value::Value;

/// The parts of a Notion error response that matter.
#[derive(Debug, Default)]
pub(crate) struct ErrorBody {
    pub(crate) code: Option<String>,
    pub(crate) message: Option<String>,
    pub(crate) request_id: Option<String>,
}

impl ErrorBody {
    /// Reads `{"object":"error","code":..,"message":..,"request_id":..}`; anything else is empty.
    pub(crate) fn parse(body: &str) -> ErrorBody {
        let json: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
        let text = |key: &str| json.get(key).and_then(|v| v.as_str()).map(str::to_string);
        ErrorBody {
            code: text("code"),
            message: text("message"),
            request_id: text("request_id"),
        }
    }
}

/// The class of an HTTP status from Notion.
pub(crate) fn class_of(status: u16) -> ErrorClass {
    match status {
        429 => ErrorClass::RateLimited,
        // 409 conflict_error: "the transaction could not be completed, potentially due to a data
        // collision"; Notion says to retry.
        409 => ErrorClass::Transient,
        500..=599 => ErrorClass::Transient,
        _ => ErrorClass::Permanent,
    }
}

/// `Retry-After` as Notion sends it: whole (or decimal) seconds.
pub(crate) fn parse_retry_after(header: Option<&str>) -> Option<Duration> {
    let seconds: f64 = header?.trim().parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds.min(3600.0)))
}

/// The error for a non-2xx answer.
pub(crate) fn from_response(
    status: u16,
    retry_after: Option<Duration>,
    body: &str,
    what: &str,
) -> ConnectorError {
    let parsed = ErrorBody::parse(body);
    let class = class_of(status);
    let code = parsed.code.clone().unwrap_or_else(|| format!("http_{status}"));
    let message = parsed.message.clone().unwrap_or_else(|| format!("HTTP {status}"));
    let mut error = ConnectorError::new(
        class,
        format!("notion {what} failed with {status} {code}: {message}"),
    );
    // 529 is an overloaded server rather than our rate, so it stays transient, but its
    // Retry-After is still the best delay to use.
    if matches!(status, 429 | 529 | 503) {
        error.retry_after = retry_after;
    }
    let mut details = vec![
        ("status", Value::Int(i64::from(status))),
        ("code", Value::text(code)),
        ("message", Value::text(message)),
    ];
    if let Some(id) = parsed.request_id {
        details.push(("request_id", Value::text(id)));
    }
    error.with_details(Value::record(details))
}

/// The error for a request that got no answer (connection refused, timeout, reset).
pub(crate) fn from_network(error: &reqwest::Error, what: &str) -> ConnectorError {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "failed"
    };
    ConnectorError::transient(format!("notion {what} {kind}: {error}"))
        .with_details(Value::record([("code", Value::text("network_error"))]))
}

/// A mistake found before sending (too long a value, unknown property): never worth retrying.
pub(crate) fn invalid(message: impl Into<String>) -> ConnectorError {
    ConnectorError::permanent(message).with_details(Value::record([("code", Value::text("invalid_input"))]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified() {
        assert_eq!(class_of(429), ErrorClass::RateLimited);
        for s in [500, 502, 503, 504, 529] {
            assert_eq!(class_of(s), ErrorClass::Transient, "{s}");
        }
        for s in [400, 401, 403, 404] {
            assert_eq!(class_of(s), ErrorClass::Permanent, "{s}");
        }
    }

    #[test]
    fn details_keep_notions_words() {
        let body =
            r#"{"object":"error","status":400,"code":"validation_error","message":"bad","request_id":"r1"}"#;
        let e = from_response(400, None, body, "create_page");
        assert_eq!(e.class, ErrorClass::Permanent);
        assert_eq!(e.details.get("code"), &Value::text("validation_error"));
        assert_eq!(e.details.get("request_id"), &Value::text("r1"));
        assert!(e.message.contains("bad"));
    }

    #[test]
    fn retry_after_is_seconds() {
        assert_eq!(parse_retry_after(Some("2")), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after(Some("0.5")), Some(Duration::from_millis(500)));
        assert_eq!(parse_retry_after(Some("soon")), None);
        assert_eq!(parse_retry_after(None), None);
    }
}
