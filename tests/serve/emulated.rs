//! `flowc serve --emulate` (the binary) on a copy of the repository's project, driven over HTTP:
//! its API, its webhooks, and the emulated Notion's API as any Notion client uses it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

pub const API_TOKEN: &str = "notion-triggers-api-token";
/// The verification token of The 7 Space's subscription, so the test can sign deliveries too.
pub const SEVEN_SPACE_TOKEN: &str = "secret_the7space_subscription";
/// The token of Amelia's webhook URL.
pub const AMELIA_TOKEN: &str = "amelia";
/// Typeform's signing secret.
pub const TYPEFORM_SECRET: &str = "typeform";

/// The repository's project, copied with the TOML `extra` merged into its flowc.toml: a table
/// the project has already gains or overrides keys (TOML refuses a table given twice).
pub fn project(extra: &str) -> tempfile::TempDir {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    for folder in ["flows", "stdlib", "notion"] {
        copy_dir(&root.join(folder), &dir.path().join(folder));
    }
    let mut config: toml::Table = std::fs::read_to_string(root.join("flowc.toml"))
        .unwrap()
        .parse()
        .unwrap();
    merge(&mut config, extra.parse().unwrap());
    std::fs::write(dir.path().join("flowc.toml"), config.to_string()).unwrap();
    dir
}

/// `extra`'s keys into `into`, tables merged key by key, other values replaced.
fn merge(into: &mut toml::Table, extra: toml::Table) {
    for (key, value) in extra {
        match (into.get_mut(&key), value) {
            (Some(toml::Value::Table(table)), toml::Value::Table(more)) => merge(table, more),
            (_, value) => {
                into.insert(key, value);
            }
        }
    }
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
pub struct Served {
    pub child: Child,
    pub base: String,
    pub notion: String,
    pub http: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

impl Served {
    pub fn start(dir: &Path, state: &Path) -> Served {
        Served::start_with(dir, state, &[])
    }

    /// [`Served::start`] with more arguments (`--virtual-clock`).
    pub fn start_with(dir: &Path, state: &Path, args: &[&str]) -> Served {
        let mut child = Command::new(env!("CARGO_BIN_EXE_flowc"))
            .args(["serve", "--listen", "127.0.0.1:0", "--emulate", "--state"])
            .arg(state)
            .args(args)
            .arg(dir)
            .env("NO_COLOR", "1")
            // Freed memory goes back to the OS at once (the binary keeps it ten seconds), so the
            // resident size the soak samples is what the host holds, not what it freed lately.
            .env("MIMALLOC_PURGE_DELAY", "0")
            .env("FLOWC_API_TOKEN", API_TOKEN)
            .env("NOTION_WEBHOOK_TOKEN_THE_7_SPACE", SEVEN_SPACE_TOKEN)
            .env("AMELIA_WEBHOOK_TOKEN", AMELIA_TOKEN)
            .env("TYPEFORM_WEBHOOK_SECRET", TYPEFORM_SECRET)
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
    pub fn send(&self, request: reqwest::RequestBuilder) -> (u16, Value) {
        self.runtime.block_on(async {
            let answer = request.send().await.unwrap();
            let status = answer.status().as_u16();
            (status, answer.json().await.unwrap_or(Value::Null))
        })
    }

    pub fn stop(mut self) {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert_eq!(self.child.wait().unwrap().code(), Some(0));
    }

    /// A request to the emulated Notion with `entity`'s emulated token.
    pub fn notion(&self, method: reqwest::Method, path: &str, entity: &str, body: Option<Value>) -> Value {
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
    pub fn pages(&self, entity: &str, database_id: &str) -> Vec<Value> {
        let database = self.notion(
            reqwest::Method::GET,
            &format!("/v1/databases/{database_id}"),
            entity,
            None,
        );
        let source = database["data_sources"][0]["id"].as_str().unwrap().to_string();
        let mut body = json!({ "page_size": 100 });
        let mut pages = Vec::new();
        loop {
            let path = format!("/v1/data_sources/{source}/query");
            let answer = self.notion(reqwest::Method::POST, &path, entity, Some(body.clone()));
            pages.extend(answer["results"].as_array().unwrap().iter().cloned());
            match answer["next_cursor"].as_str() {
                Some(cursor) if answer["has_more"] == true => body["start_cursor"] = json!(cursor),
                _ => return pages,
            }
        }
    }

    pub fn api(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}/api{path}", self.base))
            .bearer_auth(API_TOKEN);
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.send(request)
    }

    pub fn instances(&self, flow: &str) -> Vec<Value> {
        let (status, answer) = self.api(reqwest::Method::GET, &format!("/instances?flow={flow}"), None);
        assert_eq!(status, 200, "{answer}");
        answer["instances"].as_array().unwrap().clone()
    }
}

/// A test that fails (panics) before [`Served::stop`] must not leave its host running: it would
/// outlive the test binary and keep its state folder busy.
impl Drop for Served {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub fn eventually<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn sign(token: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(token.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}
