//! The `flowc` binary over a real SMTP server: two runs each send their email.

use std::path::Path;
use std::process::{Command, Output};

use super::smtp_server::SmtpServer;

const FLOW: &str = r#"entity shop {}

template hi {
  subject "Hi {{name}}"
  text "Hello {{name}}"
}

flow hello for shop {
  input { to: email, name: text }
  step sent = email.send(to: input.to, template: "hi", with: { name: input.name })
  output { sent: sent != none }
}
"#;

/// A project in `dir` whose email goes to `smtp` (the sent log in the project, as by default).
pub(crate) fn project(dir: &Path, smtp: &str) {
    let toml = format!(
        "[project]\nname = \"t\"\n\n[entities.shop]\nemail_from = \"Shop <shop@shop.example>\"\n\n[connectors.email]\nurl = \"{smtp}\"\n"
    );
    std::fs::write(dir.join("flowc.toml"), toml).unwrap();
    std::fs::write(dir.join("hello.flow"), FLOW).unwrap();
}

pub(crate) fn flowc(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flowc"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("flowc runs")
}

#[track_caller]
pub(crate) fn ok(out: &Output) -> serde_json::Value {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"))
}

#[test]
fn two_runs_of_the_same_flow_and_input_both_send_their_email() {
    let server = SmtpServer::start();
    let dir = tempfile::tempdir().unwrap();
    project(dir.path(), &server.url());
    let input = r#"{"to": "ada@client.example", "name": "Ada"}"#;
    for _ in 0..2 {
        let out = flowc(dir.path(), &["run", "hello.flow", "--input", input]);
        assert_eq!(ok(&out)["sent"], true);
    }
    let messages = server.wait_for(2);
    assert_eq!(messages.len(), 2, "the second run sent nothing");
    assert_ne!(messages[0].header("Message-ID"), messages[1].header("Message-ID"));
}

const LATER: &str = r#"
flow later for shop {
  input { to: email, name: text }
  step first = email.send(to: input.to, template: "hi", with: { name: input.name })
  wait 1d
  step second = email.send(to: input.to, template: "hi", with: { name: "again" })
  output { done: second != none }
}
"#;

/// Waits until the instance journaled in `state` has an event `what` says; its id.
fn journaled(state: &Path, what: &str) -> String {
    for _ in 0..500 {
        if state.join("flowc.db").is_file() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let store = flowc::store::SqliteStore::open(&state.join("flowc.db"), flowc::store::Durability::Full);
    let store = store.expect("the run created its database");
    use flowc::runtime::Store;
    for _ in 0..500 {
        for id in store.instances() {
            let history = store.history(&id);
            if history
                .iter()
                .any(|e| serde_json::to_string(&e.kind).unwrap().contains(what))
            {
                return id;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("nothing journaled `{what}` in {}", state.display());
}

#[test]
fn a_killed_run_is_finished_by_resume_without_losing_or_repeating_an_email() {
    let server = SmtpServer::start();
    let dir = tempfile::tempdir().unwrap();
    project(dir.path(), &server.url());
    std::fs::write(dir.path().join("later.flow"), LATER).unwrap();
    let state = dir.path().join("state");
    let input = r#"{"to": "ada@client.example", "name": "Ada"}"#;
    // The run waits a day on the wall clock: killed (SIGKILL) during the wait.
    let mut child = Command::new(env!("CARGO_BIN_EXE_flowc"))
        .args(["run", "later.flow", "--input", input, "--state", "state"])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let id = journaled(&state, "wait_started");
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(server.wait_for(1).len(), 1);

    let list = flowc(dir.path(), &["instances", "--state", "state", "list"]);
    let list = String::from_utf8_lossy(&list.stdout).to_string();
    assert!(
        list.starts_with(&format!("{id}  later.later  running  ")),
        "{list}"
    );

    let out = flowc(dir.path(), &["resume", "--state", "state", "--virtual-clock"]);
    let line = ok(&out);
    assert_eq!(line["instance"], id.as_str());
    assert_eq!(line["output"]["done"], true);
    let messages = server.wait_for(2);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(messages.len(), 2);
    assert_eq!(server.messages().len(), 2, "an email was sent twice");

    let show = flowc(dir.path(), &["instances", "--state", "state", "show", &id]);
    let show = String::from_utf8_lossy(&show.stdout).to_string();
    assert!(show.contains("status    completed"), "{show}");
    assert_eq!(show.matches("\"instance_started\"").count(), 1, "{show}");
    assert!(show.contains("\"instance_completed\""), "{show}");

    let again = flowc(dir.path(), &["resume", "--state", "state"]);
    assert_eq!(again.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&again.stderr).contains("nothing to resume"));
    let cancel = flowc(dir.path(), &["instances", "--state", "state", "cancel", &id]);
    assert_eq!(cancel.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&cancel.stderr).contains("has already ended (completed)"));
}

#[test]
fn a_failed_instance_is_retried_from_its_failed_step() {
    let dir = tempfile::tempdir().unwrap();
    // Nobody listens on this port: the email step fails (after its retries).
    let down = format!("smtp://127.0.0.1:{}", super::smtp_server::free_port());
    project(dir.path(), &down);
    let input = r#"{"to": "ada@client.example", "name": "Ada"}"#;
    let run = flowc(
        dir.path(),
        &[
            "run",
            "hello.flow",
            "--input",
            input,
            "--state",
            "state",
            "--virtual-clock",
        ],
    );
    assert_eq!(
        run.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let list = flowc(dir.path(), &["instances", "--state", "state", "list"]);
    let list = String::from_utf8_lossy(&list.stdout).to_string();
    let id = list.split_whitespace().next().unwrap().to_string();
    assert!(list.contains("  failed  "), "{list}");

    let missing = flowc(dir.path(), &["instances", "--state", "state", "retry", "nope"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no instance `nope`"));
    let nowhere = flowc(dir.path(), &["instances", "--state", "elsewhere", "list"]);
    assert_eq!(nowhere.status.code(), Some(2));

    // The server is up now: retry, then resume sends the email once.
    let server = SmtpServer::start();
    project(dir.path(), &server.url());
    let retry = flowc(dir.path(), &["instances", "--state", "state", "retry", &id]);
    assert_eq!(
        retry.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&retry.stderr)
    );
    let out = flowc(dir.path(), &["resume", "--state", "state", "--virtual-clock"]);
    let line = ok(&out);
    assert_eq!(line["instance"], id.as_str());
    assert_eq!(line["output"]["sent"], true);
    assert_eq!(server.wait_for(1).len(), 1);
    let list = flowc(dir.path(), &["instances", "--state", "state", "list"]);
    assert!(String::from_utf8_lossy(&list.stdout).contains("  completed  "));
}
