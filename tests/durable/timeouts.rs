//! A connector attempt's `timeout` is a timer in the journal, fired by the one timer driver: a
//! crash during an attempt resumes at that attempt, with the same idempotency key, and its
//! deadline counts from when the journal says it started.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use flowc::config::Config;
use flowc::connectors::{ActionSpec, ErrorClass, Manifest};
use flowc::runtime::{
    Clock, Engine, Event, EventKind, InstanceId, Recording, RecordingConnector, Store, StubAnswer, StubKey,
    SystemClock, VirtualClock,
};
use flowc::store::{Durability, SqliteStore};
use flowc::types::Type;
use flowc::value::Value;
use flowc::Project;
use serde_json::json;

const FLOW: &str = "entity e {}\nflow f for e {\n  step a = svc.do()\n    timeout 1h\n    retry 3 times backoff 20ms..20ms no jitter\n  output { a }\n}\n";

fn manifest() -> Manifest {
    Manifest {
        name: "svc".into(),
        description: "test service".into(),
        actions: vec![ActionSpec::new("do", "test", Type::Any)],
    }
}

fn project() -> Project {
    Project::from_sources(Path::new("/t"), Config::default(), [("t.flow", FLOW)])
}

fn store(path: &Path) -> Arc<SqliteStore> {
    Arc::new(SqliteStore::open(path, Durability::Full).unwrap())
}

fn engine(store: Arc<SqliteStore>, recording: Arc<Recording>, clock: Arc<dyn Clock>) -> Engine {
    Engine::builder()
        .project_value(project())
        .connector(RecordingConnector::new(manifest(), recording, clock.clone()))
        .store(store)
        .clock(clock)
        .build()
        .unwrap()
}

fn close(a: DateTime<Utc>, b: DateTime<Utc>) -> bool {
    (a - b).num_milliseconds().abs() <= 1
}

/// What the first process left: the instance, when its attempt 2 started, its idempotency key.
struct Crashed {
    id: InstanceId,
    started: DateTime<Utc>,
    key: String,
}

/// First process (wall clock): attempt 1 fails, attempt 2 hangs; the process dies during it.
async fn crash_during_attempt_2(path: &Path) -> Crashed {
    let store = store(path);
    let r1 = Recording::new();
    r1.stub(
        StubKey::Action("svc.do".into()),
        vec![
            StubAnswer::Fails(ErrorClass::Transient, "down".into()),
            StubAnswer::Hangs,
        ],
    );
    let e1 = engine(store.clone(), r1.clone(), Arc::new(SystemClock));
    let id = e1.start("f", json!({})).await.unwrap();
    let started = |h: &[Event]| {
        h.iter().find_map(|e| match e.kind {
            EventKind::StepStarted { attempt: 2, .. } => Some(e.at),
            _ => None,
        })
    };
    let mut found = None;
    for _ in 0..400 {
        let at = started(&e1.history(&id));
        // Attempt 1's deadline timer stays armed (timers are not cancelled), 20 ms earlier.
        let timer = store.timers().into_iter().find(|t| {
            t.instance == id.0 && at.is_some_and(|at| close(t.at, at + chrono::Duration::hours(1)))
        });
        if let (Some(at), Some(timer)) = (at, timer) {
            found = Some((at, timer));
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (started, timer) =
        found.expect("attempt 2's deadline, an hour after it started, is a timer in the journal");
    assert_eq!(timer.step, "a");
    let calls = r1.calls();
    assert_eq!(calls.iter().map(|c| c.call.attempt).collect::<Vec<_>>(), [1, 2]);
    let key = calls[1].call.idempotency_key.to_string();
    drop(e1);
    Crashed { id, started, key }
}

/// The step's `step_failed` events: (attempt, message, when).
fn failures(engine: &Engine, id: &InstanceId) -> Vec<(u32, String, DateTime<Utc>)> {
    engine
        .history(id)
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::StepFailed { attempt, message, .. } => Some((attempt, message, e.at)),
            _ => None,
        })
        .collect()
}

async fn output(engine: &Engine, id: &InstanceId) -> Value {
    tokio::time::timeout(Duration::from_secs(10), engine.output(id))
        .await
        .expect("the instance ends")
        .unwrap()
}

