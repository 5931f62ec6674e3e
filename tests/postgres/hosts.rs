//! Three `flowc serve` hosts on one database against one `flowc emulate`: 500 Amelia bookings
//! posted round-robin, one host SIGKILLed while they run, a second one killed and restarted on
//! its state folder, and PostgreSQL restarted under load. Every booking completes, each client
//! and session is in Notion once, and each message reached the SMTP server once: the hosts keep
//! the email sent log in the database, so a host that takes an instance over sees what the
//! killed host sent.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use flowc::runtime::Store;
use flowc::store::PostgresStore;

use super::bookings::{
    assert_each_booking_filed_once, booking, booking_message_ids as message_ids, messages_sent_twice_over,
    PER_BOOKING,
};
use super::cluster::Cluster;
use super::emulate_process::{root, Emulate};

const BOOKINGS: usize = 500;
/// Long enough for a leaseholder to outlive the database's restart (no live host loses its
/// instances), short enough that the killed host's are taken over soon.
const LEASE_SECS: &str = "10";

fn host(state: &Path, emulator: &str, store: &str) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_flowc"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--store-lease",
            LEASE_SECS,
            "--emulator",
            emulator,
            "--store",
            store,
        ])
        .arg("--state")
        .arg(state)
        .arg(root())
        .env("NO_COLOR", "1")
        .env("AMELIA_WEBHOOK_TOKEN", "amelia-url-token")
        .env("TYPEFORM_WEBHOOK_SECRET", "typeform-secret")
        .env("SHOPIFY_WEBHOOK_SECRET", "shopify-secret")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let base = loop {
        let line = lines.next().expect("flowc serve says where it listens").unwrap();
        if let Some(url) = line.strip_prefix("listening on ") {
            break url.to_string();
        }
    };
    // Kept for the failure messages: what went wrong inside a host is only in its log.
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            if line.contains("ERROR") || line.contains("WARN") {
                let mut kept = HOST_LOGS.lock().unwrap_or_else(|e| e.into_inner());
                kept.push(line);
            }
        }
    });
    (child, base)
}

/// The warnings and errors the hosts logged.
static HOST_LOGS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// The hosts' last warnings and errors, for a failure message.
fn host_logs() -> String {
    let kept = HOST_LOGS.lock().unwrap_or_else(|e| e.into_inner());
    let tail = &kept[kept.len().saturating_sub(40)..];
    format!(
        "{} warnings and errors in the hosts' logs; the last:\n{}",
        kept.len(),
        tail.join("\n")
    )
}

fn sigterm(child: &mut Child) {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap();
}

