//! One notification, one message across channels: the sends a flow makes for the same
//! notification (a text, then an email when the text fails) share a ledger of claims, and a
//! later channel first asks the channel that claimed the notification whether it sent it, or
//! may have, before it sends anything (docs/connectors/sms.md, "One notification, one message").
//!
//! A call joins a notification with the argument `notification` (a name, unique within its
//! instance). The notification's id is derived from the calling instance and that name; a
//! sub-flow's retried run (`parent/step#2`) is the same notification as its first run, so the
//! notify call as a whole, not one run of it, sends one message.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, Weak};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::keyed_log::{Keyed, KeyedLog};
use super::{ActionCall, ConnectorError};
use crate::value::Value;

/// What became of one channel's send, as that channel's service says.
pub(crate) enum Outcome {
    /// The service has the message.
    Sent,
    /// It has not: nothing went, or the service refused it.
    NotSent,
    /// Nobody can tell now (the service cannot be asked): why.
    Unknown(ConnectorError),
}

/// A channel that can say what became of a send it made (sms, slack: their services can be
/// asked for the messages they have).
#[async_trait]
pub(crate) trait SendOutcome: Send + Sync {
    /// What became of the send filed under idempotency key `key`, made for `entity`.
    async fn outcome(&self, key: &str, entity: &str) -> Outcome;
}

/// The last channel that set out to send a notification, filed under the notification's id.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Claim {
    key: String,
    channel: String,
    /// The idempotency key of that channel's send.
    send_key: String,
    entity: String,
}

impl Keyed for Claim {
    fn key(&self) -> &str {
        &self.key
    }
}

/// The ledger the channels of one host share.
pub struct Notifications {
    claims: KeyedLog<Claim>,
    /// Weak: each connector holds the ledger, and the ledger must not keep them alive.
    channels: Mutex<HashMap<&'static str, Weak<dyn SendOutcome>>>,
}

impl Notifications {
    /// A ledger kept in `dir/claims.jsonl`.
    pub fn new(dir: &Path) -> Arc<Notifications> {
        Arc::new(Notifications {
            claims: KeyedLog::new(dir, "claims.jsonl", "notification ledger"),
            channels: Mutex::new(HashMap::new()),
        })
    }

    /// The project's ledger, in `.flowc/notifications` under `root`.
    pub fn in_project(root: &Path) -> Arc<Notifications> {
        Notifications::new(&root.join(".flowc").join("notifications"))
    }

    /// `channel` can be asked about its sends from now on.
    pub(crate) fn register(&self, channel: &'static str, lookup: Weak<dyn SendOutcome>) {
        self.channels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(channel, lookup);
    }

    /// Keeps the claims in the engine's store when it keeps effects (hosts sharing it).
    pub(crate) fn keep_in(&self, store: Arc<dyn crate::runtime::Store>) {
        self.claims.keep_in(store, "notify.claims");
    }

    /// Before `channel` sends `call`'s message: `Some(earlier)` when the call is part of a
    /// notification that the channel `earlier` sent, so nothing is to be sent; an error when
    /// the earlier channel may have sent it and cannot be asked now (the attempt fails with the
    /// outcome unknown and is retried). Otherwise, when `claims` (the channel can be asked
    /// later), the notification is claimed for this send before it goes.
    pub(crate) async fn before_send(
        &self,
        channel: &'static str,
        call: &ActionCall,
        claims: bool,
    ) -> Result<Option<String>, ConnectorError> {
        let Some(id) = notification_id(call)? else {
            return Ok(None);
        };
        if let Some(claim) = self.claims.lookup(&id).await? {
            if claim.send_key != call.idempotency_key {
                match self.ask(&claim).await {
                    Outcome::Sent => return Ok(Some(claim.channel)),
                    Outcome::NotSent => {}
                    Outcome::Unknown(e) => {
                        let why = format!(
                            "this notification's {} message may have been sent and cannot be looked up now, so it is not sent by {channel} yet",
                            claim.channel
                        );
                        return Err(outcome_unknown(e, &why, Some(&claim.channel)));
                    }
                }
            }
        }
        if claims {
            self.claims
                .record(Claim {
                    key: id,
                    channel: channel.to_string(),
                    send_key: call.idempotency_key.to_string(),
                    entity: call.entity.to_string(),
                })
                .await?;
        }
        Ok(None)
    }

    async fn ask(&self, claim: &Claim) -> Outcome {
        let lookup = self
            .channels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(claim.channel.as_str())
            .and_then(Weak::upgrade);
        match lookup {
            Some(lookup) => lookup.outcome(&claim.send_key, &claim.entity).await,
            None => Outcome::Unknown(ConnectorError::transient(format!(
                "the {} connector is not running on this host to be asked",
                claim.channel
            ))),
        }
    }
}

/// The error of an attempt that sends nothing because an earlier send may have gone and cannot
/// be looked up now: `lookup`'s class and wait (it is retried as that failure would be), `why`
/// before its message, and `outcome: "unknown"` (and the `channel` asked) in its details.
pub(crate) fn outcome_unknown(lookup: ConnectorError, why: &str, channel: Option<&str>) -> ConnectorError {
    let mut details = vec![("outcome", Value::text("unknown"))];
    if let Some(channel) = channel {
        details.push(("channel", Value::text(channel)));
    }
    let mut error = ConnectorError::new(lookup.class, format!("{why}: {}", lookup.message));
    error.retry_after = lookup.retry_after;
    error.with_details(Value::record(details))
}

/// The id of the notification `call` is part of (its `notification` argument), if any.
fn notification_id(call: &ActionCall) -> Result<Option<String>, ConnectorError> {
    let name = match call.arg("notification") {
        Value::Null => return Ok(None),
        Value::Text(name) if !name.trim().is_empty() => name,
        _ => {
            return Err(ConnectorError::permanent(
                "`notification` must be a name (text that is not empty)",
            ))
        }
    };
    let mut hasher = Sha256::new();
    hasher.update(first_run(&call.instance).as_bytes());
    hasher.update(b"\n");
    hasher.update(name.as_bytes());
    Ok(Some(hex::encode(&hasher.finalize()[..16])))
}

/// A sub-flow instance's id without its run's number: `parent/step#2` is `parent/step`.
fn first_run(instance: &str) -> &str {
    match instance.rsplit_once('#') {
        Some((head, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => head,
        _ => instance,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retried_runs_of_a_sub_flow_are_one_notification() {
        assert_eq!(first_run("root/notify#3"), "root/notify");
        assert_eq!(first_run("root/notify"), "root/notify");
        assert_eq!(first_run("root#a/notify"), "root#a/notify");
        let call = |instance: &str, name: &str| ActionCall {
            instance: instance.into(),
            args: [("notification".to_string(), Value::text(name))].into(),
            ..ActionCall::default()
        };
        let id = |c: ActionCall| notification_id(&c).unwrap().unwrap();
        assert_eq!(id(call("r/n", "booking")), id(call("r/n#2", "booking")));
        assert_ne!(id(call("r/n", "booking")), id(call("r/m", "booking")));
        assert_ne!(id(call("r/n", "booking")), id(call("r/n", "reminder")));
        assert!(notification_id(&ActionCall::default()).unwrap().is_none());
        assert!(notification_id(&call("r/n", " ")).is_err());
    }
}
