//! `flowc emulate` as a process of its own, driven through the binary: it prints its services'
//! URLs, `flowc run --emulator URL` runs the repository's wellness_booking against it, and after
//! a SIGTERM and a restart on the same state folder the pages and messages are still there.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A running `flowc emulate`, killed when dropped (a test that fails must not leave it behind).
struct Emulate {
    child: Child,
    /// `name → URL` from its stdout.
    services: Vec<(String, String)>,
}

impl Emulate {
    fn start(state: &Path) -> Emulate {
        let mut child = Command::new(env!("CARGO_BIN_EXE_flowc"))
            .args(["emulate", ".", "--state"])
            .arg(state)
            .current_dir(root())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("flowc runs");
        let services = read_services(child.stdout.take().unwrap());
        Emulate { child, services }
    }

    fn url(&self, name: &str) -> &str {
        self.services
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, url)| url.as_str())
            .unwrap_or_else(|| panic!("no `{name}` line in {:?}", self.services))
    }

    /// SIGTERM, then the exit status and stderr.
    fn stop(mut self) -> (Option<i32>, String) {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "flowc emulate ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut stderr = String::new();
        std::io::Read::read_to_string(self.child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
        (status.code(), stderr)
    }
}

impl Drop for Emulate {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `NAME URL` lines, up to the `emulator` line (the last one).
fn read_services(stdout: ChildStdout) -> Vec<(String, String)> {
    let mut services = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        let (name, url) = line
            .split_once(' ')
            .unwrap_or_else(|| panic!("not `NAME URL`: {line}"));
        services.push((name.to_string(), url.to_string()));
        if name == "emulator" {
            return services;
        }
    }
    panic!("flowc emulate ended before printing its URLs: {services:?}");
}

fn book(emulator: &str, state: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flowc"))
        .args([
            "run",
            "flows/wellness_booking.flow",
            "--input",
            "@examples/inputs/wellness_booking.json",
            "--virtual-clock",
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

/// The sessions (WorkflowInstance pages) of the 7 Space's workspace, asked through the Notion API.
fn sessions(notion: &str) -> Vec<serde_json::Value> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let call = |method: reqwest::Method, path: String, body: Option<serde_json::Value>| {
            let request = client
                .request(method, format!("{notion}{path}"))
                .bearer_auth("secret_emulated_the_7_space")
                .header("Notion-Version", "2025-09-03");
            let request = match body {
                Some(body) => request.json(&body),
                None => request,
            };
            async move {
                let answer = request.send().await.unwrap();
                answer.json::<serde_json::Value>().await.unwrap()
            }
        };
        let database = call(
            reqwest::Method::GET,
            "/v1/databases/f10c0007000000000000000000000005".into(),
            None,
        )
        .await;
        let source = database["data_sources"][0]["id"].as_str().unwrap().to_string();
        let path = format!("/v1/data_sources/{source}/query");
        let found = call(reqwest::Method::POST, path, Some(serde_json::json!({}))).await;
        found["results"].as_array().unwrap().clone()
    })
}

#[test]
fn a_booking_runs_against_the_emulator_and_its_pages_and_messages_survive_a_restart() {
    let state = tempfile::tempdir().unwrap();
    let world = state.path().join("world");
    let emulate = Emulate::start(&world);
    for name in ["notion", "typeform", "emulator"] {
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
