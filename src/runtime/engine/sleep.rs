//! A suspended instance costs disk, not memory: an instance idle in a wait (nothing in flight,
//! nobody awaiting its output) is dropped from memory once its reaction's events are kept. What
//! stays is its slot in the instances map, its entries in the timer queue and its event-wait
//! registrations; its timer, an event, a signal, a cancel or a caller wakes it, rebuilt from its
//! history as on recovery.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{Cell, EngineError, Inner, InstanceId};
use crate::runtime::instance::{Instance, ParentLink};

/// An instance as the engine holds it.
pub(super) enum Slot {
    /// In memory.
    Live(Arc<Cell>),
    /// Dropped from memory; its history is in the store.
    Asleep(Asleep),
}

/// What an instance leaves in memory while asleep (16 bytes, so its slot in the instances map
/// is 24: a million sleepers make a map of two million buckets).
pub(super) struct Asleep {
    /// The generation of the cell it left: its timers carry it.
    generation: u64,
    /// What only some sleepers have, boxed apart (most have neither).
    ties: Option<Box<Ties>>,
}

/// A sleeper's ties to others: the step it answers to, the events it waits for.
struct Ties {
    /// The sub-flow step it answers to.
    parent: Option<ParentLink>,
    /// The events its waits listen for (interned names).
    waits: Box<[Arc<str>]>,
}

/// Asleep instances by the event names they wait for, so that an `emit` wakes only those.
#[derive(Default)]
pub(super) struct Sleepers {
    by_event: HashMap<Arc<str>, HashSet<Arc<str>>>,
    /// One copy of each event name.
    names: HashSet<Arc<str>>,
}

impl Sleepers {
    fn register(&mut self, id: &Arc<str>, names: Vec<String>) -> Box<[Arc<str>]> {
        names
            .into_iter()
            .map(|name| {
                let name = match self.names.get(name.as_str()) {
                    Some(n) => n.clone(),
                    None => {
                        let n: Arc<str> = Arc::from(name);
                        self.names.insert(n.clone());
                        n
                    }
                };
                self.by_event.entry(name.clone()).or_default().insert(id.clone());
                name
            })
            .collect()
    }

    fn unregister(&mut self, id: &str, names: &[Arc<str>]) {
        for name in names {
            if let Some(ids) = self.by_event.get_mut(name) {
                ids.remove(id);
                if ids.is_empty() {
                    self.by_event.remove(name);
                }
            }
        }
    }
}

/// What a due timer finds of its instance.
pub(super) enum TimerTarget {
    /// The cell that armed it, in memory.
    Live(Arc<Cell>),
    /// It was asleep: woken now, it arms its timers again from its history.
    Woken,
    /// Armed by an earlier life of the instance, or the instance is gone.
    Stale,
}

impl Inner {
    /// The instance `id` in memory (`Some(Some)`), asleep (`Some(None)`), or unknown.
    pub(super) fn live(&self, id: &str) -> Option<Option<Arc<Cell>>> {
        match self.instances.lock().unwrap_or_else(|e| e.into_inner()).get(id)? {
            Slot::Live(cell) => Some(Some(cell.clone())),
            Slot::Asleep(_) => Some(None),
        }
    }

