//! Where instances' histories and timers live: the [`Store`] trait and its in-memory version.
//!
//! The engine writes every history event and every pending timer through this trait, so a
//! durable store (SQLite, Postgres) can replace [`MemoryStore`] without touching the engine.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::oneshot;

use super::event::{Event, EventKind};
use super::forward::{Command, Forwarded};

/// A timer an instance is suspended on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimerRecord {
    /// Unique id.
    pub id: u64,
    /// The instance.
    pub instance: String,
    /// When it fires.
    pub at: DateTime<Utc>,
    /// The statement it ends (for humans and for recovery).
    pub step: String,
}

/// One instance as a store's instances table keeps it: what `flowc instances list` shows.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InstanceRecord {
    /// The instance's id.
    pub id: String,
    /// The flow's key.
    pub flow: String,
    /// The entity it works for.
    pub entity: String,
    /// The hash of the plan bundle it is pinned to.
    pub plan: Option<String>,
    /// The instance that started it as a sub-flow.
    pub parent: Option<String>,
    /// `running`, `completed`, `failed` or `cancelled`.
    pub status: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When its history last grew.
    pub updated_at: DateTime<Utc>,
}

impl InstanceRecord {
    /// The record of a history (for stores that keep only histories).
    pub fn from_history(id: &str, events: &[Event]) -> Option<InstanceRecord> {
        let first = events.first()?;
        let EventKind::InstanceStarted {
            flow,
            parent,
            entity,
            plan,
            ..
        } = &first.kind
        else {
            return None;
        };
        let mut record = InstanceRecord {
            id: id.to_string(),
            flow: flow.to_string(),
            entity: entity.as_deref().unwrap_or_default().to_string(),
            plan: plan.as_deref().map(str::to_string),
            parent: parent.clone(),
            status: "running".into(),
            started_at: first.at,
            updated_at: first.at,
        };
        for e in &events[1..] {
            record.apply(e);
        }
        Some(record)
    }

    /// Follows one more event of the instance.
    pub fn apply(&mut self, event: &Event) {
        self.updated_at = event.at;
        if let Some(status) = event.kind.status() {
            self.status = status.to_string();
        }
    }
}

/// A store could not keep what it was given.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(pub String);

/// Whether appended events are durable yet.
#[must_use]
pub enum Commit {
    /// Kept already (or the store keeps nothing beyond the process).
    Done,
    /// Kept once this answers: the engine acts on a reaction's effects only then.
    Pending(oneshot::Receiver<Result<(), StoreError>>),
}

/// Whether this host may do a piece of work that hosts sharing a store must do once (start the
/// instance of a webhook delivery, fire a schedule's due time).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// The store is this process's alone: nothing is shared, the host decides by itself.
    Unshared,
    /// This host holds the claim: it does the work, then records it with [`Store::claimed`].
    Mine,
    /// Another host did the work (the instance it started) or is doing it (`None`).
    Taken(Option<String>),
}

