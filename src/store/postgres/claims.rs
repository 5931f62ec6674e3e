//! Which host works on what. An instance is claimed by the host that starts it or takes it
//! over, for a lease the host renews while it runs; a host that stops releases its claims (and
//! says so with `NOTIFY`, which wakes the others at once), one that dies lets them run out.
//! Work to be done once (a webhook delivery, a schedule's due time) is a row claimed by the
//! first host to insert it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use postgres::fallible_iterator::FallibleIterator;
use postgres::Client;
use tokio::sync::Notify;

use super::connect::{Link, Target};
use super::PostgresStore;
use crate::runtime::{Claim, StoreError};

/// The channel hosts tell each other on that work is free to take.
const CHANNEL: &str = "flowc_work";

impl PostgresStore {
    /// Gives up this host's claims on unfinished instances (at a clean stop, or after `flowc
    /// store migrate`) and wakes the other hosts, so one of them takes them over at once.
    pub fn release(&self) {
        let (host, channel) = (self.host.clone(), CHANNEL);
        self.read("(releasing the claims)", move |c| {
            c.execute(
                "UPDATE instances SET owner = NULL, lease_until = NULL WHERE owner = $1 AND status = 'running'",
                &[&host],
            )?;
            c.execute("SELECT pg_notify($1, '')", &[&channel])
        });
    }

    /// Told when another host released work (and every renewal period, as a safety net):
    /// call [`Engine::recover`](crate::runtime::Engine::recover) to take what is free.
    pub fn work_released(&self) -> Arc<Notify> {
        self.keeper.wake.clone()
    }

    pub(super) fn claim_unfinished_rows(&self) -> Vec<String> {
        // The first call (a host starting) takes back what this host held before a crash;
        // later ones only what others left, as this host's own are in its memory.
        let own = !self.claimed_once.swap(true, Ordering::SeqCst);
        let (host, lease) = (self.host.clone(), self.lease.as_secs_f64());
        // Hosts polling together split the free instances (SKIP LOCKED); a host starting waits
        // for rows locked meanwhile (a renewal by its previous self, another host's claim) and
        // sees them as they are then, so it misses none of its own.
        let lock = if own {
            "FOR UPDATE"
        } else {
            "FOR UPDATE SKIP LOCKED"
        };
        // A top-level instance is taken with its running sub-flows (and theirs): its caller,
        // resumed, carries them on, so they are held, renewed and sent requests here too.
        self.read("the unfinished instances", move |c| {
            c.query(
                &format!(
                    "WITH RECURSIVE free AS (
                         SELECT id FROM instances
                         WHERE status = 'running' AND parent IS NULL
                           AND (owner IS NULL OR lease_until < now() OR ($2 AND owner = $1))
                         {lock}),
                     claimed AS (
                         UPDATE instances SET owner = $1, lease_until = now() + make_interval(secs => $3)
                         FROM free WHERE instances.id = free.id
                         RETURNING instances.id, instances.started_at),
                     family AS (
                         SELECT id FROM instances WHERE parent IN (SELECT id FROM free)
                         UNION SELECT i.id FROM instances i JOIN family f ON i.parent = f.id),
                     adopted AS (
                         UPDATE instances SET owner = $1, lease_until = now() + make_interval(secs => $3)
                         WHERE id IN (SELECT id FROM family) AND status = 'running')
                     SELECT id, started_at FROM claimed"
                ),
                &[&host, &own, &lease],
            )
        })
        .map(|rows| {
            let mut ids: Vec<(chrono::DateTime<chrono::Utc>, String)> =
                rows.iter().map(|r| (r.get(1), r.get(0))).collect();
            ids.sort();
            ids.into_iter().map(|(_, id)| id).collect()
        })
        .unwrap_or_default()
    }

    pub(super) fn claim_key(&self, key: &str) -> Claim {
        let (key, host, lease) = (key.to_string(), self.host.clone(), self.lease.as_secs_f64());
        // A claim whose host never recorded an instance (it died first) is free again after a
        // lease.
        let found = self.read("a claim", move |c| {
            let mine = c.query_opt(
                "INSERT INTO claims (key, host, claimed_at) VALUES ($1, $2, now())
                 ON CONFLICT (key) DO UPDATE SET host = $2, claimed_at = now()
                     WHERE claims.instance IS NULL AND claims.claimed_at < now() - make_interval(secs => $3)
                 RETURNING host",
                &[&key, &host, &lease],
            )?;
            if mine.is_some() {
                return Ok(Claim::Mine);
            }
            let row = c.query_opt("SELECT instance FROM claims WHERE key = $1", &[&key])?;
            Ok(Claim::Taken(row.and_then(|r| r.get(0))))
        });
        // Without an answer the work is not done here: another host may have it.
        found.unwrap_or(Claim::Taken(None))
    }

    pub(super) fn drop_claim(&self, key: &str) {
        let (key, host) = (key.to_string(), self.host.clone());
        self.read("(giving up a claim)", move |c| {
            c.execute(
                "DELETE FROM claims WHERE key = $1 AND host = $2 AND instance IS NULL",
                &[&key, &host],
            )
        });
    }

    pub(super) fn record_claim(&self, key: &str, instance: &str) {
        let (key, instance) = (key.to_string(), instance.to_string());
        self.read("(recording a claim)", move |c| {
            c.execute(
                "UPDATE claims SET instance = $2 WHERE key = $1",
                &[&key, &instance],
            )
        });
    }
}