#[tokio::test]
async fn a_crash_during_an_attempt_resumes_that_attempt_with_its_journaled_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flowc.db");
    let crashed = crash_during_attempt_2(&path).await;
    // Second process, 50 minutes after attempt 2 started: it hangs again, then succeeds.
    let clock = Arc::new(VirtualClock::new(crashed.started + chrono::Duration::minutes(50)));
    let r2 = Recording::new();
    r2.stub(
        StubKey::Action("svc.do".into()),
        vec![StubAnswer::Hangs, StubAnswer::Returns(Value::text("ok"))],
    );
    let e2 = engine(store(&path), r2.clone(), clock.clone());
    assert_eq!(e2.recover().await, vec![crashed.id.clone()]);
    assert_eq!(output(&e2, &crashed.id).await.get("a"), &Value::text("ok"));
    let calls = r2.calls();
    let attempts: Vec<u32> = calls.iter().map(|c| c.call.attempt).collect();
    assert_eq!(attempts, [2, 3], "attempt 2 is made again, not attempt 1");
    assert!(calls.iter().all(|c| c.call.idempotency_key == crashed.key));
    // It times out an hour after it first started (the journal's time), not an hour after the
    // restart: ten minutes of virtual time later.
    let deadline = crashed.started + chrono::Duration::hours(1);
    let failed = failures(&e2, &crashed.id);
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert_eq!((failed[1].0, failed[1].1.as_str()), (2, "timed out after 1h"));
    assert!(
        close(failed[1].2, deadline),
        "timed out at {}, not {deadline}",
        failed[1].2
    );
    assert!(close(calls[1].at, deadline + chrono::Duration::milliseconds(20)));
}

#[tokio::test]
async fn an_attempt_whose_deadline_passed_while_down_times_out_without_a_call() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flowc.db");
    let crashed = crash_during_attempt_2(&path).await;
    // Second process, two hours after attempt 2 started: its hour is over.
    let restart = crashed.started + chrono::Duration::hours(2);
    let clock = Arc::new(VirtualClock::new(restart));
    let r2 = Recording::new();
    r2.stub(
        StubKey::Action("svc.do".into()),
        vec![StubAnswer::Returns(Value::text("ok"))],
    );
    let e2 = engine(store(&path), r2.clone(), clock.clone());
    assert_eq!(e2.recover().await, vec![crashed.id.clone()]);
    assert_eq!(output(&e2, &crashed.id).await.get("a"), &Value::text("ok"));
    let attempts: Vec<u32> = r2.calls().iter().map(|c| c.call.attempt).collect();
    assert_eq!(
        attempts,
        [3],
        "attempt 2 ran out of time: the sequence goes on at attempt 3"
    );
    let failed = failures(&e2, &crashed.id);
    assert_eq!((failed[1].0, failed[1].1.as_str()), (2, "timed out after 1h"));
    assert!(close(failed[1].2, restart));
}

#[tokio::test]
async fn attempts_time_out_in_virtual_time_beside_other_timers() {
    // Two hanging calls with different timeouts, a retry and an event wait's deadline, all on one virtual clock:
    // each ends at its own virtual instant, and none takes real time.
    let src = "entity e {}\nflow f for e {\n  step a = svc.do() timeout 5m retry 2 times backoff 1m..1m no jitter fallback \"late\"\n  step b = svc.do() timeout 30s fallback \"late\"\n  step w = wait for event \"go\" timeout 7m\n  output { a, b, w }\n}\n";
    let project = Project::from_sources(Path::new("/t"), Config::default(), [("t.flow", src)]);
    let t0 = chrono::DateTime::parse_from_rfc3339("2026-03-01T09:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let clock = Arc::new(VirtualClock::new(t0));
    let r = Recording::new();
    r.stub(StubKey::Action("svc.do".into()), vec![StubAnswer::Hangs]);
    let engine = Engine::builder()
        .project_value(project)
        .connector(RecordingConnector::new(manifest(), r.clone(), clock.clone()))
        .clock(clock.clone())
        .build()
        .unwrap();
    let real = std::time::Instant::now();
    let id = engine.start("f", json!({})).await.unwrap();
    let out = output(&engine, &id).await;
    assert!(real.elapsed() < Duration::from_secs(2));
    assert_eq!(
        (out.get("a"), out.get("b")),
        (&Value::text("late"), &Value::text("late"))
    );
    let mut failed: Vec<(String, u32, i64)> = engine
        .history(&id)
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::StepFailed { step, attempt, .. } => {
                Some((step.to_string(), attempt, (e.at - t0).num_seconds()))
            }
            _ => None,
        })
        .collect();
    failed.sort_by_key(|f| f.2);
    assert_eq!(
        failed,
        [("b".into(), 1, 30), ("a".into(), 1, 300), ("a".into(), 2, 660)],
        "b after 30 s; a after 5 min, then again 1 min + 5 min later"
    );
    let waited = engine.history(&id).into_iter().find_map(|e| match e.kind {
        EventKind::WaitEnded { timed_out: true, .. } => Some((e.at - t0).num_seconds()),
        _ => None,
    });
    assert_eq!(waited, Some(420));
    assert_eq!(clock.now(), t0 + chrono::Duration::seconds(660));
}

