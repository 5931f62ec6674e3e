//! The fuzz targets: what must hold of any source text, and of any JSON given to a flow.

// Also compiled into `parse_props`, which uses only the source target.
#![allow(dead_code)]

use std::path::Path;

use flowc::config::Config;
use flowc::runtime::{Engine, EngineError};
use flowc::syntax::{format, parse};
use flowc::{Project, Registry};

use super::guard::watch;
use super::support::strip_spans;

/// Parser, formatter and checker on `source`: no panic, no hang; whatever formats formats the
/// same again (idempotence) and means the same (`parse(fmt(x)) == parse(x)` but for spans); a
/// file that parses is refused by the formatter only for a comment it cannot keep.
pub fn source(source: String) -> Result<(), String> {
    let shown = source.clone();
    watch(&shown, move || {
        let (tree, syntax) = parse(&source, Default::default());
        match format(&source) {
            Ok(formatted) => {
                assert_eq!(
                    format(&formatted).ok().as_deref(),
                    Some(formatted.as_str()),
                    "formatting is not idempotent"
                );
                if syntax.is_empty() {
                    let (again, errors) = parse(&formatted, Default::default());
                    assert!(
                        errors.is_empty(),
                        "the formatted text does not parse: {errors:#?}\n{formatted}"
                    );
                    assert_eq!(
                        strip_spans(&again),
                        strip_spans(&tree),
                        "formatting changed the meaning:\n{formatted}"
                    );
                }
            }
            Err(errors) => assert!(
                !syntax.is_empty() || errors.iter().all(|e| e.message.contains("comment inside")),
                "refused a file that parses: {errors:#?}"
            ),
        }
        let project = Project::from_sources(
            Path::new("/project"),
            Config::default(),
            [("flows/a.flow", source.as_str())],
        );
        let _ = flowc::check(&project, &Registry::declared_builtins());
    })
}

/// A flow declaring `fields` as its input is started with `json`: it starts, or is refused as
/// invalid input; nothing else (no panic, no hang, no other error).
pub fn input(fields: &str, json: serde_json::Value) -> Result<(), String> {
    let source = format!(
        "entity studio {{\n}}\n\nflow take for studio {{\n  on manual\n  input {{ {fields} }}\n  output {{ taken: true }}\n}}\n"
    );
    let shown = format!("{source}\ninput: {json}");
    watch(&shown, move || {
        let project = Project::from_sources(
            Path::new("/project"),
            Config::default(),
            [("take.flow", source.as_str())],
        );
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async {
            // The generator writes only declarations the checker accepts.
            let engine = match Engine::builder().project_value(project).build() {
                Ok(engine) => engine,
                Err(e) => panic!("the declaration is refused: {e}"),
            };
            match engine.start("take", json).await {
                Ok(_) | Err(EngineError::InvalidInput(_)) => {}
                Err(e) => panic!("neither started nor refused as invalid input: {e}"),
            }
        });
    })
}
