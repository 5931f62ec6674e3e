//! Deliveries already taken: a provider retrying a delivery (same delivery id) gets the first
//! instance's id back instead of starting a second one.
//!
//! A store that keeps deliveries ([`Store::keeps_deliveries`]: SQLite, PostgreSQL) journals the
//! key in the same commit as the instance's start ([`Engine::start_delivery`]), so the 202 waits
//! for one group commit and a restart loses nothing. Without one, the last [`MEMORY_LIMIT`]
//! keys are remembered in memory. Concurrent copies of one delivery wait for the first; memory
//! holds only the deliveries in flight.
//!
//! An older flowc kept deliveries in `STATE/deliveries.jsonl`: the file is imported into the
//! store once at start, then renamed `deliveries.jsonl.imported`.
//!
//! [`Engine::start_delivery`]: crate::runtime::Engine::start_delivery

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use crate::runtime::{Commit, Store};

const FILE_NAME: &str = "deliveries.jsonl";
const IMPORTED: &str = "deliveries.jsonl.imported";

/// How many deliveries a host without a journal of deliveries remembers.
pub(crate) const MEMORY_LIMIT: usize = 100_000;

#[derive(serde::Serialize, serde::Deserialize)]
struct Line {
    key: String,
    instance: String,
}

/// The deliveries seen.
#[derive(Default)]
pub(crate) struct Deliveries {
    in_flight: Mutex<HashMap<String, Arc<OnceCell<String>>>>,
    /// The journal of deliveries, when the store keeps them.
    store: Option<Arc<dyn Store>>,
    /// Otherwise: the last deliveries, oldest first.
    memory: Mutex<Remembered>,
}

#[derive(Default)]
struct Remembered {
    by_key: HashMap<String, String>,
    order: VecDeque<String>,
}

impl Remembered {
    fn insert(&mut self, key: String, instance: String) {
        if self.by_key.insert(key.clone(), instance).is_none() {
            self.order.push_back(key);
        }
        while self.order.len() > MEMORY_LIMIT {
            if let Some(old) = self.order.pop_front() {
                self.by_key.remove(&old);
            }
        }
    }
}

/// The key deliveries are kept under: `delivery PATH#ID`.
pub(crate) fn key(path: &str, id: &str) -> String {
    format!("delivery {path}#{id}")
}

impl Deliveries {
    /// Deliveries journaled in `store` when it keeps them, else in memory; `state`'s
    /// `deliveries.jsonl` of an older flowc is taken in first.
    pub(crate) fn open(state: Option<&Path>, store: Option<Arc<dyn Store>>) -> Result<Deliveries, String> {
        let store = store.filter(|s| s.keeps_deliveries());
        let deliveries = Deliveries {
            store,
            ..Deliveries::default()
        };
        let Some(dir) = state else {
            return Ok(deliveries);
        };
        let file = dir.join(FILE_NAME);
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(deliveries),
            Err(e) => return Err(format!("cannot read {}: {e}", file.display())),
        };
        // A line cut short by a crash is skipped: its instance was started, but the provider's
        // retry is then taken as new (at most one duplicate per crash, as that flowc said).
        let pairs: Vec<(String, String)> = text
            .lines()
            .filter_map(|l| serde_json::from_str::<Line>(l).ok())
            .map(|l| (key_of_old(&l.key), l.instance))
            .collect();
        match &deliveries.store {
            Some(store) => {
                let n = pairs.len();
                kept(store.import_deliveries(pairs))
                    .map_err(|e| format!("cannot import {} into the journal: {e}", file.display()))?;
                std::fs::rename(&file, dir.join(IMPORTED))
                    .map_err(|e| format!("cannot rename {} after importing it: {e}", file.display()))?;
                tracing::info!("{n} deliveries of {} imported into the journal", file.display());
            }
            None => {
                let mut memory = deliveries.memory.lock().unwrap_or_else(|e| e.into_inner());
                for (key, instance) in pairs {
                    memory.insert(key, instance);
                }
            }
        }
        Ok(deliveries)
    }

    /// Whether the store journals deliveries (then `start` must journal `key` with the start).
    pub(crate) fn journaled(&self) -> bool {
        self.store.is_some()
    }

    /// The instance of delivery `key`: the one started before, or the one `start` starts now
    /// (journaling `key` with it when [`Deliveries::journaled`]). The flag says whether it was
    /// started now.
    pub(crate) async fn once<E, F>(&self, key: &str, start: F) -> Result<(String, bool), E>
    where
        F: std::future::Future<Output = Result<String, E>>,
    {
        let cell = self
            .in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key.to_string())
            .or_default()
            .clone();
        let mut fresh = false;
        let found = cell
            .get_or_try_init(|| async {
                if let Some(id) = self.lookup(key) {
                    return Ok(id);
                }
                let id = start.await?;
                fresh = true;
                Ok(id)
            })
            .await
            .cloned();
        if let (Ok(id), true, None) = (&found, fresh, &self.store) {
            let mut memory = self.memory.lock().unwrap_or_else(|e| e.into_inner());
            memory.insert(key.to_string(), id.clone());
        }
        // Done (or failed, leaving the delivery open): later copies find it where it is kept.
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        if in_flight.get(key).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
            in_flight.remove(key);
        }
        Ok((found?, fresh))
    }

    fn lookup(&self, key: &str) -> Option<String> {
        match &self.store {
            Some(store) => store.delivery(key),
            None => {
                let memory = self.memory.lock().unwrap_or_else(|e| e.into_inner());
                memory.by_key.get(key).cloned()
            }
        }
    }

    /// How many deliveries are in flight.
    #[cfg(test)]
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// How many deliveries are held in memory (in flight, or remembered without a journal).
    #[cfg(test)]
    fn held(&self) -> usize {
        self.in_flight.lock().unwrap_or_else(|e| e.into_inner()).len()
            + self.memory.lock().unwrap_or_else(|e| e.into_inner()).by_key.len()
    }
}

