//! Work hosts sharing a store do once, whichever host is asked: a webhook delivery starts one
//! instance, a schedule's due time fires once. The store's [`Claim`] decides; a store of one
//! host shares nothing and leaves it to the host's own bookkeeping.

use std::future::Future;
use std::time::Duration;

use crate::runtime::{Claim, EngineError, InstanceId, Store};

/// How long a host waits for another host that claimed a delivery to say which instance it
/// started (its start is a journal commit away).
const WAIT_FOR_OTHER: Duration = Duration::from_secs(10);

/// When the sender should try again after [`OnceError::InHand`], in seconds: the other host has
/// started the instance by then, or its claim has run out (a lease) and another host may take
/// it. The provider's retry then gets the instance's id.
pub(crate) const RETRY_AFTER_SECS: u64 = 5;

/// Why the work was neither done here nor found done elsewhere.
#[derive(Debug)]
pub(crate) enum OnceError {
    /// Starting it here failed.
    Engine(EngineError),
    /// Another host claimed it and had not recorded its instance within [`WAIT_FOR_OTHER`]:
    /// the request is sound, this host cannot answer it yet (503 with Retry-After).
    InHand(String),
}

/// The instance of the work claimed as `claim` under `key`: started now by `start` when this
/// host holds the claim (flag true), else the instance another host started (flag false).
pub(crate) async fn start_once<F>(
    store: &dyn Store,
    mut claim: Claim,
    key: &str,
    start: F,
) -> Result<(String, bool), OnceError>
where
    F: Future<Output = Result<InstanceId, EngineError>>,
{
    let waited = tokio::time::Instant::now();
    loop {
        match claim {
            Claim::Unshared | Claim::Mine => {
                let id = match start.await {
                    Ok(id) => id,
                    Err(e) => {
                        // Not done here (this host is stopping, say): another host may do it.
                        if claim == Claim::Mine {
                            store.unclaim(key);
                        }
                        return Err(OnceError::Engine(e));
                    }
                };
                // A store that keeps deliveries recorded the instance with its start.
                if claim == Claim::Mine && !store.keeps_deliveries() {
                    store.claimed(key, &id.0);
                }
                return Ok((id.0, true));
            }
            Claim::Taken(Some(id)) => return Ok((id, false)),
            Claim::Taken(None) if waited.elapsed() > WAIT_FOR_OTHER => {
                return Err(OnceError::InHand(format!(
                    "another host took `{key}` and has not started its instance yet: try again"
                )))
            }
            Claim::Taken(None) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                claim = store.claim(key);
            }
        }
    }
}
