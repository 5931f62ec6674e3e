//! Amelia bookings for the crash tests, each its own client, phone and hour, and the check that
//! the Notion emulator filed each one's client and session exactly once.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use super::emulate_process::{pages, root, text};

/// The 7 Space's databases (flowc.toml): a booking files its client and its session.
const CONTACTS: &str = "f10c0007000000000000000000000002";
const SESSIONS: &str = "f10c0007000000000000000000000005";

/// Emails each booking sends: the confirmation and the practitioner's notice (the session is in
/// the past, so no reminder is due).
pub const PER_BOOKING: usize = 2;

/// Booking `n`: the repository's example Amelia booking (examples/inputs/wellness_booking.json)
/// with client `bN@client.example`, booking id `60000 + N`, and an hour of its own (in the past:
/// no reminder waits), so every one confirms a session with the requested practitioner.
pub fn booking(n: usize) -> serde_json::Value {
    let mut booking: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("examples/inputs/wellness_booking.json")).unwrap(),
    )
    .unwrap();
    let start = chrono::NaiveDate::from_ymd_opt(2025, 1, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        + chrono::Duration::hours(n as i64);
    let format = |t: chrono::NaiveDateTime| t.format("%Y-%m-%d %H:%M:%S").to_string();
    booking["appointment"]["bookingStart"] = format(start).into();
    booking["appointment"]["bookingEnd"] = format(start + chrono::Duration::hours(1)).into();
    booking["bookings"][0]["id"] = (60000 + n).into();
    booking["bookings"][0]["customer"]["email"] = format!("b{n}@client.example").into();
    // A known phone number would file the booking under that contact.
    booking["bookings"][0]["customer"]["phone"] = format!("+44 7700 9{n:05}").into();
    booking
}

/// Counts, through the Notion API of the emulator at `notion`, the client (by email) and the
/// session (by external id) of bookings `0..total`: each must be there exactly once.
pub fn assert_each_booking_filed_once(notion: &str, total: usize) {
    for (database, property, name) in [
        (CONTACTS, "Email", "client"),
        (SESSIONS, "External ID", "session"),
    ] {
        let mut by_booking: HashMap<String, usize> = HashMap::new();
        for page in pages(notion, database) {
            let value = match page["properties"][property]["type"].as_str() {
                Some("email") => page["properties"][property]["email"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                _ => text(&page, property),
            };
            *by_booking.entry(value).or_default() += 1;
        }
        for n in 0..total {
            let value = match name {
                "client" => format!("b{n}@client.example"),
                _ => format!("amelia-{}", 60000 + n),
            };
            let count = by_booking.get(&value).copied().unwrap_or(0);
            assert_eq!(
                count, 1,
                "the {name} of booking {n} ({value}) is in Notion {count} times"
            );
        }
    }
}

/// A transmission the SMTP server received: its Message-ID, To and Subject.
pub struct Sent {
    pub message_id: String,
    pub to: String,
    pub subject: String,
}

/// Every `.eml` file in `outbox`, one per transmission (a file still being written is skipped).
pub fn transmissions(outbox: &Path) -> Vec<Sent> {
    std::fs::read_dir(outbox)
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let path = e.ok()?.path();
            (path.extension()? == "eml").then_some(path)
        })
        .filter_map(|path| {
            let text = std::fs::read_to_string(&path).ok()?;
            let headers = text.split("\r\n\r\n").next().unwrap_or("");
            let header = |name: &str| {
                headers.lines().find_map(|l| {
                    let (n, v) = l.split_once(':')?;
                    n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
                })
            };
            Some(Sent {
                message_id: header("message-id")?,
                to: header("to").unwrap_or_default(),
                subject: header("subject").unwrap_or_default(),
            })
        })
        .collect()
}

/// The Message-ID of each transmission of the bookings' messages: the confirmations (to the
/// bookings' clients, `bN@client.example`) and the practitioner's notices (`New session: …`).
/// Other flows of the project send their own meanwhile: system_monitoring's health check runs
/// every five minutes and mails the ops team when the platform looks unwell, as it may while a
/// host is down.
pub fn booking_message_ids(outbox: &Path) -> Vec<String> {
    transmissions(outbox)
        .into_iter()
        .filter(|m| m.to.ends_with("@client.example") || m.subject.starts_with("New session: "))
        .map(|m| m.message_id)
        .collect()
}

/// For a failure message: each (To, Subject) sent under more than one Message-ID, with the
/// ids, and how many recipients each subject had (the recipients of the rare ones).
pub fn messages_sent_twice_over(outbox: &Path) -> String {
    let mut by_what: HashMap<(String, String), HashSet<String>> = HashMap::new();
    for m in transmissions(outbox) {
        by_what.entry((m.to, m.subject)).or_default().insert(m.message_id);
    }
    let mut by_subject: HashMap<&str, Vec<&str>> = HashMap::new();
    for (to, subject) in by_what.keys() {
        by_subject.entry(subject).or_default().push(to);
    }
    let mut lines: Vec<String> = by_what
        .iter()
        .filter(|(_, ids)| ids.len() > 1)
        .map(|((to, subject), ids)| format!("to {to}, \"{subject}\": {ids:?}"))
        .collect();
    for (subject, to) in by_subject {
        let shown = if to.len() <= 3 {
            format!(" to {to:?}")
        } else {
            String::new()
        };
        lines.push(format!("\"{subject}\": {} recipients{shown}", to.len()));
    }
    lines.join("\n")
}
