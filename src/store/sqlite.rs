//! The SQLite store: one writer thread commits the events of many instances in one transaction
//! (group commit), answering each caller once its batch is on disk; reads use a connection of
//! their own, which WAL lets run while the writer writes.
//!
//! rusqlite (with SQLite bundled) rather than sqlx: its synchronous API on a dedicated thread is
//! all group commit needs (drain the queue, one transaction, one fsync, answer everyone), with no
//! async pool between the engine and the file.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Transaction};

use super::delivery_index::{self, DeliveryIndex, Lookup};
use super::schema;
use super::unwritten::Unwritten;
use super::wal::{self, Answers, Checkpointer, Syncer};
use super::writer_queue::{Reply, WriterQueue};
use crate::runtime::{Commit, Event, EventKind, InstanceRecord, Store, StoreError, TimerRecord};

/// How hard a commit works to survive a power cut (SQLite's `synchronous`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    /// Every commit is fsynced before the engine acts on it: nothing acknowledged is lost, even
    /// to a power cut. The default.
    #[default]
    Full,
    /// Commits survive a crash of the process; a power cut may lose the last few (WAL is
    /// fsynced at checkpoints only). Faster.
    Normal,
}

impl std::str::FromStr for Durability {
    type Err = String;

    fn from_str(s: &str) -> Result<Durability, String> {
        match s {
            "full" | "FULL" => Ok(Durability::Full),
            "normal" | "NORMAL" => Ok(Durability::Normal),
            other => Err(format!("unknown durability `{other}`; use `full` or `normal`")),
        }
    }
}

/// What the writer thread is asked to do.
enum Op {
    Append {
        instance: String,
        events: Vec<Event>,
        /// The webhook delivery this batch's start answers (written with it).
        delivery: Option<String>,
        done: Option<Reply>,
    },
    ImportDeliveries(Vec<(String, String)>, Reply),
    PutTimer(TimerRecord),
    RemoveTimer(u64),
    PutPlan(String, String),
    Compact(String),
    /// A record of a connector's effect log (see `Store::put_effect`).
    PutEffect {
        log: String,
        key: String,
        record: String,
        done: Reply,
    },
    Sync(Reply),
}

/// Most operations one transaction takes: enough to share an fsync among many instances, few
/// enough that the first caller does not wait long.
const MAX_GROUP: usize = 4096;

/// A store in one SQLite file.
pub struct SqliteStore {
    path: String,
    writer: WriterQueue<Op>,
    reader: Mutex<Connection>,
    /// Deliveries whose instance's start is not appended yet: instance → delivery key.
    pending_deliveries: Mutex<HashMap<String, String>>,
    /// The deliveries committed, looked up in memory (the writer adds each after its commit).
    deliveries: Arc<Mutex<DeliveryIndex>>,
    /// The syncer's count of fsyncs (none at `Normal`), read by tests.
    #[cfg_attr(not(test), allow(dead_code))]
    fsyncs: Arc<AtomicU64>,
}

