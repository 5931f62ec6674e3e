//! The crash harness: a child process runs instances of two real flows on the SQLite store,
//! wellness_booking (the repository's, with Amelia bookings) and a flow with waits, fan-out and
//! retries, against one `flowc emulate` process (Notion, never killed) and a real SMTP server
//! (aiosmtpd); it is killed with SIGKILL at random points, then restarted. After the last restart
//! every instance has completed, the emulator holds every Notion page exactly once (counted
//! through its API: none lost, none twice), and the server's mailbox holds every message exactly
//! once: none lost, and the only re-transmissions are of messages whose outcome the email sent
//! log could not know (the process died between the server's `250` and our record of it),
//! re-sent with the same Message-ID, on which mailbox stores deduplicate (Cyrus's duplicate
//! delivery suppression, Sieve `duplicate`, RFC 7352).
//!
//! The child is this test binary itself, run as `crash_worker` with `FLOWC_CRASH_DIR` set.
//! `FLOWC_CRASH_LONG=1` runs 1,000 instances of each flow over 10 kills instead of 100 over 5.

#[path = "support/bookings.rs"]
#[allow(dead_code)] // the outbox readers of the `flowc serve` crash tests
mod bookings;
#[path = "support/emulate_process.rs"]
#[allow(dead_code)] // the restart helpers of tests/emulate.rs
mod emulate_process;
#[path = "support/sent_log.rs"]
mod sent_log;
#[path = "support/smtp_server.rs"]
#[allow(dead_code)] // TLS helpers of the email tests
mod smtp_server;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bookings::{assert_each_booking_filed_once, booking, PER_BOOKING};
use emulate_process::{root, Emulate};
use flowc::config::EntityConfig;
use flowc::connectors::email::EmailConnector;
use flowc::connectors::notion::NotionConnector;
use flowc::connectors::Grants;
use flowc::runtime::{Engine, EventKind, InstanceRecord, Store};
use flowc::store::{Durability, SqliteStore};
use flowc::Project;
use rand::Rng;
use sent_log::in_doubt_message_ids;
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

/// Emails each crashy instance sends.
const PER_INSTANCE: usize = 3;

/// The email connector's default `max_connections`: the SMTP transactions in flight at once, so
/// the most messages a kill can leave in doubt.
const MAX_CONNECTIONS: usize = 4;

fn sizes() -> (usize, usize) {
    let (total, kills) = if std::env::var_os("FLOWC_CRASH_LONG").is_some() {
        (1000, 10)
    } else {
        (100, 5)
    };
    let kills = std::env::var("FLOWC_CRASH_KILLS")
        .ok()
        .and_then(|k| k.parse().ok())
        .unwrap_or(kills);
    (total, kills)
}

/// Instance `n` of the run: even ones crashy, odd ones a booking, so that a restart knows from
/// the count of instances started which one comes next.
fn instance(n: usize) -> (&'static str, serde_json::Value) {
    if n.is_multiple_of(2) {
        let n = n / 2;
        return ("crashy", json!({ "to": format!("c{n}@client.example"), "n": n }));
    }
    ("wellness_booking", booking(n / 2))
}