/// `deliveries.jsonl` keyed deliveries `PATH#ID`.
fn key_of_old(old: &str) -> String {
    format!("delivery {old}")
}

/// Waits for `commit` from synchronous code that may run on a runtime's thread.
fn kept(commit: Commit) -> Result<(), String> {
    match commit {
        Commit::Done => Ok(()),
        Commit::Pending(rx) => std::thread::scope(|s| {
            s.spawn(|| match rx.blocking_recv() {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err("the store stopped".to_string()),
            })
            .join()
            .unwrap_or_else(|_| Err("the import panicked".to_string()))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::MemoryStore;

    #[tokio::test]
    async fn a_repeated_delivery_gets_the_first_instance() {
        let d = Deliveries::open(None, None).unwrap();
        let first = d.once::<(), _>("k1", async { Ok("i-1".into()) }).await.unwrap();
        assert_eq!(first, ("i-1".to_string(), true));
        let again = d.once::<(), _>("k1", async { Ok("i-2".into()) }).await.unwrap();
        assert_eq!(again, ("i-1".to_string(), false));
    }

    #[tokio::test]
    async fn a_failed_start_leaves_the_delivery_open() {
        let d = Deliveries::open(None, None).unwrap();
        assert!(d.once("k", async { Err("bad input") }).await.is_err());
        let ok = d.once::<&str, _>("k", async { Ok("i-9".into()) }).await.unwrap();
        assert_eq!(ok, ("i-9".to_string(), true));
        assert_eq!(d.held(), 1, "remembered, nothing left in flight");
    }

    #[tokio::test]
    async fn with_a_journal_nothing_stays_in_memory() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let d = Deliveries::open(None, Some(store.clone())).unwrap();
        for i in 0..100 {
            let key = format!("k{i}");
            let s = store.clone();
            d.once::<(), _>(&key, async move {
                s.deliver(&format!("k{i}"), &format!("i-{i}"));
                Ok(format!("i-{i}"))
            })
            .await
            .unwrap();
        }
        assert_eq!(d.held(), 0);
        let again = d.once::<(), _>("k7", async { Ok("new".into()) }).await.unwrap();
        assert_eq!(again, ("i-7".to_string(), false));
    }

    #[test]
    fn memory_without_a_journal_is_bounded() {
        let mut r = Remembered::default();
        for i in 0..MEMORY_LIMIT + 10 {
            r.insert(format!("k{i}"), "i".into());
        }
        assert_eq!(r.by_key.len(), MEMORY_LIMIT);
        assert!(!r.by_key.contains_key("k0") && r.by_key.contains_key("k10"));
    }

    #[test]
    fn an_old_deliveries_file_is_imported_once() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(FILE_NAME),
            "{\"key\":\"/hooks/a#1\",\"instance\":\"i-1\"}\n{\"key\":\"/hooks/a#2\",\"ins",
        )
        .unwrap();
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        Deliveries::open(Some(dir.path()), Some(store.clone())).unwrap();
        assert_eq!(store.delivery(&key("/hooks/a", "1")), Some("i-1".into()));
        assert!(!dir.path().join(FILE_NAME).exists());
        assert!(dir.path().join(IMPORTED).exists());
    }
}
