//! End to end: wellness_booking, client_onboarding and lead_nurturing from the repository's
//! `flows/`, run on the real Notion, survey and email connectors against the Notion emulator, the
//! Typeform emulator and a real SMTP server, on a virtual clock (days of waiting take no time).
//! Events arrive as in production: survey answers are submitted in Typeform and delivered to the
//! Typeform webhook flow, tasks are ticked Done in Notion and reported by the Notion-trigger flow.

#[path = "support/smtp_server.rs"]
mod smtp_server;
#[path = "e2e/world.rs"]
mod world;

use chrono::{DateTime, Utc};
use serde_json::{json, Value as Json};
use world::{at, message, World};

/// Whether `t` is `expected` give or take a minute: the engine paces calls to Notion's rate
/// limit (3 a second) on the virtual clock, so a step after several Notion calls runs a moment
/// late.
#[track_caller]
fn assert_near(t: DateTime<Utc>, expected: &str) {
    let delta = (t - at(expected)).num_seconds().abs();
    assert!(delta < 60, "{t} is not {expected}");
}

fn assert_times(times: Vec<DateTime<Utc>>, expected: &[&str]) {
    assert_eq!(times.len(), expected.len(), "{times:?} vs {expected:?}");
    for (t, e) in times.into_iter().zip(expected) {
        assert_near(t, e);
    }
}

// ---------------------------------------------------------------------------------------------
// wellness_booking (The 7 Space). Maya books Private Yoga for Thursday 8 January 10:00 on
// Monday 5 January 09:00.

const MONDAY: &str = "2026-01-05T09:00:00Z";
const SESSION: &str = "2026-01-08T10:00:00Z";

/// The studio's practitioners, the Private Yoga service and a free room; `busy` practitioners
/// already give a confirmed session at 10:00 on Thursday.
fn studio(busy: &[&str]) -> Json {
    let sessions: Vec<Json> = busy
        .iter()
        .map(|p| {
            json!({ "properties": {
                "Instance Name": format!("Private Yoga: another client of {p}"),
                "Workflow": "Wellness Booking",
                "Status": "Confirmed",
                "Practitioner": [format!("@{p}")],
                "Session Start": SESSION,
            }})
        })
        .collect();
    json!({ "entities": { "the_7_space": {
        "ContactProfile": [
            { "key": "ana", "properties": {
                "Full Name": "Ana Lopez", "Email": "ana@the7space.example",
                "Contact Type": "Practitioner", "External ID": "amelia-emp-1" } },
            { "key": "ben", "properties": {
                "Full Name": "Ben Okafor", "Email": "ben@the7space.example",
                "Contact Type": "Practitioner", "External ID": "amelia-emp-2" } },
        ],
        "ProductService": [
            { "key": "yoga", "properties": {
                "Name": "Private Yoga", "Type": "Wellness Session", "Status": "Available",
                "External ID": "svc-12", "Price": 65,
                "Lead Practitioner": ["@ana"], "Backup Practitioner": ["@ben"] } },
            { "key": "garden", "properties": {
                "Name": "Garden Room", "Type": "Room", "Status": "Available" } },
            { "properties": { "Name": "Studio Two", "Type": "Room", "Status": "Maintenance" } },
        ],
        "WorkflowInstance": sessions,
    }}})
}

