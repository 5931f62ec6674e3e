//! The businesses' project passes the same gates CI applies to it: `flowc check --deny-warnings`,
//! `flowc fmt --check` and `flowc test` over `flows/` and `stdlib/`, through the real binary.

use std::process::Command;

fn flowc(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_flowc"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .output()
        .expect("the flowc binary runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn the_automations_check_clean_with_warnings_denied() {
    let (code, stdout, stderr) = flowc(&["check", "--deny-warnings", "flows", "stdlib"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
}

#[test]
fn the_automations_are_formatted() {
    let (code, stdout, stderr) = flowc(&["fmt", "--check", "flows", "stdlib"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
}

#[test]
fn every_flow_test_of_the_automations_passes() {
    let (code, stdout, stderr) = flowc(&["test", "--format", "json", "flows", "stdlib"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("json report");
    let tests = report.as_array().expect("a list of test results");
    let failed: Vec<_> = tests.iter().filter(|t| t["passed"] != true).collect();
    assert!(failed.is_empty(), "{failed:#?}");
    // Each of the nine automations has a main path and failure paths: far more than nine tests.
    assert!(tests.len() >= 50, "only {} flow tests ran", tests.len());
}