/// Whether the worker started `record` (not an event, not a parent flow).
fn started_here(record: &InstanceRecord) -> bool {
    record.parent.is_none()
        && matches!(
            record.flow.as_str(),
            "flows.crashy.crashy" | "flows.wellness_booking.wellness_booking"
        )
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
    let notion = std::env::var("FLOWC_CRASH_NOTION").unwrap();
    let total: usize = std::env::var("FLOWC_CRASH_TOTAL").unwrap().parse().unwrap();
    let mut project = Project::load(root()).unwrap();
    project.add_sources(vec![(root().join("flows/crashy.flow"), FLOW.to_string())]);
    let config = &mut project.config;
    config.entities.insert(
        "shop".into(),
        EntityConfig {
            email_from: Some("Shop <shop@shop.example>".into()),
            ..EntityConfig::default()
        },
    );
    let notion_table = config.connectors.entry("notion".into()).or_default();
    notion_table.insert("base_url".into(), notion.into());
    notion_table.insert("requests_per_second".into(), 1000.0.into());
    notion_table.insert("burst".into(), 1000.into());
    let mail = config.connectors.entry("email".into()).or_default();
    mail.remove("outbox");
    mail.insert("url".into(), smtp.into());
    mail.insert(
        "sent_log".into(),
        dir.join(".flowc/email").to_string_lossy().into_owned().into(),
    );
    let tokens: HashMap<String, String> = config
        .entities
        .iter()
        .filter_map(|(name, e)| Some((e.notion_token_env.clone()?, format!("secret_emulated_{name}"))))
        .collect();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let email = EmailConnector::from_config(&project.config, &dir).unwrap();
        let notion = NotionConnector::from_config_with_env(&project.config, |name| tokens.get(name).cloned())
            .unwrap()
            .with_grants(Grants::from_project(&project));
        let store = Arc::new(SqliteStore::open(&dir.join("flowc.db"), Durability::Normal).unwrap());
        let engine = Engine::builder()
            .project_value(project)
            .connector(Arc::new(email))
            .connector(Arc::new(notion))
            .store(store.clone())
            .build()
            .unwrap();
        let mut ids = engine.recover().await;
        let started = store.records().iter().filter(|r| started_here(r)).count();
        for n in started..2 * total {
            let (flow, input) = instance(n);
            ids.push(engine.start(flow, input).await.unwrap());
        }
        for id in ids {
            engine.output(&id).await.unwrap();
        }
        // A new client starts multi_entity_coordination (`on event "contact.created"`): those
        // instances must end too before the process does.
        while store.records().iter().any(|r| r.status == "running") {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
}

fn spawn_worker(dir: &Path, smtp: &str, notion: &str, total: usize) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_worker", "--nocapture", "--test-threads", "1"])
        .env("FLOWC_CRASH_DIR", dir)
        .env("FLOWC_CRASH_SMTP", smtp)
        .env("FLOWC_CRASH_NOTION", notion)
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
    let world = tempfile::tempdir().unwrap();
    let emulate = Emulate::start(world.path());
    let notion = emulate.url("notion").to_string();
    let dir = tempfile::tempdir().unwrap();
    let mut rng = rand::rng();
    let mut in_doubt = HashSet::new();
    for _ in 0..kills {
        let mut child = spawn_worker(dir.path(), &server.url(), &notion, total);
        std::thread::sleep(Duration::from_millis(rng.random_range(200..1500)));
        child.kill().unwrap();
        child.wait().unwrap();
        in_doubt.extend(in_doubt_message_ids(&dir.path().join(".flowc/email/sent.jsonl")));
    }
    // The last restart runs to the end.
    let mut child = spawn_worker(dir.path(), &server.url(), &notion, total);
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
    let records = store.records();
    let unfinished: Vec<_> = records.iter().filter(|r| r.status != "completed").collect();
    assert!(unfinished.is_empty(), "{unfinished:?}");
    let flows: std::collections::BTreeSet<&str> = records.iter().map(|r| r.flow.as_str()).collect();
    let roots: Vec<_> = records.iter().filter(|r| started_here(r)).collect();
    assert_eq!(roots.len(), 2 * total, "{flows:?}");

    let expected = total * (PER_INSTANCE + PER_BOOKING);
    let messages = server.wait_for(expected);
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
        "crash harness: {total} crashy + {total} bookings ({} instances with events and sub-flows), {kills} kills, {} transmissions, {} distinct messages, {} in doubt at a kill, {} re-sent",
        store.records().len(),
        messages.len(),
        by_id.len(),
        in_doubt.len(),
        resent.len()
    );
    // A re-send with a new Message-ID would count here as a second message.
    assert_eq!(by_id.len(), expected, "messages were lost or duplicated");
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
    // Notion, counted at the emulator: one client and one session per booking, none twice.
    assert_each_booking_filed_once(&notion, total);
    // The journal: no step of any crashy instance completed twice, and none was left behind.
    for r in roots.iter().filter(|r| r.flow == "flows.crashy.crashy") {
        let mut done: HashMap<String, usize> = HashMap::new();
        for e in store.history(&r.id) {
            if let EventKind::StepSucceeded { step, .. } = e.kind {
                *done.entry(step.to_string()).or_default() += 1;
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