impl SqliteStore {
    /// Opens (creating it if needed) the database at `path` and brings its schema up to date.
    /// A file that is not a flowc database, is corrupt, or was written by a newer flowc is
    /// refused with a message saying so.
    pub fn open(path: &Path, durability: Durability) -> Result<SqliteStore, StoreError> {
        let name = path.display().to_string();
        let fail = |e: rusqlite::Error| schema::unreadable(&name, &e);
        let mut conn = Connection::open(path).map_err(fail)?;
        conn.busy_timeout(Duration::from_secs(10)).map_err(fail)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(fail)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError(format!("{name}: SQLite refused WAL mode ({mode})")));
        }
        // Never an fsync or a checkpoint inside a commit: at `Full` the syncer fsyncs the log
        // after each group (see `wal`), and the checkpointer copies it into the database.
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(fail)?;
        conn.query_row("PRAGMA wal_autocheckpoint = 0", [], |_| Ok(()))
            .map_err(fail)?;
        schema::migrate(&mut conn, &name)?;
        let fsyncs = Arc::new(AtomicU64::new(0));
        let syncer = match durability {
            Durability::Full => Some(Syncer::start(path, fsyncs.clone())?),
            Durability::Normal => None,
        };
        let checkpointer = Checkpointer::start(path)?;
        let reader = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(fail)?;
        reader.busy_timeout(Duration::from_secs(10)).map_err(fail)?;
        let deliveries = Arc::new(Mutex::new(delivery_index::read(&reader).map_err(fail)?));
        let index = deliveries.clone();
        let writer = WriterQueue::start("flowc-store-writer", &name, move |rx| {
            write_loop(conn, rx, syncer, checkpointer, index)
        })?;
        Ok(SqliteStore {
            path: name,
            writer,
            reader: Mutex::new(reader),
            pending_deliveries: Mutex::new(HashMap::new()),
            deliveries,
            fsyncs,
        })
    }

    /// The fsyncs of the log done so far (none at `Normal`).
    #[cfg(test)]
    pub(crate) fn fsyncs(&self) -> u64 {
        self.fsyncs.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn send(&self, op: Op) {
        self.writer.send(op)
    }

    fn read<T>(&self, what: &str, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Option<T> {
        let conn = self.reader.lock().unwrap_or_else(|e| e.into_inner());
        match f(&conn) {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::error!(store = %self.path, "cannot read {what}: {}", schema::unreadable(&self.path, &e));
                None
            }
        }
    }

    /// Every webhook delivery this journal keeps, as (key, instance) pairs: the instances' own
    /// and those of the `deliveries` table (for `flowc store migrate`).
    pub fn deliveries(&self) -> Vec<(String, String)> {
        self.read("the deliveries", |c| {
            let mut s = c.prepare(
                "SELECT delivery, id FROM instances WHERE delivery IS NOT NULL
                 UNION ALL SELECT key, instance FROM deliveries",
            )?;
            let rows = s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })
        .unwrap_or_default()
    }

    /// Waits until everything sent so far is written (before a clean exit; not from async code,
    /// which awaits [`Store::sync`] instead).
    pub fn flush(&self) {
        if let Commit::Pending(rx) = self.writer.ask(Op::Sync) {
            let _ = rx.blocking_recv();
        }
    }
}

fn time(t: DateTime<Utc>) -> String {
    // Fixed width, so text order is time order (timers are read earliest first).
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub(crate) fn parse_time(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

/// The writer thread: takes whatever is queued (up to [`MAX_GROUP`]), writes it in one
/// transaction, and answers every caller of the group after the commit (at `Full`, after the
/// syncer's fsync of it, while this thread writes the next group).
fn write_loop(
    mut conn: Connection,
    rx: mpsc::Receiver<Op>,
    syncer: Option<Syncer>,
    mut checkpointer: Checkpointer,
    index: Arc<Mutex<DeliveryIndex>>,
) {
    wal::watch_log(&conn);
    let mut unwritten = Unwritten::default();
    let mut group = Vec::new();
    let mut delivered = Vec::new();
    while let Ok(first) = rx.recv() {
        group.push(first);
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(op) => group.push(op),
                Err(_) => break,
            }
        }
        let mut replies: Answers = Vec::new();
        let commits = wal::commits();
        let committed = write_group(
            &mut conn,
            &mut group,
            &mut replies,
            &mut unwritten,
            &mut delivered,
        );
        match &committed {
            Ok(()) if !delivered.is_empty() => {
                // Before anyone hears of the commit: a copy of a delivery that comes after its
                // 202 finds it.
                let now = Utc::now();
                let mut index = index.lock().unwrap_or_else(|e| e.into_inner());
                for (key, instance) in delivered.drain(..) {
                    index.insert(&key, &instance, now);
                }
            }
            Ok(()) => {}
            Err(e) => {
                delivered.clear();
                for (_, result) in &mut replies {
                    *result = Err(e.clone());
                }
            }
        }
        checkpointer.committed();
        match &syncer {
            Some(syncer) => syncer.answer_after_sync(replies, wal::commits() != commits),
            None => {
                for (reply, result) in replies {
                    let _ = reply.send(result);
                }
            }
        }
        // After the group's callers are handed on: a restart's checkpoint delays only the next
        // group.
        checkpointer.restart_if_long(&conn);
    }
}

