//! `flowc run --emulate` as a user runs it: the repository's wellness_booking with the example
//! Amelia booking, against the embedded emulators (demo pages from notion/seed.json), email in
//! an outbox folder, waits skipped on the virtual clock.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn flowc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flowc"))
        .args(args)
        .current_dir(root())
        .env_remove("NO_COLOR")
        .output()
        .expect("flowc runs")
}

/// The demo booking, emulated on the virtual clock, with `extra` arguments.
fn book_the_demo(extra: &[&str]) -> Output {
    flowc(&demo_args(extra))
}

/// The arguments of [`book_the_demo`].
fn demo_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "run",
        "flows/wellness_booking.flow",
        "--input",
        "@examples/inputs/wellness_booking.json",
        "--emulate",
        // Pinned: the example inputs carry real dates (the booking is on 3 December 2026).
        "--clock-start=2026-12-01T09:00:00Z",
    ];
    args.extend_from_slice(extra);
    args
}

/// The `.eml` files of the one run folder in `outbox`.
fn messages(outbox: &Path) -> Vec<String> {
    let runs: Vec<PathBuf> = std::fs::read_dir(outbox)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(runs.len(), 1, "one folder per run: {runs:?}");
    assert!(runs[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .ends_with("-wellness_booking"));
    let mut files: Vec<PathBuf> = std::fs::read_dir(&runs[0])
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.iter().all(|f| f.extension().unwrap() == "eml"), "{files:?}");
    files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect()
}

