//! Durable engine benchmarks, each beside the in-memory figure of the same run: resident memory of
//! 100,000 instances suspended in the memory store and of 1,000,000 on SQLite (each in a process
//! of its own), throughput of a 5-step flow on the memory store and on SQLite (`synchronous`
//! NORMAL and FULL), and the time to recover 100,000 unfinished instances after a restart.
//! `cargo bench --bench durable` (a few minutes; `FLOWC_BENCH_SUSPENDED=N` suspends N on SQLite
//! instead of a million).

/// The `flowc` binary's allocator, so that the figures are those of `flowc` itself.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "support/stub_engine.rs"]
mod stub_engine;

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use flowc::runtime::{Engine, MemoryStore, Store};
use flowc::store::{Durability, SqliteStore};

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
    stub_engine::engine(FLOWS, Some(store))
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

/// Starts `n` sleepers on `store` and waits until none is left in memory; the start rate.
async fn suspend(engine: &Engine, n: usize, callers: usize) -> f64 {
    let start = Instant::now();
    let tasks: Vec<_> = (0..callers)
        .map(|_| {
            let engine = engine.clone();
            tokio::spawn(async move {
                for _ in 0..n / callers {
                    engine
                        .start("sleeper", serde_json::json!({}))
                        .await
                        .expect("starts");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("caller");
    }
    let rate = (n / callers * callers) as f64 / start.elapsed().as_secs_f64();
    while engine.resident() > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    rate
}

/// One memory figure, in a process of its own (freed memory is not given back to the system,
/// so a figure taken after another case would count that case's pages).
async fn suspended_case(store: &str, n: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let before = rss_mb();
    let store: Arc<dyn Store> = match store {
        "sqlite" => sqlite(dir.path(), "suspended.db", Durability::Normal),
        _ => Arc::new(MemoryStore::new()),
    };
    let engine = engine(store.clone());
    let rate = suspend(&engine, n, 256).await;
    let rss = rss_mb();
    let db = std::fs::metadata(dir.path().join("suspended.db"))
        .map(|m| m.len())
        .unwrap_or(0)
        / 1_000_000;
    println!(
        "{n} instances suspended in `wait`, {} store: {rss} MB resident ({} MB more than before; started at {rate:.0}/s{})",
        if db > 0 { "SQLite NORMAL" } else { "memory" },
        rss.saturating_sub(before),
        if db > 0 { format!(", database {db} MB") } else { String::new() }
    );
    // The binary's allocator returns freed memory to the system ten seconds after it is freed
    // (src/cli/allocator.rs), on its next call: what the same process holds once that passed.
    tokio::time::sleep(std::time::Duration::from_secs(11)).await;
    drop(Vec::<u8>::with_capacity(1 << 20));
    println!("  {} MB resident 11 s later", rss_mb());
}

/// Recovery of `n` unfinished instances by a new engine on the same store.
async fn recovery(store: Arc<dyn Store>, n: usize) -> (usize, f64) {
    let first = engine(store.clone());
    suspend(&first, n, 256).await;
    first.shutdown().await;
    drop(first);
    let engine = engine(store);
    let start = Instant::now();
    let resumed = engine.recover().await.len();
    (resumed, start.elapsed().as_secs_f64())
}

fn main() {
    flowc::cli::allocator::tune();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    if let Ok(case) = std::env::var("FLOWC_BENCH_CASE") {
        let (store, n) = case.split_once(':').unwrap_or(("memory", "100000"));
        rt.block_on(suspended_case(store, n.parse().unwrap_or(100_000)));
        return;
    }
    let millions = std::env::var("FLOWC_BENCH_SUSPENDED").unwrap_or_else(|_| "1000000".into());
    for case in ["memory:100000".to_string(), format!("sqlite:{millions}")] {
        let status = std::process::Command::new(std::env::current_exe().expect("the bench binary"))
            .env("FLOWC_BENCH_CASE", case)
            .status();
        assert!(status.is_ok_and(|s| s.success()), "the suspended case failed");
    }
    let dir = tempfile::tempdir().expect("temp dir");
    rt.block_on(async {
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
        let n = 100_000;
        let (resumed, secs) = recovery(Arc::new(MemoryStore::new()), n).await;
        println!("recovery, memory store: {resumed} unfinished instances resumed in {secs:.2} s");
        let (resumed, secs) = recovery(sqlite(dir.path(), "recover.db", Durability::Normal), n).await;
        println!(
            "recovery, SQLite NORMAL: {resumed} unfinished instances resumed in {secs:.2} s ({:.0}/s; target < 10 s)",
            resumed as f64 / secs
        );
    });
}