/// Persistence for instances: histories, timers and the plans instances are pinned to.
///
/// The engine appends the events of one reaction at a time ([`Store::append_batch`]) and acts
/// on the reaction's effects (calls, timers, answers to waiting callers) once the batch is
/// kept, so a durable store never acts on what it could lose.
pub trait Store: Send + Sync + 'static {
    /// Appends one event to `instance`'s history.
    fn append(&self, instance: &str, event: Event);
    /// Appends the events of one reaction, in order. A durable store answers once they are
    /// kept; many instances' batches may share one transaction (group commit).
    fn append_batch(&self, instance: &str, events: Vec<Event>) -> Commit {
        for e in events {
            self.append(instance, e);
        }
        Commit::Done
    }
    /// [`Store::append_batch`] from a buffer the caller keeps using: the events are taken out
    /// of `events`. A store that keeps the events in memory moves them out and leaves the
    /// buffer's room to the caller, saving an allocation per reaction.
    fn append_from(&self, instance: &str, events: &mut Vec<Event>) -> Commit {
        self.append_batch(instance, std::mem::take(events))
    }
    /// Answers once everything appended before is kept (a barrier; nothing is written).
    fn sync(&self) -> Commit {
        Commit::Done
    }
    /// The history of `instance`, in order.
    fn history(&self, instance: &str) -> Vec<Event>;
    /// Whether this process still holds `instance`, to carry it on after the store failed to
    /// keep one of its reactions: its start is kept, and no other host sharing the store took
    /// it over. `None`: the store cannot tell now (ask again later).
    fn holds(&self, instance: &str) -> Option<bool> {
        Some(!self.history(instance).is_empty())
    }
    /// Saves a pending timer.
    fn put_timer(&self, timer: TimerRecord);
    /// Forgets a timer (fired or no longer needed).
    fn remove_timer(&self, id: u64);
    /// Every pending timer, earliest first.
    fn timers(&self) -> Vec<TimerRecord>;
    /// The id of every instance with a history (for recovery after a restart).
    fn instances(&self) -> Vec<String>;
    /// The ids of the instances that have not ended, oldest first.
    fn unfinished(&self) -> Vec<String> {
        self.instances()
            .into_iter()
            .filter(|id| !super::event::has_ended(&self.history(id)))
            .collect()
    }
    /// The unfinished instances this process should resume: every one for a store of one
    /// process; for a store hosts share, those no live host holds, claimed for this one.
    fn claim_unfinished(&self) -> Vec<String> {
        self.unfinished()
    }
    /// Claims the work `key` for this host (see [`Claim`]).
    fn claim(&self, _key: &str) -> Claim {
        Claim::Unshared
    }
    /// The work claimed under `key` started `instance`.
    fn claimed(&self, _key: &str, _instance: &str) {}
    /// This host gives up its claim on `key` without having done the work (its start failed,
    /// or it is stopping), so another host may claim it at once.
    fn unclaim(&self, _key: &str) {}
    /// Every instance's record, oldest first.
    fn records(&self) -> Vec<InstanceRecord> {
        let mut all: Vec<InstanceRecord> = self
            .instances()
            .iter()
            .filter_map(|id| InstanceRecord::from_history(id, &self.history(id)))
            .collect();
        all.sort_by(|a, b| (a.started_at, &a.id).cmp(&(b.started_at, &b.id)));
        all
    }
    /// One instance's record.
    fn record(&self, instance: &str) -> Option<InstanceRecord> {
        InstanceRecord::from_history(instance, &self.history(instance))
    }
    /// Keeps a plan bundle (its JSON) under its hash.
    fn put_plan(&self, _hash: &str, _bundle: &str) {}
    /// The plan bundle kept under `hash`.
    fn plan(&self, _hash: &str) -> Option<String> {
        None
    }
    /// An instance ended: keep of its history only what answers for it later (its start, its
    /// output, its end). Stores that keep everything ignore this.
    fn compact(&self, _instance: &str) {}
    /// The engine dropped `instance` from memory until a timer or an event wakes it (its
    /// history is read back then): a store that keeps histories in memory may pack this one.
    fn suspended(&self, _instance: &str) {}

    // Webhook deliveries (`flowc serve`): which instance a delivery id started, kept in the
    // journal with the instance's start, so a provider's retry starts nothing new.

    /// Whether this store journals deliveries ([`Store::deliver`], [`Store::delivery`]);
    /// otherwise the host remembers them in memory.
    fn keeps_deliveries(&self) -> bool {
        false
    }
    /// Delivery `key` starts `instance`, whose start the engine appends next: the store writes
    /// the delivery in the same transaction as the instance's first batch.
    fn deliver(&self, _key: &str, _instance: &str) {}
    /// The instance delivery `key` started, once that start is kept.
    fn delivery(&self, _key: &str) -> Option<String> {
        None
    }
    /// Keeps deliveries recorded elsewhere before (`deliveries.jsonl` of an older flowc), as
    /// (key, instance) pairs; a key already kept keeps its instance.
    fn import_deliveries(&self, _pairs: Vec<(String, String)>) -> Commit {
        Commit::Done
    }

    // The effect log: what connectors did outside (an email sent, a form created), by the
    // call's idempotency key, so that an attempt made later (on this host or another) finds
    // what an earlier one did. Records are connectors' JSON; `log` names the connector's log
    // (`email.sent`).

    /// Whether connectors keep their effect logs here rather than in files of the host's
    /// state folder: true for a store hosts share, where a host that takes an instance over
    /// must see what the host before it sent. The engine hands such a store to its connectors
    /// ([`Connector::keep_effects_in`](crate::connectors::Connector::keep_effects_in)).
    fn keeps_effects(&self) -> bool {
        false
    }
    /// Records `record` as the last effect of `key` in `log`. It is kept once the commit
    /// answers; records of many callers share a transaction (group commit), and records sent
    /// one after another are kept in that order.
    fn put_effect(&self, _log: &str, _key: &str, _record: String) -> Commit {
        let (tx, rx) = oneshot::channel();
        let _ = tx.send(Err(StoreError("this store keeps no effect log".into())));
        Commit::Pending(rx)
    }
    /// Answers once every effect record put before is kept (a barrier, as [`Store::sync`] is
    /// for events; the same barrier for a store that writes both in one queue).
    fn sync_effects(&self) -> Commit {
        self.sync()
    }
    /// The last record of `key` in `log`. An error is not an absence: a connector that cannot
    /// tell whether it already acted must not act.
    fn effect(&self, _log: &str, _key: &str) -> Result<Option<String>, StoreError> {
        Ok(None)
    }

    // Requests forwarded between hosts (see `runtime::forward`): a host asked about an
    // instance it does not hold queues the request for the host that does.

    /// Queues `command` for the host that holds `instance` and wakes it; false when this
    /// store shares nothing, or has no such instance with the status the command applies to.
    fn forward(&self, _instance: &str, _command: &Command) -> Result<bool, StoreError> {
        Ok(false)
    }
    /// The commands queued for instances this host holds, oldest first.
    fn forwarded(&self) -> Vec<Forwarded> {
        Vec::new()
    }
    /// Told when commands may be queued for this host (none: this store forwards nothing).
    fn forwarded_wake(&self) -> Option<std::sync::Arc<tokio::sync::Notify>> {
        None
    }
    /// `forwarded` is about to be applied: the next batch of its instance holding its effect
    /// ([`Command::took_effect_in`]) takes it off the queue in the same commit, and fails if it
    /// is gone already (applied by another host).
    fn applying(&self, _forwarded: &Forwarded) {}
    /// The engine is done with `forwarded`. If no batch took it, it had no effect (the
    /// instance had ended, or was not failed) and leaves the queue now, unless `unheld`: the
    /// engine did not know the instance, which stays queued while it runs (its holder is
    /// taking it back). Answers once kept.
    fn applied(&self, _forwarded: &Forwarded, _unheld: bool) -> Commit {
        Commit::Done
    }
}

