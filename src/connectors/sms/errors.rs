//! Twilio's error answers → error classes. Twilio documents its REST errors as
//! `{ "code": 21211, "message": "...", "more_info": "https://www.twilio.com/docs/errors/21211",
//! "status": 400 }`: 429 (code 20429) asks us to slow down and is safe to retry, 5xx may pass on
//! retry, and a 4xx (an invalid `To` number, 21211; an unsubscribed recipient, 21610; bad
//! credentials, 20003) fails the same way again.

use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::Value as Json;

use crate::connectors::http::status::{class_of_status, retry_after, DEFAULT_MAX_RETRY_AFTER};
use crate::connectors::{ConnectorError, ErrorClass};
use crate::value::Value;

/// The classified error of a non-2xx answer.
pub(crate) fn api_error(status: StatusCode, headers: &HeaderMap, text: &str) -> ConnectorError {
    let json: Json = serde_json::from_str(text).unwrap_or(Json::Null);
    let code = json["code"].as_i64();
    let detail = json["message"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| text.trim().chars().take(200).collect());
    let mut message = format!("Twilio answered {status}");
    if let Some(code) = code {
        message.push_str(&format!(" (error {code})"));
    }
    if !detail.is_empty() {
        message.push_str(&format!(": {detail}"));
    }
    if let Some(more) = json["more_info"].as_str() {
        message.push_str(&format!(" ({more})"));
    }
    let details = Value::record([
        ("status", Value::Int(i64::from(status.as_u16()))),
        ("code", code.map(Value::Int).unwrap_or(Value::Null)),
    ]);
    let error = match class_of_status(status) {
        ErrorClass::RateLimited => {
            ConnectorError::rate_limited(message, retry_after(headers, DEFAULT_MAX_RETRY_AFTER))
        }
        class => ConnectorError::new(class, message),
    };
    error.with_details(details)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderValue, RETRY_AFTER};

    #[test]
    fn documented_answers_are_classified() {
        let body = r#"{"code": 21211, "message": "The 'To' number +1555 is not a valid phone number.", "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}"#;
        let e = api_error(StatusCode::BAD_REQUEST, &HeaderMap::new(), body);
        assert_eq!(e.class, ErrorClass::Permanent);
        assert!(
            e.message.contains("21211") && e.message.contains("not a valid phone number"),
            "{}",
            e.message
        );
        assert_eq!(e.details.get("code"), &Value::Int(21211));

        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        let e = api_error(
            StatusCode::TOO_MANY_REQUESTS,
            &headers,
            r#"{"code": 20429, "message": "Too Many Requests", "status": 429}"#,
        );
        assert_eq!(e.class, ErrorClass::RateLimited);
        assert_eq!(e.retry_after, Some(std::time::Duration::from_secs(3)));

        let e = api_error(
            StatusCode::SERVICE_UNAVAILABLE,
            &HeaderMap::new(),
            "<html>down</html>",
        );
        assert_eq!(e.class, ErrorClass::Transient);
        assert!(e.message.contains("down"), "{}", e.message);
    }
}
