//! A reader that goes away (`flowc run FILE 2>&1 >/dev/null | head`) ends nothing badly: the
//! command finishes its work and exits with its own code, without a panic or a hang.

use std::process::Stdio;

use super::support::{exit_within, finish, flowc, project, stdout, ENTITY};

/// A flow that prints progress lines while it runs on the real clock: a wait, then steps.
const WAITS: &str = r#"flow pause for studio {
  on manual
  wait 200ms
  let done = true
  output { done }
}
"#;

/// A flow of several steps (answered by the dry run's recorder).
const STEPS: &str = r#"flow contacts for studio {
  on manual
  input { email: email }
  step first = notion.find_or_create(db: Contacts, match: { Email: input.email })
  step second = notion.find_or_create(db: Contacts, match: { Email: "{{ first.id }}@example.com" })
  output { ids: [first.id, second.id] }
}
"#;

#[test]
fn a_closed_stderr_does_not_hang_a_run() {
    let dir = project(&[("entities.flow", ENTITY), ("pause.flow", WAITS)]);
    let mut child = flowc(dir.path(), &["run", "pause.flow"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("flowc starts");
    // The reader of stderr goes away before anything is written, as `head` does once it has
    // its lines: every progress line then meets a broken pipe.
    drop(child.stderr.take());
    let out = finish(child, "run pause.flow 2>(closed)");
    assert_eq!(out.status.code(), Some(0), "the run must end as it would have");
    assert!(stdout(&out).contains("\"done\": true"), "{}", stdout(&out));
}

#[test]
fn a_closed_stderr_does_not_stop_a_dry_run_or_its_report() {
    let dir = project(&[("entities.flow", ENTITY), ("contacts.flow", STEPS)]);
    let mut child = flowc(
        dir.path(),
        &[
            "run",
            "contacts.flow",
            "--dry-run",
            "--input",
            r#"{"email": "maya@example.com"}"#,
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("flowc starts");
    drop(child.stderr.take());
    let out = finish(child, "run contacts.flow --dry-run 2>(closed)");
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("\"ids\""), "{}", stdout(&out));
}

#[test]
fn a_closed_stdout_ends_a_run_cleanly() {
    let dir = project(&[("entities.flow", ENTITY), ("pause.flow", WAITS)]);
    let mut child = flowc(dir.path(), &["run", "pause.flow"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("flowc starts");
    drop(child.stdout.take());
    let out = finish(child, "run pause.flow >(closed)");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}

#[test]
fn the_shell_pipe_of_the_report_exits() {
    // The very command of the report, through a shell: `head` keeps one line and leaves.
    let dir = project(&[("entities.flow", ENTITY), ("pause.flow", WAITS)]);
    let command = format!(
        "'{}' run pause.flow 2>&1 >/dev/null | head -n 1",
        env!("CARGO_BIN_EXE_flowc")
    );
    let mut child = std::process::Command::new("sh")
        .args(["-c", &command])
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sh starts");
    let status = exit_within(&mut child, std::time::Duration::from_secs(60), &command);
    assert!(status.success(), "{status}");
}

#[test]
fn check_and_test_survive_closed_pipes() {
    let dir = project(&[("entities.flow", ENTITY), ("pause.flow", WAITS)]);
    for args in [&["check"][..], &["test"], &["fmt", "--check"]] {
        let mut child = flowc(dir.path(), args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("flowc starts");
        drop(child.stdout.take());
        drop(child.stderr.take());
        let status = exit_within(&mut child, std::time::Duration::from_secs(60), &args.join(" "));
        assert_ne!(status.code(), Some(101), "flowc {} panicked", args.join(" "));
    }
}
