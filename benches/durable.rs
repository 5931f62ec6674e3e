//! Durable engine benchmarks, each beside the in-memory figure of the same run: throughput of a
//! 5-step flow on the memory store and on SQLite (`synchronous` NORMAL and FULL), resident memory
//! of suspended instances, and the time to recover unfinished instances after a restart.
//! `cargo bench --bench durable` (about a minute).

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use flowc::config::Config;
use flowc::connectors::{ActionCall, ActionSpec, Connector, ConnectorError, Manifest};
use flowc::runtime::{Engine, MemoryStore, Store};
use flowc::store::{Durability, SqliteStore};
use flowc::types::Type;
use flowc::value::Value;
use flowc::Project;

/// Answers every call at once.
struct Instant0 {
    manifest: Manifest,
}

#[async_trait]
impl Connector for Instant0 {
    fn manifest(&self) -> &Manifest {
        &self.manifest
    }
    async fn call(&self, _call: ActionCall) -> Result<Value, ConnectorError> {
        Ok(Value::record([("n", Value::Number(1.0))]))
    }
}

const FLOWS: &str = r#"
entity e {}
flow five for e {
  step s1 = svc.a(n: 1)
  step s2 = svc.a(n: s1.n)
  step s3 = svc.a(n: s1.n)
  step s4 = svc.a(n: s2.n)
  step s5 = svc.a(x: s3.n, y: s4.n)
  output { n: s5.n }
}
flow sleeper for e {
  step s1 = svc.a(n: 1)
  wait 1d
  step s2 = svc.a(n: s1.n)
}
"#;

fn engine(store: Arc<dyn Store>) -> Engine {
    let project = Project::from_sources(Path::new("/bench"), Config::default(), [("b.flow", FLOWS)]);
    Engine::builder()
        .project_value(project)
        .connector(Arc::new(Instant0 {
            manifest: Manifest {
                name: "svc".into(),
                description: "answers at once".into(),
                actions: vec![ActionSpec::new("a", "stub", Type::Any)
                    .optional("n", Type::Any, "a number")
                    .optional("x", Type::Any, "a number")
                    .optional("y", Type::Any, "a number")],
            },
        }))
        .store(store)
        .build()
        .expect("engine builds")
}

fn rss_mb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse::<u64>().ok()))
        })
        .unwrap_or(0)
        / 1024
}

/// Instances of `flow` per second, `n` in all, `callers` starting them at once (as that many
/// webhook handlers would): a durable start returns once kept, so only many callers in flight
/// let group commit share an fsync among instances.
async fn throughput(store: Arc<dyn Store>, flow: &'static str, n: usize, callers: usize) -> f64 {
    let engine = engine(store);
    let start = Instant::now();
    let tasks: Vec<_> = (0..callers)
        .map(|_| {
            let engine = engine.clone();
            tokio::spawn(async move {
                for _ in 0..n / callers {
                    let id = engine.start(flow, serde_json::json!({})).await.expect("starts");
                    if flow == "five" {
                        engine.output(&id).await.expect("completes");
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("caller");
    }
    let secs = start.elapsed().as_secs_f64();
    engine.shutdown().await;
    (n / callers * callers) as f64 / secs
}

fn sqlite(dir: &Path, name: &str, durability: Durability) -> Arc<SqliteStore> {
    Arc::new(SqliteStore::open(&dir.join(name), durability).expect("opens"))
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    rt.block_on(async {
        let before = rss_mb();
        let memory: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let started = throughput(memory, "sleeper", 100_000, 4).await;
        println!(
            "100000 instances suspended in `wait`, memory store: {} MB more resident (started at {started:.0}/s)",
            rss_mb().saturating_sub(before)
        );
        let memory = throughput(Arc::new(MemoryStore::new()), "five", 50_000, 2).await;
        println!("5-step flow, memory store: {memory:.0} instances/s");
        for (durability, name) in [(Durability::Normal, "NORMAL"), (Durability::Full, "FULL")] {
            let store = sqlite(dir.path(), &format!("{name}.db"), durability);
            let rate = throughput(store, "five", 20_000, 256).await;
            println!(
                "5-step flow, SQLite synchronous={name}: {rate:.0} instances/s ({:.1}% of memory)",
                rate * 100.0 / memory
            );
        }
        // Suspended durably, then recovered by a new engine on the same file.
        let n = 20_000;
        let before = rss_mb();
        let store = sqlite(dir.path(), "suspended.db", Durability::Normal);
        let rate = throughput(store.clone(), "sleeper", n, 256).await;
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        println!(
            "{n} instances suspended in `wait`, SQLite NORMAL: {} MB more resident (started at {rate:.0}/s), database {} MB",
            rss_mb().saturating_sub(before),
            std::fs::metadata(dir.path().join("suspended.db"))
                .map(|m| m.len())
                .unwrap_or(0)
                / 1_000_000
        );
        drop(store);
        let store = sqlite(dir.path(), "suspended.db", Durability::Normal);
        let engine = engine(store);
        let start = Instant::now();
        let resumed = engine.recover().await.len();
        println!(
            "recovery: {resumed} unfinished instances resumed in {:.2} s ({:.0}/s)",
            start.elapsed().as_secs_f64(),
            resumed as f64 / start.elapsed().as_secs_f64()
        );
    });
}
