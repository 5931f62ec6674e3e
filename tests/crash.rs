//! The crash harness: a child process runs instances of a flow with waits, fan-out and retries on
//! the SQLite store against a real SMTP server, and is killed with SIGKILL at random points, then
//! restarted; after the last restart every instance has completed and the server's mailbox holds
//! every message exactly once: none lost, and the only re-transmissions are of messages whose
//! outcome the email sent log could not know (the process died between the server's `250` and the
//! fsync of the outcome), re-sent with the same Message-ID, on which mailbox stores deduplicate
//! (Cyrus's duplicate delivery suppression, Sieve `duplicate`, RFC 7352).
//!
//! The child is this test binary itself, run as `crash_worker` with `FLOWC_CRASH_DIR` set.
//! `FLOWC_CRASH_LONG=1` runs 1,000 instances over 10 kills instead of 200 over 5.

#[path = "support/smtp_server.rs"]
#[allow(dead_code)] // TLS helpers of the email tests
mod smtp_server;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use flowc::config::Config;
use flowc::connectors::email::EmailConnector;
use flowc::runtime::{Engine, EventKind, Store};
use flowc::store::{Durability, SqliteStore};
use flowc::Project;
use rand::Rng;
use serde_json::json;
use smtp_server::SmtpServer;

const FLOW: &str = r#"entity shop {}

template hi {
  subject "Hi {{name}}"
  text "Hello {{name}}"
}

flow crashy for shop {
  input { to: email, n: number }
  step hello = email.send(to: input.to, template: "hi", with: { name: "first" })
    retry 5 times backoff 50ms..1s
  wait 300ms
  step each = for i in [1, 2] concurrency 2 {
    step s = email.send(to: input.to, template: "hi", with: { name: "item" })
      retry 5 times backoff 50ms..1s
    yield s != none
  }
  output { each }
}
"#;

/// Emails each instance sends.
const PER_INSTANCE: usize = 3;
/// The email connector's default `max_connections`: the SMTP transactions in flight at once, so
/// the most messages a kill can leave in doubt.
const MAX_CONNECTIONS: usize = 4;

fn sizes() -> (usize, usize) {
    let (total, kills) = if std::env::var_os("FLOWC_CRASH_LONG").is_some() {
        (1000, 10)
    } else {
        (200, 5)
    };
    let kills = std::env::var("FLOWC_CRASH_KILLS")
        .ok()
        .and_then(|k| k.parse().ok())
        .unwrap_or(kills);
    (total, kills)
}

/// The child: resumes what the state folder holds, starts instances up to the target count,
/// and waits for all of them.
#[test]
fn crash_worker() {
    let Some(dir) = std::env::var_os("FLOWC_CRASH_DIR") else {
        return;
    };
    let dir = Path::new(&dir).to_path_buf();
    let smtp = std::env::var("FLOWC_CRASH_SMTP").unwrap();
    let total: usize = std::env::var("FLOWC_CRASH_TOTAL").unwrap().parse().unwrap();
    let toml = format!(
        "[project]\nname = \"crash\"\n\n[entities.shop]\nemail_from = \"Shop <shop@shop.example>\"\n\n[connectors.email]\nurl = \"{smtp}\"\n"
    );
    let config = Config::parse(&toml, &dir.join("flowc.toml")).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let email = EmailConnector::from_config(&config, &dir).unwrap();
        let project = Project::from_sources(&dir, config, [("crashy.flow", FLOW)]);
        let store = Arc::new(SqliteStore::open(&dir.join("flowc.db"), Durability::Normal).unwrap());
        let engine = Engine::builder()
            .project_value(project)
            .connector(Arc::new(email))
            .store(store.clone())
            .build()
            .unwrap();
        let mut ids = engine.recover().await;
        let started = store.records().iter().filter(|r| r.parent.is_none()).count();
        for n in started..total {
            let input = json!({ "to": format!("c{n}@client.example"), "n": n });
            ids.push(engine.start("crashy", input).await.unwrap());
        }
        for id in ids {
            engine.output(&id).await.unwrap();
        }
    });
}

