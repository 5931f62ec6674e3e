//! `flowc serve` as a user runs it: refuses a project with errors, serves, stops on SIGTERM.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

const SHOP: &str = r#"
entity shop {}

flow open for shop {
  on webhook "/hooks/open" unverified
  input { name: text }
  output { name: input.name }
}

flow order for shop {
  on webhook "/hooks/orders" verified by github
  input { id: number }
  output { id: input.id }
}
"#;

const CONFIG: &str = "[project]\nname = \"shop\"\n\n[webhooks.github]\nscheme = \"github\"\nsecret_env = \"SERVE_TEST_GITHUB\"\n";

fn project(flows: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("flowc.toml"), CONFIG).unwrap();
    std::fs::write(dir.path().join("shop.flow"), flows).unwrap();
    dir
}

fn serve(dir: &Path, state: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_flowc"));
    c.args(["serve", "--listen", "127.0.0.1:0", "--state"])
        .arg(state)
        .arg(dir)
        .env("NO_COLOR", "1");
    c
}

#[test]
fn a_project_with_errors_is_not_served() {
    let dir = project(&SHOP.replace(" unverified", ""));
    let state = tempfile::tempdir().unwrap();
    let out = serve(dir.path(), state.path()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("E0404"), "{stderr}");
    assert!(
        stderr.contains("webhook `/hooks/open` says nothing about verification"),
        "{stderr}"
    );
    assert!(
        stderr.contains("not serving: `flowc check` reports errors"),
        "{stderr}"
    );
}

#[test]
fn a_missing_secret_is_said_before_serving() {
    let dir = project(SHOP);
    let state = tempfile::tempdir().unwrap();
    let out = serve(dir.path(), state.path())
        .env_remove("SERVE_TEST_GITHUB")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("webhook verifier `github`: environment variable `SERVE_TEST_GITHUB` is not set"),
        "{stderr}"
    );
}

#[test]
fn serves_webhooks_then_stops_cleanly_on_sigterm() {
    let dir = project(SHOP);
    let state = tempfile::tempdir().unwrap();
    let mut child = serve(dir.path(), state.path())
        .env("SERVE_TEST_GITHUB", "s3cret")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    let base = loop {
        let line = lines.next().expect("flowc serve says where it listens").unwrap();
        seen.push(line.clone());
        if let Some(url) = line.strip_prefix("listening on ") {
            break url.to_string();
        }
    };
    assert!(
        seen.iter().any(|l| l.ends_with("/hooks/orders → flow `order`")),
        "{seen:?}"
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (status, body) = runtime.block_on(async {
        let client = reqwest::Client::new();
        let r = client
            .post(format!("{base}/hooks/open"))
            .header("content-type", "application/json")
            .body(r#"{"name": "Ada"}"#)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json::<serde_json::Value>().await.unwrap())
    });
    assert_eq!(status, 202, "{body}");
    assert!(
        uuid::Uuid::parse_str(body["instance"].as_str().unwrap()).is_ok(),
        "{body}"
    );
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{rest:?}");
    assert_eq!(rest.last().map(String::as_str), Some("stopped"), "{rest:?}");
}

/// Starts `flowc serve` on `dir` with `extra` arguments and environment; returns the child, its
/// base URL and the rest of its stderr.
pub(super) fn start(
    dir: &Path,
    state: &Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> (std::process::Child, String) {
    let mut command = serve(dir, state);
    command.args(extra).stderr(Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let base = loop {
        let line = lines.next().expect("flowc serve says where it listens").unwrap();
        if let Some(url) = line.strip_prefix("listening on ") {
            break url.to_string();
        }
    };
    // Keep draining stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (child, base)
}

#[test]
fn amelias_real_booking_runs_wellness_booking_on_the_emulators() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let state = tempfile::tempdir().unwrap();
    let secrets = [
        ("AMELIA_WEBHOOK_TOKEN", "amelia-url-token"),
        ("TYPEFORM_WEBHOOK_SECRET", "typeform-secret"),
        ("SHOPIFY_WEBHOOK_SECRET", "shopify-secret"),
    ];
    let (mut child, base) = start(root, state.path(), &["--emulate", "--virtual-clock"], &secrets);
    let body = std::fs::read(root.join("tests/webhooks/amelia_booking_completed.json")).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let post = |uri: String, body: Vec<u8>| {
        runtime.block_on(async {
            let r = reqwest::Client::new()
                .post(uri)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<serde_json::Value>().await.unwrap())
        })
    };
    let url = format!("{base}/hooks/the-7-space/bookings");
    let (status, answer) = post(format!("{url}?token=wrong"), body.clone());
    assert_eq!(status, 401, "{answer}");
    let (status, answer) = post(format!("{url}?token=amelia-url-token"), body);
    assert_eq!(status, 202, "{answer}");
    assert!(
        uuid::Uuid::parse_str(answer["instance"].as_str().unwrap()).is_ok(),
        "{answer}"
    );
    // The confirmation reaches the outbox once the flow has run.
    let outbox = state.path().join("outbox");
    let mut confirmed = false;
    for _ in 0..300 {
        let texts: Vec<String> = std::fs::read_dir(&outbox)
            .into_iter()
            .flatten()
            .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
            .collect();
        if texts
            .iter()
            .any(|t| t.contains("To: maya@example.com") && t.contains("Private Yoga"))
        {
            confirmed = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));
    assert!(confirmed, "no confirmation to Maya in {}", outbox.display());
}
