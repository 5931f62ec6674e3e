//! The engine's pending timers, earliest first: a binary heap in one vector. A million instances
//! asleep in a `wait` keep a million timers in memory: a B-tree filled in due order leaves its
//! nodes about half full (~135 bytes a timer), the heap ~72.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use super::timers::{TimerEntry, TimerKey};

/// One timer in the queue, ordered by its key alone.
struct Queued {
    key: TimerKey,
    entry: TimerEntry,
}

impl PartialEq for Queued {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for Queued {}

impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Queued {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key.cmp(&other.key)
    }
}

/// Timers by key (due time, the order the instance armed them in, id), earliest first.
#[derive(Default)]
pub(super) struct TimerQueue {
    heap: BinaryHeap<Reverse<Queued>>,
}

impl TimerQueue {
    /// Adds a timer; whether it is now the earliest.
    pub(super) fn insert(&mut self, key: TimerKey, entry: TimerEntry) -> bool {
        self.heap.push(Reverse(Queued { key, entry }));
        self.earliest() == Some(key)
    }

    /// The key of the earliest timer.
    pub(super) fn earliest(&self) -> Option<TimerKey> {
        self.heap.peek().map(|q| q.0.key)
    }

    /// Takes every timer due at or before `now`, earliest first.
    pub(super) fn take_due(&mut self, now: chrono::DateTime<chrono::Utc>) -> Vec<TimerEntry> {
        let mut due = Vec::new();
        while self.earliest().is_some_and(|k| k.0 <= now) {
            if let Some(Reverse(q)) = self.heap.pop() {
                due.push(q.entry);
            }
        }
        due
    }

    /// How many timers are pending.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn entry(id: u64) -> TimerEntry {
        TimerEntry {
            instance: std::sync::Arc::from("i"),
            generation: 0,
            scope: 0,
            node: 0,
            id,
        }
    }

    #[test]
    fn due_timers_come_out_in_key_order_and_later_ones_stay() {
        let t = |s: i64| Utc.timestamp_opt(1_000 + s, 0).single().expect("valid");
        let mut q = TimerQueue::default();
        assert!(q.insert((t(5), 0, 1), entry(1)));
        assert!(!q.insert((t(9), 0, 2), entry(2)));
        // Same instant: the order the instance armed them in decides, then the id.
        assert!(!q.insert((t(5), 1, 3), entry(3)));
        assert!(q.insert((t(1), 7, 4), entry(4)));
        assert!(!q.insert((t(5), 0, 5), entry(5)));
        assert_eq!(q.earliest(), Some((t(1), 7, 4)));
        let due: Vec<u64> = q.take_due(t(5)).iter().map(|e| e.id).collect();
        assert_eq!(due, vec![4, 1, 5, 3]);
        assert_eq!(q.len(), 1);
        assert_eq!(q.earliest(), Some((t(9), 0, 2)));
        assert!(q.take_due(t(8)).is_empty());
        assert_eq!(q.take_due(t(9)).len(), 1);
        assert_eq!(q.earliest(), None);
    }
}
