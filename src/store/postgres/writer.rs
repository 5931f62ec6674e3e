//! The writer thread: takes every operation queued (from all instances), writes them in one
//! transaction (group commit) and answers each caller once it is committed.
//!
//! An instance's events are keyed by (instance, seq), which fences hosts: when two hosts
//! believe they own one instance (a lease taken over from a host that was only slow), the second
//! to write a sequence number finds the first's event there, and its batch fails, so it never
//! acts on a reaction the journal does not hold. A batch written again after a lost
//! acknowledgement finds its own events there (same time, same kind) and succeeds.

use std::collections::HashMap;
use std::sync::mpsc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use postgres::{Client, Transaction};

use super::connect::Link;
use crate::runtime::{Event, EventKind, StoreError, TimerRecord};
use crate::store::unwritten::Unwritten;
use crate::store::writer_queue::Reply;

/// What the writer thread is asked to do.
pub(crate) enum Op {
    Append {
        instance: String,
        events: Vec<Event>,
        /// The webhook delivery this batch's start answers (written with it).
        delivery: Option<String>,
        /// The forwarded requests this batch carries out: they leave the queue with it, and
        /// the batch fails if one has left already (another host carried it out).
        commands: Vec<i64>,
        done: Option<Reply>,
    },
    /// A forwarded request that had no effect leaves the queue; `unless_running`: unless its
    /// instance runs (the engine did not know it yet, its holder is taking it back).
    DropCommand {
        id: i64,
        instance: String,
        unless_running: bool,
        done: Reply,
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

/// Most operations one transaction takes: enough to share a commit among many instances, few
/// enough that the first caller does not wait long.
const MAX_GROUP: usize = 4096;

/// What ended instances keep (as `runtime::store::kept_after_end`).
const KEPT_AFTER_END: &[&str] = &[
    "instance_started",
    "output",
    "instance_completed",
    "instance_failed",
    "instance_cancelled",
];

/// An event as a row.
struct Row {
    seq: i64,
    at: DateTime<Utc>,
    kind_type: String,
    kind: String,
}

fn rows(events: &[Event]) -> Result<Vec<Row>, StoreError> {
    events
        .iter()
        .map(|e| {
            let kind = serde_json::to_string(&e.kind)
                .map_err(|err| StoreError(format!("cannot write an event: {err}")))?;
            Ok(Row {
                seq: e.seq as i64,
                at: e.at,
                kind_type: kind_type(&kind).to_string(),
                kind,
            })
        })
        .collect()
}

/// The `type` tag of a serialised event kind (serde writes the tag first).
pub(crate) fn kind_type(json: &str) -> &str {
    json.strip_prefix("{\"type\":\"")
        .and_then(|rest| rest.split('"').next())
        .unwrap_or("")
}

/// The writer thread's loop: runs until every sender is dropped.
pub(crate) fn write_loop(mut link: Link, host: String, lease: Duration, rx: mpsc::Receiver<Op>) {
    let lease = lease.as_secs_f64();
    let mut unwritten = Unwritten::default();
    let mut group = Vec::new();
    while let Ok(first) = rx.recv() {
        group.push(first);
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(op) => group.push(op),
                Err(_) => break,
            }
        }
        let prepared: Vec<Prepared> = group.drain(..).map(prepare).collect();
        // Barriers alone: what came before them is committed already (groups go one by one).
        if prepared.iter().all(|p| matches!(p.op, Op::Sync(_))) {
            let kept = vec![None; prepared.len()];
            answer(prepared, Ok(kept));
            continue;
        }
        let outcome = link.run(|client| write_group(client, &host, lease, &prepared, &unwritten));
        for (i, p) in prepared.iter().enumerate() {
            if let Op::Append { instance, .. } = &p.op {
                match &outcome {
                    Ok(per_op) if per_op.get(i).is_some_and(Option::is_none) => unwritten.written(instance),
                    _ => unwritten.failed(instance),
                }
            }
        }
        answer(prepared, outcome);
    }
}

/// An operation with its events serialised once (the group may be written more than once).
struct Prepared {
    op: Op,
    rows: Result<Vec<Row>, StoreError>,
}

fn prepare(op: Op) -> Prepared {
    let rows = match &op {
        Op::Append { events, .. } => rows(events),
        _ => Ok(Vec::new()),
    };
    Prepared { op, rows }
}

/// Per operation, `None` when it was kept, or why not.
type Outcome = Vec<Option<StoreError>>;