fn write_group(
    conn: &mut Connection,
    group: &mut Vec<Op>,
    replies: &mut Vec<(Reply, Result<(), StoreError>)>,
    unwritten: &mut Unwritten,
    delivered: &mut Vec<(String, String)>,
) -> Result<(), StoreError> {
    let fail = |e: rusqlite::Error| StoreError(format!("cannot write the state database: {e}"));
    let tx = match conn.transaction() {
        Ok(tx) => tx,
        Err(e) => {
            let err = fail(e);
            for op in group.drain(..) {
                not_written(op, &err, replies, unwritten);
            }
            return Err(err);
        }
    };
    // The instances whose batches are in this transaction: written if it commits.
    let mut appended: Vec<String> = Vec::new();
    for op in group.drain(..) {
        // SQLite rolls the whole transaction back on some errors (a full disk, an I/O error):
        // what is left of the group must not run as statements of their own.
        if tx.is_autocommit() {
            let err = StoreError("cannot write the state database: the transaction was rolled back".into());
            not_written(op, &err, replies, unwritten);
            continue;
        }
        match op {
            Op::Append {
                instance,
                events,
                delivery,
                done,
            } => {
                // A failed statement undoes only itself: other instances' batches still commit.
                let result = match follows(&tx, &instance, &events, unwritten) {
                    Ok(None) => append(&tx, &instance, &events, delivery.as_deref()).map_err(fail),
                    Ok(Some(refused)) => Err(refused),
                    Err(e) => Err(fail(e)),
                };
                if let Err(e) = &result {
                    unwritten.failed(&instance);
                    if done.is_none() {
                        tracing::error!(instance = %instance, "{e}");
                    }
                }
                let written = result.is_ok();
                if let Some(done) = done {
                    replies.push((done, result));
                }
                if written {
                    if let Some(key) = delivery {
                        delivered.push((key, instance.clone()));
                    }
                    appended.push(instance);
                }
            }
            Op::PutTimer(t) => log(
                tx.prepare_cached("INSERT OR REPLACE INTO timers (id, instance, at, step) VALUES (?1, ?2, ?3, ?4)")
                    .and_then(|mut s| s.execute(params![t.id as i64, t.instance, time(t.at), t.step])),
            ),
            Op::RemoveTimer(id) => log(
                tx.prepare_cached("DELETE FROM timers WHERE id = ?1")
                    .and_then(|mut s| s.execute(params![id as i64])),
            ),
            Op::PutPlan(hash, bundle) => log(
                tx.prepare_cached("INSERT OR IGNORE INTO plans (hash, bundle) VALUES (?1, ?2)")
                    .and_then(|mut s| s.execute(params![hash, bundle])),
            ),
            Op::Compact(instance) => log(tx.execute(
                "DELETE FROM events WHERE instance = ?1 AND json_extract(kind, '$.type') NOT IN
                 ('instance_started', 'output', 'instance_completed', 'instance_failed', 'instance_cancelled')",
                params![instance],
            )),
            Op::PutEffect {
                log,
                key,
                record,
                done,
            } => {
                let result = tx
                    .prepare_cached("INSERT OR REPLACE INTO effects (log, key, record) VALUES (?1, ?2, ?3)")
                    .and_then(|mut s| s.execute(params![log, key, record]))
                    .map(|_| ())
                    .map_err(fail);
                replies.push((done, result));
            }
            Op::Sync(reply) => replies.push((reply, Ok(()))),
            Op::ImportDeliveries(pairs, reply) => {
                let result = pairs
                    .iter()
                    .try_for_each(|(key, instance)| insert_delivery(&tx, key, instance))
                    .map_err(fail);
                if result.is_ok() {
                    delivered.extend(pairs);
                }
                replies.push((reply, result));
            }
        }
    }
    let committed = tx.commit().map_err(fail);
    for instance in &appended {
        match committed {
            Ok(()) => unwritten.written(instance),
            Err(_) => unwritten.failed(instance),
        }
    }
    committed
}