#[test]
fn the_demo_booking_is_confirmed_with_its_messages_in_the_outbox() {
    let outbox = tempfile::tempdir().unwrap();
    let out = book_the_demo(&["--outbox", outbox.path().to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");

    let output: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(output["booking_confirmed"], true, "{output}");
    assert_eq!(output["alternative_suggested"], false);
    assert!(output["client_id"].is_string() && output["practitioner_id"].is_string());

    // What it ran against, where the mail went, and plain progress lines (stderr is a pipe).
    assert!(
        stderr.contains("emulated Notion at http://127.0.0.1:"),
        "{stderr}"
    );
    assert!(stderr.contains("demo pages from"), "{stderr}");
    assert!(
        stderr.contains("emulated Typeform at http://127.0.0.1:"),
        "{stderr}"
    );
    assert!(stderr.contains(&format!("email goes to the outbox {}", outbox.path().display())));
    assert!(stderr.contains("step session done"), "{stderr}");
    assert!(stderr.contains("4 message(s) in the outbox"), "{stderr}");
    assert!(
        !stderr.contains('\x1b'),
        "no escape codes off a terminal: {stderr}"
    );

    // Confirmation, practitioner notice and two reminders, as .eml files.
    let messages = messages(outbox.path());
    assert_eq!(messages.len(), 4);
    let with_subject = |subject: &str| {
        messages
            .iter()
            .filter(|m| m.contains(&format!("Subject: {subject}")))
            .count()
    };
    assert_eq!(with_subject("Your Private Yoga session is confirmed"), 1);
    assert_eq!(with_subject("Reminder: Private Yoga tomorrow"), 1);
    assert_eq!(with_subject("Reminder: Private Yoga in two hours"), 1);
    assert_eq!(with_subject("New session: Private Yoga"), 1);
    let confirmation = messages
        .iter()
        .find(|m| m.contains("Subject: Your Private Yoga session is confirmed"))
        .unwrap();
    assert!(
        confirmation.contains("To: maya.patel@example.com"),
        "{confirmation}"
    );
    assert!(confirmation.contains("Ana Lopez"), "{confirmation}");
}

#[test]
fn emulate_options_are_checked() {
    let out = flowc(&["run", "flows/wellness_booking.flow", "--dry-run", "--emulate"]);
    assert_eq!(out.status.code(), Some(2));
    let out = flowc(&["run", "flows/wellness_booking.flow", "--outbox", "x"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--emulate"), "{stderr}");
}

/// Runs `flowc args` with a terminal as stdout and stderr (util-linux `script`); what it printed.
fn on_terminal(args: &[&str], no_color: bool) -> String {
    let command = std::iter::once(env!("CARGO_BIN_EXE_flowc"))
        .chain(args.iter().copied())
        .map(|a| format!("'{a}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let mut script = Command::new("script");
    script
        .args(["-qec", &command, "/dev/null"])
        .current_dir(root())
        .env("TERM", "xterm");
    if no_color {
        script.env("NO_COLOR", "1");
    } else {
        script.env_remove("NO_COLOR");
    }
    let out = script
        .output()
        .expect("util-linux `script` gives the run a terminal");
    assert_eq!(out.status.code(), Some(0));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn on_a_terminal_step_lines_are_redrawn_in_place() {
    let outbox = tempfile::tempdir().unwrap();
    let args = demo_args(&["--outbox", outbox.path().to_str().unwrap()]);
    let shown = on_terminal(&args, false);
    // Cursor up and clear before each redraw; a coloured tick for finished steps.
    assert!(shown.contains("\r\x1b[J"), "{shown:?}");
    assert!(shown.contains("\x1b[32m✓\x1b[0m session"), "{shown:?}");
    assert!(!shown.contains("step session done"), "{shown:?}");

    let plain = on_terminal(&args, true);
    assert!(plain.contains("\r\x1b[J"), "still redrawn: {plain:?}");
    assert!(plain.contains("✓ session"), "{plain:?}");
    assert!(!plain.contains("\x1b[32m"), "no colour with NO_COLOR: {plain:?}");
}

#[test]
fn a_bare_file_name_in_the_current_folder_finds_its_project() {
    let out = Command::new(env!("CARGO_BIN_EXE_flowc"))
        .args([
            "run",
            "wellness_booking.flow",
            "--input",
            "@../examples/inputs/wellness_booking.json",
            "--dry-run",
        ])
        .current_dir(root().join("flows"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn an_example_input_can_name_a_demo_page_by_its_seeded_id() {
    // examples/inputs/client_onboarding.json names Sam Lee, whom notion/seed.json gives a fixed
    // id. Nobody answers the survey in an emulated run, so after seven virtual days a consultant
    // is asked to call and the package match goes to review.
    let outbox = tempfile::tempdir().unwrap();
    let out = flowc(&[
        "run",
        "flows/client_onboarding.flow",
        "--input",
        "@examples/inputs/client_onboarding.json",
        "--emulate",
        // Pinned: the example inputs carry real dates (the booking is on 3 December 2026).
        "--clock-start=2026-12-01T09:00:00Z",
        "--outbox",
        outbox.path().to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let output: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        output["client_profile_id"],
        "5a1e0000-0000-4000-8000-000000000001"
    );
    assert_eq!(output["human_review"], true);
    assert!(stderr.contains("step assessment › reminder done"), "{stderr}");
}

#[test]
fn on_the_virtual_clock_a_wait_nobody_ends_stops_the_run() {
    // A project without a schema file: the emulated workspaces are empty, which the run says.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("flowc.toml"), "[project]\nname = \"t\"\n").unwrap();
    let file = dir.path().join("w.flow");
    std::fs::write(
        &file,
        "entity e {}\nflow w for e {\n  on manual\n  step r = wait for event \"never\"\n  output { r }\n}\n",
    )
    .unwrap();
    let out = flowc(&["run", file.to_str().unwrap(), "--emulate", "--virtual-clock"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("warning: no Notion schema at"), "{stderr}");
    assert!(
        stderr.contains("error: the instance waits for an event that this run never sends"),
        "{stderr}"
    );
}

#[test]
fn every_example_input_runs_to_completion_against_the_demo_pages() {
    // (flow, what its output must say)
    let cases: [(&str, &str, serde_json::Value); 3] = [
        ("lead_nurturing", "consultation_sent", serde_json::json!(true)),
        ("community_event", "announced", serde_json::json!(2)),
        ("exhibition_planning", "planned", serde_json::json!(true)),
    ];
    for (flow, field, expected) in cases {
        let outbox = tempfile::tempdir().unwrap();
        let out = flowc(&[
            "run",
            &format!("flows/{flow}.flow"),
            "--input",
            &format!("@examples/inputs/{flow}.json"),
            "--emulate",
            "--clock-start=2026-12-01T09:00:00Z",
            "--outbox",
            outbox.path().to_str().unwrap(),
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{flow}: {stderr}");
        let output: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(output[field], expected, "{flow}: {output}");
        assert!(!stderr.contains("0 message(s)"), "{flow} sent no email: {stderr}");
    }
}

#[test]
fn with_a_state_folder_the_emulated_pages_outlive_the_run() {
    let state = tempfile::tempdir().unwrap();
    let state_arg = state.path().to_str().unwrap();
    let book = || {
        let out = book_the_demo(&["--state", state_arg]);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        let output: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
        (output, stderr)
    };
    let (first, stderr) = book();
    assert!(stderr.contains("demo pages from"), "{stderr}");
    assert_eq!(first["booking_confirmed"], true, "{first}");
    // The second process finds the first one's session (the demo pages are not loaded again),
    // so the requested practitioner is taken at that time and the backup takes the booking.
    let (second, stderr) = book();
    assert!(stderr.contains("with the pages kept in"), "{stderr}");
    assert_eq!(second["booking_confirmed"], true, "{second}");
    assert_ne!(second["practitioner_id"], first["practitioner_id"], "{second}");
    assert!(state.path().join("notion/notion.jsonl").is_file());
}
