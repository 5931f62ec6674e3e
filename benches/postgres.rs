//! PostgreSQL store benchmarks, beside SQLite in the same run: durable 5-step instances/s on
//! SQLite (FULL), on PostgreSQL with one host and with two hosts (two engines, two stores, one
//! database), the lateness of a timer on PostgreSQL (p50, p99), how soon a host takes over
//! instances another host released (NOTIFY, p50, p99), the lateness of a timer set on one host
//! and fired on the host that took its instance over, and how soon an event sent to one host
//! ends the wait of an instance another host holds (forwarded through the store, p50, p99).
//! Starts its own throwaway cluster under target/ (tests/support/postgres_cluster.rs).
//! `cargo bench --bench postgres`.

/// The `flowc` binary's allocator, so that the figures are those of `flowc` itself.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "../tests/support/postgres_cluster.rs"]
#[allow(dead_code)] // the restart helpers of the tests
mod cluster;

#[path = "support/stub_engine.rs"]
mod stub_engine;

use std::sync::Arc;
use std::time::{Duration, Instant};

use flowc::runtime::{Command, Engine, EventKind, InstanceId, Store};
use flowc::store::{Durability, PostgresStore, SqliteStore};

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
flow waiter for e {
  wait 1s
  output { done: true }
}
flow await_go for e {
  step go = wait for event "go"
  output { go }
}
"#;

fn engine(store: Arc<dyn Store>) -> Engine {
    stub_engine::engine(FLOWS, Some(store))
}

