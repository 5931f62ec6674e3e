//! An instance whose reaction the store did not keep (the database away for longer than the
//! store waits for it, a write refused): its memory is ahead of its journal, and the effects of
//! that reaction were never carried out. It is put to sleep as the journal has it and woken
//! from the journal, as after a crash: what the lost reaction decided is decided again, and the
//! calls it was waiting for are made again with the same idempotency keys.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{Cell, Inner, InstanceId};

/// The first pause before waking a lost instance, and the longest: a store that failed once is
/// likely to fail again at once.
const FIRST_PAUSE_MS: i64 = 250;
const LONGEST_PAUSE_MS: i64 = 30_000;

impl Inner {
    /// Puts `cell`'s instance to sleep because the store did not keep one of its reactions,
    /// and wakes it from the journal after a pause (longer each time the store still fails).
    pub(super) fn lose(self: &Arc<Self>, cell: &Arc<Cell>) {
        {
            let mut inst = cell.lock();
            if !self.put_to_sleep(cell, &inst) {
                return;
            }
            // Set under the instance's lock, as `evicted` is: a reaction sees both or neither.
            cell.lost.store(true, Ordering::SeqCst);
            // Those awaiting its output wait for its next life instead.
            inst.release_waiters();
        }
        let weak = Arc::downgrade(self);
        let clock = self.clock.clone();
        let (id, generation) = (InstanceId(cell.id.to_string()), cell.generation);
        tokio::spawn(async move {
            let mut pause = chrono::Duration::milliseconds(FIRST_PAUSE_MS);
            loop {
                clock.sleep_until(clock.now() + pause).await;
                let Some(inner) = weak.upgrade() else { return };
                // Woken already (a timer, an event, a caller), or the engine is stopping: a
                // restart resumes it from the journal.
                if inner.shutting_down.load(Ordering::SeqCst) || !inner.asleep_since(&id.0, generation) {
                    return;
                }
                match inner.store.holds(&id.0) {
                    // Its start was never kept (its caller was told), or another host took it
                    // over: nothing of it is this engine's to carry on.
                    Some(false) => {
                        inner.forget_asleep(&id.0, generation);
                        return;
                    }
                    Some(true) => match inner.cell(&id) {
                        Ok(_) => return,
                        Err(e) => {
                            tracing::warn!(instance = %id.0, "cannot read the instance back from the store yet: {e}")
                        }
                    },
                    None => {
                        tracing::warn!(instance = %id.0, "the store cannot say yet whether this host still holds the instance")
                    }
                }
                pause = (pause * 2).min(chrono::Duration::milliseconds(LONGEST_PAUSE_MS));
            }
        });
    }
}
