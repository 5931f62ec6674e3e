//! `flowc emulate` as a process of its own, driven through the binary: it prints its services'
//! URLs, `flowc run --emulator URL` runs the repository's wellness_booking against it, and after
//! a SIGTERM and a restart on the same state folder the pages and messages are still there.

#[path = "support/emulate_process.rs"]
#[allow(dead_code)] // what the crash harness reads
mod emulate_process;

use std::path::Path;
use std::process::{Command, Output};

use emulate_process::{pages, root, Emulate};

/// The 7 Space's WorkflowInstance database (flowc.toml), where sessions are filed.
const SESSIONS: &str = "f10c0007000000000000000000000005";

fn book(emulator: &str, state: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flowc"))
        .args([
            "run",
            "flows/wellness_booking.flow",
            "--input",
            "@examples/inputs/wellness_booking.json",
            "--clock-start=2026-12-01T09:00:00Z",
            "--emulator",
            emulator,
            "--state",
        ])
        .arg(state)
        .current_dir(root())
        .output()
        .expect("flowc runs")
}

fn outbox(state: &Path) -> Vec<String> {
    let mut files: Vec<_> = std::fs::read_dir(state.join("outbox"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect()
}

fn sessions(notion: &str) -> Vec<serde_json::Value> {
    pages(notion, SESSIONS)
}

#[test]
fn a_booking_runs_against_the_emulator_and_its_pages_and_messages_survive_a_restart() {
    let state = tempfile::tempdir().unwrap();
    let world = state.path().join("world");
    let emulate = Emulate::start(&world);
    for name in ["notion", "typeform", "twilio", "slack", "emulator"] {
        assert!(
            emulate.url(name).starts_with("http://127.0.0.1:"),
            "{:?}",
            emulate.services
        );
    }
    assert!(emulate.url("smtp").starts_with("smtp://127.0.0.1:"));
    let seeded = sessions(emulate.url("notion")).len();

    let out = book(emulate.url("emulator"), &state.path().join("host"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let output: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(output["booking_confirmed"], true, "{output}");
    // The messages went through SMTP into the emulator's outbox, the session into its Notion.
    let messages = outbox(&world);
    assert_eq!(messages.len(), 4, "{messages:?}");
    assert!(messages
        .iter()
        .any(|m| m.contains("Delivered-To: maya.patel@example.com") && m.contains("Subject: ")));
    assert_eq!(sessions(emulate.url("notion")).len(), seeded + 1);

    let (code, stderr) = emulate.stop();
    assert_eq!(code, Some(0), "{stderr}");

    // Restarted on the same folder: the session is there, so the requested practitioner is now
    // taken at that time and the same booking goes to the backup practitioner.
    let emulate = Emulate::start(&world);
    assert_eq!(sessions(emulate.url("notion")).len(), seeded + 1);
    assert_eq!(outbox(&world).len(), 4);
    let again = book(emulate.url("emulator"), &state.path().join("host2"));
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert_eq!(again.status.code(), Some(0), "{stderr}");
    let again: serde_json::Value = serde_json::from_slice(&again.stdout).expect("JSON on stdout");
    assert_eq!(again["booking_confirmed"], true, "{again}");
    assert_ne!(again["practitioner_id"], output["practitioner_id"], "{again}");
    assert_eq!(sessions(emulate.url("notion")).len(), seeded + 2);
    assert_eq!(outbox(&world).len(), 8);
}

#[test]
fn a_run_against_no_emulator_says_how_to_start_one() {
    let state = tempfile::tempdir().unwrap();
    let out = book("http://127.0.0.1:9", state.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot reach the emulator at http://127.0.0.1:9"),
        "{stderr}"
    );
    assert!(stderr.contains("flowc emulate --state DIR"), "{stderr}");
}
