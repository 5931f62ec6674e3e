//! `flowc store migrate`: an installation moves from SQLite to PostgreSQL with its waiting
//! instances, which finish there; bad URLs are usage errors.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use flowc::config::Config;
use flowc::runtime::{Engine, EventKind, Store, SystemClock, VirtualClock};
use flowc::store::{Durability, PostgresStore, SqliteStore};
use flowc::value::Value;
use flowc::Project;
use serde_json::json;

use super::cluster;
use super::conformance::wait_for;

fn project() -> Project {
    let src = "entity e {}\nflow f for e {\n  input { n: number }\n  wait 1d\n  output { n: input.n }\n}\n";
    Project::from_sources(Path::new("/t"), Config::default(), [("t.flow", src)])
}

const DELIVERY: &str = "delivery /hooks/f#msg_1";

fn flowc(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_flowc"))
        .args(args)
        .output()
        .unwrap()
}

#[tokio::test]
async fn instances_waiting_in_sqlite_finish_on_postgres_after_the_migration() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flowc.db");
    let (waiting, done) = {
        let store = Arc::new(SqliteStore::open(&path, Durability::Full).unwrap());
        let engine = Engine::builder()
            .project_value(project())
            .store(store.clone())
            .clock(Arc::new(SystemClock))
            .build()
            .unwrap();
        let mut waiting = Vec::new();
        for n in 0..3 {
            // A webhook delivery started the first: a retry of it after the move finds it.
            let id = match n {
                0 => engine
                    .start_delivery("f", json!({ "n": n }), DELIVERY)
                    .await
                    .unwrap(),
                _ => engine.start("f", json!({ "n": n })).await.unwrap(),
            };
            wait_for(&*store, &id, |k| matches!(k, EventKind::WaitStarted { .. })).await;
            waiting.push(id);
        }
        let done = waiting.pop().unwrap();
        engine.cancel(&done).await.unwrap();
        wait_for(&*store, &done, |k| matches!(k, EventKind::InstanceCancelled)).await;
        (waiting, done)
    };
    let url = cluster::database();
    let from = format!("sqlite:{}", path.display());
    let out = flowc(&["store", "migrate", "--from", &from, "--to", &url]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("copied 3 instances (2 unfinished)"), "{stdout}");
    assert!(stdout.contains(" and 1 webhook deliveries from "), "{stdout}");
    // Again: nothing changes, nothing fails.
    let again = flowc(&["store", "migrate", "--from", &from, "--to", &url]);
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );

    let store = Arc::new(PostgresStore::open(&url).unwrap());
    assert_eq!(store.record(&done.0).unwrap().status, "cancelled");
    assert_eq!(store.delivery(DELIVERY).as_ref(), Some(&waiting[0].0));
    let engine = Engine::builder()
        .project_value(project())
        .store(store.clone())
        .clock(Arc::new(VirtualClock::new(Utc::now())))
        .build()
        .unwrap();
    let mut resumed = engine.recover().await;
    resumed.sort();
    assert_eq!(resumed, waiting);
    for (n, id) in waiting.iter().enumerate() {
        let out = tokio::time::timeout(Duration::from_secs(10), engine.output(id))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(out.get("n"), &Value::from_json(&json!(n)));
        assert_eq!(store.record(&id.0).unwrap().status, "completed");
    }
}

#[test]
fn a_migration_between_wrong_kinds_of_store_is_a_usage_error() {
    let out = flowc(&[
        "store",
        "migrate",
        "--from",
        "postgres://a@b/c",
        "--to",
        "postgres://a@b/d",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--from takes `sqlite:PATH`"));
    let out = flowc(&[
        "store",
        "migrate",
        "--from",
        "sqlite:/nowhere/flowc.db",
        "--to",
        "mysql://x@y/z",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown kind of store `mysql:`"), "{err}");
    let out = flowc(&[
        "store",
        "migrate",
        "--from",
        "sqlite:/nowhere/flowc.db",
        "--to",
        "postgres://x@y/z",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no state database /nowhere/flowc.db"));
}