fn spawn_worker(dir: &Path, smtp: &str, total: usize) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_worker", "--nocapture", "--test-threads", "1"])
        .env("FLOWC_CRASH_DIR", dir)
        .env("FLOWC_CRASH_SMTP", smtp)
        .env("FLOWC_CRASH_TOTAL", total.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn killed_at_random_points_every_instance_completes_and_every_email_goes_once() {
    let (total, kills) = sizes();
    let server = SmtpServer::start();
    let dir = tempfile::tempdir().unwrap();
    let mut rng = rand::rng();
    let mut in_doubt = HashSet::new();
    for _ in 0..kills {
        let mut child = spawn_worker(dir.path(), &server.url(), total);
        std::thread::sleep(Duration::from_millis(rng.random_range(200..1500)));
        child.kill().unwrap();
        child.wait().unwrap();
        in_doubt.extend(in_doubt_message_ids(&dir.path().join(".flowc/email/sent.jsonl")));
    }
    // The last restart runs to the end.
    let mut child = spawn_worker(dir.path(), &server.url(), total);
    let deadline = Instant::now() + Duration::from_secs(240);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the last worker did not finish in time");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "{stderr}");

    let store = SqliteStore::open(&dir.path().join("flowc.db"), Durability::Full).unwrap();
    let roots: Vec<_> = store
        .records()
        .into_iter()
        .filter(|r| r.parent.is_none())
        .collect();
    assert_eq!(roots.len(), total);
    let unfinished: Vec<_> = roots.iter().filter(|r| r.status != "completed").collect();
    assert!(unfinished.is_empty(), "{unfinished:?}");

    let messages = server.wait_for(total * PER_INSTANCE);
    std::thread::sleep(Duration::from_millis(500));
    let messages = if server.messages().len() > messages.len() {
        server.messages()
    } else {
        messages
    };
    // What the recipients' mailboxes hold: one copy per Message-ID and recipient.
    let mut by_id: HashMap<String, usize> = HashMap::new();
    for m in &messages {
        assert_eq!(m.rcpt_tos.len(), 1, "{:?}", m.rcpt_tos);
        *by_id.entry(m.header("Message-ID").to_string()).or_default() += 1;
    }
    let resent: Vec<&String> = by_id.iter().filter(|(_, n)| **n > 1).map(|(id, _)| id).collect();
    eprintln!(
        "crash harness: {total} instances, {kills} kills, {} transmissions, {} distinct messages, {} in doubt at a kill, {} re-sent",
        messages.len(),
        by_id.len(),
        in_doubt.len(),
        resent.len()
    );
    // A re-send with a new Message-ID would count here as a second message.
    assert_eq!(
        by_id.len(),
        total * PER_INSTANCE,
        "messages were lost or duplicated"
    );
    // A kill leaves at most the transactions in flight in doubt.
    assert!(
        resent.len() <= kills * MAX_CONNECTIONS,
        "{} messages re-sent over {kills} kills",
        resent.len()
    );
    // Only a message in doubt is transmitted twice, and only once per kill that caught it.
    for id in &resent {
        assert!(
            in_doubt.contains(*id),
            "{id} was transmitted {} times but the sent log never had it in doubt",
            by_id[*id]
        );
        assert!(
            by_id[*id] <= kills + 1,
            "{id} was transmitted {} times",
            by_id[*id]
        );
    }
    // The journal: no step of any instance completed twice, and none was left behind.
    for r in &roots {
        let mut done: HashMap<String, usize> = HashMap::new();
        for e in store.history(&r.id) {
            if let EventKind::StepSucceeded { step, .. } = e.kind {
                *done.entry(step).or_default() += 1;
            }
        }
        let steps: Vec<&str> = {
            let mut s: Vec<&str> = done.keys().map(String::as_str).collect();
            s.sort();
            s
        };
        assert_eq!(steps, ["each", "each[0].s", "each[1].s", "hello"], "{}", r.id);
        assert!(done.values().all(|n| *n == 1), "{}: {done:?}", r.id);
    }
}

/// The Message-IDs whose last line in the email sent log is an intent: the server may or may not
/// have them. A torn last line is skipped (its caller never heard it was written).
fn in_doubt_message_ids(sent_log: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(sent_log).unwrap_or_default();
    let mut last: HashMap<String, (String, String)> = HashMap::new();
    for line in text.lines() {
        let Ok(record) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let field = |name: &str| record[name].as_str().unwrap_or("").to_string();
        last.insert(field("key"), (field("stage"), field("message_id")));
    }
    last.into_values()
        .filter(|(stage, _)| stage == "intent")
        .map(|(_, message_id)| message_id)
        .collect()
}