fn answer(prepared: Vec<Prepared>, outcome: Result<Outcome, StoreError>) {
    for (i, p) in prepared.into_iter().enumerate() {
        let result = match &outcome {
            Ok(per_op) => per_op.get(i).cloned().flatten().map_or(Ok(()), Err),
            Err(e) => Err(e.clone()),
        };
        match p.op {
            Op::Append { done: Some(done), .. }
            | Op::Sync(done)
            | Op::ImportDeliveries(_, done)
            | Op::DropCommand { done, .. } => {
                let _ = done.send(result);
            }
            Op::PutEffect { log, key, done, .. } => {
                // A caller that did not wait (an email's intent) hears nothing: say it here.
                if let Err(Err(e)) = done.send(result) {
                    tracing::error!(log = %log, key = %key, "cannot keep an effect record: {e}");
                }
            }
            Op::Append { instance, .. } => {
                if let Err(e) = result {
                    tracing::error!(instance = %instance, "{e}");
                }
            }
            _ => {
                if let Err(e) = result {
                    tracing::error!("cannot write the state database: {e}");
                }
            }
        }
    }
}

/// Writes the group in one transaction. First all batches at once; if any event's place is
/// taken, the transaction is undone and each batch written on its own (a savepoint each), so a
/// fenced batch fails alone.
fn write_group(
    client: &mut Client,
    host: &str,
    lease: f64,
    group: &[Prepared],
    unwritten: &Unwritten,
) -> Result<Outcome, postgres::Error> {
    let mut tx = client.transaction()?;
    let mut outcome: Outcome = group.iter().map(|p| p.rows.as_ref().err().cloned()).collect();
    refuse_holes(&mut tx, group, unwritten, &mut outcome)?;
    let appends: Vec<(&str, &[Row], &[Event])> = group
        .iter()
        .zip(&outcome)
        .filter_map(|(p, refused)| match (&p.op, &p.rows, refused) {
            (Op::Append { instance, events, .. }, Ok(rows), None) => {
                Some((instance.as_str(), rows.as_slice(), events.as_slice()))
            }
            _ => None,
        })
        .collect();
    let wanted: usize = appends.iter().map(|a| a.1.len()).sum();
    let commands: Vec<i64> = group
        .iter()
        .zip(&outcome)
        .filter_map(|(p, refused)| match (&p.op, &p.rows, refused) {
            (Op::Append { commands, .. }, Ok(_), None) => Some(commands.as_slice()),
            _ => None,
        })
        .flatten()
        .copied()
        .collect();
    let inserted = insert_events(&mut tx, &appends)?;
    if inserted as usize == wanted && take_commands(&mut tx, &commands)? {
        update_instances(&mut tx, host, lease, &appends)?;
    } else {
        tx.rollback()?;
        tx = client.transaction()?;
        for (i, p) in group.iter().enumerate() {
            let (
                Op::Append {
                    instance,
                    events,
                    commands,
                    ..
                },
                Ok(rows),
                None,
            ) = (&p.op, &p.rows, &outcome[i])
            else {
                continue;
            };
            let one = [(instance.as_str(), rows.as_slice(), events.as_slice())];
            let mut sp = tx.savepoint("batch")?;
            insert_events(&mut sp, &one)?;
            let refused = match foreign_event(&mut sp, instance, rows)? {
                Some(seq) => Some(format!(
                    "instance {instance}: another host wrote its event {seq} first (it took the instance over); this host no longer works on it"
                )),
                None if !take_commands(&mut sp, commands)? => Some(format!(
                    "instance {instance}: a forwarded request {commands:?} was carried out by another host (it took the instance over); this host no longer works on it"
                )),
                None => None,
            };
            match refused {
                None => {
                    update_instances(&mut sp, host, lease, &one)?;
                    sp.commit()?;
                }
                Some(why) => {
                    sp.rollback()?;
                    outcome[i] = Some(StoreError(why));
                }
            }
        }
    }
    write_effects(&mut tx, group)?;
    for (p, failed) in group.iter().zip(&outcome) {
        match &p.op {
            Op::Append {
                instance,
                delivery: Some(key),
                ..
            } if failed.is_none() => super::deliveries::write(&mut tx, host, key, instance)?,
            Op::ImportDeliveries(pairs, _) => {
                for (key, instance) in pairs {
                    super::deliveries::write(&mut tx, host, key, instance)?;
                }
            }
            Op::PutTimer(t) => {
                // Timer ids are unique per process (they start at its clock's milliseconds);
                // with the instance they are unique across hosts.
                tx.execute(
                    "INSERT INTO timers (id, instance, at, step) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (id, instance) DO UPDATE SET at = $3, step = $4",
                    &[&(t.id as i64), &t.instance, &t.at, &t.step],
                )?;
            }
            Op::RemoveTimer(id) => {
                tx.execute("DELETE FROM timers WHERE id = $1", &[&(*id as i64)])?;
            }
            Op::PutPlan(hash, bundle) => {
                tx.execute(
                    "INSERT INTO plans (hash, bundle) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    &[hash, bundle],
                )?;
            }
            Op::Compact(instance) => {
                tx.execute(
                    "DELETE FROM events WHERE instance = $1 AND NOT (kind_type = ANY($2))",
                    &[instance, &KEPT_AFTER_END],
                )?;
            }
            Op::DropCommand {
                id,
                instance,
                unless_running,
                ..
            } => {
                tx.execute(
                    "DELETE FROM commands WHERE id = $1 AND NOT ($3 AND EXISTS
                         (SELECT 1 FROM instances WHERE id = $2 AND status = 'running'))",
                    &[id, instance, unless_running],
                )?;
            }
            Op::Append { .. } | Op::Sync(_) | Op::PutEffect { .. } => {}
        }
    }
    tx.commit()?;
    Ok(outcome)
}

