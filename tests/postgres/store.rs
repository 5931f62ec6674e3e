//! The PostgreSQL store: the conformance rules (one body for every store), a newer schema
//! refused, a URL with a password refused, two hosts fenced on one instance's history, and
//! writes that wait out a restart of the server or a conflict the server undid.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use flowc::runtime::{Event, EventKind, Store};
use flowc::store::{PostgresStore, DEFAULT_LEASE};
use flowc::value::Value;

use super::cluster::{self, Cluster};
use super::conformance::{self, kept};

/// The store of a host restarted under its name (as `flowc serve` keeps it in its state folder).
fn reopen(url: &str) -> impl Fn() -> Arc<dyn Store> + '_ {
    move || Arc::new(PostgresStore::open_as(url, "host", DEFAULT_LEASE).unwrap()) as Arc<dyn Store>
}

#[tokio::test]
async fn histories_timers_plans_and_statuses_survive_reopening() {
    let url = cluster::database();
    conformance::histories_timers_plans_and_statuses_survive_reopening(&reopen(&url)).await;
}

#[tokio::test]
async fn batches_from_a_kept_buffer_append_in_order() {
    let url = cluster::database();
    conformance::batches_from_a_kept_buffer_append_in_order(&reopen(&url)).await;
}

#[tokio::test]
async fn values_come_back_exactly() {
    let url = cluster::database();
    conformance::values_come_back_exactly(&reopen(&url)).await;
}

#[tokio::test]
async fn a_waiting_instance_finishes_on_its_own_plan_after_a_restart() {
    let url = cluster::database();
    conformance::a_waiting_instance_finishes_on_its_own_plan_after_a_restart(&reopen(&url)).await;
}

#[tokio::test]
async fn effect_records_keep_their_order_and_survive_reopening() {
    let url = cluster::database();
    conformance::effect_records_keep_their_order_and_survive_reopening(&reopen(&url)).await;
}

#[tokio::test]
async fn an_instance_that_ends_in_its_first_batch_is_recorded_ended() {
    let url = cluster::database();
    conformance::an_instance_that_ends_in_its_first_batch_is_recorded_ended(&reopen(&url)).await;
}

#[tokio::test]
async fn a_delivery_is_kept_with_its_instance_start() {
    let url = cluster::database();
    conformance::a_delivery_is_kept_with_its_instance_start(&reopen(&url)).await;
}

/// Runs blocking client code off the test's runtime.
fn sql(url: &str, statement: &str) {
    let (url, statement) = (url.to_string(), statement.to_string());
    std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        c.batch_execute(&statement).unwrap();
    })
    .join()
    .unwrap();
}

#[test]
fn a_database_of_a_newer_schema_is_refused() {
    let url = cluster::database();
    drop(PostgresStore::open(&url).unwrap());
    sql(&url, "UPDATE flowc_schema SET version = 99");
    let err = PostgresStore::open(&url).err().expect("refused");
    assert!(
        err.0.contains("written by a newer flowc (schema version 99"),
        "{err}"
    );
}

#[test]
fn hosts_opening_a_new_database_together_migrate_it_once() {
    let url = cluster::database();
    let opened: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || PostgresStore::open(&url).map(|_| ()))
        })
        .collect();
    for o in opened {
        o.join().unwrap().unwrap();
    }
}

#[test]
fn a_url_with_a_password_is_refused_and_the_password_not_shown() {
    let err = PostgresStore::open("postgres://flowc:hunter2@127.0.0.1:1/x")
        .err()
        .expect("refused");
    assert!(err.0.contains("FLOWC_STORE_PASSWORD"), "{err}");
    assert!(!err.0.contains("hunter2"), "{err}");
}

#[test]
fn a_server_that_is_not_there_is_a_clear_error() {
    let err = PostgresStore::open("postgres://flowc@127.0.0.1:1/x")
        .err()
        .expect("refused");
    assert!(
        err.0
            .starts_with("cannot connect to postgres://flowc@127.0.0.1:1/x"),
        "{err}"
    );
}

/// Event `seq` of a history, now.
pub(super) fn event(seq: u64, kind: EventKind) -> Event {
    Event {
        seq,
        at: Utc::now(),
        kind,
    }
}

/// A start of flow `f`.
pub(super) fn started() -> EventKind {
    EventKind::InstanceStarted {
        flow: "f".into(),
        input: Value::Null,
        parent: None,
        entity: None,
        plan: None,
    }
}

