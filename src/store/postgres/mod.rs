//! The PostgreSQL store: the runtime's [`Store`] on a database several hosts share.
//!
//! One writer thread commits the events of many instances in one transaction (group commit),
//! as the SQLite store does; a few reading threads answer reads on connections of their own.
//! Every connection comes back after the server restarts, and the work in hand is done again
//! on the new one.
//!
//! The `postgres` crate (tokio-postgres with a blocking face) rather than sqlx or an async
//! pool: the store's trait is synchronous and group commit wants one thread that drains a queue
//! and owns one connection, which a blocking client on plain threads gives without a runtime
//! inside the engine's runtime.

mod claims;
mod commands;
mod connect;
mod deliveries;
mod reads;
mod schema;
mod writer;

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use chrono::{DateTime, Utc};
use postgres::Client;

use claims::Keeper;
pub use connect::PASSWORD_ENV;
use connect::{Link, Target};
use reads::Reads;
use writer::{write_loop, Op};

use super::writer_queue::WriterQueue;

use crate::runtime::{
    Claim, Command, Commit, Event, Forwarded, InstanceRecord, Store, StoreError, TimerRecord,
};

/// How long an instance stays claimed by its host without a renewal, unless the host says
/// otherwise ([`PostgresStore::open_as`]).
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);

/// How many connections answer reads.
const READERS: usize = 2;

/// A store in a PostgreSQL database.
pub struct PostgresStore {
    target: Target,
    /// This process's name in the database: it owns the instances it starts or takes over.
    host: String,
    lease: Duration,
    /// Whether this host has claimed unfinished instances before (see `claim_unfinished`).
    claimed_once: AtomicBool,
    writer: WriterQueue<Op>,
    /// The fast path of effect records (an email's intent and outcome): a writer of their own
    /// on a connection of its own, so a record commits at once rather than behind a large
    /// group of events, and fewer messages are in doubt when a host dies.
    effects: WriterQueue<Op>,
    reads: Reads,
    keeper: Keeper,
    pending_deliveries: deliveries::Pending,
    pending_commands: commands::Pending,
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://USER@HOST:PORT/DB`, the password from
    /// [`PASSWORD_ENV`] or `PGPASSWORD`) and brings its schema up to date. A database written
    /// by a newer flowc is refused.
    pub fn open(url: &str) -> Result<PostgresStore, StoreError> {
        PostgresStore::open_as(url, &uuid::Uuid::now_v7().to_string(), DEFAULT_LEASE)
    }

    /// [`PostgresStore::open`] as host `host` (a name kept across restarts lets a host take
    /// back its own instances at once after a crash, instead of after their lease), holding
    /// instances for `lease` between renewals (a dead host's instances wait that long).
    pub fn open_as(url: &str, host: &str, lease: Duration) -> Result<PostgresStore, StoreError> {
        let target = Target::parse(url)?;
        let host = host.to_string();
        // The blocking client runs a small runtime of its own to connect, which cannot start
        // on a thread of the caller's runtime: connect from a thread of our own.
        std::thread::spawn(move || PostgresStore::connect(target, host, lease))
            .join()
            .unwrap_or_else(|_| Err(StoreError("the store's connecting thread panicked".into())))
    }

    fn connect(target: Target, host: String, lease: Duration) -> Result<PostgresStore, StoreError> {
        let mut first = target.connect()?;
        schema::migrate(&mut first, &target.shown)?;
        let link = Link::new(target.clone(), first, |_: &mut Client| Ok(()))?;
        let effects_link = Link::new(target.clone(), target.connect()?, |_: &mut Client| Ok(()))?;
        let reads = Reads::start(&target, READERS)?;
        let keeper = Keeper::start(&target, &host, lease)?;
        let writer_host = host.clone();
        let writer = WriterQueue::start("flowc-pg-writer", &target.shown, move |rx| {
            write_loop(link, writer_host, lease, rx)
        })?;
        let effects_host = host.clone();
        let effects = WriterQueue::start("flowc-pg-effects", &target.shown, move |rx| {
            write_loop(effects_link, effects_host, lease, rx)
        })?;
        Ok(PostgresStore {
            target,
            host,
            lease,
            claimed_once: AtomicBool::new(false),
            keeper,
            writer,
            effects,
            reads,
            pending_deliveries: deliveries::Pending::default(),
            pending_commands: commands::Pending::default(),
        })
    }