/// Refuses (in `outcome`) the batches of instances a batch of which was not written, unless
/// they start where the instance's journal ends (see [`Unwritten`]); two batches of one
/// instance in the group follow each other.
fn refuse_holes(
    tx: &mut Transaction,
    group: &[Prepared],
    unwritten: &Unwritten,
    outcome: &mut Outcome,
) -> Result<(), postgres::Error> {
    let mut next: HashMap<&str, i64> = HashMap::new();
    for (i, p) in group.iter().enumerate() {
        let (Op::Append { instance, .. }, Ok(rows), None) = (&p.op, &p.rows, &outcome[i]) else {
            continue;
        };
        let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
            continue;
        };
        if !unwritten.contains(instance) {
            continue;
        }
        let expected = match next.get(instance.as_str()) {
            Some(n) => *n,
            None => tx
                .query_one(
                    "SELECT coalesce(max(seq) + 1, 0) FROM events WHERE instance = $1",
                    &[instance],
                )?
                .get(0),
        };
        if first.seq == expected {
            next.insert(instance, last.seq + 1);
        } else {
            outcome[i] = Some(Unwritten::refusal(instance, first.seq as u64, expected as u64));
        }
    }
    Ok(())
}

/// Writes the group's effect records in one statement, the last record of each key winning (an
/// email's outcome after its intent, when both are in the group).
fn write_effects(tx: &mut Transaction, group: &[Prepared]) -> Result<(), postgres::Error> {
    let mut last: HashMap<(&str, &str), &str> = HashMap::new();
    for p in group {
        if let Op::PutEffect { log, key, record, .. } = &p.op {
            last.insert((log, key), record);
        }
    }
    if last.is_empty() {
        return Ok(());
    }
    let (mut logs, mut keys, mut records) = (Vec::new(), Vec::new(), Vec::new());
    for ((log, key), record) in last {
        logs.push(log);
        keys.push(key);
        records.push(record);
    }
    tx.execute(
        "INSERT INTO effects (log, key, record)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
         ON CONFLICT (log, key) DO UPDATE SET record = excluded.record",
        &[&logs, &keys, &records],
    )?;
    Ok(())
}

/// Inserts the events of `appends` in one statement, skipping places already taken; returns
/// how many were inserted.
fn insert_events(tx: &mut Transaction, appends: &[(&str, &[Row], &[Event])]) -> Result<u64, postgres::Error> {
    let n: usize = appends.iter().map(|a| a.1.len()).sum();
    if n == 0 {
        return Ok(0);
    }
    let mut instances = Vec::with_capacity(n);
    let mut seqs = Vec::with_capacity(n);
    let mut ats = Vec::with_capacity(n);
    let mut types = Vec::with_capacity(n);
    let mut kinds = Vec::with_capacity(n);
    for (instance, rows, _) in appends {
        for r in rows.iter() {
            instances.push(*instance);
            seqs.push(r.seq);
            ats.push(r.at);
            types.push(r.kind_type.as_str());
            kinds.push(r.kind.as_str());
        }
    }
    tx.execute(
        "INSERT INTO events (instance, seq, at, kind_type, kind)
         SELECT * FROM unnest($1::text[], $2::int8[], $3::timestamptz[], $4::text[], $5::text[])
         ON CONFLICT DO NOTHING",
        &[&instances, &seqs, &ats, &types, &kinds],
    )
}

/// Takes forwarded requests `ids` off the queue; whether every one was still there.
fn take_commands(tx: &mut Transaction, ids: &[i64]) -> Result<bool, postgres::Error> {
    if ids.is_empty() {
        return Ok(true);
    }
    let taken = tx.execute("DELETE FROM commands WHERE id = ANY($1)", &[&ids])?;
    Ok(taken as usize == ids.len())
}

