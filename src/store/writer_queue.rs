//! A writer thread and the queue that feeds it, as both durable stores use them: callers queue
//! operations from any thread, the thread drains the queue into one transaction (group commit)
//! and answers each caller that asked for an answer once its operation is kept. Closing the
//! queue lets the thread commit what is left and end.

use std::sync::mpsc;
use std::sync::Mutex;
use std::thread::JoinHandle;

use tokio::sync::oneshot;

use crate::runtime::{Commit, StoreError};

/// How a writer answers a caller: once its operation is kept, or why not.
pub(crate) type Reply = oneshot::Sender<Result<(), StoreError>>;

/// A writer thread fed by a queue of `Op`s.
pub(crate) struct WriterQueue<Op> {
    /// The store, for messages.
    shown: String,
    ops: Mutex<Option<mpsc::Sender<Op>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl<Op: Send + 'static> WriterQueue<Op> {
    /// Starts thread `name` running `write` on the queue's receiving end.
    pub(crate) fn start(
        name: &str,
        shown: &str,
        write: impl FnOnce(mpsc::Receiver<Op>) + Send + 'static,
    ) -> Result<WriterQueue<Op>, StoreError> {
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || write(rx))
            .map_err(|e| StoreError(format!("cannot start the store's writer thread: {e}")))?;
        Ok(WriterQueue {
            shown: shown.to_string(),
            ops: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Queues `op`, answered by nobody.
    pub(crate) fn send(&self, op: Op) {
        let ops = self.ops.lock().unwrap_or_else(|e| e.into_inner());
        let sent = ops.as_ref().is_some_and(|tx| tx.send(op).is_ok());
        if !sent {
            tracing::error!(store = %self.shown, "the store's writer has stopped");
        }
    }

    /// Queues the operation `op` makes of its reply: the commit answers once it is kept.
    pub(crate) fn ask(&self, op: impl FnOnce(Reply) -> Op) -> Commit {
        let (tx, rx) = oneshot::channel();
        self.send(op(tx));
        Commit::Pending(rx)
    }
}

impl<Op> WriterQueue<Op> {
    /// Closes the queue and waits for the thread to write what is left.
    pub(crate) fn close(&self) {
        self.ops.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(t) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = t.join();
        }
    }
}

impl<Op> Drop for WriterQueue<Op> {
    fn drop(&mut self) {
        self.close();
    }
}
