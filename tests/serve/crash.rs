//! `flowc serve` killed mid-way: 200 Amelia bookings posted to a host talking to a `flowc
//! emulate` process (Notion, and the SMTP server counting the messages), the host SIGKILLed while
//! it works through them and restarted on the same state folder. Every booking completes, each
//! client and session is in Notion once, each message reached the SMTP server once (a message in
//! doubt at the kill may be transmitted again, with its Message-ID, see
//! docs/connectors/email.md).

#[path = "../support/bookings.rs"]
pub(super) mod bookings;
#[path = "../support/emulate_process.rs"]
#[allow(dead_code)] // the restart helpers of tests/emulate.rs
pub(super) mod emulate_process;
#[path = "../support/sent_log.rs"]
mod sent_log;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use flowc::runtime::Store;
use flowc::store::{Durability, SqliteStore};
use rand::Rng;

use super::cli::start;
use bookings::{
    assert_each_booking_filed_once, booking, booking_message_ids as message_ids, messages_sent_twice_over,
    PER_BOOKING,
};
use emulate_process::{root, Emulate};
use sent_log::in_doubt_message_ids;

const BOOKINGS: usize = 200;
/// The email connector's default `max_connections`: the most messages one kill leaves in doubt.
const MAX_CONNECTIONS: usize = 4;
const API_TOKEN: &str = "crash-api-token";

fn host(state: &Path, emulator: &str) -> (std::process::Child, String) {
    let env = [
        ("AMELIA_WEBHOOK_TOKEN", "amelia-url-token"),
        ("TYPEFORM_WEBHOOK_SECRET", "typeform-secret"),
        ("SHOPIFY_WEBHOOK_SECRET", "shopify-secret"),
        ("FLOWC_API_TOKEN", API_TOKEN),
    ];
    start(root(), state, &["--emulator", emulator], &env)
}

#[test]
fn a_host_killed_mid_way_finishes_every_booking_once_after_its_restart() {
    let world = tempfile::tempdir().unwrap();
    let emulate = Emulate::start(world.path());
    let emulator = emulate.url("emulator").to_string();
    let state = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = reqwest::Client::new();

    let (mut child, base) = host(state.path(), &emulator);
    let url = format!("{base}/hooks/the-7-space/bookings?token=amelia-url-token");
    let mut ids = Vec::new();
    for n in 0..BOOKINGS {
        let answer: serde_json::Value = runtime.block_on(async {
            let r = client.post(&url).json(&booking(n)).send().await.unwrap();
            assert_eq!(r.status().as_u16(), 202, "booking {n}");
            r.json().await.unwrap()
        });
        ids.push(answer["instance"].as_str().unwrap().to_string());
    }
    // Killed while it works through them: once a random share of the messages went out.
    let outbox = world.path().join("outbox");
    let target = rand::rng().random_range(10..BOOKINGS * PER_BOOKING / 2);
    let deadline = Instant::now() + Duration::from_secs(60);
    while message_ids(&outbox).len() < target {
        assert!(
            Instant::now() < deadline,
            "fewer than {target} messages in a minute"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let in_doubt: HashSet<String> = in_doubt_message_ids(&state.path().join("email/sent.jsonl"))
        .into_iter()
        .collect();
    let before = message_ids(&outbox).len();

    let (mut child, base) = host(state.path(), &emulator);
    let deadline = Instant::now() + Duration::from_secs(180);
    // The host knows the instances it recovered (and those they start): wait until none runs.
    let running = || -> serde_json::Value {
        runtime.block_on(async {
            let r = client
                .get(format!("{base}/api/instances"))
                .bearer_auth(API_TOKEN)
                .send()
                .await
                .unwrap();
            r.json().await.unwrap()
        })
    };
    loop {
        let known = running();
        let unfinished: Vec<&serde_json::Value> = known["instances"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["status"] != "completed")
            .collect();
        if unfinished.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} instances unfinished after the restart, e.g. {}",
            unfinished.len(),
            unfinished[0]
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap();

    // The journal: every booking the host answered 202 for completed, and nothing else runs.
    let store = SqliteStore::open(&state.path().join("flowc.db"), Durability::Full).unwrap();
    let records = store.records();
    let unfinished: Vec<_> = records.iter().filter(|r| r.status != "completed").collect();
    assert!(unfinished.is_empty(), "{unfinished:?}");
    let known: HashSet<&str> = records.iter().map(|r| r.id.as_str()).collect();
    for id in &ids {
        assert!(
            known.contains(id.as_str()),
            "booking {id} was answered 202 but is not in the journal"
        );
    }

    assert_each_booking_filed_once(emulate.url("notion"), BOOKINGS);
    let transmissions = message_ids(&outbox);
    let mut by_id: HashMap<&str, usize> = HashMap::new();
    for id in &transmissions {
        *by_id.entry(id).or_default() += 1;
    }
    let resent: Vec<&str> = by_id.iter().filter(|(_, n)| **n > 1).map(|(id, _)| *id).collect();
    eprintln!(
        "serve crash: {BOOKINGS} bookings, {before} messages before the kill, {} transmissions, {} distinct, {} in doubt, {} re-sent",
        transmissions.len(),
        by_id.len(),
        in_doubt.len(),
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
    assert!(resent.len() <= MAX_CONNECTIONS, "{resent:?}");
    for id in resent {
        assert!(
            in_doubt.contains(id),
            "{id} was sent twice but was not in doubt at the kill"
        );
        assert_eq!(by_id[id], 2, "{id}");
    }
}