/// What of an ended instance's history compaction keeps.
pub(crate) fn kept_after_end(kind: &EventKind) -> bool {
    matches!(kind, EventKind::InstanceStarted { .. } | EventKind::Output { .. }) || kind.is_end()
}

/// Histories are split over this many locks so concurrent instances rarely wait on each other.
const SHARDS: usize = 32;

/// FNV-1a: instance ids are short and not attacker-chosen, so a cheap hash will do.
#[derive(Default, Clone, Copy)]
struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 { 0xcbf29ce484222325 } else { self.0 };
        for b in bytes {
            h = (h ^ *b as u64).wrapping_mul(0x100000001b3);
        }
        self.0 = h;
    }
}

type Histories = HashMap<String, History, std::hash::BuildHasherDefault<Fnv>>;

/// One instance's history: what it had when it last went to sleep, packed (`super::packed`: a
/// sleeping instance's history is read once, when it wakes), then the events since.
#[derive(Default)]
struct History {
    packed: Box<[u8]>,
    recent: Vec<Event>,
}

impl History {
    fn events(&self) -> Vec<Event> {
        let mut all = super::packed::unpack(&self.packed);
        all.extend(self.recent.iter().cloned());
        all
    }

    fn pack(&mut self) {
        if self.recent.is_empty() {
            return;
        }
        self.packed = super::packed::pack(&self.packed, &self.recent);
        self.recent = Vec::new();
    }
}