/// Answers `op` (if anyone waits) that it was not written, for `err`.
fn not_written(
    op: Op,
    err: &StoreError,
    replies: &mut Vec<(Reply, Result<(), StoreError>)>,
    unwritten: &mut Unwritten,
) {
    if let Op::Append { instance, .. } = &op {
        unwritten.failed(instance);
    }
    if let Op::Append { done: Some(r), .. }
    | Op::Sync(r)
    | Op::ImportDeliveries(_, r)
    | Op::PutEffect { done: r, .. } = op
    {
        replies.push((r, Err(err.clone())));
    }
}

/// For an instance a batch of which was not written: why `events` are refused, unless they
/// start where its journal ends.
fn follows(
    tx: &Transaction,
    instance: &str,
    events: &[Event],
    unwritten: &Unwritten,
) -> rusqlite::Result<Option<StoreError>> {
    let Some(first) = events.first().map(|e| e.seq) else {
        return Ok(None);
    };
    if !unwritten.contains(instance) {
        return Ok(None);
    }
    let next: i64 = tx.query_row(
        "SELECT coalesce(max(seq) + 1, 0) FROM events WHERE instance = ?1",
        params![instance],
        |row| row.get(0),
    )?;
    Ok((first as i64 != next).then(|| Unwritten::refusal(instance, first, next as u64)))
}

fn log(r: rusqlite::Result<usize>) {
    if let Err(e) = r {
        tracing::error!("cannot write the state database: {e}");
    }
}

/// Appends one batch, whole or not at all. A failed statement undoes only itself, so what the
/// batch wrote before it is undone here (no savepoint per batch: the common case pays nothing).
fn append(
    tx: &Transaction,
    instance: &str,
    events: &[Event],
    delivery: Option<&str>,
) -> rusqlite::Result<()> {
    let mut written = 0;
    let result = append_counted(tx, instance, events, delivery, &mut written);
    if result.is_err() && written > 0 && !tx.is_autocommit() {
        if let Err(e) = undo(tx, instance, &events[..written]) {
            tracing::error!(instance = %instance, "cannot undo the part of a batch that was written: {e}");
        }
    }
    result
}

/// Takes back the events of a batch that failed after them, and what they did to the
/// instance's row.
fn undo(tx: &Transaction, instance: &str, written: &[Event]) -> rusqlite::Result<()> {
    let (Some(first), Some(last)) = (written.first(), written.last()) else {
        return Ok(());
    };
    tx.execute(
        "DELETE FROM events WHERE instance = ?1 AND seq BETWEEN ?2 AND ?3",
        params![instance, first.seq as i64, last.seq as i64],
    )?;
    if matches!(first.kind, EventKind::InstanceStarted { .. }) {
        tx.execute("DELETE FROM instances WHERE id = ?1", params![instance])?;
    } else if written.iter().any(|e| e.kind.status().is_some()) {
        let mut s = tx.prepare_cached("SELECT seq, at, kind FROM events WHERE instance = ?1 ORDER BY seq")?;
        let history = s
            .query_map(params![instance], event_from_row)?
            .collect::<rusqlite::Result<Vec<Event>>>()?;
        if let Some(record) = InstanceRecord::from_history(instance, &history) {
            tx.execute(
                "UPDATE instances SET status = ?2, updated_at = ?3 WHERE id = ?1",
                params![instance, record.status, time(record.updated_at)],
            )?;
        }
    }
    Ok(())
}