#[tokio::test]
async fn an_attempt_paced_past_its_deadline_times_out_without_a_call() {
    // One call every 10 s for the account: the third item's turn (20 s) comes after its
    // deadline (15 s after it started), so it is abandoned while it waits, and never made.
    let src = "entity e {}\nflow f for e {\n  step all = for i in [1, 2, 3] {\n    step s = svc.do(x: i) timeout 15s fallback \"late\"\n    yield s\n  }\n  output { all }\n}\n";
    let manifest = Manifest {
        name: "svc".into(),
        description: "test service".into(),
        actions: vec![ActionSpec::new("do", "test", Type::Any)
            .optional("x", Type::Any, "test")
            .rate_limited(flowc::connectors::RateLimit {
                per_second: 0.1,
                burst: 1,
            })],
    };
    let project = Project::from_sources(Path::new("/t"), Config::default(), [("t.flow", src)]);
    let t0 = chrono::DateTime::parse_from_rfc3339("2026-03-01T09:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let clock = Arc::new(VirtualClock::new(t0));
    let r = Recording::new();
    r.stub(
        StubKey::Action("svc.do".into()),
        vec![StubAnswer::Returns(Value::text("done"))],
    );
    let engine = Engine::builder()
        .project_value(project)
        .connector(RecordingConnector::new(manifest, r.clone(), clock.clone()))
        .clock(clock.clone())
        .build()
        .unwrap();
    let id = engine.start("f", json!({})).await.unwrap();
    let out = output(&engine, &id).await;
    let mut all: Vec<String> = match out.get("all") {
        Value::List(items) => items
            .iter()
            .map(|v| v.as_str().unwrap_or("?").to_string())
            .collect(),
        v => panic!("{v:?}"),
    };
    all.sort();
    assert_eq!(all, ["done", "done", "late"]);
    let made: Vec<i64> = r.calls().iter().map(|c| (c.at - t0).num_seconds()).collect();
    assert_eq!(made, [0, 10], "no call goes out after its deadline");
    let failed: Vec<i64> = engine
        .history(&id)
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::StepFailed { .. } => Some((e.at - t0).num_seconds()),
            _ => None,
        })
        .collect();
    assert_eq!(failed, [15]);
    // The abandoned pacing took its unit of work back and gave it up at its end: once the
    // tasks have ended, the clock counts nothing running.
    for _ in 0..200 {
        if clock.busy() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(clock.busy(), 0);
}

#[tokio::test]
async fn a_sub_flow_attempt_keeps_its_journaled_deadline_after_a_crash() {
    let src = "entity e {}\nflow main for e {\n  step h = helper() timeout 1h fallback { w: \"late\" }\n  output { h: h.w }\n}\nflow helper for e {\n  step w = wait for event \"go\"\n  output { w }\n}\n";
    let project = Project::from_sources(Path::new("/t"), Config::default(), [("t.flow", src)]);
    let store = Arc::new(flowc::runtime::MemoryStore::new());
    let build = |clock: Arc<dyn Clock>| {
        Engine::builder()
            .project_value(project.clone())
            .store(store.clone())
            .clock(clock)
            .build()
            .unwrap()
    };
    // First process (wall clock): the child waits for an event; the process dies meanwhile.
    let e1 = build(Arc::new(SystemClock));
    let id = e1.start("main", json!({})).await.unwrap();
    let child = InstanceId(format!("{id}/h"));
    let mut started = None;
    for _ in 0..400 {
        let waiting = e1
            .history(&child)
            .iter()
            .any(|e| matches!(e.kind, EventKind::WaitStarted { .. }));
        started = e1.history(&id).iter().find_map(|e| match e.kind {
            EventKind::StepStarted { .. } => Some(e.at),
            _ => None,
        });
        if waiting && started.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let started = started.expect("the sub-flow started");
    drop(e1);
    // Second process, 50 minutes later: ten minutes are left of the hour.
    let e2 = build(Arc::new(VirtualClock::new(
        started + chrono::Duration::minutes(50),
    )));
    assert_eq!(e2.recover().await, vec![id.clone()]);
    assert_eq!(output(&e2, &id).await.get("h"), &Value::text("late"));
    let timed_out = e2.history(&id).into_iter().find_map(|e| match e.kind {
        EventKind::StepFailed { message, .. } => Some((message, e.at)),
        _ => None,
    });
    let (message, at) = timed_out.expect("the attempt timed out");
    assert_eq!(message, "timed out after 1h");
    assert!(
        close(at, started + chrono::Duration::hours(1)),
        "timed out at {at}"
    );
}
