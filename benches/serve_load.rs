//! Load on `flowc serve`'s webhook path: signed GitHub-style deliveries posted at a fixed rate
//! (an open-loop generator: each request is sent at its scheduled time, whether or not earlier
//! ones have been answered, and its latency counts from that time) to a host on loopback whose
//! journal is SQLite with `synchronous = FULL`, as `flowc serve --state` opens it. A 202 means the
//! instance's start is in the journal. Prints p50/p99 at 5,000 requests/s, then the highest rate
//! of a ladder whose p99 stays under 10 ms; both with a delivery id per request (journaled with
//! the instance's start, as GitHub sends `X-GitHub-Delivery`) and without one. `cargo bench --bench serve_load` (a minute or two).

/// The `flowc` binary's allocator, so that the figures are those of `flowc` itself.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use flowc::config::Config;
use flowc::runtime::Store;
use flowc::serve::settings::Encoding;
use flowc::serve::verifiers::sign_hmac_sha256;
use flowc::serve::{host_router, Host, HostOptions};
use flowc::store::{Durability, SqliteStore};
use flowc::{Engine, Project};

const FLOWS: &str = r#"
entity shop {}

flow order for shop {
  on webhook "/hooks/orders" verified by github
  input { order: { id: number, email: email } }
  let summary = "order {{ input.order.id }} for {{ input.order.email }}"
  output { summary }
}
"#;

const CONFIG: &str = "[webhooks.github]\nscheme = \"github\"\nsecret_env = \"BENCH_GITHUB_SECRET\"\n";
const SECRET: &str = "bench-secret";
const BODY: &str =
    r#"{"action":"created","order":{"id":1042,"email":"ada@example.com"},"sender":{"login":"ada"}}"#;

/// The one-off setup: a host on a fresh SQLite journal in `dir`, serving on loopback.
async fn serve(dir: &Path) -> String {
    let config = Config::parse(CONFIG, Path::new("flowc.toml")).expect("bench config");
    let project = Project::from_sources(dir, config, [("shop.flow", FLOWS)]);
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.join("flowc.db"), Durability::Full).expect("journal"));
    let engine = Engine::builder()
        .project_value(project.clone())
        .store(store.clone())
        .build()
        .expect("engine");
    let options = HostOptions {
        state: Some(dir.to_path_buf()),
        store: Some(store),
        ..HostOptions::default()
    };
    let env = |name: &str| (name == "BENCH_GITHUB_SECRET").then(|| SECRET.to_string());
    let host = Host::new(engine, &project, options, &env).expect("host");
    host.set_ready(true);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let addr = listener.local_addr().expect("its address");
    tokio::spawn(async move { axum::serve(listener, host_router(host)).await });
    format!("http://{addr}/hooks/orders")
}

/// Latencies of one run at `rate` requests/s for `seconds`, in microseconds, sorted; and how
/// many requests were not answered 202.
/// `tag`: the prefix of the requests' delivery ids; none sends no delivery id.
async fn run(
    client: &reqwest::Client,
    url: &str,
    rate: u32,
    seconds: u32,
    tag: Option<&str>,
) -> (Vec<u64>, usize) {
    let signature = sign_hmac_sha256(SECRET.as_bytes(), BODY.as_bytes(), Encoding::Hex, "sha256=");
    let total = (rate * seconds) as usize;
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let start = Instant::now() + Duration::from_millis(20);
    let mut tasks = Vec::with_capacity(total);
    for i in 0..total {
        let due = start + interval * i as u32;
        tokio::time::sleep_until(due.into()).await;
        let mut request = client
            .post(url)
            .header("content-type", "application/json")
            .header("x-hub-signature-256", &signature)
            .body(BODY);
        if let Some(tag) = tag {
            request = request.header("x-github-delivery", format!("{tag}-{i}"));
        }
        tasks.push(tokio::spawn(async move {
            let ok = matches!(request.send().await, Ok(r) if r.status().as_u16() == 202);
            // From the scheduled time: a request sent late because the generator fell behind
            // counts its wait too (no coordinated omission).
            (due.elapsed().as_micros() as u64, ok)
        }));
    }
    let mut latencies = Vec::with_capacity(total);
    let mut failed = 0;
    for t in tasks {
        match t.await {
            Ok((micros, true)) => latencies.push(micros),
            _ => failed += 1,
        }
    }
    latencies.sort_unstable();
    (latencies, failed)
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::INFINITY;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1] as f64 / 1000.0
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("a state folder");
        let url = serve(dir.path()).await;
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(1024)
            .build()
            .expect("a client");
        // Warm up: connections, SQLite pages, the allocator.
        let _ = run(&client, &url, 500, 1, Some("warm")).await;
        for (variant, ids) in [("delivery ids", true), ("no delivery id", false)] {
            let tag = |rate: u32| ids.then(|| format!("{variant}-{rate}"));
            let (at_5k, failed) = run(&client, &url, 5000, 3, tag(5000).as_deref()).await;
            println!(
                "serve_load ({variant}): 5000 req/s for 3 s: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, {failed} not 202 (target p99 < 2 ms)",
                percentile(&at_5k, 0.50),
                percentile(&at_5k, 0.99),
                percentile(&at_5k, 1.0),
            );
            let mut best = None;
            for rate in [100, 250, 500, 1000, 2000, 3000, 5000, 8000, 12000] {
                let (lat, failed) = run(&client, &url, rate, 2, tag(rate + 1).as_deref()).await;
                let p99 = percentile(&lat, 0.99);
                println!(
                    "serve_load ({variant}): {rate} req/s for 2 s: p50 {:.2} ms, p99 {p99:.2} ms, {failed} not 202",
                    percentile(&lat, 0.50),
                );
                if p99 >= 10.0 || failed > 0 {
                    break;
                }
                best = Some(rate);
            }
            match best {
                Some(rate) => println!("serve_load ({variant}): highest rate with p99 < 10 ms: {rate} req/s"),
                None => println!("serve_load ({variant}): no rate of the ladder kept p99 under 10 ms"),
            }
        }
    });
}