/// The thread that renews this host's leases and listens for released work.
pub(super) struct Keeper {
    wake: Arc<Notify>,
    /// Told when a request may have been forwarded to this host (`commands`).
    pub(super) commands: Arc<Notify>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Keeper {
    pub(super) fn start(target: &Target, host: &str, lease: Duration) -> Result<Keeper, StoreError> {
        let wake = Arc::new(Notify::new());
        let commands = Arc::new(Notify::new());
        let stop = Arc::new(AtomicBool::new(false));
        let link = Link::new(target.clone(), target.connect()?, |c: &mut Client| {
            c.batch_execute(&format!("LISTEN {CHANNEL}; LISTEN {}", super::commands::CHANNEL))
        })?;
        let wakes = Wakes {
            work: wake.clone(),
            commands: commands.clone(),
        };
        let (s, host) = (stop.clone(), host.to_string());
        let thread = std::thread::Builder::new()
            .name("flowc-pg-leases".into())
            .spawn(move || keep(link, host, lease, wakes, s))
            .map_err(|e| StoreError(format!("cannot start the store's lease thread: {e}")))?;
        Ok(Keeper {
            wake,
            commands,
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Keeper {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Whom a notification wakes.
struct Wakes {
    /// Released work.
    work: Arc<Notify>,
    /// Forwarded requests.
    commands: Arc<Notify>,
}

/// Renews the leases a third of a lease apart; between renewals, waits for notifications (a
/// second at a time, to see `stop`).
fn keep(mut link: Link, host: String, lease: Duration, wakes: Wakes, stop: Arc<AtomicBool>) {
    let every = lease / 3;
    let mut next = Instant::now();
    while !stop.load(Ordering::SeqCst) {
        if Instant::now() >= next {
            let secs = lease.as_secs_f64();
            let renewed = link.run(|c| {
                // Rows another transaction holds are skipped: most likely this host's writer
                // is changing them, and it renews a lease itself when an instance runs again.
                // Waiting for them, the two connections could each wait for the other.
                c.execute(
                    "UPDATE instances SET lease_until = now() + make_interval(secs => $2)
                     WHERE id IN (SELECT id FROM instances WHERE owner = $1 AND status = 'running'
                                  FOR UPDATE SKIP LOCKED)",
                    &[&host, &secs],
                )
            });
            if let Err(e) = renewed {
                tracing::warn!("cannot renew this host's leases: {e}");
            }
            // The safety net: a release or a request whose notification was lost (the
            // connection was down) is found by polling.
            wakes.work.notify_one();
            wakes.commands.notify_one();
            next = Instant::now() + every;
        }
        let wait = next
            .saturating_duration_since(Instant::now())
            .min(Duration::from_secs(1));
        let notified = link.run(|c| {
            let mut n = c.notifications();
            let mut it = n.timeout_iter(wait);
            it.next()
                .map(|n| n.map(|n| n.channel() == super::commands::CHANNEL))
        });
        match notified {
            Ok(Some(true)) => wakes.commands.notify_one(),
            Ok(Some(false)) => wakes.work.notify_one(),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!("cannot listen for released work: {e}");
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
}
