//! Schedules on the virtual clock: due times across a DST change, each fired once.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use flowc::config::Config;
use flowc::runtime::{EventKind, MemoryStore, Store, VirtualClock};
use flowc::serve::project_bundles;
use flowc::serve::schedules::{run_schedules, schedule_triggers, Firings, Missed};
use flowc::serve::{Host, HostOptions};
use flowc::{Engine, Project};

const FLOWS: &str = r#"
entity shop {}

flow nightly for shop {
  on schedule "30 1 * * *" in "Europe/London"
  let note = "nightly"
  output { note }
}
"#;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// The start times of the instances in `store`, earliest first.
fn starts(store: &MemoryStore) -> Vec<DateTime<Utc>> {
    let mut times: Vec<DateTime<Utc>> = store
        .instances()
        .iter()
        .filter_map(|id| {
            let history = store.history(id);
            let first = history.first()?;
            matches!(first.kind, EventKind::InstanceStarted { .. }).then_some(first.at)
        })
        .collect();
    times.sort();
    times
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nightly_run_fires_once_a_night_across_the_clocks_going_back() {
    let project = Project::from_sources(Path::new("/sched"), Config::default(), [("s.flow", FLOWS)]);
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(VirtualClock::new(at("2026-10-24T12:00:00Z")));
    let engine = Engine::builder()
        .project_value(project.clone())
        .store(store.clone())
        .clock(clock.clone())
        .build()
        .unwrap();
    let host = Host::new(engine, &project, HostOptions::default(), &|_| None).unwrap();
    let triggers = schedule_triggers(&project_bundles(&project).unwrap()).unwrap();
    assert_eq!(triggers.len(), 1);
    run_schedules(&host, triggers, Firings::open(None).unwrap(), Missed::One);
    let mut fired = Vec::new();
    for _ in 0..500 {
        fired = starts(&store);
        if fired.len() >= 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    // 01:30 BST on the 25th (the first of its two occurrences), then 01:30 GMT.
    assert_eq!(
        fired[..3],
        [
            at("2026-10-25T00:30:00Z"),
            at("2026-10-26T01:30:00Z"),
            at("2026-10-27T01:30:00Z")
        ]
    );
    host.engine().shutdown().await;
}
