//! Where instances' histories and timers live: the [`Store`] trait and its in-memory version.
//!
//! The engine writes every history event and every pending timer through this trait, so a
//! durable store (SQLite, Postgres) can replace [`MemoryStore`] without touching the engine.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use super::event::Event;

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

/// Persistence for instances.
pub trait Store: Send + Sync + 'static {
    /// Appends one event to `instance`'s history.
    fn append(&self, instance: &str, event: Event);
    /// The history of `instance`, in order.
    fn history(&self, instance: &str) -> Vec<Event>;
    /// Saves a pending timer.
    fn put_timer(&self, timer: TimerRecord);
    /// Forgets a timer (fired or no longer needed).
    fn remove_timer(&self, id: u64);
    /// Every pending timer, earliest first.
    fn timers(&self) -> Vec<TimerRecord>;
}

/// Histories are split over this many locks so concurrent instances rarely wait on each other.
const SHARDS: usize = 32;

/// Everything in memory, lost with the process.
pub struct MemoryStore {
    histories: Vec<Mutex<HashMap<String, Vec<Event>>>>,
    timers: Mutex<BTreeMap<u64, TimerRecord>>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore {
            histories: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            timers: Mutex::new(BTreeMap::new()),
        }
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn shard(&self, instance: &str) -> &Mutex<HashMap<String, Vec<Event>>> {
        // FNV-1a: cheap and stable.
        let mut h: u64 = 0xcbf29ce484222325;
        for b in instance.bytes() {
            h = (h ^ b as u64).wrapping_mul(0x100000001b3);
        }
        &self.histories[(h % SHARDS as u64) as usize]
    }
}

impl Store for MemoryStore {
    fn append(&self, instance: &str, event: Event) {
        let mut h = self.shard(instance).lock().unwrap_or_else(|e| e.into_inner());
        match h.get_mut(instance) {
            Some(events) => events.push(event),
            None => {
                h.insert(instance.to_string(), vec![event]);
            }
        }
    }

    fn history(&self, instance: &str) -> Vec<Event> {
        let h = self.shard(instance).lock().unwrap_or_else(|e| e.into_inner());
        h.get(instance).cloned().unwrap_or_default()
    }

    fn put_timer(&self, timer: TimerRecord) {
        let mut t = self.timers.lock().unwrap_or_else(|e| e.into_inner());
        t.insert(timer.id, timer);
    }

    fn remove_timer(&self, id: u64) {
        let mut t = self.timers.lock().unwrap_or_else(|e| e.into_inner());
        t.remove(&id);
    }

    fn timers(&self) -> Vec<TimerRecord> {
        let t = self.timers.lock().unwrap_or_else(|e| e.into_inner());
        let mut all: Vec<_> = t.values().cloned().collect();
        all.sort_by_key(|t| (t.at, t.id));
        all
    }
}
