//! The generic http connector's actions.

use crate::contract::{ActionSpec, Manifest};
use crate::types::Type;

fn response() -> Type {
    Type::record([
        ("status", Type::Number),
        ("headers", Type::open_record([])),
        ("body", Type::Any),
    ])
}

/// The manifest.
pub fn manifest() -> Manifest {
    Manifest {
        name: "http".to_string(),
        description: "JSON requests to hosts allowed in flowc.toml".to_string(),
        actions: vec![
            ActionSpec::new("get", "GET a URL (no side effects assumed)", response())
                .param("url", Type::Text, "the URL; its host must be allowed")
                .optional("headers", Type::open_record([]), "request headers")
                .optional(
                    "secret_headers",
                    Type::open_record([]),
                    "headers whose values name environment variables",
                ),
            ActionSpec::new("request", "any method, with a JSON body", response())
                .param("method", Type::Text, "GET, POST, PUT, PATCH or DELETE")
                .param("url", Type::Text, "the URL; its host must be allowed")
                .optional("headers", Type::open_record([]), "request headers")
                .optional(
                    "secret_headers",
                    Type::open_record([]),
                    "headers whose values name environment variables",
                )
                .optional("body", Type::Any, "the JSON body")
                .effectful(),
        ],
    }
}