fn amelia_booking(id: &str) -> Json {
    json!({ "booking": {
        "booking_id": id,
        "service_id": "svc-12",
        "starts_at": SESSION,
        "ends_at": "2026-01-08T11:00:00Z",
        "customer_info": {
            "email": "maya@example.com", "first_name": "Maya", "last_name": "Patel",
            "phone": "+44 7700 900123",
        },
        "payment_info": { "status": "paid", "amount": 65, "currency": "GBP" },
    }})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wellness_booking_confirms_the_session_and_reminds_the_client() {
    let w = World::new(MONDAY, studio(&[])).await;
    let id = w.start("wellness_booking", amelia_booking("amelia-1001")).await;
    let out = w.finish(&id).await.unwrap().to_json();

    // The client was filed, the session booked with the lead practitioner in the free room.
    let contacts = w.pages("the_7_space", "ContactProfile");
    let maya = contacts
        .iter()
        .find(|c| c["Email"] == "maya@example.com")
        .unwrap_or_else(|| panic!("Maya is not a contact: {contacts:#?}\n{out}"));
    assert_eq!(maya["Full Name"], "Maya Patel");
    assert_eq!(maya["Contact Type"], "Client");
    assert_eq!(maya["Lead Source"], "Amelia");
    assert_eq!(maya["Status"], "New");
    assert_eq!(out["booking_confirmed"], true);
    assert_eq!(out["client_id"], maya["id"]);
    assert_eq!(out["practitioner_id"], json!(w.key("ana")));
    assert_eq!(out["alternative_suggested"], false);
    assert_eq!(out["human_intervention_required"], false);

    let sessions = w.pages("the_7_space", "WorkflowInstance");
    assert_eq!(sessions.len(), 1);
    let session = &sessions[0];
    assert_eq!(out["session_id"], session["id"]);
    assert_eq!(session["Instance Name"], "Private Yoga: Maya Patel");
    assert_eq!(session["Status"], "Confirmed");
    assert_eq!(session["Client"], json!([maya["id"]]));
    assert_eq!(session["Practitioner"], json!([w.key("ana")]));
    assert_eq!(session["Room"], json!([w.key("garden")]));
    assert_eq!(session["External ID"], "amelia-1001");
    assert_eq!(session["Payment Status"], "paid");
    assert_eq!(session["Amount"], 65.0);
    assert_eq!(
        at(session["Session Start"].as_str().unwrap()),
        at(SESSION),
        "{session}"
    );
    assert!(w.pages("the_7_space", "Task").is_empty());

    // Confirmation and the practitioner's notice at once; reminders 24 h and 2 h before.
    let sent = w.sent();
    let times: Vec<(String, String)> = sent
        .iter()
        .map(|s| (s.template.clone(), s.at.to_rfc3339()))
        .collect();
    assert_eq!(sent.len(), 4, "{times:?}");
    assert_near(w.sent_with("booking_confirmation")[0].at, MONDAY);
    assert_near(w.sent_with("practitioner_new_booking")[0].at, MONDAY);
    let reminders = w.sent_with("booking_reminder");
    assert_times(
        reminders.iter().map(|s| s.at).collect(),
        &["2026-01-07T10:00:00Z", "2026-01-08T08:00:00Z"],
    );

    let received = w.received(4);
    let confirmation = message(
        &received,
        "maya@example.com",
        "Your Private Yoga session is confirmed",
    );
    assert!(confirmation.header("From").contains("hello@the7space.example"));
    let text = confirmation.part("text/plain").unwrap();
    for expected in ["Maya", "Ana Lopez", "Garden Room", "Thursday  8 January at 10:00"] {
        assert!(text.contains(expected), "{expected:?} missing from:\n{text}");
    }
    let notice = message(
        &received,
        "ana@the7space.example",
        "New session: Private Yoga, Thursday  8 January at 10:00",
    );
    assert!(notice.part("text/plain").unwrap().contains("Maya Patel"));
    message(&received, "maya@example.com", "Reminder: Private Yoga tomorrow");
    message(
        &received,
        "maya@example.com",
        "Reminder: Private Yoga in two hours",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wellness_booking_with_nobody_free_suggests_another_time_and_hands_over() {
    let w = World::new(MONDAY, studio(&["ana", "ben"])).await;
    let id = w.start("wellness_booking", amelia_booking("amelia-1002")).await;
    let out = w.finish(&id).await.unwrap().to_json();

    assert_eq!(out["booking_confirmed"], false, "{out}");
    assert_eq!(out["alternative_suggested"], true);
    assert_eq!(out["human_intervention_required"], true);
    assert_eq!(out["practitioner_id"], Json::Null);
    assert_eq!(out["session_id"], Json::Null);
    let maya = w
        .pages("the_7_space", "ContactProfile")
        .into_iter()
        .find(|c| c["Email"] == "maya@example.com")
        .unwrap();
    assert_eq!(out["client_id"], maya["id"]);
    // No new session: only the two that made everyone busy.
    assert_eq!(w.pages("the_7_space", "WorkflowInstance").len(), 2);

    // The studio team has a task to rebook Maya, due within the studio's reply time (24 h).
    let tasks = w.pages("the_7_space", "Task");
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    let task = &tasks[0];
    assert_eq!(
        task["Task Name"],
        "Rebook Maya Patel: no practitioner free for Private Yoga"
    );
    assert_eq!(task["Assignee"], "studio@the7space.example");
    assert_eq!(task["Status"], "To Do");
    assert_eq!(task["Priority"], "High");
    assert_eq!(task["Related Contact"], json!([maya["id"]]));
    assert_near(at(task["Due Date"].as_str().unwrap()), "2026-01-06T09:00:00Z");
    assert!(task["Details"].as_str().unwrap().contains("amelia-1002"));

    // Maya is offered another time; the team hears about the task. No confirmation, no reminders.
    let templates: Vec<String> = w.sent().into_iter().map(|s| s.template).collect();
    assert_eq!(templates.len(), 2, "{templates:?}");
    assert_near(w.sent_with("booking_alternative_suggested")[0].at, MONDAY);
    let received = w.received(2);
    let offer = message(&received, "maya@example.com", "About your Private Yoga booking");
    assert!(offer.part("text/plain").unwrap().contains("Maya"));
    let notice = message(
        &received,
        "studio@the7space.example",
        "[High] Rebook Maya Patel: no practitioner free for Private Yoga",
    );
    assert!(notice
        .part("text/plain")
        .unwrap()
        .contains(task["url"].as_str().unwrap()));
}
