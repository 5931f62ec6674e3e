//! Checking one source as a whole project, and rendering diagnostics as users see them.

use std::path::{Path, PathBuf};

use flowc::config::Config;
use flowc::diagnostic::{render, Diagnostic, RenderOptions, Sources};
use flowc::{Project, Registry};

/// The folder holding the pulled Notion schema the examples are checked against.
pub fn fixture_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/check/fixture")
}

/// Checks `text` as the only file `name` of a project rooted at `root`.
pub fn check_one(root: &Path, name: &str, text: &str) -> (Sources, Vec<Diagnostic>) {
    let mut config = Config::default();
    config.webhooks.insert(
        "amelia".to_string(),
        toml::from_str("scheme = \"hmac-sha256\"\nheader = \"X-Signature\"\nencoding = \"hex\"\nsecret_env = \"AMELIA_SECRET\"")
            .unwrap(),
    );
    // The docs' examples read one secret of their entity `studio`.
    config.entities.insert(
        "studio".to_string(),
        flowc::config::EntityConfig {
            secrets: vec!["CRM_TOKEN".to_string()],
            ..Default::default()
        },
    );
    let project = Project::from_sources(root, config, [(name, text)]);
    let diagnostics = flowc::check(&project, &Registry::declared_builtins()).sorted();
    // Rendered with the bare file name, so snapshots do not depend on where the repository is.
    let mut sources = Sources::new();
    for (_, file) in project.sources.iter() {
        sources.add(
            file.path.strip_prefix(root).unwrap_or(&file.path),
            file.text.clone(),
        );
    }
    (sources, diagnostics)
}

/// Every diagnostic rendered without colour at width 100.
pub fn render_all(sources: &Sources, diagnostics: &[Diagnostic]) -> String {
    let options = RenderOptions {
        color: false,
        width: 100,
    };
    diagnostics
        .iter()
        .map(|d| render(d, sources, options))
        .collect::<Vec<_>>()
        .join("\n")
}
