//! The soak: a day of the businesses' traffic (Amelia bookings, Typeform leads, Notion changes,
//! the schedules) replayed on `flowc serve --emulate --virtual-clock`, the binary, in seconds.
//! Nothing is lost (every instance of the traffic ends, each booking's confirmation is sent
//! once and no message twice) and memory stays flat (the host's resident memory, sampled at
//! checkpoints through the day, grows within a bound).
//!
//! CI runs one day with the monitoring schedule made three-hourly (the waits of the flows, up to
//! three weeks, pass on the virtual clock; at every five minutes that is 6,000 monitoring runs).
//! `FLOWC_SOAK_DAYS=N` replays N days at the real five-minute schedule, printing the figures.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use super::crash::{bookings, emulate_process};
use super::emulated::{project, Served, AMELIA_TOKEN, TYPEFORM_SECRET};

/// A day's traffic.
const BOOKINGS_PER_DAY: usize = 40;
const LEADS_PER_DAY: usize = 10;
const EVENTS_PER_DAY: usize = 4;
const CLIENTS_PER_DAY: usize = 3;

const PRODUCT_SERVICE_7: &str = "f10c0007000000000000000000000004";
const CONTACTS_AM: &str = "f10c00a3000000000000000000000002";

/// The flows the traffic starts, each of which must end.
const TRAFFIC_FLOWS: &[&str] = &[
    "wellness_booking",
    "lead_nurturing",
    "community_event",
    "exhibition_planning",
    "client_onboarding",
];

/// Resident memory of process `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Lead `n`: the repository's example Typeform submission with its own ids, name and address.
fn lead(n: usize) -> Value {
    let root = emulate_process::root();
    let text = std::fs::read_to_string(root.join("examples/inputs/lead_nurturing.json")).unwrap();
    let mut lead: Value = serde_json::from_str(&text).unwrap();
    lead["event_id"] = json!(format!("soak-lead-{n}"));
    lead["form_response"]["token"] = json!(format!("soak-token-{n}"));
    for answer in lead["form_response"]["answers"].as_array_mut().unwrap() {
        match answer["field"]["ref"].as_str() {
            Some("email") => answer["email"] = json!(format!("lead{n}@prospect.example")),
            Some("name") => answer["text"] = json!(format!("Lead {n} Rivers")),
            Some("phone") => answer["phone_number"] = json!(format!("+44 20 7946 {n:04}")),
            _ => {}
        }
    }
    lead
}

