//! `flowc emulate` as a child process for the tests that need the world to outlive the host
//! (tests/emulate.rs, tests/crash.rs), and the pages of its Notion read through the Notion API.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

/// The repository: the project `flowc emulate` emulates the workspaces of.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A running `flowc emulate` of the repository's project, killed when dropped (a test that fails
/// must not leave it behind).
pub struct Emulate {
    child: Child,
    /// `name → URL` from its stdout.
    pub services: Vec<(String, String)>,
}

impl Emulate {
    /// Starts it on the state folder `state` and waits for its URLs.
    pub fn start(state: &Path) -> Emulate {
        let mut child = Command::new(env!("CARGO_BIN_EXE_flowc"))
            .args(["emulate", ".", "--state"])
            .arg(state)
            .current_dir(root())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("flowc runs");
        let services = read_services(child.stdout.take().unwrap());
        Emulate { child, services }
    }

    /// The URL of service `name` (`notion`, `typeform`, `smtp`, `emulator`).
    pub fn url(&self, name: &str) -> &str {
        self.services
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, url)| url.as_str())
            .unwrap_or_else(|| panic!("no `{name}` line in {:?}", self.services))
    }

    /// SIGTERM, then the exit status and stderr.
    pub fn stop(mut self) -> (Option<i32>, String) {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "flowc emulate ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut stderr = String::new();
        std::io::Read::read_to_string(self.child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
        (status.code(), stderr)
    }
}

impl Drop for Emulate {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `NAME URL` lines, up to the `emulator` line (the last one).
fn read_services(stdout: ChildStdout) -> Vec<(String, String)> {
    let mut services = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        let (name, url) = line
            .split_once(' ')
            .unwrap_or_else(|| panic!("not `NAME URL`: {line}"));
        services.push((name.to_string(), url.to_string()));
        if name == "emulator" {
            return services;
        }
    }
    panic!("flowc emulate ended before printing its URLs: {services:?}");
}

/// Every page of the database `database_id` of the 7 Space's workspace, asked through the Notion
/// API (data source, then the query, page after page).
pub fn pages(notion: &str, database_id: &str) -> Vec<serde_json::Value> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let call = |method: reqwest::Method, path: String, body: Option<serde_json::Value>| {
            let request = client
                .request(method, format!("{notion}{path}"))
                .bearer_auth("secret_emulated_the_7_space")
                .header("Notion-Version", "2025-09-03");
            let request = match body {
                Some(body) => request.json(&body),
                None => request,
            };
            async move {
                let answer = request.send().await.unwrap();
                answer.json::<serde_json::Value>().await.unwrap()
            }
        };
        let database = call(reqwest::Method::GET, format!("/v1/databases/{database_id}"), None).await;
        let source = database["data_sources"][0]["id"].as_str().unwrap().to_string();
        let path = format!("/v1/data_sources/{source}/query");
        let mut pages = Vec::new();
        let mut body = serde_json::json!({ "page_size": 100 });
        loop {
            let found = call(reqwest::Method::POST, path.clone(), Some(body.clone())).await;
            pages.extend(found["results"].as_array().unwrap().iter().cloned());
            match found["next_cursor"].as_str() {
                Some(cursor) if found["has_more"] == true => body["start_cursor"] = cursor.into(),
                _ => return pages,
            }
        }
    })
}

/// The plain text of a title or rich-text property of a page in Notion's JSON shape.
pub fn text(page: &serde_json::Value, property: &str) -> String {
    let value = &page["properties"][property];
    let kind = value["type"].as_str().unwrap_or("");
    value[kind]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["plain_text"].as_str().or(t["text"]["content"].as_str()))
        .collect()
}
