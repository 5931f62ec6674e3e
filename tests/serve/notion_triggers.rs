//! `on notion` triggers on `flowc serve --emulate` (the binary, on a copy of the repository's
//! project): the emulator sends signed webhooks as Notion does, a created page starts
//! community_event once however often the change is seen (webhook, poll, a repeated delivery,
//! a restart), a Task set to Done through the emulator's HTTP API wakes the human task waiting
//! on it, and the instance is mirrored into the WorkflowInstance database.

use std::time::Duration;

use serde_json::json;

use super::emulated::{eventually, project, sign, Served, SEVEN_SPACE_TOKEN};

/// Polls every second and mirrors five times a second, so the test need not wait long.
const FAST: &str = "[serve.notion]\npoll_every = \"1s\"\n\n[serve.mirror]\nevery = \"200ms\"\n";

const PRODUCT_SERVICE_7: &str = "f10c0007000000000000000000000004";
const TASK_HIGHERSELF: &str = "f10c00e5000000000000000000000009";
const WORKFLOW_INSTANCE_HIGHERSELF: &str = "f10c00e5000000000000000000000005";

#[test]
fn a_created_page_starts_community_event_once_however_often_it_is_seen() {
    let dir = project(FAST);
    let state = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path(), state.path());
    // The first poll takes in the pages that exist without starting anything.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(served.instances("community_event").is_empty());
    let page = served.notion(
        reqwest::Method::POST,
        "/v1/pages",
        "the_7_space",
        Some(json!({
            "parent": { "database_id": PRODUCT_SERVICE_7 },
            "properties": {
                "Name": { "title": [{ "text": { "content": "Full Moon Sound Bath" } }] },
            },
        })),
    );
    let page_id = page["id"].as_str().unwrap().to_string();
    // A start is readable in the journal a moment before the host lists it as its own (with
    // its trigger): wait for the host's listing.
    let started = eventually("community_event to start", || {
        let list = served.instances("community_event");
        (!list.is_empty() && list.iter().all(|i| !i["trigger"].is_null())).then_some(list)
    });
    assert_eq!(started.len(), 1, "{started:#?}");
    assert_eq!(started[0]["trigger"], "notion");
    // Polls see the page too (it was edited after their cursor), and start nothing more.
    std::thread::sleep(Duration::from_millis(2500));
    // The same delivery again, as Notion retries it: nothing new either.
    let event = json!({
        "id": "3f3e1a52-5a8b-4c1a-9d43-1d2f0c6f7e01",
        "timestamp": "2026-01-01T00:00:00.000Z",
        "workspace_id": "13950b26-c203-4f3b-b97d-93ec06319565",
        "subscription_id": "29d75c0d-5546-4414-8459-7b7a92f1fc4b",
        "integration_id": "0ef2e755-4912-8096-91c1-00376a88a5ca",
        "type": "page.created",
        "authors": [{ "id": "c7c11cca-1d73-471d-9b6e-bdef51470190", "type": "person" }],
        "attempt_number": 2,
        "entity": { "id": page_id, "type": "page" },
        "data": { "parent": { "id": PRODUCT_SERVICE_7, "type": "database" } },
    });
    let body = serde_json::to_vec(&event).unwrap();
    let url = format!("{}/webhooks/notion/the_7_space", served.base);
    let (status, repeated) = served.send(
        served
            .http
            .post(&url)
            .header("content-type", "application/json")
            .header("x-notion-signature", sign(SEVEN_SPACE_TOKEN, &body))
            .body(body.clone()),
    );
    assert_eq!(status, 200, "{repeated}");
    assert_eq!(repeated, json!({ "started": [] }));
    // A forged one is refused.
    let (status, forged) = served.send(
        served
            .http
            .post(&url)
            .header("content-type", "application/json")
            .header("x-notion-signature", sign("secret_guess", &body))
            .body(body),
    );
    assert_eq!(status, 401, "{forged}");
    assert_eq!(served.instances("community_event").len(), 1);
    served.stop();
    // After a restart on the same state, the polls still know the page.
    let served = Served::start(dir.path(), state.path());
    std::thread::sleep(Duration::from_millis(2500));
    let after = served.instances("community_event");
    // Counted, not filtered by trigger: a start in the moment before the host lists it shows
    // no trigger.
    assert_eq!(after.len(), 1, "started again after the restart: {after:#?}");
    served.stop();
}

#[test]
fn a_task_set_to_done_in_notion_ends_the_flow_waiting_on_it() {
    let dir = project(FAST);
    let state = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path(), state.path());
    let title = "Call Maya about the retreat";
    let (status, answer) = served.api(
        reqwest::Method::POST,
        "/flows/human_task/start",
        Some(json!({
            "title": title,
            "assignee": "ops@higherself.example",
            "escalate_to": "lead@higherself.example",
        })),
    );
    assert_eq!(status, 202, "{answer}");
    let instance = answer["instance"].as_str().unwrap().to_string();
    let task = eventually("the task in Notion", || {
        served
            .pages("higherself", TASK_HIGHERSELF)
            .into_iter()
            .find(|p| p["properties"]["Task Name"]["title"][0]["plain_text"] == title)
    });
    let waiting = eventually("the instance to wait", || {
        let (_, one) = served.api(reqwest::Method::GET, &format!("/instances/{instance}"), None);
        (one["status"] == "waiting").then_some(one)
    });
    assert_eq!(waiting["status"], "waiting");
    // Someone ticks the task Done in Notion.
    served.notion(
        reqwest::Method::PATCH,
        &format!("/v1/pages/{}", task["id"].as_str().unwrap()),
        "higherself",
        Some(json!({ "properties": { "Status": { "status": { "name": "Done" } } } })),
    );
    let done = eventually("the instance to complete", || {
        let (_, one) = served.api(reqwest::Method::GET, &format!("/instances/{instance}"), None);
        (one["status"] == "completed").then_some(one)
    });
    assert_eq!(done["output"]["done"], true, "{done:#}");
    assert_eq!(done["output"]["escalated"], false, "{done:#}");
    // The change started one announcing instance, though polls saw it too.
    std::thread::sleep(Duration::from_millis(2000));
    assert_eq!(served.instances("higherself_task_done").len(), 1);
    // The instance is mirrored into HigherSelf's WorkflowInstance database, ended.
    let mirrored = eventually("the mirrored instance", || {
        served
            .pages("higherself", WORKFLOW_INSTANCE_HIGHERSELF)
            .into_iter()
            .find(|p| {
                p["properties"]["External ID"]["rich_text"][0]["plain_text"] == instance.as_str()
                    && p["properties"]["Status"]["status"]["name"] == "Completed"
            })
    });
    let history = mirrored["properties"]["Step History"]["rich_text"][0]["plain_text"]
        .as_str()
        .unwrap_or_default();
    assert!(history.contains("task: done"), "{mirrored:#}");
    assert_eq!(mirrored["properties"]["Workflow"]["select"]["name"], "Human Task");
    served.stop();
}
