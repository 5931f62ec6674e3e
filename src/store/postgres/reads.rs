//! The reading threads: a few connections of their own answer the store's reads (histories,
//! listings, plans), so a read never waits behind the writer's transaction.
//!
//! The store's trait is synchronous and called from the engine's tasks; these are plain
//! threads holding blocking connections, and a caller waits on a channel, as it would wait on
//! SQLite's read connection.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use postgres::Client;

use super::connect::{Link, Target};
use crate::runtime::StoreError;

type Job = Box<dyn FnOnce(&mut Link) + Send>;

/// The reading threads.
pub(crate) struct Reads {
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Reads {
    /// `n` threads, each with a connection made now (so a wrong URL is reported at open).
    pub(crate) fn start(target: &Target, n: usize) -> Result<Reads, StoreError> {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let mut threads = Vec::new();
        for i in 0..n {
            let mut link = Link::new(target.clone(), target.connect()?, |_: &mut Client| Ok(()))?;
            let rx = rx.clone();
            let thread = std::thread::Builder::new()
                .name(format!("flowc-pg-read-{i}"))
                .spawn(move || loop {
                    let job = rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
                    match job {
                        Ok(job) => job(&mut link),
                        Err(_) => return,
                    }
                })
                .map_err(|e| StoreError(format!("cannot start the store's reading thread: {e}")))?;
            threads.push(thread);
        }
        Ok(Reads {
            jobs: Mutex::new(Some(tx)),
            threads: Mutex::new(threads),
        })
    }

    /// Runs `read` on one of the connections (again on a new one if it was lost) and waits for
    /// its answer.
    pub(crate) fn run<T: Send + 'static>(
        &self,
        read: impl FnMut(&mut Client) -> Result<T, postgres::Error> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (tx, rx) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |link: &mut Link| {
            let _ = tx.send(link.run(read));
        });
        let sent = self
            .jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .is_some_and(|jobs| jobs.send(job).is_ok());
        if !sent {
            return Err(StoreError("the store is closed".into()));
        }
        rx.recv()
            .unwrap_or_else(|_| Err(StoreError("the store's reading thread stopped".into())))
    }
}

impl Drop for Reads {
    fn drop(&mut self) {
        self.jobs.lock().unwrap_or_else(|e| e.into_inner()).take();
        for t in self.threads.lock().unwrap_or_else(|e| e.into_inner()).drain(..) {
            let _ = t.join();
        }
    }
}