#[tokio::test]
async fn a_batch_after_an_unwritten_one_is_written_only_without_a_hole() {
    let url = cluster::database();
    conformance::a_batch_after_an_unwritten_one_is_written_only_without_a_hole(&reopen(&url)).await;
}

#[tokio::test]
async fn a_batch_is_written_whole_or_not_at_all() {
    let url = cluster::database();
    conformance::a_batch_is_written_whole_or_not_at_all(&reopen(&url)).await;
}

#[tokio::test]
async fn the_second_host_to_write_an_event_of_an_instance_is_refused_and_others_still_commit() {
    let url = cluster::database();
    let (a, b) = (
        PostgresStore::open(&url).unwrap(),
        PostgresStore::open(&url).unwrap(),
    );
    kept(a.append_batch("i", vec![event(0, started())])).await;
    kept(a.append_batch("i", vec![event(1, EventKind::InstanceCompleted)])).await;
    // Host b replayed the instance and believes event 1 is its own to write.
    let fenced = b.append_batch("i", vec![event(1, EventKind::InstanceCancelled)]);
    let other = b.append_batch("j", vec![event(0, started())]);
    let flowc::runtime::Commit::Pending(fenced) = fenced else {
        panic!("a durable store")
    };
    let err = fenced.await.unwrap().expect_err("fenced");
    assert!(err.0.contains("another host wrote its event 1 first"), "{err}");
    kept(other).await;
    let kinds: Vec<EventKind> = a.history("i").into_iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [started(), EventKind::InstanceCompleted]);
    assert_eq!(a.record("i").unwrap().status, "completed");
    assert_eq!(a.history("j").len(), 1);
}

#[tokio::test]
async fn a_batch_written_again_finds_its_own_events_and_succeeds() {
    let url = cluster::database();
    let a = PostgresStore::open(&url).unwrap();
    let batch = vec![event(0, started()), event(1, EventKind::InstanceCompleted)];
    kept(a.append_batch("i", batch.clone())).await;
    // As after an acknowledgement lost with the connection: the same events again.
    kept(a.append_batch("i", batch)).await;
    assert_eq!(a.history("i").len(), 2);
}

#[tokio::test]
async fn writes_and_reads_wait_out_a_restart_of_the_server() {
    let server = Cluster::own("flowc-postgres-restart");
    let url = server.database();
    let store = PostgresStore::open(&url).unwrap();
    kept(store.append_batch("i", vec![event(0, started())])).await;
    server.stop();
    let pending = store.append_batch("i", vec![event(1, EventKind::InstanceCompleted)]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.restart();
    tokio::time::timeout(Duration::from_secs(30), kept(pending))
        .await
        .expect("committed after the restart");
    assert_eq!(store.history("i").len(), 2);
    assert_eq!(store.record("i").unwrap().status, "completed");
}

#[tokio::test]
async fn a_write_the_server_undoes_for_a_conflict_is_written_again() {
    let url = cluster::database();
    let store = PostgresStore::open(&url).unwrap();
    // The server undoes the next two writes of events as it undoes one side of a deadlock (a
    // sequence, which a rollback does not undo, counts them).
    sql(
        &url,
        "CREATE SEQUENCE collisions;
         CREATE FUNCTION collide() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
           IF nextval('collisions') <= 2 THEN
             RAISE EXCEPTION 'deadlock detected (staged)' USING ERRCODE = '40P01';
           END IF;
           RETURN NULL;
         END $$;
         CREATE TRIGGER collide BEFORE INSERT ON events FOR EACH STATEMENT EXECUTE FUNCTION collide();",
    );
    let batch = vec![event(0, started()), event(1, EventKind::InstanceCompleted)];
    kept(store.append_batch("i", batch)).await;
    assert_eq!(store.history("i").len(), 2);
    assert_eq!(store.record("i").unwrap().status, "completed");
}

#[tokio::test]
async fn a_host_holds_the_instances_it_owns_and_no_other() {
    let url = cluster::database();
    let a = PostgresStore::open_as(&url, "a", DEFAULT_LEASE).unwrap();
    let b = PostgresStore::open_as(&url, "b", DEFAULT_LEASE).unwrap();
    kept(a.append_batch("i", vec![event(0, started())])).await;
    assert_eq!(a.holds("i"), Some(true));
    assert_eq!(b.holds("i"), Some(false));
    // A start never written is nobody's.
    assert_eq!(a.holds("never-started"), Some(false));
}
