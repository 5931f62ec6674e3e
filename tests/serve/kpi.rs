//! The KPIs of the journal: known instances (a human task opened or not, a failure, an
//! operator's retry, waits of known length on a virtual clock) give known figures in `/metrics`,
//! kept up to date as instances end (a scrape reads no history), and read back from the
//! journal by a host set up on it.

use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::TimeZone;
use flowc::config::Config;
use flowc::connectors::email::EmailConnector;
use flowc::runtime::{EventKind, InstanceId, MemoryStore, Store, VirtualClock};
use flowc::serve::{host_router, Host, HostOptions};
use flowc::{Engine, Project};
use serde_json::json;
use tower::ServiceExt;

pub const FLOWS: &str = r#"
use stdlib.tasks

entity shop {}

template note {
  subject "Hello {{name}}"
  text "Hello {{name}}"
}

flow wellness_booking for shop {
  input { name: text, free: bool }
  step confirm = email.send(to: "client@shop.example", template: "note", with: { name: input.name })
  wait 1h
  if input.free == false {
    step handoff = tasks.open(title: input.name)
  }
  output { name: input.name }
}

flow lead_nurturing for shop {
  input { name: text }
  wait 10m
  step team_alert = email.send(to: "team@shop.example", template: "note", with: { name: input.name })
  wait 50m
  output { name: input.name }
}

flow broken for shop {
  input { name: text }
  fail "cannot go on for {{ input.name }}"
}
"#;

pub const TASKS: &str = r#"
flow open for shop {
  input { title: text }
  output { title: input.title }
}
"#;

/// A host over the KPI project on a virtual clock, email going to an outbox in `dir`.
pub struct KpiHost {
    pub app: axum::Router,
    pub host: Arc<Host>,
    token: Option<String>,
}

impl KpiHost {
    pub fn new(dir: &Path, store: Arc<dyn Store>, api_token: Option<&str>) -> KpiHost {
        let toml = format!(
            "[connectors.email]\noutbox = \"{}\"\nfrom = \"Shop <shop@shop.example>\"\n",
            dir.join("outbox").display()
        );
        let config = Config::parse(&toml, Path::new("flowc.toml")).unwrap();
        let project = Project::from_sources(
            dir,
            config.clone(),
            [("shop.flow", FLOWS), ("stdlib/tasks.flow", TASKS)],
        );
        let email = EmailConnector::from_config(&config, dir).unwrap();
        let clock = VirtualClock::new(chrono::Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap());
        let engine = Engine::builder()
            .project_value(project.clone())
            .store(store.clone())
            .clock(Arc::new(clock))
            .connector(Arc::new(email))
            .build()
            .unwrap();
        let options = HostOptions {
            store: Some(store.clone()),
            api_token: api_token.map(flowc::serve::verifiers::Secret::new),
            ..HostOptions::default()
        };
        let host = Host::new(engine, &project, options, &|_| None).unwrap();
        host.set_ready(true);
        KpiHost {
            app: host_router(host.clone()),
            host,
            token: api_token.map(str::to_string),
        }
    }

    /// Starts `flow` on the engine (past the host) and waits for its end.
    pub async fn run(&self, flow: &str, input: serde_json::Value) -> InstanceId {
        let id = self.host.engine().start(flow, input).await.unwrap();
        let _ = self.host.engine().output(&id).await;
        id
    }

    /// Starts `flow` through the host's API (as a webhook, a schedule or an operator would) and
    /// waits for its end.
    pub async fn run_hosted(&self, flow: &str, input: serde_json::Value) -> InstanceId {
        let (status, answer) = self.post(&format!("/api/flows/{flow}/start"), Some(input)).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
        let id = InstanceId(answer["instance"].as_str().unwrap().to_string());
        let _ = self.host.engine().output(&id).await;
        id
    }