    /// This host's name in the database.
    pub fn host(&self) -> &str {
        &self.host
    }

    fn send(&self, op: Op) {
        self.writer.send(op)
    }

    fn read<T: Send + 'static>(
        &self,
        what: &str,
        read: impl FnMut(&mut Client) -> Result<T, postgres::Error> + Send + 'static,
    ) -> Option<T> {
        match self.reads.run(read) {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::error!(store = %self.target.shown, "cannot read {what}: {e}");
                None
            }
        }
    }

    /// Waits until everything sent so far is written (before a clean exit; not from async code,
    /// which awaits [`Store::sync`] instead).
    pub fn flush(&self) {
        for queue in [&self.effects, &self.writer] {
            if let Commit::Pending(rx) = queue.ask(Op::Sync) {
                let _ = rx.blocking_recv();
            }
        }
    }
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        // Each writer commits what is left and ends.
        self.effects.close();
        self.writer.close();
    }
}

fn event_from_row(row: &postgres::Row) -> Option<Event> {
    let seq: i64 = row.get(0);
    let kind: &str = row.get(2);
    match serde_json::from_str(kind) {
        Ok(kind) => Some(Event {
            seq: seq as u64,
            at: row.get(1),
            kind,
        }),
        Err(e) => {
            tracing::error!("an event cannot be read (seq {seq}): {e}");
            None
        }
    }
}

fn record_from_row(row: &postgres::Row) -> InstanceRecord {
    InstanceRecord {
        id: row.get(0),
        flow: row.get(1),
        entity: row.get(2),
        plan: row.get(3),
        parent: row.get(4),
        status: row.get(5),
        started_at: row.get::<_, DateTime<Utc>>(6),
        updated_at: row.get::<_, DateTime<Utc>>(7),
    }
}

const RECORD_COLUMNS: &str = "id, flow, entity, plan, parent, status, started_at, updated_at";

fn ids(rows: Vec<postgres::Row>) -> Vec<String> {
    rows.iter().map(|r| r.get(0)).collect()
}

impl Store for PostgresStore {
    fn append(&self, instance: &str, event: Event) {
        self.send(Op::Append {
            instance: instance.to_string(),
            commands: self
                .pending_commands
                .take_for(instance, std::slice::from_ref(&event)),
            events: vec![event],
            delivery: None,
            done: None,
        });
    }

    fn append_batch(&self, instance: &str, events: Vec<Event>) -> Commit {
        let delivery = self.pending_deliveries.take_for(instance, &events);
        let commands = self.pending_commands.take_for(instance, &events);
        self.writer.ask(|done| Op::Append {
            instance: instance.to_string(),
            events,
            delivery,
            commands,
            done: Some(done),
        })
    }

    fn sync(&self) -> Commit {
        self.writer.ask(Op::Sync)
    }

