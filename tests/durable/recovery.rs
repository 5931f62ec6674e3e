//! Recovery carries on where the journal says: a retry sequence interrupted by a crash resumes at
//! its next attempt, when its backoff ends.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use flowc::config::Config;
use flowc::connectors::{ActionSpec, ErrorClass, Manifest};
use flowc::runtime::{
    Engine, EventKind, MemoryStore, Recording, RecordingConnector, Store, StubAnswer, StubKey, SystemClock,
    VirtualClock,
};
use flowc::types::Type;
use flowc::value::Value;
use flowc::Project;
use serde_json::json;

const FLOW: &str = "entity e {}\nflow f for e {\n  step a = svc.do()\n    retry 5 times backoff 20ms..1h factor 1000 no jitter\n  output { a }\n}\n";

fn manifest() -> Manifest {
    Manifest {
        name: "svc".into(),
        description: "test service".into(),
        actions: vec![ActionSpec::new("do", "test", Type::Any)],
    }
}

#[tokio::test]
async fn a_retry_interrupted_by_a_crash_resumes_at_its_next_attempt() {
    let project = Project::from_sources(Path::new("/t"), Config::default(), [("t.flow", FLOW)]);
    let store = Arc::new(MemoryStore::new());
    // First process (wall clock): attempts 1 and 2 fail; attempt 3 is due 20 s later when it
    // dies.
    let r1 = Recording::new();
    let fail = StubAnswer::Fails(ErrorClass::Transient, "down".into());
    r1.stub(StubKey::Action("svc.do".into()), vec![fail]);
    let e1 = Engine::builder()
        .project_value(project.clone())
        .connector(RecordingConnector::new(
            manifest(),
            r1.clone(),
            Arc::new(SystemClock),
        ))
        .store(store.clone())
        .build()
        .unwrap();
    let id = e1.start("f", json!({})).await.unwrap();
    for _ in 0..400 {
        let retried = e1
            .history(&id)
            .iter()
            .filter(|e| matches!(e.kind, EventKind::StepRetried { .. }))
            .count();
        if retried == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let attempts: Vec<u32> = r1.calls().iter().map(|c| c.call.attempt).collect();
    assert_eq!(attempts, [1, 2]);
    let retried_at = e1
        .history(&id)
        .iter()
        .rev()
        .find(|e| matches!(e.kind, EventKind::StepRetried { .. }))
        .map(|e| e.at)
        .unwrap();
    drop(e1);
    // Second process: the call succeeds now.
    let r2 = Recording::new();
    r2.stub(
        StubKey::Action("svc.do".into()),
        vec![StubAnswer::Returns(Value::text("ok"))],
    );
    let clock2 = Arc::new(VirtualClock::new(retried_at));
    let e2 = Engine::builder()
        .project_value(project)
        .connector(RecordingConnector::new(manifest(), r2.clone(), clock2.clone()))
        .store(store)
        .clock(clock2.clone())
        .build()
        .unwrap();
    assert_eq!(e2.recover().await, vec![id.clone()]);
    let out = tokio::time::timeout(Duration::from_secs(10), e2.output(&id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.get("a"), &Value::text("ok"));
    let calls = r2.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].call.attempt, 3, "the sequence went on at attempt 3");
    // ... when its backoff ended, 20 s after the retry was journaled.
    assert_eq!((calls[0].at - retried_at).num_seconds(), 20);
}

#[tokio::test]
async fn an_ended_instance_keeps_its_start_output_and_end_when_compacted() {
    let src = "entity e {}\nflow f for e {\n  step a = svc.do()\n  wait 1s\n  output { a }\n}\n";
    let project = Project::from_sources(Path::new("/t"), Config::default(), [("t.flow", src)]);
    let clock = Arc::new(VirtualClock::new(chrono::Utc::now()));
    let build = |compact: bool| {
        Engine::builder()
            .project_value(project.clone())
            .connector(RecordingConnector::new(
                manifest(),
                Recording::new(),
                clock.clone(),
            ))
            .clock(clock.clone())
            .compact_ended(compact)
            .build()
            .unwrap()
    };
    for (compact, expected) in [(true, 3), (false, 8)] {
        let engine = build(compact);
        let id = engine.start("f", json!({})).await.unwrap();
        let out = tokio::time::timeout(Duration::from_secs(10), engine.output(&id)).await;
        assert!(out.unwrap().is_ok());
        let kinds: Vec<EventKind> = engine.history(&id).into_iter().map(|e| e.kind).collect();
        assert_eq!(kinds.len(), expected, "{kinds:?}");
        if compact {
            assert!(matches!(kinds[0], EventKind::InstanceStarted { .. }));
            assert!(matches!(kinds[1], EventKind::Output { .. }));
            assert_eq!(kinds[2], EventKind::InstanceCompleted);
        }
    }
}

