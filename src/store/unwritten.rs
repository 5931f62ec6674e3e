//! Instances a batch of which a store's writer could not write. The engine acts on a reaction
//! only once its batch is kept, so it puts such an instance to sleep and wakes it from the
//! journal; but batches of its later reactions may be queued already. Written, they would leave
//! a hole in the history where the lost batch was, and a replay would read a history that never
//! happened. So a later batch of such an instance is written only if it starts where the journal
//! ends, as the batches of its next life (replayed from the journal) do.

use std::collections::HashSet;

use crate::runtime::StoreError;

#[derive(Default)]
pub(crate) struct Unwritten(HashSet<String>);

impl Unwritten {
    /// Whether a batch of `instance` must start where its journal ends to be written.
    pub(crate) fn contains(&self, instance: &str) -> bool {
        !self.0.is_empty() && self.0.contains(instance)
    }

    /// A batch of `instance` was not written.
    pub(crate) fn failed(&mut self, instance: &str) {
        if !self.0.contains(instance) {
            self.0.insert(instance.to_string());
        }
    }

    /// A batch of `instance` was written: its history has no hole.
    pub(crate) fn written(&mut self, instance: &str) {
        if !self.0.is_empty() {
            self.0.remove(instance);
        }
    }

    /// Why a batch of `instance` from event `first` is refused, its journal ending before `next`.
    pub(crate) fn refusal(instance: &str, first: u64, next: u64) -> StoreError {
        StoreError(format!(
            "instance {instance}: an earlier batch was not written (the journal ends before event {next}), so this one (from event {first}) is not either; the instance goes on from its journal"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_instance_is_unwritten_from_its_failed_batch_to_its_next_written_one() {
        let mut u = Unwritten::default();
        assert!(!u.contains("i"));
        u.failed("i");
        u.failed("i");
        assert!(u.contains("i"));
        assert!(!u.contains("j"));
        u.written("i");
        assert!(!u.contains("i"));
    }
}