/// 5-step instances per second over `engines` (callers split evenly), `n` in all.
async fn throughput(engines: &[Engine], n: usize, callers: usize) -> f64 {
    let start = Instant::now();
    let tasks: Vec<_> = (0..callers)
        .map(|i| {
            let engine = engines[i % engines.len()].clone();
            tokio::spawn(async move {
                for _ in 0..n / callers {
                    let id = engine.start("five", serde_json::json!({})).await.expect("starts");
                    engine.output(&id).await.expect("completes");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("caller");
    }
    (n / callers * callers) as f64 / start.elapsed().as_secs_f64()
}

fn percentiles(mut ms: Vec<f64>) -> (f64, f64) {
    ms.sort_by(f64::total_cmp);
    let at = |p: f64| ms[((ms.len() as f64 - 1.0) * p).round() as usize];
    (at(0.5), at(0.99))
}

fn main() {
    flowc::cli::allocator::tune();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let server = cluster::shared();
    rt.block_on(async {
        let n = 5_000;
        let sqlite = Arc::new(SqliteStore::open(&dir.path().join("b.db"), Durability::Full).expect("opens"));
        let rate = throughput(&[engine(sqlite)], n, 256).await;
        println!("5-step flow, SQLite FULL: {rate:.0} instances/s");

        let url = server.database();
        let one = Arc::new(PostgresStore::open(&url).expect("opens"));
        let rate = throughput(&[engine(one)], n, 256).await;
        println!("5-step flow, PostgreSQL, 1 host: {rate:.0} instances/s");

        let url = server.database();
        let hosts: Vec<Engine> = (0..2)
            .map(|_| engine(Arc::new(PostgresStore::open(&url).expect("opens"))))
            .collect();
        let rate = throughput(&hosts, n, 256).await;
        println!("5-step flow, PostgreSQL, 2 hosts: {rate:.0} instances/s");

        // A timer's lateness: each instance waits 1s; its wait ends how long after it was due?
        let url = server.database();
        let store = Arc::new(PostgresStore::open(&url).expect("opens"));
        let e = engine(store.clone());
        let mut ids = Vec::new();
        for _ in 0..200 {
            ids.push(e.start("waiter", serde_json::json!({})).await.expect("starts"));
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let late = lateness(&e, store.as_ref(), &ids).await;
        let (p50, p99) = percentiles(late);
        println!("timer lateness on PostgreSQL, 200 waits of 1s: p50 {p50:.1} ms, p99 {p99:.1} ms");

        // Takeover across hosts: host a releases a waiting instance, host b (idle, lease 60s,
        // so only the notification wakes it) resumes it.
        let url = server.database();
        let lease = Duration::from_secs(60);
        let b = Arc::new(PostgresStore::open_as(&url, "b", lease).expect("opens"));
        let eb = engine(b.clone());
        let _ = eb.recover().await;
        let woken = b.work_released();
        let mut took = Vec::new();
        let mut moved = Vec::new();
        for i in 0..50 {
            let a = Arc::new(PostgresStore::open_as(&url, &format!("a{i}"), lease).expect("opens"));
            let ea = engine(a.clone());
            moved.push(ea.start("waiter", serde_json::json!({})).await.expect("starts"));
            drop(ea);
            // Spend wake-ups of the renewal before the release.
            while tokio::time::timeout(Duration::from_millis(20), woken.notified())
                .await
                .is_ok()
            {}
            let released = Instant::now();
            a.release();
            woken.notified().await;
            let resumed = eb.recover().await;
            assert_eq!(resumed.len(), 1);
            took.push(released.elapsed().as_secs_f64() * 1000.0);
        }
        let (p50, p99) = percentiles(took);
        println!(
            "takeover of a released instance by an idle host (NOTIFY): p50 {p50:.1} ms, p99 {p99:.1} ms"
        );
        // The timers those instances set on their first hosts fire on host b.
        let late = lateness(&eb, b.as_ref(), &moved).await;
        let (p50, p99) = percentiles(late);
        println!(
            "timer across hosts (set on the releasing host, fired by the host that took over), {} waits of 1s: lateness p50 {p50:.1} ms, p99 {p99:.1} ms",
            moved.len()
        );

        // An event across hosts: host c holds instances waiting for an event, host d receives
        // the events and forwards them (the store's queue, woken by NOTIFY).
        let url = server.database();
        let c = Arc::new(PostgresStore::open_as(&url, "c", lease).expect("opens"));
        let d = Arc::new(PostgresStore::open_as(&url, "d", lease).expect("opens"));
        let ec = engine(c.clone());
        flowc::serve::apply_forwarded(ec.clone(), c.clone()).expect("a shared store forwards");
        let mut woke = Vec::new();
        for _ in 0..200 {
            let id = ec.start("await_go", serde_json::json!({})).await.expect("starts");
            while !c.history(&id.0).iter().any(|ev| matches!(ev.kind, EventKind::WaitStarted { .. })) {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            let sent = Instant::now();
            let go = Command::Event {
                name: "go".into(),
                payload: serde_json::json!({}),
            };
            assert!(d.forward(&id.0, &go).expect("forwards"));
            ec.output(&id).await.expect("completes");
            woke.push(sent.elapsed().as_secs_f64() * 1000.0);
        }
        let (p50, p99) = percentiles(woke);
        println!(
            "event across hosts (sent to one host, its wait ended and kept on the holder), 200 events: p50 {p50:.1} ms, p99 {p99:.1} ms"
        );
    });
}

/// How late the 1s wait of each of `ids` ended (ms), once each has completed on `engine`.
async fn lateness(engine: &Engine, store: &dyn Store, ids: &[InstanceId]) -> Vec<f64> {
    let mut late = Vec::new();
    for id in ids {
        engine.output(id).await.expect("completes");
        let history = store.history(&id.0);
        let due = history.iter().find_map(|ev| match &ev.kind {
            EventKind::WaitStarted { until, .. } => *until,
            _ => None,
        });
        let ended = history
            .iter()
            .find(|ev| matches!(ev.kind, EventKind::WaitEnded { .. }))
            .map(|ev| ev.at);
        if let (Some(due), Some(ended)) = (due, ended) {
            late.push((ended - due).num_microseconds().unwrap_or(0) as f64 / 1000.0);
        }
    }
    late
}