#[tokio::test]
async fn now_read_before_a_crash_reads_the_same_after_resume_on_a_later_clock() {
    // `stamp` is a `let`: not a step, so recovery evaluates it again; `now()` must answer what
    // it answered the first time, not the restarted process's time.
    let src = "entity e {}\nflow f for e {\n  let stamp = format_date(now(), \"%Y-%m-%d %H:%M:%S\")\n  let day = today()\n  wait 1d\n  output { stamp, day, late: format_date(now(), \"%Y-%m-%d %H:%M:%S\") }\n}\n";
    let project = Project::from_sources(Path::new("/t"), Config::default(), [("t.flow", src)]);
    let store = Arc::new(MemoryStore::new());
    let t0 = chrono::DateTime::parse_from_rfc3339("2026-03-01T09:30:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let clock1 = Arc::new(VirtualClock::new(t0));
    let e1 = Engine::builder()
        .project_value(project.clone())
        .store(store.clone())
        .clock(clock1)
        .build()
        .unwrap();
    let id = e1.start("f", json!({})).await.unwrap();
    for _ in 0..400 {
        if e1
            .history(&id)
            .iter()
            .any(|e| matches!(e.kind, EventKind::WaitStarted { .. }))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let reads: Vec<_> = e1
        .history(&id)
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::ClockRead { step, at } => Some((step.to_string(), at)),
            _ => None,
        })
        .collect();
    assert_eq!(reads, [("stamp".to_string(), t0), ("day".to_string(), t0)]);
    drop(e1);
    // The process comes back three days later: the wait is over.
    let t1 = t0 + chrono::Duration::days(3) + chrono::Duration::hours(5);
    let e2 = Engine::builder()
        .project_value(project)
        .store(store)
        .clock(Arc::new(VirtualClock::new(t1)))
        .build()
        .unwrap();
    assert_eq!(e2.recover().await, vec![id.clone()]);
    let out = tokio::time::timeout(Duration::from_secs(10), e2.output(&id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.get("stamp"), &Value::text("2026-03-01 09:30:00"));
    assert_eq!(out.get("day").to_json(), json!("2026-03-01"));
    // What runs after the restart reads the clock of its time.
    assert_eq!(out.get("late"), &Value::text("2026-03-04 14:30:00"));
    // The replay journals no second reading of the `let`s.
    let stamps = e2
        .history(&id)
        .iter()
        .filter(|e| matches!(&e.kind, EventKind::ClockRead { step, .. } if step == "stamp"))
        .count();
    assert_eq!(stamps, 1);
}

#[tokio::test]
async fn a_connector_retry_is_a_journaled_timer_and_resumes_at_its_next_attempt_from_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flowc.db");
    let project = Project::from_sources(Path::new("/t"), Config::default(), [("t.flow", FLOW)]);
    let id = {
        // First process (wall clock): attempts 1 and 2 fail; attempt 3 is due 20 s after the
        // second failure, and the process dies meanwhile.
        let store = Arc::new(flowc::store::SqliteStore::open(&path, flowc::store::Durability::Full).unwrap());
        let clock = Arc::new(SystemClock);
        let r1 = Recording::new();
        let fail = StubAnswer::Fails(ErrorClass::Transient, "down".into());
        r1.stub(StubKey::Action("svc.do".into()), vec![fail.clone(), fail]);
        let e1 = Engine::builder()
            .project_value(project.clone())
            .connector(RecordingConnector::new(manifest(), r1.clone(), clock.clone()))
            .store(store.clone())
            .clock(clock.clone())
            .build()
            .unwrap();
        let id = e1.start("f", json!({})).await.unwrap();
        let mut timer = None;
        for _ in 0..400 {
            timer = store
                .timers()
                .into_iter()
                .find(|t| t.instance == id.0 && t.at > chrono::Utc::now() + chrono::Duration::seconds(10));
            if timer.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let timer = timer.expect("the retry's backoff is a timer record in the journal");
        assert_eq!(timer.step, "a");
        assert_eq!(r1.calls().len(), 2);
        drop(e1);
        id
    };
    // Second process, an hour later: the call succeeds now.
    let store = Arc::new(flowc::store::SqliteStore::open(&path, flowc::store::Durability::Full).unwrap());
    let clock = Arc::new(VirtualClock::new(chrono::Utc::now() + chrono::Duration::hours(1)));
    let r2 = Recording::new();
    r2.stub(
        StubKey::Action("svc.do".into()),
        vec![StubAnswer::Returns(Value::text("ok"))],
    );
    let e2 = Engine::builder()
        .project_value(project)
        .connector(RecordingConnector::new(manifest(), r2.clone(), clock.clone()))
        .store(store)
        .clock(clock)
        .build()
        .unwrap();
    assert_eq!(e2.recover().await, vec![id.clone()]);
    let out = tokio::time::timeout(Duration::from_secs(10), e2.output(&id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.get("a"), &Value::text("ok"));
    let attempts: Vec<u32> = r2.calls().iter().map(|c| c.call.attempt).collect();
    assert_eq!(attempts, [3], "the connector sees attempt 3, not attempt 1 again");
}
