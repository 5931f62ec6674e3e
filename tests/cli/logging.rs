//! The runtime's log reaches stderr: warnings by default, more with `-v`, none with `-q`, and
//! `RUST_LOG` when set.

use super::support::{finish, flowc, project, stderr, ENTITY};

/// `announce` emits an event whose payload the listening flow refuses (it needs `name`): the
/// engine can only log a warning, which must not be lost.
const FLOWS: &str = r#"flow announce for studio {
  on manual
  emit "contact.created" { id: "c-1" }
  output { announced: true }
}

flow greet_new for studio {
  on event "contact.created"
  input { id: text, name: text }
  output { id: input.id }
}
"#;

const WARNING: &str = "event did not start the flow";

fn run_announce(extra: &[&str], rust_log: Option<&str>) -> std::process::Output {
    let dir = project(&[("entities.flow", ENTITY), ("announce.flow", FLOWS)]);
    let mut args = vec!["run", "announce.flow", "--flow", "announce"];
    args.extend_from_slice(extra);
    let mut command = flowc(dir.path(), &args);
    if let Some(filter) = rust_log {
        command.env("RUST_LOG", filter);
    }
    let child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("flowc starts");
    finish(child, &args.join(" "))
}

#[test]
fn engine_warnings_reach_stderr() {
    let out = run_announce(&[], None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(WARNING), "the engine's warning is lost:\n{err}");
    assert!(err.contains("WARN"), "{err}");
    assert!(err.contains("greet_new"), "the warning names the flow:\n{err}");
}

#[test]
fn quiet_hides_warnings_and_rust_log_decides_when_set() {
    let quiet = run_announce(&["-q"], None);
    assert_eq!(quiet.status.code(), Some(0), "{}", stderr(&quiet));
    assert!(!stderr(&quiet).contains(WARNING), "{}", stderr(&quiet));

    let off = run_announce(&[], Some("off"));
    assert!(!stderr(&off).contains(WARNING), "{}", stderr(&off));

    let warn = run_announce(&["-q"], Some("warn"));
    assert!(
        stderr(&warn).contains(WARNING),
        "RUST_LOG wins over -q:\n{}",
        stderr(&warn)
    );
}

#[test]
fn a_bad_rust_log_is_reported_and_the_flags_used() {
    let out = run_announce(&[], Some("flowc=notalevel"));
    let err = stderr(&out);
    assert!(
        err.contains("RUST_LOG `flowc=notalevel` is not a valid filter"),
        "{err}"
    );
    assert!(err.contains(WARNING), "{err}");
}
