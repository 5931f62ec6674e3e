//! What every durable store must do, one body per rule, run against SQLite (tests/durable) and
//! PostgreSQL (tests/postgres). A test gives a function that opens the store again on the same
//! place (the same file, the same database), as a restarted process would.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use flowc::config::Config;
use flowc::runtime::{
    Commit, Engine, Event, EventKind, InstanceId, Store, SystemClock, TimerRecord, VirtualClock,
};
use flowc::value::Value;
use flowc::Project;
use serde_json::json;

/// Opens the store under test again on the same place.
pub type Open<'a> = &'a dyn Fn() -> Arc<dyn Store>;

pub async fn kept(commit: Commit) {
    match commit {
        Commit::Done => {}
        Commit::Pending(rx) => rx.await.unwrap().unwrap(),
    }
}

fn started(flow: &str) -> EventKind {
    EventKind::InstanceStarted {
        flow: flow.into(),
        input: Value::Null,
        parent: None,
        entity: Some("e".into()),
        plan: Some("h1".into()),
    }
}

/// A reaction's events handed over from a buffer the engine keeps using (`append_from`) land
/// after what came before, in order, and leave the buffer empty for the next reaction; an empty
/// buffer appends nothing.
pub async fn batches_from_a_kept_buffer_append_in_order(open: Open<'_>) {
    let store = open();
    let t = Utc::now();
    let ev = |seq, kind| Event { seq, at: t, kind };
    let mut buffer = vec![ev(0, started("f"))];
    kept(store.append_from("k", &mut buffer)).await;
    assert!(buffer.is_empty(), "the events were taken out of the buffer");
    buffer.push(ev(
        1,
        EventKind::Output {
            value: Value::Int(1).into(),
        },
    ));
    buffer.push(ev(2, EventKind::InstanceCompleted));
    kept(store.append_from("k", &mut buffer)).await;
    assert!(buffer.is_empty());
    kept(store.append_from("k", &mut buffer)).await;
    kept(store.sync()).await;
    let seqs: Vec<u64> = open().history("k").iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [0, 1, 2]);
}

/// After a batch of an instance is not written (here: it takes the place of an event kept
/// already), a later batch of that instance that would leave a hole is refused, and the batch
/// that starts where the journal ends (the instance's next life, replayed from it) is written;
/// other instances are not held up.
pub async fn a_batch_after_an_unwritten_one_is_written_only_without_a_hole(open: Open<'_>) {
    let store = open();
    let t = Utc::now();
    let ev = |seq, kind| Event { seq, at: t, kind };
    let refused = |commit: Commit| async move {
        match commit {
            Commit::Pending(rx) => rx.await.unwrap().expect_err("refused"),
            Commit::Done => panic!("a durable store answers when it has written"),
        }
    };
    kept(store.append_batch("h", vec![ev(0, started("f"))])).await;
    refused(store.append_batch("h", vec![ev(0, EventKind::InstanceCancelled)])).await;
    let hole = refused(store.append_batch("h", vec![ev(2, EventKind::InstanceCompleted)])).await;
    assert!(hole.0.contains("an earlier batch was not written"), "{hole}");
    kept(store.append_batch("other", vec![ev(0, started("f"))])).await;
    kept(store.append_batch("h", vec![ev(1, EventKind::InstanceCompleted)])).await;
    kept(store.append_batch(
        "h",
        vec![ev(
            2,
            EventKind::Output {
                value: Value::Int(1).into(),
            },
        )],
    ))
    .await;
    let seqs: Vec<u64> = open().history("h").iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [0, 1, 2]);
    assert_eq!(open().history("other").len(), 1);
}

/// A batch whose later event cannot be written (its place is taken) leaves nothing behind: not
/// its earlier events, not the status they set.
pub async fn a_batch_is_written_whole_or_not_at_all(open: Open<'_>) {
    let store = open();
    let t = Utc::now();
    let ev = |seq, kind| Event { seq, at: t, kind };
    kept(store.append_batch("w", vec![ev(0, started("f"))])).await;
    let Commit::Pending(rx) = store.append_batch(
        "w",
        vec![
            ev(1, EventKind::InstanceCompleted),
            ev(0, EventKind::InstanceCancelled),
        ],
    ) else {
        panic!("a durable store answers when it has written");
    };
    rx.await.unwrap().expect_err("its second event's place is taken");
    let store = open();
    let kinds: Vec<EventKind> = store.history("w").into_iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [started("f")]);
    assert_eq!(store.record("w").unwrap().status, "running");
}

