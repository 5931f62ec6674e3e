//! The slack connector's actions.

use std::time::Duration;

use crate::contract::{ActionSpec, ErrorClass, Manifest, RateLimit, RetrySpec};
use crate::types::Type;

/// The manifest.
pub fn manifest() -> Manifest {
    Manifest {
        name: "slack".to_string(),
        description: "Messages in the entity's Slack workspace by `chat.postMessage` (bot token)".to_string(),
        actions: vec![super::channel::joins_notifications(ActionSpec::new(
            "post",
            "post a message to a channel",
            Type::record([("channel", Type::Text), ("ts", Type::Text)]),
        )
        .param("channel", Type::Text, "the channel's id (`C0123456789`) or name (`#team-alerts`)")
        .optional(
            "text",
            Type::Text,
            "the text; with `blocks`, the fallback shown in notifications (this or `template`)",
        )
        .optional(
            "template",
            Type::Template,
            "a notification template with a `slack` part, sent instead of `text`",
        )
        .optional("with", Type::open_record([]), "the template's variables")
        .optional(
            "blocks",
            Type::list(Type::open_record([])),
            "Block Kit blocks, e.g. `[{ type: \"section\", text: { type: \"mrkdwn\", text: \"*New lead*\" } }]`",
        )
        .effectful()
        .retry(RetrySpec {
            attempts: 4,
            min: Duration::from_secs(1),
            max: Duration::from_secs(30),
            factor: 2.0,
            jitter: true,
            on: vec![ErrorClass::Transient, ErrorClass::RateLimited],
        })
        // Slack allows about one message per second per channel, with short bursts; a 429's
        // `Retry-After` pauses this limiter.
        .rate_limited(RateLimit {
            per_second: 1.0,
            burst: 3,
        }))],
    }
}
