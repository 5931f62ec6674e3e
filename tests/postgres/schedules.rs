//! Schedules with several hosts on one database: every host runs every schedule, and each due
//! time fires once (the first host to claim it starts the instance), including while one of
//! the hosts stops.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use flowc::config::Config;
use flowc::runtime::Store;
use flowc::serve::project_bundles;
use flowc::serve::schedules::{run_schedules, schedule_triggers, Firings, Missed};
use flowc::Project;

use super::cluster;
use super::forward::{api_host, ApiHost};

/// Every two seconds (`next_after` walks at most 10,000 due times from three hours back, so
/// a schedule every second finds none).
const FLOWS: &str = r#"
entity shop {}

flow tick for shop {
  on schedule "*/2 * * * * *"
  output { done: true }
}
"#;

const HOSTS: usize = 3;

/// The claims of the schedule's due times: due time → the instance started for it.
fn firings(url: &str) -> BTreeMap<String, Option<String>> {
    let url = url.to_string();
    std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        c.query(
            "SELECT key, instance FROM claims WHERE key LIKE 'schedule %'",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
    })
    .join()
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn several_hosts_fire_each_due_time_of_a_schedule_once() {
    let url = cluster::database();
    let project = Project::from_sources(Path::new("/hosts"), Config::default(), [("shop.flow", FLOWS)]);
    let triggers = schedule_triggers(&project_bundles(&project).unwrap()).unwrap();
    let hosts: Vec<ApiHost> = (0..HOSTS)
        .map(|i| api_host(&url, &format!("host-{i}"), FLOWS))
        .collect();
    for h in &hosts {
        run_schedules(
            &h.host,
            triggers.clone(),
            Firings::open(None).unwrap(),
            Missed::One,
        );
    }
    tokio::time::sleep(Duration::from_millis(4500)).await;
    // One host stops; the others go on firing every due time.
    hosts[0].engine.shutdown().await;
    tokio::time::sleep(Duration::from_millis(5000)).await;
    for h in &hosts {
        h.engine.shutdown().await;
    }
    // A claim made just before the shutdowns may still be starting its instance.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let fired = firings(&url);
    let records = hosts[1].store.records();
    let ticks: Vec<_> = records.iter().filter(|r| r.flow.ends_with("tick")).collect();
    let started: Vec<&str> = fired.values().flatten().map(String::as_str).collect();
    eprintln!(
        "{HOSTS} hosts: {} due times claimed, {} instances of the schedule",
        fired.len(),
        ticks.len()
    );
    assert!(fired.len() >= 3, "a due time every two seconds: {fired:?}");
    // Once per due time: as many instances as due times, each the instance of its due time.
    assert_eq!(ticks.len(), started.len(), "{fired:?}");
    for r in &ticks {
        assert!(
            started.contains(&r.id.as_str()),
            "{} started for no due time",
            r.id
        );
    }
    // No due time was skipped while hosts ran: they are two seconds apart.
    let dues: Vec<chrono::DateTime<chrono::Utc>> = fired
        .keys()
        .map(|k| {
            let at = k.rsplit(" at ").next().unwrap();
            chrono::DateTime::parse_from_rfc3339(at).unwrap().to_utc()
        })
        .collect();
    for pair in dues.windows(2) {
        assert_eq!(pair[1] - pair[0], chrono::Duration::seconds(2), "{dues:?}");
    }
    // And every claim started its instance.
    assert!(fired.values().all(Option::is_some), "{fired:?}");
}