/// Histories, timers, plans and statuses are what they were after reopening; removing a timer
/// and compacting an ended instance are kept too.
pub async fn histories_timers_plans_and_statuses_survive_reopening(open: Open<'_>) {
    let t = Utc::now();
    {
        let store = open();
        let ev = |seq, kind| Event { seq, at: t, kind };
        kept(store.append_batch(
            "a",
            vec![ev(0, started("f")), ev(1, EventKind::InstanceCompleted)],
        ))
        .await;
        kept(store.append_batch("b", vec![ev(0, started("g"))])).await;
        store.put_timer(TimerRecord {
            id: 7,
            instance: "b".into(),
            at: t,
            step: "w".into(),
        });
        store.put_plan("h1", "{\"bundle\": 1}");
        kept(store.sync()).await;
        assert_eq!(store.timers().len(), 1, "a timer is read back before reopening");
        store.remove_timer(7);
        store.put_timer(TimerRecord {
            id: 8,
            instance: "b".into(),
            at: t,
            step: "w2".into(),
        });
        kept(store.sync()).await;
    }
    let store = open();
    assert_eq!(store.history("a").len(), 2);
    assert_eq!(store.history("a")[0].at.timestamp_micros(), t.timestamp_micros());
    assert_eq!(store.history("b")[0].kind, started("g"));
    assert_eq!(store.unfinished(), vec!["b".to_string()]);
    let records = store.records();
    let status: Vec<(&str, &str)> = records
        .iter()
        .map(|r| (r.id.as_str(), r.status.as_str()))
        .collect();
    assert_eq!(status, [("a", "completed"), ("b", "running")]);
    assert_eq!(store.record("b").unwrap().plan.as_deref(), Some("h1"));
    assert_eq!(store.record("b").unwrap().entity, "e");
    assert!(store.record("c").is_none());
    assert_eq!(store.instances(), ["a", "b"]);
    let timers = store.timers();
    assert_eq!(timers.len(), 1, "{timers:?}");
    assert_eq!((timers[0].id, timers[0].step.as_str()), (8, "w2"));
    assert_eq!(store.plan("h1").as_deref(), Some("{\"bundle\": 1}"));
    assert_eq!(store.plan("h2"), None);
    store.remove_timer(8);
    store.compact("a");
    kept(store.sync()).await;
    assert!(store.timers().is_empty());
    let kinds: Vec<EventKind> = store.history("a").into_iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [started("f"), EventKind::InstanceCompleted]);
}

/// Record fields (text with quotes, unicode, big numbers) come back exactly as written, in the
/// order written.
pub async fn values_come_back_exactly(open: Open<'_>) {
    let store = open();
    let value = Value::from_json(&json!({
        "zeta": "a \"quoted\" text\nwith a newline and ünïcödé ✓",
        "alpha": 820982911946154508i64,
        "mid": [1.5, null, true, {"b": 1, "a": 2}]
    }));
    let events = vec![
        Event {
            seq: 0,
            at: Utc::now(),
            kind: started("f"),
        },
        Event {
            seq: 1,
            at: Utc::now(),
            kind: EventKind::Output {
                value: value.clone().into(),
            },
        },
    ];
    kept(store.append_batch("v", events.clone())).await;
    let back = store.history("v");
    assert_eq!(back[1].kind, events[1].kind);
    assert_eq!(
        serde_json::to_string(&back[1].kind).unwrap(),
        serde_json::to_string(&events[1].kind).unwrap(),
        "fields keep their order"
    );
}

