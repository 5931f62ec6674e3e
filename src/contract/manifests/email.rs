//! The email connector's actions.

use std::time::Duration;

use crate::contract::{ActionSpec, ErrorClass, Manifest, RetrySpec};
use crate::types::Type;

/// The manifest.
pub fn manifest() -> Manifest {
    Manifest {
        name: "email".to_string(),
        description: "Sends notification templates by SMTP from the entity's address".to_string(),
        actions: vec![super::channel::joins_notifications(
            ActionSpec::new(
                "send",
                "render a template (subject, text, HTML) and send it",
                Type::record([
                    ("message_id", Type::Text),
                    ("to", Type::Text),
                    ("subject", Type::Text),
                ]),
            )
            .param("to", Type::Email, "the recipient")
            .param("template", Type::Template, "the notification template's name")
            .optional("with", Type::open_record([]), "the template's variables")
            .optional("cc", Type::list(Type::Email), "copies")
            .optional("reply_to", Type::Email, "overrides the entity's Reply-To")
            .effectful()
            // A relay that refuses mail for a few minutes (a restart, a failover) is an ordinary bad
            // day: the default outlasts one by far (waits up to 5, 10, 20 ... 300 s, about 20 minutes
            // of ceilings in all), where three quick attempts lost the mail (tests/chaos.rs).
            .retry(RetrySpec {
                attempts: 10,
                min: Duration::from_secs(5),
                max: Duration::from_secs(300),
                factor: 2.0,
                jitter: true,
                on: vec![ErrorClass::Transient],
            }),
        )],
    }
}
