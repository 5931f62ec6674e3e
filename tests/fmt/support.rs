//! Helpers shared by the formatter and parser property tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use flowc::syntax::ast::Module;
use serde_json::Value;

/// The tree as JSON without any position, so two parses of the same meaning compare equal.
pub fn strip_spans(module: &Module) -> Value {
    fn strip(value: &mut Value) {
        match value {
            Value::Object(map) => {
                if map.len() == 2 && map.contains_key("start") && map.contains_key("end") {
                    *value = Value::Null;
                    return;
                }
                for key in ["span", "body_span", "body_offset", "attempts_span"] {
                    map.remove(key);
                }
                map.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut value = serde_json::to_value(module).expect("a tree serialises");
    strip(&mut value);
    value
}

/// Parses `source`, failing the test on any syntax error.
pub fn parse_ok(source: &str) -> Module {
    let (module, diagnostics) = flowc::syntax::parse(source, Default::default());
    assert!(
        diagnostics.is_empty(),
        "unexpected diagnostics: {:#?}\n--- source ---\n{source}",
        diagnostics
    );
    module
}

/// The comments of `source`, sorted: a multiset to compare.
pub fn comment_texts(source: &str) -> Vec<String> {
    let mut texts: Vec<String> = flowc::syntax::comments(source)
        .into_iter()
        .map(|c| c.text)
        .collect();
    texts.sort();
    texts
}

/// Every `.flow` file of the formatter corpus (`tests/fmt/`).
pub fn corpus() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir).expect("corpus folder").flatten().collect();
        entries.sort_by_key(|e| e.path());
        for entry in entries {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|x| x == "flow") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fmt"),
        &mut files,
    );
    assert!(files.len() >= 5, "the corpus is missing");
    files
}
