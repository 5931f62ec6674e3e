//! The survey (Typeform) connector's actions.

use std::time::Duration;

use crate::contract::{ActionSpec, ErrorClass, Manifest, RateLimit, RetrySpec};
use crate::types::Type;

/// Typeform allows 2 requests per second per account on the Create and Responses APIs.
fn typeform_rate() -> RateLimit {
    RateLimit {
        per_second: 2.0,
        burst: 2,
    }
}

/// Reads are safe to repeat, so they retry transient failures and rate limits by default.
fn read_retry() -> RetrySpec {
    RetrySpec {
        attempts: 4,
        min: Duration::from_secs(1),
        max: Duration::from_secs(30),
        factor: 2.0,
        jitter: true,
        on: vec![ErrorClass::Transient, ErrorClass::RateLimited],
    }
}

/// The manifest.
pub fn manifest() -> Manifest {
    Manifest {
        name: "survey".to_string(),
        description: "Typeform surveys built from templates in stdlib/surveys".to_string(),
        actions: vec![
            ActionSpec::new(
                "create",
                "create a form from a survey template and return its link",
                Type::record([("form_id", Type::Text), ("url", Type::Text)]),
            )
            .param(
                "template",
                Type::Text,
                "the survey template's name (stdlib/surveys/NAME.json)",
            )
            .optional("title", Type::Text, "the form's title (default: the template's)")
            .optional(
                "hidden",
                Type::open_record([]),
                "hidden fields, e.g. `{ client_id: client.id }`",
            )
            .effectful()
            .rate_limited(typeform_rate()),
            ActionSpec::new(
                "responses",
                "every response to a form, answers mapped to a record by field ref",
                Type::list(Type::open_record([
                    ("response_id", Type::Text),
                    ("submitted_at", Type::Datetime),
                    ("answers", Type::open_record([])),
                    ("hidden", Type::open_record([])),
                ])),
            )
            .param("form_id", Type::Text, "the form")
            .optional("since", Type::Datetime, "only responses submitted after this")
            .retry(read_retry())
            .rate_limited(typeform_rate()),
            ActionSpec::new(
                "latest_response",
                "the most recent response to a form, or none",
                Type::optional(Type::open_record([
                    ("response_id", Type::Text),
                    ("submitted_at", Type::Datetime),
                    ("answers", Type::open_record([])),
                    ("hidden", Type::open_record([])),
                ])),
            )
            .param("form_id", Type::Text, "the form")
            .retry(read_retry())
            .rate_limited(typeform_rate()),
        ],
    }
}