fn typeform_signature(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(TYPEFORM_SECRET.as_bytes()).unwrap();
    mac.update(body);
    format!(
        "sha256={}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

/// Each message of the outbox as (to, subject, body): what makes two sends the same message.
fn messages(outbox: &std::path::Path) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(outbox).into_iter().flatten().flatten() {
        if entry.path().extension().is_none_or(|e| e != "eml") {
            continue;
        }
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        let (head, body) = text
            .split_once("\r\n\r\n")
            .or_else(|| text.split_once("\n\n"))
            .unwrap_or((&text, ""));
        let header = |name: &str| {
            head.lines()
                .find_map(|l| l.strip_prefix(name))
                .map(|v| v.trim().to_string())
                .unwrap_or_default()
        };
        out.push((header("To:"), header("Subject:"), body.to_string()));
    }
    out
}

#[test]
fn a_day_of_traffic_loses_nothing_and_memory_stays_flat() {
    let days: usize = std::env::var("FLOWC_SOAK_DAYS")
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(0);
    let long = days > 0;
    let days = days.max(1);
    let dir = project("[serve.notion]\npoll_every = \"2s\"\n");
    // The health checks ask a closed local port: refused at once, as a host that is down, and
    // the soak depends on no network.
    let path = dir.path().join("flows/entities.flow");
    let entities = std::fs::read_to_string(&path).unwrap();
    let entities = entities
        .replace(
            "https://status.mailrelay.example/api/v2/status.json",
            "http://127.0.0.1:9/status",
        )
        .replace(
            "https://health.higherself.example/healthz",
            "http://127.0.0.1:9/healthz",
        );
    std::fs::write(&path, entities).unwrap();
    if !long {
        let path = dir.path().join("flows/system_monitoring.flow");
        let flow = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, flow.replace("\"*/5 * * * *\"", "\"0 */3 * * *\"")).unwrap();
    }
    let state = tempfile::tempdir().unwrap();
    let began = Instant::now();
    let served = Served::start_with(dir.path(), state.path(), &["--virtual-clock"]);
    let pid = served.child.id();
    let amelia = format!("{}/hooks/the-7-space/bookings?token={AMELIA_TOKEN}", served.base);
    let leads = format!("{}/hooks/am-consulting/leads", served.base);
    let (mut booked, mut led, mut events, mut clients) = (0, 0, 0, 0);
    let mut samples: Vec<(String, u64)> = Vec::new();
    // Each day in 24 slices, an hour's share of each kind of traffic per slice.
    let slices = 24 * days;
    for slice in 0..slices {
        let due = |per_day: usize| (slice + 1) * per_day / 24 - slice * per_day / 24;
        for _ in 0..due(BOOKINGS_PER_DAY) {
            let body = serde_json::to_vec(&bookings::booking(booked)).unwrap();
            let (status, answer) = served.send(
                served
                    .http
                    .post(&amelia)
                    .header("content-type", "application/json")
                    .body(body),
            );
            assert_eq!(status, 202, "booking {booked}: {answer}");
            booked += 1;
        }
        for _ in 0..due(LEADS_PER_DAY) {
            let body = serde_json::to_vec(&lead(led)).unwrap();
            let (status, answer) = served.send(
                served
                    .http
                    .post(&leads)
                    .header("content-type", "application/json")
                    .header("typeform-signature", typeform_signature(&body))
                    .body(body),
            );
            assert_eq!(status, 202, "lead {led}: {answer}");
            led += 1;
        }
        for _ in 0..due(EVENTS_PER_DAY) {
            // Every other one a community event that took place yesterday (so its feedback
            // survey is due within the week), the others an exhibition page without a date.
            let kind = if events % 2 == 0 {
                "Community Event"
            } else {
                "Exhibition"
            };
            let mut properties = json!({
                "Name": { "title": [{ "text": { "content": format!("Soak event {events}") } }] },
                "Type": { "select": { "name": kind } },
            });
            if kind == "Community Event" {
                let date = (chrono::Utc::now() - chrono::Duration::days(1)).to_rfc3339();
                properties["Event Date"] = json!({ "date": { "start": date } });
            }
            served.notion(
                reqwest::Method::POST,
                "/v1/pages",
                "the_7_space",
                Some(json!({ "parent": { "database_id": PRODUCT_SERVICE_7 }, "properties": properties })),
            );
            events += 1;
        }
        for _ in 0..due(CLIENTS_PER_DAY) {
            let contact = served.notion(
                reqwest::Method::POST,
                "/v1/pages",
                "am_consulting",
                Some(json!({
                    "parent": { "database_id": CONTACTS_AM },
                    "properties": {
                        "Full Name": { "title": [{ "text": { "content": format!("Client {clients} Okafor") } }] },
                        "Email": { "email": format!("client{clients}@clients.example") },
                        "Status": { "status": { "name": "Qualified" } },
                    },
                })),
            );
            let id = contact["id"].as_str().unwrap();
            served.notion(
                reqwest::Method::PATCH,
                &format!("/v1/pages/{id}"),
                "am_consulting",
                Some(json!({ "properties": { "Status": { "status": { "name": "Client" } } } })),
            );
            clients += 1;
        }
        if slice % 6 == 5 {
            samples.push((format!("hour {}", slice + 1), rss_kib(pid)));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // Everything the traffic started ends (the waits pass on the virtual clock).
    let expected: HashMap<&str, usize> = HashMap::from([
        ("wellness_booking", booked),
        ("lead_nurturing", led),
        ("community_event", events),
        ("exhibition_planning", events),
        ("client_onboarding", clients),
    ]);
    let deadline = Instant::now() + Duration::from_secs(if long { 3600 } else { 120 });
    let ended = loop {
        let mut open = Vec::new();
        let mut by_flow: HashMap<String, Vec<Value>> = HashMap::new();
        for flow in TRAFFIC_FLOWS {
            let list = served.instances(flow);
            open.extend(
                list.iter()
                    .filter(|i| matches!(i["status"].as_str(), Some("running" | "waiting")))
                    .map(|i| format!("{flow} {}", i["id"])),
            );
            by_flow.insert(flow.to_string(), list);
        }
        let complete = TRAFFIC_FLOWS.iter().all(|f| by_flow[*f].len() >= expected[f]);
        if complete && open.is_empty() {
            break by_flow;
        }
        assert!(
            Instant::now() < deadline,
            "still running after {:?} ({} monitoring runs): {open:?}; started {:?} of {expected:?}",
            began.elapsed(),
            served.instances("system_monitoring").len(),
            by_flow.iter().map(|(f, l)| (f, l.len())).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    samples.push(("all ended".into(), rss_kib(pid)));
    // The schedule fired once per due time on the virtual clock: runs one period apart, none
    // twice, none missed.
    let period = if long { 5 * 60 } else { 3 * 3600 };
    let mut runs: Vec<chrono::DateTime<chrono::Utc>> = served
        .instances("system_monitoring")
        .iter()
        .filter_map(|i| i["started_at"].as_str()?.parse().ok())
        .collect();
    runs.sort();
    let monitoring = runs.len();
    assert!(
        monitoring >= 8 * days,
        "{monitoring} monitoring runs in {days} day(s)"
    );
    for pair in runs.windows(2) {
        let gap = (pair[1] - pair[0]).num_seconds();
        assert!(
            gap > period / 2 && gap < period * 3 / 2,
            "monitoring ran at {} then {}: {gap} s apart, the schedule is every {period} s",
            pair[0],
            pair[1]
        );
    }
    for flow in TRAFFIC_FLOWS {
        let list = &ended[*flow];
        assert_eq!(
            list.len(),
            expected[flow],
            "{flow}: one instance per change or request"
        );
        let failed: Vec<&Value> = list.iter().filter(|i| i["status"] != "completed").collect();
        assert!(failed.is_empty(), "{flow} did not complete: {failed:#?}");
    }
    let outbox = messages(&state.path().join("outbox"));
    for n in 0..booked {
        let to = format!("b{n}@client.example");
        let count = outbox.iter().filter(|(t, _, _)| t.contains(&to)).count();
        assert_eq!(count, 1, "booking {n}'s confirmation was sent {count} times");
    }
    let mut seen = HashMap::new();
    for message in &outbox {
        *seen.entry(message).or_insert(0) += 1;
    }
    let twice: Vec<_> = seen
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(m, n)| (&m.0, &m.1, n))
        .collect();
    assert!(twice.is_empty(), "messages sent more than once: {twice:?}");
    served.stop();
    let warm = samples[0].1;
    let peak = samples.iter().map(|(_, kib)| *kib).max().unwrap_or(0);
    eprintln!(
        "soak: {days} day(s), {booked} bookings, {led} leads, {events} Notion pages created, {clients} contacts made clients, {monitoring} monitoring runs, {} messages, in {:.1}s; RSS (KiB) {samples:?}",
        outbox.len(),
        began.elapsed().as_secs_f64()
    );
    // Flat: after the first quarter of the day, the host grows by less than 48 MiB (its
    // journal cache and the instances it lists stay bounded by what one day holds).
    assert!(
        peak.saturating_sub(warm) < 48 * 1024 * days as u64,
        "memory grew from {warm} KiB to {peak} KiB: {samples:?}"
    );
}