/// The first of `rows` whose place holds another event than this one (another host's).
fn foreign_event(tx: &mut Transaction, instance: &str, rows: &[Row]) -> Result<Option<i64>, postgres::Error> {
    let seqs: Vec<i64> = rows.iter().map(|r| r.seq).collect();
    let found = tx.query(
        "SELECT seq, at, kind FROM events WHERE instance = $1 AND seq = ANY($2) ORDER BY seq",
        &[&instance, &seqs],
    )?;
    for row in found {
        let seq: i64 = row.get(0);
        let at: DateTime<Utc> = row.get(1);
        let kind: &str = row.get(2);
        let ours = rows.iter().find(|r| r.seq == seq);
        if !ours.is_some_and(|r| r.kind == kind && same_instant(r.at, at)) {
            return Ok(Some(seq));
        }
    }
    Ok(None)
}

/// PostgreSQL keeps microseconds.
fn same_instant(a: DateTime<Utc>, b: DateTime<Utc>) -> bool {
    a.timestamp_micros() == b.timestamp_micros()
}

/// Keeps the instances table in step with the events, in two statements for the whole group: a
/// start inserts the row (owned by this host), then each instance takes its last status change.
fn update_instances(
    tx: &mut Transaction,
    host: &str,
    lease: f64,
    appends: &[(&str, &[Row], &[Event])],
) -> Result<(), postgres::Error> {
    let mut starts: HashMap<&str, Start> = HashMap::new();
    let mut statuses: HashMap<&str, (&'static str, DateTime<Utc>)> = HashMap::new();
    for (instance, _, events) in appends {
        for e in events.iter() {
            if let EventKind::InstanceStarted {
                flow,
                parent,
                entity,
                plan,
                ..
            } = &e.kind
            {
                starts.insert(
                    instance,
                    Start {
                        flow,
                        entity: entity.as_deref().unwrap_or_default(),
                        plan: plan.as_deref(),
                        parent: parent.as_deref(),
                        at: e.at,
                    },
                );
                statuses.remove(instance);
            } else if let Some(status) = e.kind.status() {
                statuses.insert(instance, (status, e.at));
            }
        }
    }
    if !starts.is_empty() {
        let ids: Vec<&str> = starts.keys().copied().collect();
        let s: Vec<&Start> = ids.iter().map(|id| &starts[id]).collect();
        let flows: Vec<&str> = s.iter().map(|s| s.flow).collect();
        let entities: Vec<&str> = s.iter().map(|s| s.entity).collect();
        let plans: Vec<Option<&str>> = s.iter().map(|s| s.plan).collect();
        let parents: Vec<Option<&str>> = s.iter().map(|s| s.parent).collect();
        let ats: Vec<DateTime<Utc>> = s.iter().map(|s| s.at).collect();
        tx.execute(
            "INSERT INTO instances (id, flow, entity, plan, parent, status, started_at, updated_at, owner, lease_until)
             SELECT id, flow, entity, plan, parent, 'running', at, at, $7, now() + make_interval(secs => $8)
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[])
                 AS s(id, flow, entity, plan, parent, at)
             ON CONFLICT (id) DO UPDATE SET flow = excluded.flow, entity = excluded.entity,
                 plan = excluded.plan, parent = excluded.parent, status = 'running',
                 started_at = excluded.started_at, updated_at = excluded.updated_at",
            &[&ids, &flows, &entities, &plans, &parents, &ats, &host, &lease],
        )?;
    }
    if !statuses.is_empty() {
        let ids: Vec<&str> = statuses.keys().copied().collect();
        let st: Vec<&str> = ids.iter().map(|id| statuses[id].0).collect();
        let ats: Vec<DateTime<Utc>> = ids.iter().map(|id| statuses[id].1).collect();
        // An instance running again (a retry) is held by the host that retried it.
        tx.execute(
            "UPDATE instances SET status = u.status, updated_at = u.at,
                 owner = CASE WHEN u.status = 'running' THEN $4 ELSE owner END,
                 lease_until = CASE WHEN u.status = 'running'
                     THEN now() + make_interval(secs => $5) ELSE lease_until END
             FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS u(id, status, at)
             WHERE instances.id = u.id",
            &[&ids, &st, &ats, &host, &lease],
        )?;
    }
    Ok(())
}

/// The row an instance's start writes.
struct Start<'a> {
    flow: &'a str,
    entity: &'a str,
    plan: Option<&'a str>,
    parent: Option<&'a str>,
    at: DateTime<Utc>,
}