    /// A POST to the API with the host's token.
    pub async fn post(&self, uri: &str, body: Option<serde_json::Value>) -> (StatusCode, serde_json::Value) {
        let token = self.token.as_deref().expect("a host with an API token");
        let request = Request::post(uri)
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(Body::from(body.map(|b| b.to_string()).unwrap_or_default()))
            .unwrap();
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or_default())
    }

    /// `/metrics` once `ended` top-level instances have ended in the KPIs (an end is added
    /// just after the instance's output is known).
    pub async fn metrics_after(&self, ended: f64) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let (status, text) = self.get("/metrics").await;
            assert_eq!(status, StatusCode::OK);
            let counted: f64 = text
                .lines()
                .filter(|l| {
                    l.starts_with("flowc_kpi_instances{")
                        && ["completed", "failed", "cancelled"]
                            .iter()
                            .any(|o| l.contains(&format!("outcome=\"{o}\"")))
                })
                .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .sum();
            if counted >= ended {
                return text;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{counted} of {ended} ends in\n{text}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    pub async fn get(&self, uri: &str) -> (StatusCode, String) {
        let response = self
            .app
            .clone()
            .oneshot(Request::get(uri).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }
}

/// The value of the metric line starting `name{labels}`.
fn metric(text: &str, series: &str) -> f64 {
    let line = text
        .lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .unwrap_or_else(|| panic!("no `{series}` in\n{text}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn known_instances_give_known_kpis_in_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let t = KpiHost::new(dir.path(), Arc::new(MemoryStore::new()), Some("kpi-token"));
    // Bookings: three go through alone, one hands the booking to the studio team (a human task).
    for name in ["Ada", "Bo", "Cy"] {
        t.run_hosted("wellness_booking", json!({ "name": name, "free": true }))
            .await;
    }
    t.run_hosted("wellness_booking", json!({ "name": "Di", "free": false }))
        .await;
    // Leads: the team is alerted 10 minutes after each arrives; the run takes an hour.
    for name in ["Eve", "Flo"] {
        t.run_hosted("lead_nurturing", json!({ "name": name })).await;
    }
    let failed = t.run_hosted("broken", json!({ "name": "Gus" })).await;
    assert_eq!(
        t.host.engine().history(&failed).last().map(|e| e.kind.clone()),
        Some(EventKind::InstanceFailed {
            step: "fail#0".into(),
            message: "cannot go on for Gus".into(),
            class: "permanent".into(),
        })
    );

    let text = t.metrics_after(7.0).await;
    // Ended, they leave the engine's memory, with the human task's sub-flow.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while t.host.engine().resident() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "{} instances still held",
            t.host.engine().resident()
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let booking = "shop.wellness_booking";
    assert_eq!(
        metric(&text, &format!("flowc_kpi_automation_rate{{flow=\"{booking}\"}}")),
        0.75
    );
    assert_eq!(
        metric(
            &text,
            &format!("flowc_kpi_instances{{flow=\"{booking}\",outcome=\"unattended\"}}")
        ),
        3.0
    );
    assert_eq!(
        metric(&text, &format!("flowc_kpi_error_rate{{flow=\"{booking}\"}}")),
        0.0
    );
    assert_eq!(
        metric(
            &text,
            &format!("flowc_kpi_execution_seconds{{flow=\"{booking}\",stat=\"p50\"}}")
        ),
        3600.0
    );
    // The booking's confirmation is its first step: sent at once.
    assert_eq!(
        metric(
            &text,
            &format!("flowc_kpi_first_message_seconds{{flow=\"{booking}\",stat=\"max\"}}")
        ),
        0.0
    );
    let lead = "shop.lead_nurturing";
    assert_eq!(
        metric(
            &text,
            &format!("flowc_kpi_first_message_seconds{{flow=\"{lead}\",stat=\"mean\"}}")
        ),
        600.0
    );
    assert_eq!(
        metric(
            &text,
            &format!("flowc_kpi_execution_seconds{{flow=\"{lead}\",stat=\"max\"}}")
        ),
        3600.0
    );
    assert_eq!(
        metric(&text, &format!("flowc_kpi_automation_rate{{flow=\"{lead}\"}}")),
        1.0
    );
    assert_eq!(metric(&text, "flowc_kpi_error_rate{flow=\"shop.broken\"}"), 1.0);
    assert_eq!(
        metric(&text, "flowc_kpi_automation_rate{flow=\"shop.broken\"}"),
        0.0
    );
    // Sub-flows are part of their caller's figures, not flows of their own.
    assert!(!text.contains("stdlib.tasks.open"), "{text}");
}

/// A memory store that counts the histories read.
#[derive(Default)]
struct Counting {
    inner: MemoryStore,
    histories: std::sync::atomic::AtomicUsize,
}

impl Store for Counting {
    fn append(&self, instance: &str, event: flowc::runtime::Event) {
        self.inner.append(instance, event)
    }
    fn append_batch(&self, instance: &str, events: Vec<flowc::runtime::Event>) -> flowc::runtime::Commit {
        self.inner.append_batch(instance, events)
    }
    fn history(&self, instance: &str) -> Vec<flowc::runtime::Event> {
        self.histories.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.history(instance)
    }
    fn put_timer(&self, timer: flowc::runtime::TimerRecord) {
        self.inner.put_timer(timer)
    }
    fn remove_timer(&self, id: u64) {
        self.inner.remove_timer(id)
    }
    fn timers(&self) -> Vec<flowc::runtime::TimerRecord> {
        self.inner.timers()
    }
    fn instances(&self) -> Vec<String> {
        self.inner.instances()
    }
    fn put_plan(&self, hash: &str, bundle: &str) {
        self.inner.put_plan(hash, bundle)
    }
    fn plan(&self, hash: &str) -> Option<String> {
        self.inner.plan(hash)
    }
}

#[tokio::test]
async fn scrapes_read_no_history_and_see_each_end() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Counting::default());
    let t = KpiHost::new(dir.path(), store.clone(), Some("kpi-token"));
    for name in ["Ada", "Bo", "Cy"] {
        t.run_hosted("wellness_booking", json!({ "name": name, "free": true }))
            .await;
    }
    t.metrics_after(3.0).await;
    let read = || store.histories.load(std::sync::atomic::Ordering::SeqCst);
    let before = read();
    let completed = "flowc_kpi_instances{flow=\"shop.wellness_booking\",outcome=\"completed\"}";
    for _ in 0..20 {
        let (status, text) = t.get("/metrics").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(metric(&text, completed), 3.0);
    }
    assert_eq!(read() - before, 0, "twenty scrapes read no history");
    // The next end is in the next scrape, still without reading the journal.
    t.run_hosted("wellness_booking", json!({ "name": "Di", "free": false }))
        .await;
    let text = t.metrics_after(4.0).await;
    assert_eq!(metric(&text, completed), 4.0);
    assert_eq!(
        metric(
            &text,
            "flowc_kpi_instances{flow=\"shop.wellness_booking\",outcome=\"unattended\"}"
        ),
        3.0
    );
    let scrape_reads = read() - before;
    let (_, _) = t.get("/metrics").await;
    assert_eq!(read() - before, scrape_reads, "a scrape reads no history");
}

#[tokio::test]
async fn a_host_set_up_on_a_journal_counts_what_it_holds_then_what_ends() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let first = KpiHost::new(dir.path(), store.clone(), Some("kpi-token"));
    first
        .run_hosted("wellness_booking", json!({ "name": "Ada", "free": true }))
        .await;
    first
        .run_hosted("wellness_booking", json!({ "name": "Di", "free": false }))
        .await;
    let failed = first.run_hosted("broken", json!({ "name": "Gus" })).await;
    first.metrics_after(3.0).await;

    // A restart: the new host reads the journal once and starts from its figures.
    let again = KpiHost::new(dir.path(), store.clone(), Some("kpi-token"));
    let (_, text) = again.get("/metrics").await;
    let booking = "shop.wellness_booking";
    assert_eq!(
        metric(&text, &format!("flowc_kpi_automation_rate{{flow=\"{booking}\"}}")),
        0.5
    );
    assert_eq!(
        metric(
            &text,
            "flowc_kpi_instances{flow=\"shop.broken\",outcome=\"failed\"}"
        ),
        1.0
    );
    // An operator's retry fails again: still one failed instance, not two; and an instance
    // that needed a retry is not unattended.
    let (status, answer) = again.post(&format!("/api/instances/{failed}/retry"), None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    again
        .run_hosted("wellness_booking", json!({ "name": "Bo", "free": true }))
        .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let text = loop {
        let (_, text) = again.get("/metrics").await;
        let open = metric(
            &text,
            "flowc_kpi_instances{flow=\"shop.broken\",outcome=\"open\"}",
        );
        let done = metric(
            &text,
            &format!("flowc_kpi_instances{{flow=\"{booking}\",outcome=\"completed\"}}"),
        );
        if open == 0.0 && done == 3.0 {
            break text;
        }
        assert!(std::time::Instant::now() < deadline, "{text}");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    };
    assert_eq!(
        metric(
            &text,
            "flowc_kpi_instances{flow=\"shop.broken\",outcome=\"failed\"}"
        ),
        1.0
    );
    assert_eq!(metric(&text, "flowc_kpi_error_rate{flow=\"shop.broken\"}"), 1.0);
    assert_eq!(
        metric(&text, &format!("flowc_kpi_automation_rate{{flow=\"{booking}\"}}")),
        2.0 / 3.0
    );
    assert_eq!(
        metric(
            &text,
            &format!("flowc_kpi_execution_seconds{{flow=\"{booking}\",stat=\"max\"}}")
        ),
        3600.0
    );
}
