//! The survey (Typeform) connector's actions.

use crate::connectors::{ActionSpec, Manifest};
use crate::types::Type;

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
            .effectful(),
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
            .optional("since", Type::Datetime, "only responses submitted after this"),
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
            .param("form_id", Type::Text, "the form"),
        ],
    }
}