fn append_counted(
    tx: &Transaction,
    instance: &str,
    events: &[Event],
    delivery: Option<&str>,
    written: &mut usize,
) -> rusqlite::Result<()> {
    let mut insert =
        tx.prepare_cached("INSERT INTO events (instance, seq, at, kind) VALUES (?1, ?2, ?3, ?4)")?;
    for e in events {
        let kind = serde_json::to_string(&e.kind)
            .map_err(|err| rusqlite::Error::ToSqlConversionFailure(err.into()))?;
        insert.execute(params![instance, e.seq as i64, time(e.at), kind])?;
        *written += 1;
    }
    // The row takes the batch's last status change, once: an instance that ends in the batch
    // that starts it (a flow with no call to wait for) is never in the index of running
    // instances, which would otherwise take a page of every commit.
    let Some((status, updated_at)) = events
        .iter()
        .rev()
        .find_map(|e| e.kind.status().map(|s| (s, e.at)))
    else {
        return Ok(());
    };
    let start = events.iter().find_map(|e| match &e.kind {
        EventKind::InstanceStarted {
            flow,
            parent,
            entity,
            plan,
            ..
        } => Some((e.at, flow, parent, entity, plan)),
        _ => None,
    });
    match start {
        Some((started_at, flow, parent, entity, plan)) => tx
            .prepare_cached(
                "INSERT OR REPLACE INTO instances (id, flow, entity, plan, parent, status, started_at, updated_at, delivery)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                instance,
                flow,
                entity.clone().unwrap_or_default(),
                plan,
                parent,
                status,
                time(started_at),
                time(updated_at),
                delivery
            ])?,
        None => tx
            .prepare_cached("UPDATE instances SET status = ?2, updated_at = ?3 WHERE id = ?1")?
            .execute(params![instance, status, time(updated_at)])?,
    };
    Ok(())
}

/// Keeps delivery `key` → `instance` in the `deliveries` table (imports: an instance's own
/// delivery is written with its start); a key kept before keeps its instance.
fn insert_delivery(tx: &Transaction, key: &str, instance: &str) -> rusqlite::Result<()> {
    tx.prepare_cached("INSERT OR IGNORE INTO deliveries (key, instance) VALUES (?1, ?2)")?
        .execute(params![key, instance])?;
    Ok(())
}

fn event_from_row(row: &rusqlite::Row) -> rusqlite::Result<Event> {
    let seq: i64 = row.get(0)?;
    let at: String = row.get(1)?;
    let kind: String = row.get(2)?;
    let kind = serde_json::from_str(&kind)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, e.into()))?;
    Ok(Event {
        seq: seq as u64,
        at: parse_time(&at),
        kind,
    })
}

fn record_from_row(row: &rusqlite::Row) -> rusqlite::Result<InstanceRecord> {
    Ok(InstanceRecord {
        id: row.get(0)?,
        flow: row.get(1)?,
        entity: row.get(2)?,
        plan: row.get(3)?,
        parent: row.get(4)?,
        status: row.get(5)?,
        started_at: parse_time(&row.get::<_, String>(6)?),
        updated_at: parse_time(&row.get::<_, String>(7)?),
    })
}

const RECORD_COLUMNS: &str = "id, flow, entity, plan, parent, status, started_at, updated_at";

impl Store for SqliteStore {
    fn append(&self, instance: &str, event: Event) {
        self.send(Op::Append {
            instance: instance.to_string(),
            events: vec![event],
            delivery: None,
            done: None,
        });
    }

    fn append_batch(&self, instance: &str, events: Vec<Event>) -> Commit {
        let delivery = match events.first() {
            Some(Event {
                kind: EventKind::InstanceStarted { .. },
                ..
            }) => self.take_pending_delivery(instance),
            _ => None,
        };
        self.writer.ask(|done| Op::Append {
            instance: instance.to_string(),
            events,
            delivery,
            done: Some(done),
        })
    }

    fn sync(&self) -> Commit {
        self.writer.ask(Op::Sync)
    }

    fn history(&self, instance: &str) -> Vec<Event> {
        self.read("a history", |c| {
            let mut s =
                c.prepare_cached("SELECT seq, at, kind FROM events WHERE instance = ?1 ORDER BY seq")?;
            let rows = s.query_map(params![instance], event_from_row)?;
            rows.collect()
        })
        .unwrap_or_default()
    }

    fn put_timer(&self, timer: TimerRecord) {
        self.send(Op::PutTimer(timer));
    }

    fn remove_timer(&self, id: u64) {
        self.send(Op::RemoveTimer(id));
    }

    fn timers(&self) -> Vec<TimerRecord> {
        self.read("the timers", |c| {
            let mut s = c.prepare_cached("SELECT id, instance, at, step FROM timers ORDER BY at, id")?;
            let rows = s.query_map([], |r| {
                Ok(TimerRecord {
                    id: r.get::<_, i64>(0)? as u64,
                    instance: r.get(1)?,
                    at: parse_time(&r.get::<_, String>(2)?),
                    step: r.get(3)?,
                })
            })?;
            rows.collect()
        })
        .unwrap_or_default()
    }

