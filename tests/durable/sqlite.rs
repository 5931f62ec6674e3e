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
