//! `on notion` triggers on `flowc serve --emulate` (the binary, on a copy of the repository's
//! project): the emulator sends signed webhooks as Notion does, a created page starts
//! community_event once however often the change is seen (webhook, poll, a repeated delivery,
//! a restart), a Task set to Done through the emulator's HTTP API wakes the human task waiting
//! on it, and the instance is mirrored into the WorkflowInstance database.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

const API_TOKEN: &str = "notion-triggers-api-token";
/// The verification token of The 7 Space's subscription, so the test can sign deliveries too.
const SEVEN_SPACE_TOKEN: &str = "secret_the7space_subscription";

/// The repository's project, copied so its flowc.toml can poll every second.
fn project() -> tempfile::TempDir {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    for folder in ["flows", "stdlib", "notion"] {
        copy_dir(&root.join(folder), &dir.path().join(folder));
    }
    let config = std::fs::read_to_string(root.join("flowc.toml")).unwrap();
    let config =
        format!("{config}\n[serve.notion]\npoll_every = \"1s\"\n\n[serve.mirror]\nevery = \"200ms\"\n");
    std::fs::write(dir.path().join("flowc.toml"), config).unwrap();
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A running `flowc serve --emulate`.
struct Served {
    child: Child,
    base: String,
    notion: String,
    http: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

impl Served {
    fn start(dir: &Path, state: &Path) -> Served {
        let mut child = Command::new(env!("CARGO_BIN_EXE_flowc"))
            .args(["serve", "--listen", "127.0.0.1:0", "--emulate", "--state"])
            .arg(state)
            .arg(dir)
            .env("NO_COLOR", "1")
            .env("FLOWC_API_TOKEN", API_TOKEN)
            .env("NOTION_WEBHOOK_TOKEN_THE_7_SPACE", SEVEN_SPACE_TOKEN)
            .env("AMELIA_WEBHOOK_TOKEN", "amelia")
            .env("TYPEFORM_WEBHOOK_SECRET", "typeform")
            .env("SHOPIFY_WEBHOOK_SECRET", "shopify")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut notion = None;
        let mut seen = Vec::new();
        let base = loop {
            let line = lines
                .next()
                .unwrap_or_else(|| panic!("flowc serve stopped: {seen:#?}"))
                .unwrap();
            if let Some(url) = line.strip_prefix("emulated Notion at ") {
                notion = Some(url.to_string());
            }
            seen.push(line.clone());
            if let Some(url) = line.strip_prefix("listening on ") {
                break url.to_string();
            }
        };
        assert!(
            seen.iter()
                .any(|l| l.contains("/webhooks/notion/the_7_space → the `on notion` flows of `the_7_space`")),
            "{seen:#?}"
        );
        std::thread::spawn(move || lines.for_each(drop));
        Served {
            child,
            base,
            notion: notion.expect("the emulated Notion's address is printed"),
            http: reqwest::Client::new(),
            runtime: tokio::runtime::Runtime::new().unwrap(),
        }
    }

    /// Sends `request`; its status and JSON body (null when it has none).
    fn send(&self, request: reqwest::RequestBuilder) -> (u16, Value) {
        self.runtime.block_on(async {
            let answer = request.send().await.unwrap();
            let status = answer.status().as_u16();
            (status, answer.json().await.unwrap_or(Value::Null))
        })
    }

    fn stop(mut self) {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert_eq!(self.child.wait().unwrap().code(), Some(0));
    }

    /// A request to the emulated Notion with `entity`'s emulated token.
    fn notion(&self, method: reqwest::Method, path: &str, entity: &str, body: Option<Value>) -> Value {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.notion))
            .bearer_auth(format!("secret_emulated_{entity}"))
            .header("Notion-Version", "2025-09-03");
        if let Some(body) = body {
            request = request.json(&body);
        }
        let (status, answer) = self.send(request);
        assert!((200..300).contains(&status), "{path}: {status} {answer}");
        answer
    }

    /// The pages of `database` of `entity`, through the API as any client reads them.
    fn pages(&self, entity: &str, database_id: &str) -> Vec<Value> {
        let database = self.notion(
            reqwest::Method::GET,
            &format!("/v1/databases/{database_id}"),
            entity,
            None,
        );
        let source = database["data_sources"][0]["id"].as_str().unwrap().to_string();
        let answer = self.notion(
            reqwest::Method::POST,
            &format!("/v1/data_sources/{source}/query"),
            entity,
            Some(json!({ "page_size": 100 })),
        );
        answer["results"].as_array().unwrap().clone()
    }

    fn api(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}/api{path}", self.base))
            .bearer_auth(API_TOKEN);
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.send(request)
    }

    fn instances(&self, flow: &str) -> Vec<Value> {
        let (status, answer) = self.api(reqwest::Method::GET, &format!("/instances?flow={flow}"), None);
        assert_eq!(status, 200, "{answer}");
        answer["instances"].as_array().unwrap().clone()
    }
}

fn eventually<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn sign(token: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(token.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

const PRODUCT_SERVICE_7: &str = "f10c0007000000000000000000000004";
const TASK_HIGHERSELF: &str = "f10c00e5000000000000000000000009";
const WORKFLOW_INSTANCE_HIGHERSELF: &str = "f10c00e5000000000000000000000005";

#[test]
fn a_created_page_starts_community_event_once_however_often_it_is_seen() {
    let dir = project();
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
    let started = eventually("community_event to start", || {
        let list = served.instances("community_event");
        (!list.is_empty()).then_some(list)
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
    let fresh: Vec<&Value> = after.iter().filter(|i| i["trigger"] == "notion").collect();
    assert!(fresh.is_empty(), "started again after the restart: {after:#?}");
    served.stop();
}

#[test]
fn a_task_set_to_done_in_notion_ends_the_flow_waiting_on_it() {
    let dir = project();
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
