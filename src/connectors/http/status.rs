//! HTTP outcomes → error classes, shared by the `http` and `survey` connectors so that both treat a
//! 429, a 503 or a refused connection the same way.

use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::StatusCode;

use crate::connectors::connector::error_chain;
use crate::connectors::{ConnectorError, ErrorClass};

/// The class of a non-success status: 429 asks us to slow down; 408 and 5xx may pass on retry;
/// any other 4xx will fail the same way again.
pub(crate) fn class_of_status(status: StatusCode) -> ErrorClass {
    if status == StatusCode::TOO_MANY_REQUESTS {
        ErrorClass::RateLimited
    } else if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
        ErrorClass::Transient
    } else {
        ErrorClass::Permanent
    }
}

/// The longest `Retry-After` honoured unless configured otherwise: an hour, as Notion documents
/// for its own limits. A server asking for a day (or sending a date years ahead) would otherwise
/// park a step for that long.
pub(crate) const DEFAULT_MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// The wait asked for by `Retry-After` (delay-seconds or an HTTP date, RFC 9110 §10.2.3), at
/// most `cap`.
pub(crate) fn retry_after(headers: &HeaderMap, cap: Duration) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let wait = if let Ok(seconds) = text.parse::<u64>() {
        Duration::from_secs(seconds)
    } else {
        let when = chrono::DateTime::parse_from_rfc2822(text).ok()?;
        // A date in the past means "now"; still a rate limit, just no wait.
        when.signed_duration_since(chrono::Utc::now())
            .to_std()
            .unwrap_or(Duration::ZERO)
    };
    Some(wait.min(cap))
}

/// A failure to get any response at all (connection refused, timeout, bad URL, refused redirect).
pub(crate) fn transport_error(err: &reqwest::Error, what: &str) -> ConnectorError {
    let detail = error_chain(err);
    if err.is_timeout() {
        ConnectorError::transient(format!("{what} timed out: {detail}"))
    } else if err.is_redirect() || err.is_builder() {
        ConnectorError::permanent(format!("{what} failed: {detail}"))
    } else {
        // Connection refused or reset, DNS failure, a body cut short: worth another attempt.
        ConnectorError::transient(format!("{what} failed: {detail}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn statuses_are_classified() {
        assert_eq!(
            class_of_status(StatusCode::TOO_MANY_REQUESTS),
            ErrorClass::RateLimited
        );
        assert_eq!(class_of_status(StatusCode::BAD_GATEWAY), ErrorClass::Transient);
        assert_eq!(
            class_of_status(StatusCode::REQUEST_TIMEOUT),
            ErrorClass::Transient
        );
        assert_eq!(class_of_status(StatusCode::NOT_FOUND), ErrorClass::Permanent);
        assert_eq!(class_of_status(StatusCode::UNAUTHORIZED), ErrorClass::Permanent);
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let cap = DEFAULT_MAX_RETRY_AFTER;
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers, cap), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers, cap), Some(Duration::from_secs(7)));
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&headers, cap), Some(Duration::ZERO));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers, cap), None);
    }

    #[test]
    fn retry_after_is_capped() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("86400"));
        assert_eq!(
            retry_after(&headers, DEFAULT_MAX_RETRY_AFTER),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(
            retry_after(&headers, Duration::from_secs(60)),
            Some(Duration::from_secs(60))
        );
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Fri, 31 Dec 2100 23:59:59 GMT"),
        );
        assert_eq!(
            retry_after(&headers, DEFAULT_MAX_RETRY_AFTER),
            Some(Duration::from_secs(3600))
        );
    }
}