#[test]
fn three_hosts_finish_every_booking_once_through_a_kill_a_restart_and_a_database_restart() {
    let server = Cluster::own("flowc-postgres-hosts");
    let url = server.database();
    let world = tempfile::tempdir().unwrap();
    let emulate = Emulate::start(world.path());
    let emulator = emulate.url("emulator").to_string();
    let states: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut hosts: Vec<(Child, String)> = states.iter().map(|s| host(s.path(), &emulator, &url)).collect();

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = reqwest::Client::new();
    let bases: Vec<String> = hosts.iter().map(|h| h.1.clone()).collect();
    let ids: Vec<String> = runtime.block_on(async {
        use futures::StreamExt;
        futures::stream::iter(0..BOOKINGS)
            .map(|n| {
                let url = format!(
                    "{}/hooks/the-7-space/bookings?token=amelia-url-token",
                    bases[n % 3]
                );
                let client = client.clone();
                async move {
                    let r = client.post(&url).json(&booking(n)).send().await.unwrap();
                    let status = r.status().as_u16();
                    assert_eq!(
                        status,
                        202,
                        "booking {n}: {}\n{}",
                        r.text().await.unwrap_or_default(),
                        host_logs()
                    );
                    let answer: serde_json::Value = r.json().await.unwrap();
                    answer["instance"].as_str().unwrap().to_string()
                }
            })
            .buffered(16)
            .collect()
            .await
    });

    // Host 0 is killed while they run; host 1 is killed and starts again on its state folder
    // (a SIGTERM would fail the sub-flow calls it has in hand: the engine refuses to start a
    // sub-flow while shutting down); then the database restarts under the hosts.
    let outbox = world.path().join("outbox");
    let deadline = Instant::now() + Duration::from_secs(60);
    while message_ids(&outbox).len() < BOOKINGS * PER_BOOKING / 5 {
        assert!(Instant::now() < deadline, "too few messages in a minute");
        std::thread::sleep(Duration::from_millis(5));
    }
    hosts[0].0.kill().unwrap();
    hosts[0].0.wait().unwrap();
    let before = message_ids(&outbox).len();
    hosts[1].0.kill().unwrap();
    hosts[1].0.wait().unwrap();
    // What the sent log says of each message once the killed hosts can write no more.
    let at_kill = email_stages(&url);
    hosts[1] = host(states[1].path(), &emulator, &url);
    server.stop();
    std::thread::sleep(Duration::from_millis(500));
    server.restart();

    let store = PostgresStore::open(&url).unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let records = store.records();
        let done = records
            .iter()
            .filter(|r| ids.contains(&r.id) && r.status == "completed")
            .count();
        if done == BOOKINGS {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{done} of {BOOKINGS} bookings completed; unfinished: {:?}; not in the store: {:?}\n{}",
            records
                .iter()
                .filter(|r| r.status != "completed")
                .take(3)
                .collect::<Vec<_>>(),
            ids.iter()
                .filter(|id| !records.iter().any(|r| &r.id == *id))
                .take(3)
                .collect::<Vec<_>>(),
            host_logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    for h in hosts.iter_mut().skip(1) {
        sigterm(&mut h.0);
    }
    let unfinished: Vec<_> = store
        .records()
        .into_iter()
        .filter(|r| r.status != "completed")
        .collect();
    assert!(unfinished.is_empty(), "{unfinished:?}");

    assert_each_booking_filed_once(emulate.url("notion"), BOOKINGS);
    let transmissions = message_ids(&outbox);
    let mut by_id: HashMap<&str, usize> = HashMap::new();
    for id in &transmissions {
        *by_id.entry(id).or_default() += 1;
    }
    let resent: Vec<&str> = by_id.iter().filter(|(_, n)| **n > 1).map(|(id, _)| *id).collect();
    eprintln!(
        "three hosts: {BOOKINGS} bookings, {before} messages before the kill, {} transmissions, {} distinct, {} re-sent",
        transmissions.len(),
        by_id.len(),
        resent.len()
    );
    assert!(
        before < BOOKINGS * PER_BOOKING,
        "the kill came after the work was done"
    );
    assert_eq!(
        by_id.len(),
        BOOKINGS * PER_BOOKING,
        "messages were lost or duplicated; sent under more than one Message-ID:\n{}",
        messages_sent_twice_over(&outbox)
    );
    // The sent log is in the database: every message is recorded there as sent, whichever
    // host sent it.
    let at_end = email_stages(&url);
    let recorded_sent = by_id
        .keys()
        .filter(|id| at_end.get(**id).is_some_and(|s| s == "sent"))
        .count();
    assert_eq!(
        recorded_sent,
        by_id.len(),
        "messages the database's sent log does not hold as sent"
    );
    // A host that takes over a killed host's instance sees what that host sent: no message the
    // log held as sent when the hosts were killed went again. Only messages in doubt may (the
    // SMTP window: the server accepted them, the killed host had not recorded it yet; they go
    // again with their Message-ID, which receivers deduplicate on: docs/connectors/email.md).
    let known_sent_twice: Vec<&&str> = resent
        .iter()
        .filter(|id| at_kill.get(**id).is_some_and(|s| s == "sent"))
        .collect();
    assert!(
        known_sent_twice.is_empty(),
        "sent twice though recorded as sent: {known_sent_twice:?}"
    );
}

/// Each email's stage (`intent`, `sent`) in the database's sent log, by Message-ID.
fn email_stages(url: &str) -> HashMap<String, String> {
    let url = url.to_string();
    std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        c.query("SELECT record FROM effects WHERE log = 'email.sent'", &[])
            .unwrap()
            .iter()
            .map(|row| {
                let record: serde_json::Value = serde_json::from_str(row.get(0)).unwrap();
                (
                    record["message_id"].as_str().unwrap().to_string(),
                    record["stage"].as_str().unwrap_or("sent").to_string(),
                )
            })
            .collect()
    })
    .join()
    .unwrap()
}
