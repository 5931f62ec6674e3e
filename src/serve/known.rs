//! The instances this host started or resumed, with how they were triggered (which the journal
//! does not keep), for `/api/instances`. Bounded: once an instance has ended and the store holds
//! its history, only the last [`KEEP_ENDED`] ended ones stay here; older ones are listed from
//! the store (without their trigger). A host that runs for months holds its running instances
//! and a fixed tail, not every instance it ever ran.

use std::collections::{HashMap, VecDeque};

/// How many ended instances keep their entry (and trigger) in memory.
pub(crate) const KEEP_ENDED: usize = 1_000;

/// One instance the host started or resumed: enough to list it without asking the store.
#[derive(Clone, Debug, serde::Serialize)]
pub(crate) struct Known {
    pub(crate) id: String,
    pub(crate) flow: String,
    pub(crate) entity: String,
    pub(crate) trigger: String,
    pub(crate) started_at: chrono::DateTime<chrono::Utc>,
}

/// The instances known, by id, with the ended ones in the order they ended.
#[derive(Default)]
pub(crate) struct KnownInstances {
    by_id: HashMap<String, Known>,
    ended: VecDeque<String>,
}

impl KnownInstances {
    pub(crate) fn insert(&mut self, known: Known) {
        self.by_id.insert(known.id.clone(), known);
    }

    /// `id` ended; `evict`: the store holds it, so the oldest ended ones may go.
    pub(crate) fn ended(&mut self, id: &str, evict: bool) {
        if !evict {
            return;
        }
        self.ended.push_back(id.to_string());
        while self.ended.len() > KEEP_ENDED {
            if let Some(old) = self.ended.pop_front() {
                self.by_id.remove(&old);
            }
        }
    }

    /// Every instance known, oldest first.
    pub(crate) fn list(&self) -> Vec<Known> {
        let mut all: Vec<Known> = self.by_id.values().cloned().collect();
        all.sort_by(|a, b| (a.started_at, &a.id).cmp(&(b.started_at, &b.id)));
        all
    }

    /// How many are held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.by_id.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(i: usize) -> Known {
        Known {
            id: format!("i-{i}"),
            flow: "f".into(),
            entity: "e".into(),
            trigger: "webhook".into(),
            started_at: chrono::DateTime::from_timestamp(i as i64, 0).unwrap(),
        }
    }

    #[test]
    fn ended_instances_beyond_the_tail_are_let_go_when_the_store_holds_them() {
        let mut k = KnownInstances::default();
        for i in 0..KEEP_ENDED + 5 {
            k.insert(known(i));
            k.ended(&format!("i-{i}"), true);
        }
        k.insert(known(KEEP_ENDED + 5));
        assert_eq!(k.len(), KEEP_ENDED + 1, "the tail and the running one");
        assert_eq!(k.list()[0].id, "i-5");
        let mut alone = KnownInstances::default();
        for i in 0..10 {
            alone.insert(known(i));
            alone.ended(&format!("i-{i}"), false);
        }
        assert_eq!(alone.len(), 10, "without a store they are the only record");
    }
}