    /// The instance `id` in memory, woken from the store if it was asleep.
    pub(super) fn cell(self: &Arc<Self>, id: &InstanceId) -> Result<Arc<Cell>, EngineError> {
        let (generation, parent) = match self
            .instances
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id.0.as_str())
        {
            Some(Slot::Live(cell)) => return Ok(cell.clone()),
            Some(Slot::Asleep(a)) => (a.generation, a.ties.as_ref().and_then(|t| t.parent.clone())),
            None => return Err(EngineError::UnknownInstance(id.0.clone())),
        };
        let history = self.store.history(&id.0);
        self.revive(&id.0, &history, parent, Some(generation))
    }

    /// The instance a due timer of `generation` is for.
    pub(super) fn timer_target(self: &Arc<Self>, id: &str, generation: u64) -> TimerTarget {
        let asleep = match self.instances.lock().unwrap_or_else(|e| e.into_inner()).get(id) {
            Some(Slot::Live(cell)) if cell.generation == generation => {
                return TimerTarget::Live(cell.clone())
            }
            Some(Slot::Asleep(a)) => a.generation == generation,
            _ => false,
        };
        if asleep && self.cell(&InstanceId(id.to_string())).is_ok() {
            TimerTarget::Woken
        } else {
            TimerTarget::Stale
        }
    }

    /// Takes the slot of asleep instance `id` of `generation` for a new life (forgetting its
    /// event registrations); whether it was still that.
    pub(super) fn take_asleep(&self, slots: &mut HashMap<Arc<str>, Slot>, id: &str, generation: u64) -> bool {
        match slots.get(id) {
            Some(Slot::Asleep(a)) if a.generation == generation => {
                if let Some(ties) = &a.ties {
                    self.sleepers
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .unregister(id, &ties.waits);
                }
                true
            }
            _ => false,
        }
    }

    /// Drops `cell`'s instance from memory if it is idle in a wait, its events are kept and no
    /// reaction's effects are still being carried out.
    pub(super) fn evict_if_idle(&self, cell: &Arc<Cell>) {
        if !self.evict_idle
            || cell.applying.load(Ordering::SeqCst) != 0
            || cell.unkept.load(Ordering::SeqCst) != 0
        {
            return;
        }
        let inst = cell.lock();
        if !inst.is_idle() || !self.put_to_sleep(cell, &inst) {
            return;
        }
        drop(inst);
        self.store.suspended(&cell.id);
    }

    /// Replaces `cell` in the instances map by what its instance leaves in memory asleep;
    /// whether it was still the instance's life in memory. Called under the instance's lock.
    pub(super) fn put_to_sleep(&self, cell: &Arc<Cell>, inst: &Instance) -> bool {
        if cell.evicted.load(Ordering::SeqCst) {
            return false;
        }
        let mut slots = self.instances.lock().unwrap_or_else(|e| e.into_inner());
        if !matches!(slots.get(&cell.id), Some(Slot::Live(c)) if Arc::ptr_eq(c, cell)) {
            return false;
        }
        let asleep = self.asleep(cell, inst);
        slots.insert(cell.id.clone(), Slot::Asleep(asleep));
        cell.evicted.store(true, Ordering::SeqCst);
        true
    }

    /// What `cell`'s instance leaves in memory when it goes to sleep (its event waits
    /// registered, so that an `emit` wakes it).
    fn asleep(&self, cell: &Cell, inst: &Instance) -> Asleep {
        let names = inst.event_wait_names();
        let waits = if names.is_empty() {
            Box::default()
        } else {
            self.sleepers
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .register(&cell.id, names)
        };
        let ties = (inst.parent().is_some() || !waits.is_empty()).then(|| {
            Box::new(Ties {
                parent: inst.parent().cloned(),
                waits,
            })
        });
        Asleep {
            generation: cell.generation,
            ties,
        }
    }

    /// Drops asleep instance `id` of `generation` from the engine altogether.
    pub(super) fn forget_asleep(&self, id: &str, generation: u64) {
        let mut slots = self.instances.lock().unwrap_or_else(|e| e.into_inner());
        if self.take_asleep(&mut slots, id, generation) {
            slots.remove(id);
        }
    }

    /// Whether instance `id` is asleep since its life `generation` ended.
    pub(super) fn asleep_since(&self, id: &str, generation: u64) -> bool {
        matches!(
            self.instances.lock().unwrap_or_else(|e| e.into_inner()).get(id),
            Some(Slot::Asleep(a)) if a.generation == generation
        )
    }

    /// The cells to hand event `name` to: every other instance in memory, and those asleep
    /// that wait for it (woken).
    pub(super) fn listeners(self: &Arc<Self>, from: &Arc<Cell>, name: &str) -> Vec<Arc<Cell>> {
        let (mut cells, asleep) = {
            let slots = self.instances.lock().unwrap_or_else(|e| e.into_inner());
            let live: Vec<Arc<Cell>> = slots
                .values()
                .filter_map(|s| match s {
                    Slot::Live(c) if !Arc::ptr_eq(c, from) => Some(c.clone()),
                    _ => None,
                })
                .collect();
            // Read under the map's lock: an instance is in one list or the other.
            let sleepers = self.sleepers.lock().unwrap_or_else(|e| e.into_inner());
            let asleep: Vec<Arc<str>> = sleepers
                .by_event
                .get(name)
                .map(|ids| ids.iter().cloned().collect())
                .unwrap_or_default();
            (live, asleep)
        };
        cells.extend(
            asleep
                .into_iter()
                .filter_map(|id| self.cell(&InstanceId(id.to_string())).ok()),
        );
        cells
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The instances map holds one slot per sleeper: a million of them make two million
    /// buckets, each the key (16 bytes) and this.
    #[test]
    fn a_sleepers_slot_is_small() {
        assert!(
            std::mem::size_of::<Slot>() <= 24,
            "{}",
            std::mem::size_of::<Slot>()
        );
    }
}
