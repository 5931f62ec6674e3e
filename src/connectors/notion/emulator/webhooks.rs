//! The emulator's outgoing webhooks: as Notion does for a connection's webhook subscription,
//! each page created or whose properties change is announced to the workspace's subscribed URL
//! with an event carrying ids only (`page.created`, `page.properties_updated` with the ids of
//! the properties changed), signed `X-Notion-Signature: sha256=<hex HMAC of the body>` with
//! the subscription's verification token. A subscription may first post that token unsigned,
//! as Notion's verification request does. Failed deliveries are tried again with backoff, and
//! events of one workspace arrive in the order they happened.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::{json, Value as Json};
use sha2::Digest;
use sha2::Sha256;
use tokio::sync::mpsc;

use super::store::{new_id, timestamp, Page};

/// Tries per delivery before it is given up (Notion tries for a while, then drops it).
const ATTEMPTS: u32 = 6;

/// One workspace's subscription.
#[derive(Clone, Debug)]
struct Subscription {
    id: String,
    url: String,
    token: String,
}

/// An event (or verification request) on its way.
#[derive(Debug)]
struct Outgoing {
    url: String,
    token: Option<String>,
    body: Json,
}

/// The subscriptions and the queue of deliveries.
#[derive(Debug, Default)]
pub(super) struct Webhooks {
    subscriptions: Mutex<HashMap<String, Subscription>>,
    queue: Mutex<Option<mpsc::UnboundedSender<Outgoing>>>,
    delivered: Arc<AtomicU64>,
}

impl Webhooks {
    /// Announces `entity`'s changes to `url` from now on, signed with `token`; with
    /// `handshake`, the token is first posted unsigned as Notion's verification request.
    /// Must be called inside a tokio runtime (the first call starts the sender).
    pub(super) fn subscribe(&self, entity: &str, url: &str, token: &str, handshake: bool) {
        let subscription = Subscription {
            id: new_id(),
            url: url.to_string(),
            token: token.to_string(),
        };
        self.subscriptions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(entity.to_string(), subscription);
        if handshake {
            self.send(Outgoing {
                url: url.to_string(),
                token: None,
                body: json!({ "verification_token": token }),
            });
        }
    }

    /// Deliveries answered 2xx so far.
    pub(super) fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::SeqCst)
    }

    /// Queues the event `kind` about `page` of `entity`'s workspace, if it has a subscription.
    pub(super) fn page_event(&self, entity: &str, page: &Page, kind: &str, updated: Vec<String>) {
        let Some(subscription) = self
            .subscriptions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(entity)
            .cloned()
        else {
            return;
        };
        let mut data = json!({
            "parent": { "id": page.database_id, "type": "database", "data_source_id": page.source_id },
        });
        if kind == "page.properties_updated" {
            data["updated_properties"] = json!(updated);
        }
        let body = json!({
            "id": new_id(),
            "timestamp": timestamp(chrono::Utc::now()),
            "workspace_id": workspace_id(entity),
            "workspace_name": entity,
            "subscription_id": subscription.id,
            "integration_id": workspace_id(&format!("integration:{entity}")),
            "type": kind,
            "authors": [{ "id": "emulator-user", "type": "person" }],
            "attempt_number": 1,
            "api_version": crate::connectors::notion::NOTION_VERSION,
            "entity": { "id": page.id, "type": "page" },
            "data": data,
        });
        self.send(Outgoing {
            url: subscription.url,
            token: Some(subscription.token),
            body,
        });
    }

    fn send(&self, outgoing: Outgoing) {
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        let tx = queue.get_or_insert_with(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(deliver_all(rx, self.delivered.clone()));
            tx
        });
        let _ = tx.send(outgoing);
    }
}

/// Delivers the queued requests one after the other, each tried up to [`ATTEMPTS`] times.
async fn deliver_all(mut rx: mpsc::UnboundedReceiver<Outgoing>, delivered: Arc<AtomicU64>) {
    let http = reqwest::Client::new();
    while let Some(mut outgoing) = rx.recv().await {
        for attempt in 1..=ATTEMPTS {
            if outgoing.token.is_some() {
                outgoing.body["attempt_number"] = json!(attempt);
            }
            let body = serde_json::to_vec(&outgoing.body).unwrap_or_default();
            let mut request = http
                .post(&outgoing.url)
                .header("content-type", "application/json")
                .timeout(Duration::from_secs(30));
            if let Some(token) = &outgoing.token {
                request = request.header("x-notion-signature", signature(token, &body));
            }
            match request.body(body).send().await {
                Ok(r) if r.status().is_success() => {
                    delivered.fetch_add(1, Ordering::SeqCst);
                    break;
                }
                // A refusal (a bad signature, an unknown path) is not fixed by trying again.
                Ok(r) if r.status().is_client_error() && r.status().as_u16() != 429 => {
                    tracing::warn!(url = %outgoing.url, status = %r.status(), "emulated Notion webhook refused");
                    break;
                }
                _ if attempt < ATTEMPTS => {
                    tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
                }
                _ => {
                    tracing::warn!(url = %outgoing.url, "emulated Notion webhook given up after {ATTEMPTS} tries")
                }
            }
        }
    }
}

/// A stable UUID-shaped id for a name of the emulator (a workspace, an integration).
fn workspace_id(name: &str) -> String {
    let digest = sha2::Sha256::digest(name.as_bytes());
    uuid::Uuid::from_slice(&digest[..16])
        .map(|u| u.to_string())
        .unwrap_or_default()
}

fn signature(token: &str, body: &[u8]) -> String {
    match Hmac::<Sha256>::new_from_slice(token.as_bytes()) {
        Ok(mut mac) => {
            mac.update(body);
            format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
        }
        // HMAC takes keys of any length: this does not happen.
        Err(_) => String::new(),
    }
}
