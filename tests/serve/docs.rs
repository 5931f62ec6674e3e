//! Every ```` ```flow ```` block of docs/serve.md checks clean against the repository's
//! flowc.toml.

use std::path::Path;

#[test]
fn the_flow_examples_of_docs_serve_check_clean() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("docs/serve.md")).unwrap();
    let config = flowc::config::Config::load(root).unwrap();
    let blocks: Vec<&str> = text
        .split("```flow\n")
        .skip(1)
        .map(|rest| rest.split("```").next().unwrap())
        .collect();
    assert!(!blocks.is_empty());
    for block in blocks {
        let project = flowc::Project::from_sources(root, config.clone(), [("docs/serve.md", block)]);
        let diagnostics = flowc::check(&project, &flowc::Registry::declared_builtins());
        assert!(!diagnostics.has_errors(), "{block}\n{:?}", diagnostics.sorted());
    }
}