/// The effect log: the last record of a key wins (records sent one after another without
/// waiting are kept in that order), logs do not see each other's keys, and what was committed is
/// there after reopening.
pub async fn effect_records_keep_their_order_and_survive_reopening(open: Open<'_>) {
    {
        let store = open();
        assert_eq!(store.effect("email.sent", "k1").unwrap(), None);
        // An intent, not awaited, then its outcome, awaited: the outcome wins.
        drop(store.put_effect("email.sent", "k1", r#"{"stage":"intent"}"#.into()));
        kept(store.put_effect("email.sent", "k1", r#"{"stage":"sent"}"#.into())).await;
        kept(store.put_effect("sms.sent", "k1", r#"{"sid":"SM1"}"#.into())).await;
        drop(store.put_effect("email.sent", "k2", r#"{"stage":"intent"}"#.into()));
        kept(store.sync()).await;
        assert_eq!(
            store.effect("email.sent", "k1").unwrap().as_deref(),
            Some(r#"{"stage":"sent"}"#)
        );
    }
    let store = open();
    assert_eq!(
        store.effect("email.sent", "k1").unwrap().as_deref(),
        Some(r#"{"stage":"sent"}"#)
    );
    assert_eq!(
        store.effect("sms.sent", "k1").unwrap().as_deref(),
        Some(r#"{"sid":"SM1"}"#)
    );
    assert_eq!(
        store.effect("email.sent", "k2").unwrap().as_deref(),
        Some(r#"{"stage":"intent"}"#),
        "a record not awaited is kept by the next sync"
    );
    assert_eq!(store.effect("slack.posted", "k1").unwrap(), None);
}

fn project(version: u32) -> Project {
    let src = format!("entity e {{}}\nflow f for e {{\n  wait 1d\n  output {{ version: {version} }}\n}}\n");
    Project::from_sources(Path::new("/t"), Config::default(), [("t.flow", src.as_str())])
}

/// A webhook delivery registered for an instance ([`Store::deliver`]) is kept with that
/// instance's start: found once the start is kept, and after reopening; an unknown key, or one
/// whose instance's start was never appended, is not found.
pub async fn a_delivery_is_kept_with_its_instance_start(open: Open<'_>) {
    let store = open();
    let ids: Vec<String> = (0..3).map(|_| uuid::Uuid::now_v7().to_string()).collect();
    for (n, id) in ids.iter().enumerate().take(2) {
        store.deliver(&format!("delivery /hooks#{n}"), id);
        let start = Event {
            seq: 0,
            at: Utc::now(),
            kind: started("signup"),
        };
        kept(store.append_batch(id, vec![start])).await;
    }
    store.deliver("delivery /hooks#never", &ids[2]);
    assert_eq!(store.delivery("delivery /hooks#0").as_ref(), Some(&ids[0]));
    assert_eq!(store.delivery("delivery /hooks#1").as_ref(), Some(&ids[1]));
    assert_eq!(store.delivery("delivery /hooks#2"), None);
    assert_eq!(
        store.delivery("delivery /hooks#never"),
        None,
        "its start was not kept"
    );
    drop(store);
    let store = open();
    assert_eq!(store.delivery("delivery /hooks#0").as_ref(), Some(&ids[0]));
    assert_eq!(store.delivery("delivery /hooks#1").as_ref(), Some(&ids[1]));
    assert_eq!(store.delivery("delivery /hooks#2"), None);
}

/// An instance that starts and ends in one batch (a flow with no call to wait for) is recorded
/// as it ends: its status and the time of its end, as one that ends in a later batch is.
pub async fn an_instance_that_ends_in_its_first_batch_is_recorded_ended(open: Open<'_>) {
    let store = open();
    let t = Utc::now();
    let ev = |seq, at, kind| Event { seq, at, kind };
    let end = t + chrono::Duration::milliseconds(5);
    let failed = EventKind::InstanceFailed {
        step: "s".into(),
        message: "no".into(),
        class: "permanent".into(),
    };
    kept(store.append_batch(
        "one",
        vec![ev(0, t, started("f")), ev(1, end, EventKind::InstanceCompleted)],
    ))
    .await;
    kept(store.append_batch("two", vec![ev(0, t, started("f")), ev(1, end, failed)])).await;
    kept(store.append_batch("three", vec![ev(0, t, started("f"))])).await;
    kept(store.append_batch("three", vec![ev(1, end, EventKind::InstanceCompleted)])).await;
    drop(store);
    let store = open();
    for (id, status) in [("one", "completed"), ("two", "failed"), ("three", "completed")] {
        let record = store.record(id).unwrap();
        assert_eq!(record.status, status, "{id}");
        assert_eq!(record.started_at.timestamp_micros(), t.timestamp_micros(), "{id}");
        assert_eq!(
            record.updated_at.timestamp_micros(),
            end.timestamp_micros(),
            "{id}"
        );
    }
    assert!(store.unfinished().is_empty(), "{:?}", store.unfinished());
}

pub async fn wait_for(store: &dyn Store, id: &InstanceId, what: impl Fn(&EventKind) -> bool) {
    for _ in 0..400 {
        if store.history(&id.0).iter().any(|e| what(&e.kind)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("never happened: {:?}", store.history(&id.0));
}

/// An instance waiting when its process stops finishes after the restart, on the plan it
/// started with; new starts use the newest plan.
pub async fn a_waiting_instance_finishes_on_its_own_plan_after_a_restart(open: Open<'_>) {
    // First process, version 1: the instance waits a day (on the wall clock).
    let store1 = open();
    let e1 = Engine::builder()
        .project_value(project(1))
        .store(store1.clone())
        .clock(Arc::new(SystemClock))
        .build()
        .unwrap();
    let id = e1.start("f", json!({})).await.unwrap();
    wait_for(&*store1, &id, |k| matches!(k, EventKind::WaitStarted { .. })).await;
    drop(e1);
    drop(store1);
    // Second process, version 2 of the flow: the day passes at once on a virtual clock.
    let store2 = open();
    let clock = Arc::new(VirtualClock::new(Utc::now()));
    let e2 = Engine::builder()
        .project_value(project(2))
        .store(store2.clone())
        .clock(clock)
        .build()
        .unwrap();
    assert_eq!(e2.recover().await, vec![id.clone()]);
    let out = tokio::time::timeout(Duration::from_secs(10), e2.output(&id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        out.get("version"),
        &Value::Number(1.0),
        "finished on the plan it started with"
    );
    let fresh = e2.start("f", json!({})).await.unwrap();
    let out = tokio::time::timeout(Duration::from_secs(10), e2.output(&fresh))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        out.get("version"),
        &Value::Number(2.0),
        "new starts use the newest plan"
    );
    assert_eq!(store2.record(&id.0).unwrap().status, "completed");
    assert_eq!(
        store2.unfinished(),
        Vec::<String>::new(),
        "{:?}",
        store2.records()
    );
}