/// Everything in memory, lost with the process.
pub struct MemoryStore {
    histories: Vec<Mutex<Histories>>,
    timers: Mutex<BTreeMap<u64, TimerRecord>>,
    plans: Mutex<HashMap<String, String>>,
    deliveries: Mutex<HashMap<String, String>>,
    /// The effect log, by (log, key).
    effects: Mutex<HashMap<(String, String), String>>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore {
            histories: (0..SHARDS).map(|_| Mutex::new(Histories::default())).collect(),
            timers: Mutex::new(BTreeMap::new()),
            plans: Mutex::new(HashMap::new()),
            deliveries: Mutex::new(HashMap::new()),
            effects: Mutex::new(HashMap::new()),
        }
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn shard(&self, instance: &str) -> &Mutex<Histories> {
        let mut h = Fnv::default();
        std::hash::Hasher::write(&mut h, instance.as_bytes());
        // The low bits feed the map's buckets; the shard takes higher ones.
        &self.histories[((std::hash::Hasher::finish(&h) >> 32) % SHARDS as u64) as usize]
    }
}

impl Store for MemoryStore {
    fn append(&self, instance: &str, event: Event) {
        let mut h = self.shard(instance).lock().unwrap_or_else(|e| e.into_inner());
        match h.get_mut(instance) {
            Some(history) => history.recent.push(event),
            None => {
                let history = History {
                    recent: vec![event],
                    ..History::default()
                };
                h.insert(instance.to_string(), history);
            }
        }
    }

    fn append_batch(&self, instance: &str, mut events: Vec<Event>) -> Commit {
        if events.is_empty() {
            return Commit::Done;
        }
        let mut h = self.shard(instance).lock().unwrap_or_else(|e| e.into_inner());
        match h.get_mut(instance) {
            Some(kept) => kept.recent.append(&mut events),
            None => {
                let history = History {
                    recent: events,
                    ..History::default()
                };
                h.insert(instance.to_string(), history);
            }
        }
        Commit::Done
    }

    fn append_from(&self, instance: &str, events: &mut Vec<Event>) -> Commit {
        if events.is_empty() {
            return Commit::Done;
        }
        let mut h = self.shard(instance).lock().unwrap_or_else(|e| e.into_inner());
        match h.get_mut(instance) {
            // Moved out one by one: `events` keeps its room for the instance's next reaction.
            Some(kept) => kept.recent.append(events),
            None => {
                let history = History {
                    recent: std::mem::take(events),
                    ..History::default()
                };
                h.insert(instance.to_string(), history);
            }
        }
        Commit::Done
    }

    fn put_plan(&self, hash: &str, bundle: &str) {
        let mut plans = self.plans.lock().unwrap_or_else(|e| e.into_inner());
        if !plans.contains_key(hash) {
            plans.insert(hash.to_string(), bundle.to_string());
        }
    }

    fn plan(&self, hash: &str) -> Option<String> {
        self.plans
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(hash)
            .cloned()
    }

    fn compact(&self, instance: &str) {
        let mut h = self.shard(instance).lock().unwrap_or_else(|e| e.into_inner());
        if let Some(history) = h.get_mut(instance) {
            let mut kept = history.events();
            kept.retain(|e| kept_after_end(&e.kind));
            kept.shrink_to_fit();
            *history = History {
                recent: kept,
                ..History::default()
            };
        }
    }

