//! Queued creates through the Notion connector against the emulator limited like Notion
//! (3 requests per second): the achieved rate should be within 5% of the limit, with no
//! failed call. `NOTION_BENCH_CREATES` sets the count (default 60; 1,000 takes ~333 s).

/// The `flowc` binary's allocator, so that the figures are those of `flowc` itself.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use flowc::connectors::notion::emulator::Emulator;
use flowc::connectors::notion::schema::NotionSchemas;
use flowc::connectors::notion::NotionConnector;
use flowc::connectors::{ActionCall, Connector};
use flowc::value::Value;

const LIMIT: f64 = 3.0;
const TOKEN: &str = "bench-token";

fn main() {
    flowc::cli::allocator::tune();
    let creates: usize = std::env::var("NOTION_BENCH_CREATES")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 3)
        .unwrap_or(60);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(run(creates));
}

fn call(db: &str, properties: Value, key: String) -> ActionCall {
    let mut args = BTreeMap::new();
    args.insert("db".to_string(), Value::text(db));
    args.insert("properties".to_string(), properties);
    ActionCall {
        action: "create_page".into(),
        args,
        entity: "bench".into(),
        flow_entity: "bench".into(),
        instance: "bench".into(),
        step: "create".into(),
        attempt: 1,
        idempotency_key: key.into(),
    }
}

async fn run(creates: usize) {
    let schemas: NotionSchemas = serde_json::from_value(serde_json::json!({"entities": {"bench": {
        "Task": {"properties": {"Title": {"type": "title"}, "Done": {"type": "checkbox"}}}
    }}}))
    .expect("schema");
    let emulator = Emulator::start(&schemas, &[TOKEN]).await.expect("emulator");
    // The server allows one request of slack over the client's burst for network jitter.
    emulator.set_rate_limit(Some((LIMIT, 4)));
    let mut config = emulator.config("NOTION_BENCH_TOKEN");
    let table = config.connectors.entry("notion".into()).or_default();
    table.insert("requests_per_second".into(), toml::Value::Float(LIMIT));
    table.insert("burst".into(), toml::Value::Integer(3));
    let notion =
        NotionConnector::from_config_with_env(&config, |_| Some(TOKEN.to_string())).expect("connector");

    println!("notion: {creates} queued creates, limit {LIMIT} requests/s");
    let started = Instant::now();
    let tasks = (0..creates).map(|i| {
        let notion = &notion;
        async move {
            let properties = Value::record([("Title", Value::text(format!("task {i}")))]);
            let result = notion.call(call("Task", properties, format!("bench/{i}"))).await;
            (result, started.elapsed())
        }
    });
    let results = futures::future::join_all(tasks).await;
    let elapsed = started.elapsed();
    let failed = results.iter().filter(|(r, _)| r.is_err()).count();
    if let Some((Err(e), _)) = results.iter().find(|(r, _)| r.is_err()) {
        println!("  first failure: {e}");
    }
    let requests = emulator.request_count();
    let mut finished: Vec<Duration> = results.iter().map(|(_, t)| *t).collect();
    finished.sort();
    // After the first burst the bucket refills at the limit: that is the sustained rate.
    let burst = 3.min(finished.len() - 1);
    let steady =
        (finished.len() - 1 - burst) as f64 / (finished[finished.len() - 1] - finished[burst]).as_secs_f64();
    let overall = requests as f64 / elapsed.as_secs_f64();
    let off = (steady - LIMIT) / LIMIT * 100.0;
    println!("  requests: {requests} (incl. 2 to resolve the database) in {elapsed:.2?}");
    println!("  sustained rate: {steady:.3} requests/s ({off:+.1}% vs limit; target within 5%)");
    println!("  overall rate incl. initial burst: {overall:.3} requests/s");
    println!(
        "  failed calls: {failed} (target 0); 429 answers: {}",
        emulator.rate_limited_count()
    );
    println!("  pages stored: {}", emulator.pages("bench", "Task").len());
}
