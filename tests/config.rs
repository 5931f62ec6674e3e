//! `flowc.toml` is trusted only after checking: every mistake in it is one diagnostic (E0900-E0903)
//! at its line, with a help that names the fix. The corpus (`tests/config/corpus`) holds copies
//! of this repository's `flowc.toml` with one realistic mistake each, first line
//! `# expect CODE at line N`; each rendering is a reviewed snapshot.

use std::path::{Path, PathBuf};
use std::process::Command;

use flowc::config::{Config, ConfigError};
use flowc::diagnostic::Code;

fn corpus() -> Vec<(String, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/config/corpus");
    let mut files: Vec<(String, String)> = std::fs::read_dir(dir)
        .expect("the corpus folder")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| {
            let name = p.file_stem().unwrap_or_default().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).expect("readable"))
        })
        .collect();
    files.sort();
    files
}

/// `# expect E0901 at line 12`: the code and the line.
fn expectation(text: &str) -> (Code, usize) {
    let words: Vec<&str> = text.lines().next().unwrap_or("").split_whitespace().collect();
    match words.as_slice() {
        ["#", "expect", code, "at", "line", line] => (
            Code::parse(code).expect("a known code"),
            line.parse().expect("a line number"),
        ),
        _ => panic!("the first line must be `# expect CODE at line N`"),
    }
}

#[test]
fn the_repository_configuration_loads() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    Config::load(root).expect("flowc.toml of this repository is valid");
}

#[test]
fn every_mistake_is_one_diagnostic_at_its_line_with_a_help() {
    let files = corpus();
    for code in Code::ALL.iter().filter(|c| c.as_str().starts_with("E09")) {
        assert!(
            files.iter().any(|(_, text)| expectation(text).0 == *code),
            "no corpus file for {code}"
        );
    }
    let mut failures = Vec::new();
    for (name, text) in &files {
        let (code, line) = expectation(text);
        match Config::parse(text, Path::new("flowc.toml")) {
            Ok(_) => failures.push(format!("{name}: accepted")),
            Err(ConfigError::Invalid {
                code: found,
                span,
                help,
                rendered,
                ..
            }) => {
                let (found_line, _) = flowc::syntax::line_col(text, span.start as usize);
                if found != code || found_line != line || help.is_empty() {
                    failures.push(format!(
                        "{name}: {found} at line {found_line} (help: {help:?}), expected {code} at line {line}"
                    ));
                }
                insta::with_settings!({
                    snapshot_path => "config/snapshots",
                    prepend_module_to_snapshot => false,
                    omit_expression => true,
                }, {
                    insta::assert_snapshot!(name.as_str(), rendered);
                });
            }
            Err(other) => failures.push(format!("{name}: {other}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn durations_read_as_in_flow_files_reach_the_settings() {
    let config = Config::parse(
        "[webhooks.billing]\nscheme = \"standard-webhooks\"\nsecret_env = \"S\"\ntolerance = \"2m\"\n",
        Path::new("flowc.toml"),
    )
    .expect("valid");
    let tolerance = config.webhooks["billing"].tolerance.expect("set");
    assert_eq!(tolerance.get(), std::time::Duration::from_secs(120));
}

#[test]
fn flowc_check_shows_the_mistake_in_flowc_toml_and_exits_2() {
    let dir = tempfile::tempdir().expect("a folder");
    std::fs::write(
        dir.path().join("flowc.toml"),
        "[project]\nname = \"t\"\n\n[connectors.notion]\nrequests_per_secnd = 3\n",
    )
    .expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_flowc"))
        .arg("check")
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .output()
        .expect("flowc runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("E0901"), "{stderr}");
    assert!(stderr.contains("flowc.toml:5:1"), "{stderr}");
    assert!(stderr.contains("did you mean `requests_per_second`?"), "{stderr}");
}

#[test]
fn quiet_hours_in_flowc_toml_are_the_entities_setting_in_flows() {
    let dir = tempfile::tempdir().expect("a folder");
    std::fs::write(
        dir.path().join("flowc.toml"),
        "[project]\nname = \"t\"\n\n[entities.studio.quiet_hours]\nfrom = \"22:30\"\nuntil = \"06:45\"\n",
    )
    .expect("write");
    let flow = r#"entity studio {}
entity shop {}

flow hours for studio {
  on manual
  output { studio: studio.quiet_hours, shop: shop.quiet_hours, own: entity.quiet_hours.from }
}

test "each entity has its quiet hours, the default when flowc.toml sets none" for hours {
  expect output.studio == { from: "22:30", until: "06:45" }
  expect output.shop == { from: "21:00", until: "08:00" }
  expect output.own == "22:30"
}
"#;
    std::fs::write(dir.path().join("hours.flow"), flow).expect("write");
    let flowc = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_flowc"))
            .args(args)
            .current_dir(dir.path())
            .env("NO_COLOR", "1")
            .output()
            .expect("flowc runs")
    };
    let out = flowc(&["test", "hours.flow"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("1 passed, 0 failed"), "{stdout}");

    // The quiet hours have one home: an entity that also declares them is told so.
    std::fs::write(
        dir.path().join("hours.flow"),
        flow.replace(
            "entity shop {}",
            "entity shop {\n  setting quiet_hours = { from: \"20:00\", until: \"09:00\" }\n}",
        ),
    )
    .expect("write");
    let out = flowc(&["check"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("setting `quiet_hours` is declared twice in `shop`"),
        "{stderr}"
    );
}