    fn instances(&self) -> Vec<String> {
        self.read("the instances", |c| {
            let mut s = c.prepare_cached("SELECT id FROM instances ORDER BY id")?;
            let rows = s.query_map([], |r| r.get(0))?;
            rows.collect()
        })
        .unwrap_or_default()
    }

    fn unfinished(&self) -> Vec<String> {
        self.read("the unfinished instances", |c| {
            let mut s = c.prepare_cached(
                "SELECT id FROM instances WHERE status = 'running' ORDER BY started_at, id",
            )?;
            let rows = s.query_map([], |r| r.get(0))?;
            rows.collect()
        })
        .unwrap_or_default()
    }

    fn records(&self) -> Vec<InstanceRecord> {
        self.read("the instances", |c| {
            let sql = format!("SELECT {RECORD_COLUMNS} FROM instances ORDER BY started_at, id");
            let mut s = c.prepare_cached(&sql)?;
            let rows = s.query_map([], record_from_row)?;
            rows.collect()
        })
        .unwrap_or_default()
    }

    fn record(&self, instance: &str) -> Option<InstanceRecord> {
        self.read("an instance", |c| {
            let sql = format!("SELECT {RECORD_COLUMNS} FROM instances WHERE id = ?1");
            c.query_row(&sql, params![instance], record_from_row).optional()
        })
        .flatten()
    }

    fn put_plan(&self, hash: &str, bundle: &str) {
        self.send(Op::PutPlan(hash.to_string(), bundle.to_string()));
    }

    fn plan(&self, hash: &str) -> Option<String> {
        self.read("a plan", |c| {
            c.query_row("SELECT bundle FROM plans WHERE hash = ?1", params![hash], |r| {
                r.get(0)
            })
            .optional()
        })
        .flatten()
    }

    fn compact(&self, instance: &str) {
        self.send(Op::Compact(instance.to_string()));
    }

    fn keeps_deliveries(&self) -> bool {
        true
    }

    fn deliver(&self, key: &str, instance: &str) {
        self.pending_deliveries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(instance.to_string(), key.to_string());
    }

    fn delivery(&self, key: &str) -> Option<String> {
        let found = self
            .deliveries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .lookup(key);
        match found {
            Lookup::Unknown => None,
            Lookup::Known(instance) => Some(instance),
            // A hash matched: only a repeated delivery, or a collision of hashes, pays a read.
            Lookup::Confirm(instances) => self
                .read("a delivery", |c| delivery_index::confirm(c, key, instances))
                .flatten(),
        }
    }

    fn import_deliveries(&self, pairs: Vec<(String, String)>) -> Commit {
        self.writer.ask(|done| Op::ImportDeliveries(pairs, done))
    }

    fn put_effect(&self, log: &str, key: &str, record: String) -> Commit {
        // In the events' group: SQLite has one writer at a time, a second queue would only
        // wait for the first's lock.
        self.writer.ask(|done| Op::PutEffect {
            log: log.to_string(),
            key: key.to_string(),
            record,
            done,
        })
    }

    fn effect(&self, log: &str, key: &str) -> Result<Option<String>, StoreError> {
        let conn = self.reader.lock().unwrap_or_else(|e| e.into_inner());
        conn.prepare_cached("SELECT record FROM effects WHERE log = ?1 AND key = ?2")
            .and_then(|mut s| s.query_row(params![log, key], |r| r.get(0)).optional())
            .map_err(|e| schema::unreadable(&self.path, &e))
    }
}

impl SqliteStore {
    /// The delivery key registered for `instance`'s start ([`Store::deliver`]), taken.
    fn take_pending_delivery(&self, instance: &str) -> Option<String> {
        let mut pending = self.pending_deliveries.lock().unwrap_or_else(|e| e.into_inner());
        if pending.is_empty() {
            return None;
        }
        pending.remove(instance)
    }
}
