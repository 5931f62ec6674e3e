//! The `flowc test`, `run`, `build` and `graph` commands on small fixture projects.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/flow_tests")
}

fn flowc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flowc"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("flowc runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn passing_tests_pass() {
    let dir = fixtures().join("passing");
    let out = flowc(&["test", dir.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("test \"books a session\" for wellness_booking ... ok"),
        "{stdout}"
    );
    assert!(stdout.contains("test \"practitioner lookup falls back\" for wellness_booking ... ok"));
    assert!(stdout.contains("test \"artists go to the art task\" for triage ... ok"));
    assert!(stdout.contains("6 passed, 0 failed"));
}

#[test]
fn failing_tests_show_expected_and_actual() {
    let dir = fixtures().join("failing");
    let out = flowc(&["test", dir.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("test \"wrong expectations\" for f ... FAILED"));
    assert!(
        stdout.contains("expect output.n == 3\n      actual:   2\n      expected: 3"),
        "{stdout}"
    );
    assert!(stdout.contains("actual:   0 matching"));
    assert!(stdout.contains("http.get (step s, attempt 1): {\"url\":\"https://x.test/2\"}"));
    assert!(stdout.contains("expected: skipped\n      actual:   ran"));
    assert!(stdout.contains("test \"right expectations\" for f ... ok"));
    assert!(stdout.contains("1 passed, 1 failed"));
}

#[test]
fn json_report() {
    let dir = fixtures().join("failing");
    let out = flowc(&["test", dir.to_str().unwrap(), "--format", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let tests = json.as_array().unwrap();
    assert_eq!(tests.len(), 2);
    let wrong = tests.iter().find(|t| t["name"] == "wrong expectations").unwrap();
    assert_eq!(wrong["passed"], false);
    assert_eq!(wrong["failures"].as_array().unwrap().len(), 3);
}

#[test]
fn dry_run_prints_output_and_calls() {
    let file = fixtures().join("passing/booking.flow");
    let out = flowc(&[
        "run",
        file.to_str().unwrap(),
        "--flow",
        "triage",
        "--input",
        r#"{"kind": "gallery"}"#,
        "--dry-run",
    ]);
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("output JSON");
    assert_eq!(json["status"], 1);
    assert!(stderr.contains("step art started"), "{stderr}");
    assert!(stderr.contains("step other skipped"));
    assert!(stderr.contains("calls that would have been made:"));
    assert!(
        stderr.contains("notion.create_page (step art): {\"db\":\"Task\""),
        "{stderr}"
    );
}

#[test]
fn invalid_input_names_the_field() {
    let file = fixtures().join("passing/booking.flow");
    let out = flowc(&[
        "run",
        file.to_str().unwrap(),
        "--flow",
        "wellness_booking",
        "--input",
        r#"{"email": "a@b.c", "name": "A", "service": "x", "starts_at": "tomorrow"}"#,
        "--dry-run",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("input field `starts_at` must be a date-time"),
        "{stderr}"
    );
}

#[test]
fn build_writes_plans_and_graph_draws() {
    let dir = tempfile::tempdir().unwrap();
    let file = fixtures().join("passing/booking.flow");
    let out = flowc(&[
        "build",
        file.to_str().unwrap(),
        "-o",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("triage.plan.json")).unwrap()).unwrap();
    assert_eq!(plan["format_version"], flowc::plan::FORMAT_VERSION);
    assert_eq!(plan["hash"].as_str().unwrap().len(), 64);
    assert!(dir.path().join("wellness_booking.plan.json").exists());
    let graph = flowc(&[
        "graph",
        file.to_str().unwrap(),
        "--flow",
        "triage",
        "--format",
        "dot",
    ]);
    assert!(text(&graph.stdout).starts_with("digraph \"triage\""));
    let ambiguous = flowc(&["graph", file.to_str().unwrap()]);
    assert_eq!(ambiguous.status.code(), Some(2));
    assert!(text(&ambiguous.stderr).contains("pick one with --flow"));
}

#[test]
fn run_without_dry_run_uses_the_configured_connectors() {
    let file = fixtures().join("passing/booking.flow");
    let out = flowc(&[
        "run",
        file.to_str().unwrap(),
        "--flow",
        "hello",
        "--input",
        r#"{"name": "Ann"}"#,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["greeting"], "Hi Ann");
    // A real call with no configuration fails with the reason, and exit code 1.
    let out = flowc(&[
        "run",
        file.to_str().unwrap(),
        "--flow",
        "triage",
        "--input",
        r#"{"kind": "x"}"#,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("step other failed"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn dry_run_of_a_flow_waiting_for_an_unsent_event_stops_with_an_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("flowc.toml"), "[project]\nname = \"t\"\n").unwrap();
    let file = dir.path().join("w.flow");
    std::fs::write(
        &file,
        "entity e {}\nflow w for e {\n  on manual\n  step r = wait for event \"never\"\n  output { r }\n}\n",
    )
    .unwrap();
    let out = flowc(&["run", file.to_str().unwrap(), "--dry-run"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("waits for an event that a dry run never sends"));
}

#[test]
fn build_names_same_named_flows_of_two_modules_apart() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("flowc.toml"), "[project]\nname = \"t\"\n").unwrap();
    std::fs::write(dir.path().join("e.flow"), "entity e {}\n").unwrap();
    std::fs::create_dir(dir.path().join("a")).unwrap();
    std::fs::create_dir(dir.path().join("b")).unwrap();
    for m in ["a", "b"] {
        std::fs::write(
            dir.path().join(m).join("n.flow"),
            format!("flow notify for e {{\n  on manual\n  output {{ from: \"{m}\" }}\n}}\n"),
        )
        .unwrap();
    }
    let out_dir = dir.path().join("out");
    let out = flowc(&[
        "build",
        dir.path().to_str().unwrap(),
        "-o",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out_dir.join("notify.plan.json").exists());
    assert!(
        out_dir.join("b.n.notify.plan.json").exists(),
        "{:?}",
        std::fs::read_dir(&out_dir).unwrap().collect::<Vec<_>>()
    );
}

#[test]
fn sub_flow_steps_are_retried_and_timed_out_in_tests() {
    let dir = fixtures().join("subflows");
    let out = flowc(&["test", dir.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("3 passed, 0 failed"), "{stdout}");
}