    fn suspended(&self, instance: &str) {
        let mut h = self.shard(instance).lock().unwrap_or_else(|e| e.into_inner());
        if let Some(history) = h.get_mut(instance) {
            history.pack();
        }
    }

    fn history(&self, instance: &str) -> Vec<Event> {
        let h = self.shard(instance).lock().unwrap_or_else(|e| e.into_inner());
        h.get(instance).map(History::events).unwrap_or_default()
    }

    fn put_timer(&self, timer: TimerRecord) {
        let mut t = self.timers.lock().unwrap_or_else(|e| e.into_inner());
        t.insert(timer.id, timer);
    }

    fn remove_timer(&self, id: u64) {
        let mut t = self.timers.lock().unwrap_or_else(|e| e.into_inner());
        t.remove(&id);
    }

    fn instances(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .histories
            .iter()
            .flat_map(|shard| {
                let h = shard.lock().unwrap_or_else(|e| e.into_inner());
                h.keys().cloned().collect::<Vec<_>>()
            })
            .collect();
        ids.sort();
        ids
    }

    fn timers(&self) -> Vec<TimerRecord> {
        let t = self.timers.lock().unwrap_or_else(|e| e.into_inner());
        let mut all: Vec<_> = t.values().cloned().collect();
        all.sort_by_key(|t| (t.at, t.id));
        all
    }

    fn keeps_deliveries(&self) -> bool {
        true
    }

    fn deliver(&self, key: &str, instance: &str) {
        let mut d = self.deliveries.lock().unwrap_or_else(|e| e.into_inner());
        d.entry(key.to_string()).or_insert_with(|| instance.to_string());
    }

    fn delivery(&self, key: &str) -> Option<String> {
        let d = self.deliveries.lock().unwrap_or_else(|e| e.into_inner());
        d.get(key).cloned()
    }

    fn import_deliveries(&self, pairs: Vec<(String, String)>) -> Commit {
        let mut d = self.deliveries.lock().unwrap_or_else(|e| e.into_inner());
        for (key, instance) in pairs {
            d.entry(key).or_insert(instance);
        }
        Commit::Done
    }

    fn put_effect(&self, log: &str, key: &str, record: String) -> Commit {
        let mut effects = self.effects.lock().unwrap_or_else(|e| e.into_inner());
        effects.insert((log.to_string(), key.to_string()), record);
        Commit::Done
    }

    fn effect(&self, log: &str, key: &str) -> Result<Option<String>, StoreError> {
        let effects = self.effects.lock().unwrap_or_else(|e| e.into_inner());
        Ok(effects.get(&(log.to_string(), key.to_string())).cloned())
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::{MemoryStore, Store};
    use crate::runtime::event::{Event, EventKind};

    /// A sleeping instance's history is packed (none of it stays as events in memory), reads
    /// back the same, and takes events after it when the instance wakes.
    #[test]
    fn a_sleeping_history_is_packed_and_reads_back_the_same() {
        let store = MemoryStore::new();
        let ev = |seq, step: &str| Event {
            seq,
            at: Utc::now(),
            kind: EventKind::StepScheduled { step: step.into() },
        };
        let mut buffer = vec![ev(0, "a"), ev(1, "b")];
        let _ = store.append_from("i", &mut buffer);
        let before = serde_json::to_string(&store.history("i")).unwrap();
        store.suspended("i");
        {
            let shard = store.shard("i").lock().unwrap();
            let kept = &shard["i"];
            assert!(kept.recent.is_empty(), "the events were left unpacked");
            assert!(!kept.packed.is_empty());
        }
        assert_eq!(serde_json::to_string(&store.history("i")).unwrap(), before);
        store.append("i", ev(2, "c"));
        let seqs: Vec<u64> = store.history("i").iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [0, 1, 2]);
    }
}
