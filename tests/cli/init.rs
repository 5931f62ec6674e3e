//! `flowc init` makes a project that checks, formats and tests clean at once; `flowc completions`
//! prints scripts the shells accept.

use std::process::Stdio;

use super::support::{run, stderr, stdout};

#[test]
fn a_new_project_checks_formats_and_tests_clean() {
    let parent = tempfile::tempdir().expect("a temporary folder");
    let out = run(parent.path(), &["init", "studio-automations"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let dir = parent.path().join("studio-automations");
    for file in [
        "flowc.toml",
        "flows/entities.flow",
        "flows/welcome.flow",
        "notion/schema.json",
    ] {
        assert!(dir.join(file).is_file(), "{file} was not created");
    }
    let config = std::fs::read_to_string(dir.join("flowc.toml")).unwrap();
    assert!(config.contains("name = \"studio-automations\""), "{config}");

    let check = run(&dir, &["check", "--deny-warnings"]);
    assert_eq!(check.status.code(), Some(0), "check:\n{}", stderr(&check));
    assert!(stderr(&check).contains("no problems found"), "{}", stderr(&check));
    let fmt = run(&dir, &["fmt", "--check"]);
    assert_eq!(
        fmt.status.code(),
        Some(0),
        "fmt --check:\n{}{}",
        stdout(&fmt),
        stderr(&fmt)
    );
    let test = run(&dir, &["test"]);
    assert_eq!(
        test.status.code(),
        Some(0),
        "test:\n{}{}",
        stdout(&test),
        stderr(&test)
    );
    assert!(stdout(&test).contains("2 passed, 0 failed"), "{}", stdout(&test));
    // And it runs, against the emulators, as it is.
    let input = r#"{"email": "maya@example.com", "name": "Maya"}"#;
    let ran = run(
        &dir,
        &["run", "flows/welcome.flow", "--input", input, "--emulate"],
    );
    assert_eq!(ran.status.code(), Some(0), "run --emulate:\n{}", stderr(&ran));
    assert!(stdout(&ran).contains("\"welcomed\": true"), "{}", stdout(&ran));
    assert!(
        stderr(&ran).contains("1 message(s) in the outbox"),
        "{}",
        stderr(&ran)
    );
    // The checker reads the schema placeholder: a property it does not list is an error.
    let flow = std::fs::read_to_string(dir.join("flows/welcome.flow")).unwrap();
    std::fs::write(
        dir.join("flows/welcome.flow"),
        flow.replace("match: { Email: input.email }", "match: { Emial: input.email }"),
    )
    .unwrap();
    let misspelt = run(&dir, &["check"]);
    assert_eq!(misspelt.status.code(), Some(1), "{}", stderr(&misspelt));
    assert!(stderr(&misspelt).contains("Emial"), "{}", stderr(&misspelt));
}

#[test]
fn init_never_overwrites_a_project() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    std::fs::write(dir.path().join("flowc.toml"), "[project]\nname = \"mine\"\n").unwrap();
    let out = run(dir.path(), &["init"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("already holds a flowc project"),
        "{}",
        stderr(&out)
    );
    let kept = std::fs::read_to_string(dir.path().join("flowc.toml")).unwrap();
    assert_eq!(kept, "[project]\nname = \"mine\"\n");
    assert!(!dir.path().join("flows").exists(), "nothing else was written");
}

#[test]
fn init_stops_before_writing_when_a_file_is_in_the_way() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    std::fs::create_dir_all(dir.path().join("flows")).unwrap();
    std::fs::write(dir.path().join("flows/welcome.flow"), "// mine\n").unwrap();
    let out = run(dir.path(), &["init"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(!dir.path().join("flowc.toml").exists(), "nothing was written");
    let kept = std::fs::read_to_string(dir.path().join("flows/welcome.flow")).unwrap();
    assert_eq!(kept, "// mine\n");
}

/// `shell -n`-style syntax check of a script, when the shell is installed.
fn shell_accepts(shell: &str, args: &[&str], script: &str) -> Option<bool> {
    let dir = tempfile::tempdir().ok()?;
    let path = dir.path().join("flowc-completion");
    std::fs::write(&path, script).ok()?;
    let status = std::process::Command::new(shell)
        .args(args)
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok()?;
    Some(status.success())
}

#[test]
fn completions_cover_every_subcommand() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    for shell in ["bash", "zsh", "fish"] {
        let out = run(dir.path(), &["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}: {}", stderr(&out));
        let script = stdout(&out);
        for word in ["check", "fmt", "run", "test", "init", "completions", "--emulate"] {
            assert!(script.contains(word), "{shell}: `{word}` is not completed");
        }
    }
    let bash = stdout(&run(dir.path(), &["completions", "bash"]));
    assert!(bash.contains("complete -F"), "{bash}");
    // bash is on every machine this runs on: its parser must accept the script.
    assert_eq!(
        shell_accepts("bash", &["-n"], &bash),
        Some(true),
        "bash rejects the script"
    );
    let out = run(dir.path(), &["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2), "an unknown shell is a usage error");
}