    fn history(&self, instance: &str) -> Vec<Event> {
        let instance = instance.to_string();
        self.read("a history", move |c| {
            c.query(
                "SELECT seq, at, kind FROM events WHERE instance = $1 ORDER BY seq",
                &[&instance],
            )
        })
        .map(|rows| rows.iter().filter_map(event_from_row).collect())
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
            c.query("SELECT id, instance, at, step FROM timers ORDER BY at, id", &[])
        })
        .map(|rows| {
            rows.iter()
                .map(|r| TimerRecord {
                    id: r.get::<_, i64>(0) as u64,
                    instance: r.get(1),
                    at: r.get(2),
                    step: r.get(3),
                })
                .collect()
        })
        .unwrap_or_default()
    }

    fn instances(&self) -> Vec<String> {
        self.read("the instances", |c| {
            c.query("SELECT id FROM instances ORDER BY id", &[])
        })
        .map(ids)
        .unwrap_or_default()
    }

    fn unfinished(&self) -> Vec<String> {
        self.read("the unfinished instances", |c| {
            c.query(
                "SELECT id FROM instances WHERE status = 'running' ORDER BY started_at, id",
                &[],
            )
        })
        .map(ids)
        .unwrap_or_default()
    }

    fn claim_unfinished(&self) -> Vec<String> {
        self.claim_unfinished_rows()
    }

    fn claim(&self, key: &str) -> Claim {
        self.claim_key(key)
    }

    fn claimed(&self, key: &str, instance: &str) {
        self.record_claim(key, instance)
    }

    fn unclaim(&self, key: &str) {
        self.drop_claim(key)
    }

    fn holds(&self, instance: &str) -> Option<bool> {
        let instance = instance.to_string();
        let row = self.read("an instance's owner", move |c| {
            c.query_opt("SELECT owner FROM instances WHERE id = $1", &[&instance])
        })?;
        Some(row.is_some_and(|r| r.get::<_, Option<String>>(0).as_deref() == Some(self.host.as_str())))
    }

    fn records(&self) -> Vec<InstanceRecord> {
        self.read("the instances", |c| {
            c.query(
                &format!("SELECT {RECORD_COLUMNS} FROM instances ORDER BY started_at, id"),
                &[],
            )
        })
        .map(|rows| rows.iter().map(record_from_row).collect())
        .unwrap_or_default()
    }

    fn record(&self, instance: &str) -> Option<InstanceRecord> {
        let instance = instance.to_string();
        self.read("an instance", move |c| {
            c.query_opt(
                &format!("SELECT {RECORD_COLUMNS} FROM instances WHERE id = $1"),
                &[&instance],
            )
        })
        .flatten()
        .map(|r| record_from_row(&r))
    }

    fn put_plan(&self, hash: &str, bundle: &str) {
        self.send(Op::PutPlan(hash.to_string(), bundle.to_string()));
    }

    fn plan(&self, hash: &str) -> Option<String> {
        let hash = hash.to_string();
        self.read("a plan", move |c| {
            c.query_opt("SELECT bundle FROM plans WHERE hash = $1", &[&hash])
        })
        .flatten()
        .map(|r| r.get(0))
    }

    fn compact(&self, instance: &str) {
        self.send(Op::Compact(instance.to_string()));
    }

    fn keeps_deliveries(&self) -> bool {
        true
    }

    fn deliver(&self, key: &str, instance: &str) {
        self.expect_delivery(key, instance)
    }

    fn delivery(&self, key: &str) -> Option<String> {
        self.find_delivery(key)
    }

    fn import_deliveries(&self, pairs: Vec<(String, String)>) -> Commit {
        self.import(pairs)
    }

    fn keeps_effects(&self) -> bool {
        true
    }

    fn put_effect(&self, log: &str, key: &str, record: String) -> Commit {
        // Records of one key go through one queue, so they are kept in the order sent.
        self.effects.ask(|done| Op::PutEffect {
            log: log.to_string(),
            key: key.to_string(),
            record,
            done,
        })
    }

    fn sync_effects(&self) -> Commit {
        self.effects.ask(Op::Sync)
    }

    fn effect(&self, log: &str, key: &str) -> Result<Option<String>, StoreError> {
        let (log, key) = (log.to_string(), key.to_string());
        self.reads
            .run(move |c| {
                c.query_opt(
                    "SELECT record FROM effects WHERE log = $1 AND key = $2",
                    &[&log, &key],
                )
            })
            .map(|row| row.map(|r| r.get(0)))
    }

    fn forward(&self, instance: &str, command: &Command) -> Result<bool, StoreError> {
        self.queue_command(instance, command)
    }

    fn forwarded(&self) -> Vec<Forwarded> {
        self.queued_commands()
    }

    fn forwarded_wake(&self) -> Option<std::sync::Arc<tokio::sync::Notify>> {
        Some(self.commands_wake())
    }

    fn applying(&self, forwarded: &Forwarded) {
        self.expect_command(forwarded)
    }

    fn applied(&self, forwarded: &Forwarded, unheld: bool) -> Commit {
        self.settle_command(forwarded, unheld)
    }
}
