//! The sms (Twilio) connector's actions.

use std::time::Duration;

use crate::contract::{ActionSpec, ErrorClass, Manifest, RateLimit, RetrySpec};
use crate::types::Type;

/// The manifest.
pub fn manifest() -> Manifest {
    Manifest {
        name: "sms".to_string(),
        description: "Text messages by Twilio's Messages API from the entity's number".to_string(),
        actions: vec![super::channel::joins_notifications(
            ActionSpec::new(
                "send",
                "send a text message to one phone number (E.164, e.g. `+14155550123`)",
                Type::record([
                    ("sid", Type::Text),
                    ("to", Type::Text),
                    ("status", Type::Text),
                    ("segments", Type::Number),
                ]),
            )
            .param(
                "to",
                Type::Text,
                "the recipient's number in E.164 form (`+14155550123`)",
            )
            .optional(
                "body",
                Type::Text,
                "the text (at most 1600 characters; this or `template`)",
            )
            .optional(
                "template",
                Type::Template,
                "a notification template with an `sms` part, sent instead of `body`",
            )
            .optional("with", Type::open_record([]), "the template's variables")
            .effectful()
            .retry(RetrySpec {
                attempts: 4,
                min: Duration::from_secs(1),
                max: Duration::from_secs(30),
                factor: 2.0,
                jitter: true,
                on: vec![ErrorClass::Transient, ErrorClass::RateLimited],
            })
            // Twilio queues messages beyond a number's throughput itself; this keeps the REST calls
            // of one account well under its concurrency limit and gives a 429's `Retry-After` a
            // limiter to pause.
            .rate_limited(RateLimit {
                per_second: 10.0,
                burst: 10,
            }),
        )],
    }
}
