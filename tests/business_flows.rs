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

/// The example in README.md is a real flow: added to a copy of the project, it checks clean
/// (warnings denied) and is already formatted.
#[test]
fn the_readme_example_checks_clean_in_the_project() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let start = readme.find("```flow\n").expect("a flow example in README.md") + "```flow\n".len();
    let end = start + readme[start..].find("```").expect("the example's closing fence");
    let copy = tempfile::tempdir().expect("temp dir");
    for entry in ["flowc.toml", "flows", "stdlib", "notion"] {
        copy_tree(&root.join(entry), &copy.path().join(entry));
    }
    let example = copy.path().join("flows/readme_example.flow");
    std::fs::write(&example, &readme[start..end]).expect("write the example");
    let example = example.to_string_lossy().into_owned();
    let (code, stdout, stderr) = flowc(&["check", "--deny-warnings", &example]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (code, stdout, stderr) = flowc(&["fmt", "--check", &example]);
    assert_eq!(code, 0, "{stdout}{stderr}");
}

fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).expect("create dir");
        for entry in std::fs::read_dir(from).expect("read dir").flatten() {
            copy_tree(&entry.path(), &to.join(entry.file_name()));
        }
    } else {
        std::fs::copy(from, to).expect("copy file");
    }
}
