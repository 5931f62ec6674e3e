//! The SQLite store: the conformance rules every store keeps (tests/support/store_conformance.rs),
//! and what it cannot read it refuses clearly.

use std::path::Path;
use std::sync::Arc;

use flowc::runtime::Store;
use flowc::store::{Durability, SqliteStore};

use super::conformance;

fn reopen(path: &Path) -> impl Fn() -> Arc<dyn Store> + '_ {
    move || Arc::new(SqliteStore::open(path, Durability::Full).unwrap()) as Arc<dyn Store>
}

#[tokio::test]
async fn histories_timers_plans_and_statuses_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    conformance::histories_timers_plans_and_statuses_survive_reopening(&reopen(&dir.path().join("flowc.db")))
        .await;
}

#[tokio::test]
async fn batches_from_a_kept_buffer_append_in_order() {
    let dir = tempfile::tempdir().unwrap();
    conformance::batches_from_a_kept_buffer_append_in_order(&reopen(&dir.path().join("flowc.db"))).await;
}

/// The memory store moves the events out of the buffer instead of taking it: the same rule.
#[tokio::test]
async fn the_memory_store_appends_from_a_kept_buffer_in_order() {
    let store: Arc<dyn Store> = Arc::new(flowc::runtime::MemoryStore::new());
    conformance::batches_from_a_kept_buffer_append_in_order(&|| store.clone()).await;
}

#[tokio::test]
async fn a_batch_after_an_unwritten_one_is_written_only_without_a_hole() {
    let dir = tempfile::tempdir().unwrap();
    conformance::a_batch_after_an_unwritten_one_is_written_only_without_a_hole(&reopen(
        &dir.path().join("flowc.db"),
    ))
    .await;
}

#[tokio::test]
async fn a_batch_is_written_whole_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    conformance::a_batch_is_written_whole_or_not_at_all(&reopen(&dir.path().join("flowc.db"))).await;
}

#[tokio::test]
async fn values_come_back_exactly() {
    let dir = tempfile::tempdir().unwrap();
    conformance::values_come_back_exactly(&reopen(&dir.path().join("flowc.db"))).await;
}

#[tokio::test]
async fn a_waiting_instance_finishes_on_its_own_plan_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    conformance::a_waiting_instance_finishes_on_its_own_plan_after_a_restart(&reopen(
        &dir.path().join("flowc.db"),
    ))
    .await;
}

#[tokio::test]
async fn effect_records_keep_their_order_and_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    conformance::effect_records_keep_their_order_and_survive_reopening(&reopen(&dir.path().join("flowc.db")))
        .await;
}

#[tokio::test]
async fn an_instance_that_ends_in_its_first_batch_is_recorded_ended() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flowc.db");
    conformance::an_instance_that_ends_in_its_first_batch_is_recorded_ended(&reopen(&path)).await;
}

#[tokio::test]
async fn a_delivery_is_kept_with_its_instance_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flowc.db");
    conformance::a_delivery_is_kept_with_its_instance_start(&reopen(&path)).await;
    // In the instance's own row: a start adds no row keyed by the delivery, whose random order
    // would cost a page of the log each (docs/serve.md, "Load").
    let conn = rusqlite::Connection::open(&path).unwrap();
    let rows: i64 = conn
        .query_row("SELECT count(*) FROM deliveries", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 0);
    let kept: i64 = conn
        .query_row(
            "SELECT count(*) FROM instances WHERE delivery IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(kept, 2);
}

/// A database of schema 3 kept deliveries in a table of their own: opening it moves each into
/// its instance's row, keeps the ones whose instance it does not hold, and finds both.
#[test]
fn the_deliveries_of_a_schema_3_database_are_found_after_its_migration() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flowc.db");
    let id = uuid::Uuid::now_v7().to_string();
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(&format!(
        "CREATE TABLE instances (id TEXT PRIMARY KEY, flow TEXT NOT NULL, entity TEXT NOT NULL, plan TEXT,
             parent TEXT, status TEXT NOT NULL, started_at TEXT NOT NULL, updated_at TEXT NOT NULL) WITHOUT ROWID;
         CREATE INDEX instances_running ON instances(status) WHERE status = 'running';
         CREATE TABLE events (instance TEXT NOT NULL, seq INTEGER NOT NULL, at TEXT NOT NULL, kind TEXT NOT NULL,
             PRIMARY KEY (instance, seq)) WITHOUT ROWID;
         CREATE TABLE timers (id INTEGER PRIMARY KEY, instance TEXT NOT NULL, at TEXT NOT NULL, step TEXT NOT NULL);
         CREATE TABLE plans (hash TEXT PRIMARY KEY, bundle TEXT NOT NULL) WITHOUT ROWID;
         CREATE TABLE deliveries (key TEXT PRIMARY KEY, instance TEXT NOT NULL) WITHOUT ROWID;
         CREATE TABLE effects (log TEXT NOT NULL, key TEXT NOT NULL, record TEXT NOT NULL,
             PRIMARY KEY (log, key)) WITHOUT ROWID;
         INSERT INTO instances VALUES ('{id}', 'signup', 'shop', NULL, NULL, 'completed',
             '2026-12-01T10:00:00.000000Z', '2026-12-01T10:00:01.000000Z');
         INSERT INTO deliveries VALUES ('delivery /hooks#a', '{id}');
         INSERT INTO deliveries VALUES ('delivery /hooks#old', 'signup-1');
         PRAGMA user_version = 3;"
    ))
    .unwrap();
    drop(conn);
    let store = SqliteStore::open(&path, Durability::Full).unwrap();
    assert_eq!(store.delivery("delivery /hooks#a"), Some(id.clone()));
    assert_eq!(
        store.delivery("delivery /hooks#old"),
        Some("signup-1".to_string())
    );
    assert_eq!(store.delivery("delivery /hooks#b"), None);
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let moved: String = conn
        .query_row("SELECT delivery FROM instances WHERE id = ?1", [&id], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(moved, "delivery /hooks#a");
    let left: Vec<String> = conn
        .prepare("SELECT key FROM deliveries")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(left, vec!["delivery /hooks#old".to_string()]);
}

#[test]
fn a_database_of_a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flowc.db");
    drop(SqliteStore::open(&path, Durability::Full).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let err = SqliteStore::open(&path, Durability::Full).err().expect("refused");
    assert!(
        err.0.contains("written by a newer flowc (schema version 99"),
        "{err}"
    );
}

#[test]
fn a_corrupt_file_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flowc.db");
    std::fs::write(&path, vec![0x5a; 8192]).unwrap();
    let err = SqliteStore::open(&path, Durability::Full).err().expect("refused");
    assert!(
        err.0.contains("is not a flowc state database or is corrupt"),
        "{err}"
    );
    // Nothing was written over it.
    assert_eq!(std::fs::read(&path).unwrap(), vec![0x5a; 8192]);
}
