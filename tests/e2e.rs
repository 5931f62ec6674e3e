//! End to end: wellness_booking, client_onboarding and lead_nurturing from the repository's
//! `flows/`, run on the real Notion, survey and email connectors against the Notion emulator, the
//! Typeform emulator and a real SMTP server, on a virtual clock (days of waiting take no time).
//! Events arrive as in production: survey answers are submitted in Typeform and delivered to the
//! Typeform webhook flow, tasks are ticked Done in Notion and reported by the Notion-trigger flow.

#[path = "support/smtp_server.rs"]
#[allow(dead_code)] // TLS helpers of the email tests
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

fn amelia_booking(id: u32) -> Json {
    json!({
        "appointment": {
            "serviceId": 12,
            "bookingStart": "2026-01-08 10:00:00",
            "bookingEnd": "2026-01-08 11:00:00",
        },
        "bookings": [{
            "id": id,
            "customer": {
                "email": "maya@example.com", "firstName": "Maya", "lastName": "Patel",
                "phone": "+44 7700 900123",
            },
            "payments": [{ "amount": 65, "status": "paid" }],
        }],
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wellness_booking_confirms_the_session_and_reminds_the_client() {
    let w = World::new(MONDAY, studio(&[])).await;
    let id = w.start("wellness_booking", amelia_booking(1001)).await;
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
    assert!(reminders.iter().all(|s| s.to == "maya@example.com"));
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
    let id = w.start("wellness_booking", amelia_booking(1002)).await;
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

// ---------------------------------------------------------------------------------------------
// client_onboarding (AM Consulting). Sam Lee of Acme Ltd becomes a client on Monday 5 January.

fn consulting() -> Json {
    json!({ "entities": { "am_consulting": {
        "ContactProfile": [
            { "key": "sam", "properties": {
                "Full Name": "Sam Lee", "Email": "sam@acme.example", "Company": "Acme Ltd",
                "Contact Type": "Client", "Status": "Client", "Preferred Channel": "Email" } },
        ],
        "ProductService": [
            { "key": "growth", "properties": {
                "Name": "Growth Sprint", "Type": "Consulting Package", "Status": "Available",
                "Needs Covered": ["Strategy", "Growth", "Marketing"] } },
            { "properties": {
                "Name": "Finance Health Check", "Type": "Consulting Package", "Status": "Available",
                "Needs Covered": ["Finance"] } },
        ],
    }}})
}

fn sams_answers() -> Json {
    json!({
        "full_name": "Sam Lee",
        "email": "sam@acme.example",
        "services": ["Strategy and planning"],
        "needs": ["Strategy", "Growth"],
        "goals": "Double our recurring revenue.",
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_onboarding_matches_the_answered_survey_to_a_package() {
    let w = World::new(MONDAY, consulting()).await;
    let sam = w.key("sam");
    let id = w.start("client_onboarding", json!({ "id": sam })).await;

    // A day later Sam answers the survey they were sent.
    w.until("2026-01-06T09:00:00Z").await;
    let forms = w.typeform.form_ids();
    assert_eq!(forms.len(), 1);
    let form = w.typeform.form(&forms[0]).unwrap();
    assert_eq!(form["title"], "AM Consulting: your needs in ten minutes");
    let response = w
        .answer_survey(&forms[0], sams_answers(), json!({ "client_id": sam }))
        .await;
    let out = w.finish(&id).await.unwrap().to_json();

    assert_eq!(out["client_profile_id"], json!(sam));
    assert_eq!(out["assessment_id"], json!(forms[0]));
    assert_eq!(out["match_score"], 1.0);
    assert_eq!(out["human_review"], false);

    let surveys = w.pages("am_consulting", "FeedbackSurvey");
    assert_eq!(surveys.len(), 1);
    assert_eq!(surveys[0]["Status"], "Completed");
    assert_eq!(surveys[0]["Response ID"], json!(response));
    assert_eq!(surveys[0]["Answers"], "Strategy, Growth");
    assert_eq!(surveys[0]["Related"], json!([sam]));

    let project = w
        .pages("am_consulting", "ProductService")
        .into_iter()
        .find(|p| p["Type"] == "Client Project")
        .expect("a client project");
    assert_eq!(out["project_id"], project["id"]);
    assert_eq!(project["Name"], "Acme Ltd: consulting project");
    assert_eq!(project["Status"], "Planned");
    assert_eq!(project["Client"], json!([sam]));
    assert_eq!(project["Package"], json!([w.key("growth")]));
    assert_eq!(project["Needs Covered"], json!(["Strategy", "Growth"]));
    assert_eq!(project["Match Score"], 1.0);

    // The three first tasks, due 2, 7 and 14 days after the answer; no review task.
    let mut tasks = w.pages("am_consulting", "Task");
    tasks.sort_by_key(|t| t["Due Date"].as_str().unwrap().to_string());
    let names: Vec<&str> = tasks.iter().map(|t| t["Task Name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "Kick-off call: Sam Lee",
            "Discovery workshop: Sam Lee",
            "Proposal and milestone plan: Sam Lee"
        ]
    );
    for (task, due) in tasks.iter().zip([
        "2026-01-08T09:00:00Z",
        "2026-01-13T09:00:00Z",
        "2026-01-20T09:00:00Z",
    ]) {
        assert_near(at(task["Due Date"].as_str().unwrap()), due);
        assert_eq!(task["Related Project"], json!([project["id"]]));
        assert_eq!(task["Assignee"], "team@amconsulting.example");
    }

    // The invitation at once, no reminder, the welcome after the answer.
    assert_near(w.sent_with("survey_invitation")[0].at, MONDAY);
    assert!(w.sent_with("survey_reminder").is_empty());
    assert_near(w.sent_with("client_welcome")[0].at, "2026-01-06T09:00:00Z");
    let received = w.received(2);
    let invitation = message(
        &received,
        "sam@acme.example",
        "AM Consulting: your needs in ten minutes",
    );
    let text = invitation.part("text/plain").unwrap();
    assert!(text.contains(&format!("/to/{}", forms[0])), "{text}");
    let welcome = message(&received, "sam@acme.example", "Welcome to AM Consulting, Sam");
    assert!(welcome.header("From").contains("hello@amconsulting.example"));
    assert!(welcome
        .part("text/plain")
        .unwrap()
        .contains(project["url"].as_str().unwrap()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_onboarding_without_an_answer_goes_through_a_consultants_call() {
    let w = World::new(MONDAY, consulting()).await;
    let sam = w.key("sam");
    let id = w.start("client_onboarding", json!({ "id": sam })).await;

    // No answer: a reminder after three days, and after seven a task to call Sam.
    w.until("2026-01-12T12:00:00Z").await;
    assert_near(w.sent_with("survey_reminder")[0].at, "2026-01-08T09:00:00Z");
    let tasks = w.pages("am_consulting", "Task");
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    let call = &tasks[0];
    assert_eq!(
        call["Task Name"],
        "Call Sam Lee to go through the needs assessment"
    );
    assert_eq!(call["Status"], "To Do");
    assert_near(w.sent_with("task_assigned")[0].at, "2026-01-12T09:00:00Z");

    // On the phone the consultant fills in the form with Sam, then ticks the task Done.
    let form = w.typeform.form_ids()[0].clone();
    w.typeform
        .submit(
            &form,
            "2026-01-12T12:00:00Z",
            sams_answers(),
            json!({ "client_id": sam }),
        )
        .unwrap();
    w.tick_task_done("am_consulting_task_done", call["id"].as_str().unwrap())
        .await;
    let out = w.finish(&id).await.unwrap().to_json();

    assert_eq!(out["match_score"], 1.0, "{out}");
    assert_eq!(out["human_review"], false);
    let surveys = w.pages("am_consulting", "FeedbackSurvey");
    assert_eq!(surveys[0]["Status"], "Completed");
    assert_eq!(surveys[0]["Answers"], "Strategy, Growth");
    // Not escalated: it was done within its two days.
    assert!(w.sent_with("task_escalated").is_empty());
    assert_near(w.sent_with("client_welcome")[0].at, "2026-01-12T12:00:00Z");
    assert_eq!(w.pages("am_consulting", "Task").len(), 4);
}

// ---------------------------------------------------------------------------------------------
// lead_nurturing (AM Consulting). Jo Rivers of Northwind fills in the enquiry form on Monday
// 5 January at 09:00 and replies to the second follow-up.

fn enquiry() -> Json {
    json!({
        "event_id": "evt-01",
        "event_type": "form_response",
        "form_response": {
            "form_id": "lead-form",
            "token": "tok-01",
            "submitted_at": MONDAY,
            "answers": [
                { "type": "text", "field": { "id": "f1", "ref": "name", "type": "short_text" },
                  "text": "Jo Rivers" },
                { "type": "email", "field": { "id": "f2", "ref": "email", "type": "email" },
                  "email": "jo@northwind.example" },
                { "type": "phone_number",
                  "field": { "id": "f3", "ref": "phone", "type": "phone_number" },
                  "phone_number": "+44 20 7946 0000" },
                { "type": "text", "field": { "id": "f4", "ref": "company", "type": "short_text" },
                  "text": "Northwind" },
                { "type": "choice",
                  "field": { "id": "f5", "ref": "interest", "type": "multiple_choice" },
                  "choice": { "label": "Growth strategy" } },
                { "type": "text", "field": { "id": "f6", "ref": "message", "type": "long_text" },
                  "text": "We want to expand to Europe." },
            ],
        },
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lead_nurturing_alerts_qualifies_invites_and_follows_up_until_a_reply() {
    let w = World::new(MONDAY, json!({ "entities": {} })).await;
    let id = w.start("lead_nurturing", enquiry()).await;

    // Follow-ups go 1, 2, 5, 10, 21 days after the invitation (11:00); Jo replies on day 3.
    w.until("2026-01-08T12:00:00Z").await;
    let jo = w
        .pages("am_consulting", "ContactProfile")
        .into_iter()
        .find(|c| c["Email"] == "jo@northwind.example")
        .expect("Jo is a contact");
    w.notion
        .update_page(
            jo["id"].as_str().unwrap(),
            json!({ "Replied": { "checkbox": true } }),
        )
        .unwrap();
    let out = w.finish(&id).await.unwrap().to_json();

    assert_eq!(out["contact_id"], jo["id"]);
    assert_eq!(out["team_alerted"], true);
    assert_eq!(out["consultation_sent"], true);
    assert_eq!(out["nurtured"], true);
    let jo = w
        .pages("am_consulting", "ContactProfile")
        .into_iter()
        .find(|c| c["Email"] == "jo@northwind.example")
        .unwrap();
    assert_eq!(jo["Full Name"], "Jo Rivers");
    assert_eq!(jo["Contact Type"], "Lead");
    assert_eq!(jo["Lead Source"], "Typeform");
    assert_eq!(jo["Phone"], "+44 20 7946 0000");
    assert_eq!(jo["Status"], "Contacted");
    assert_eq!(jo["Company"], "Northwind");
    assert_eq!(jo["Interest"], "Growth strategy");
    assert_eq!(jo["Notes"], "We want to expand to Europe.");

    let tasks = w.pages("am_consulting", "Task");
    assert_eq!(tasks.len(), 1);
    assert_eq!(out["qualification_task_id"], tasks[0]["id"]);
    assert_eq!(tasks[0]["Task Name"], "Qualify lead: Jo Rivers (Northwind)");
    assert_eq!(tasks[0]["Kind"], "Qualification");
    assert_eq!(tasks[0]["Related Contact"], json!([jo["id"]]));
    // Due within AM Consulting's reply time (4 h) of the task.
    assert_near(at(tasks[0]["Due Date"].as_str().unwrap()), "2026-01-05T14:00:00Z");

    assert_near(w.sent_with("lead_staff_alert")[0].at, MONDAY);
    assert_near(w.sent_with("task_assigned")[0].at, "2026-01-05T10:00:00Z");
    assert_near(
        w.sent_with("lead_consultation_invite")[0].at,
        "2026-01-05T11:00:00Z",
    );
    assert_times(
        w.sent_with("lead_follow_up").iter().map(|s| s.at).collect(),
        &["2026-01-06T11:00:00Z", "2026-01-07T11:00:00Z"],
    );
    let received = w.received(5);
    let alert = message(
        &received,
        "team@amconsulting.example",
        "New lead: Jo Rivers (Northwind): reply within 15 minutes",
    );
    let text = alert.part("text/plain").unwrap();
    assert!(text.contains("jo@northwind.example") && text.contains("We want to expand to Europe."));
    message(
        &received,
        "jo@northwind.example",
        "A free consultation about Growth strategy",
    );
    let follow_ups: Vec<_> = received
        .iter()
        .filter(|m| m.header("Subject") == "Following up: Growth strategy")
        .collect();
    assert_eq!(follow_ups.len(), 2);
}
