//! The email connector: `send` delivers a rendered template by SMTP (or into an outbox), at most
//! once per idempotency key.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use lettre::AsyncTransport;
use tokio::sync::OnceCell;

use super::message::{self, Outgoing};
use super::outbox::Outbox;
use super::sent_log::{sent_log, SentLog, Stage};
use super::settings::EmailSettings;
use super::smtp::{self, Transport};
use crate::config::Config;
use crate::connectors::notification::Notifications;
use crate::connectors::{ActionCall, Connector, ConnectorError, Manifest};
use crate::value::Value;

/// Sends notification templates (already rendered by the runtime) from each entity's address.
pub struct EmailConnector {
    manifest: Manifest,
    settings: EmailSettings,
    outbox: Option<Outbox>,
    sent_log: SentLog,
    /// Built on the first send, so a project that never sends needs no SMTP credentials.
    transport: OnceCell<Transport>,
    /// One lock per idempotency key in flight: two concurrent attempts of the same step must not
    /// both find the key unsent and both send.
    in_flight: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// `max_connections` permits: every transaction in flight is a message in doubt if the
    /// process dies, and a slow server answers late, so fewer at once means fewer re-sent.
    transactions: tokio::sync::Semaphore,
    /// The host's notification ledger: an email for a `notification` an earlier channel sent
    /// is not sent.
    notifications: Option<Arc<Notifications>>,
}

impl EmailConnector {
    /// Reads `[connectors.email]` and the entities' `email_from` / `reply_to`; relative paths
    /// (`outbox`, `sent_log`, `ca_file`) are resolved against the project `root`.
    ///
    /// A project without the table loads fine; sending then fails with an error saying what to set.
    pub fn from_config(config: &Config, root: &Path) -> Result<EmailConnector, ConnectorError> {
        let settings = EmailSettings::read(config, root)?;
        Ok(EmailConnector {
            manifest: super::manifest(),
            outbox: settings.outbox.as_deref().map(Outbox::new),
            sent_log: sent_log(&settings.sent_log_dir),
            transport: OnceCell::new(),
            in_flight: Mutex::new(HashMap::new()),
            transactions: tokio::sync::Semaphore::new(settings.max_connections),
            notifications: None,
            settings,
        })
    }

    /// Writes every message into `dir` as `.eml` files instead of sending (for `--dry-run`).
    pub fn with_outbox(mut self, dir: PathBuf) -> EmailConnector {
        self.outbox = Some(Outbox::new(&dir));
        self
    }

    /// Fails outbox deliveries as a fault plan's SMTP part says (emulated runs).
    pub fn with_faults(mut self, gate: Arc<crate::connectors::faults::FaultGate>) -> EmailConnector {
        self.outbox = self.outbox.map(|o| o.with_faults(gate));
        self
    }

    /// Takes part in the host's notification ledger: an email for a `notification` first asks
    /// the channel that claimed it (a text, a Slack message) whether it was sent. Email is the
    /// last channel tried: it asks and does not claim.
    pub fn with_notifications(mut self, notifications: Arc<Notifications>) -> EmailConnector {
        self.notifications = Some(notifications);
        self
    }

    /// The result of an email not sent because an earlier channel sent its notification.
    async fn sent_elsewhere(
        &self,
        call: &ActionCall,
        outgoing: &Outgoing,
    ) -> Result<Option<Value>, ConnectorError> {
        let Some(notifications) = &self.notifications else {
            return Ok(None);
        };
        let Some(channel) = notifications.before_send("email", call, false).await? else {
            return Ok(None);
        };
        let mut result = outgoing.result();
        if let Value::Record(fields) = &mut result {
            fields.insert("message_id".to_string(), Value::text(""));
            fields.insert("sent_by".to_string(), Value::text(channel));
        }
        Ok(Some(result))
    }

    async fn send(&self, call: &ActionCall) -> Result<Value, ConnectorError> {
        let outgoing = message::build(
            call,
            &self.settings.senders,
            self.settings.message_id_domain.as_deref(),
        )?;
        if let Some(outbox) = &self.outbox {
            if let Some(skipped) = self.sent_elsewhere(call, &outgoing).await? {
                return Ok(skipped);
            }
            // The outbox file is its own record: the sent log is for real deliveries only, so a
            // dry run never makes a later real run skip a message.
            outbox
                .deliver_or_fail(&call.idempotency_key, &outgoing.message.formatted())
                .await?;
            return Ok(outgoing.result());
        }

        let entry = KeyLock::new(self, &call.idempotency_key);
        let _guard = entry.lock.lock().await;
        self.deliver_once(call, &outgoing).await
    }

    /// Sends unless the sent log says the server already accepted this key's message.
    ///
    /// The intent is written before the SMTP transaction starts and the outcome as soon as it
    /// ends, so after a crash a key is either done, never started, or in doubt (an intent alone:
    /// the process stopped between the two). A message in doubt is sent again with the same
    /// Message-ID, which is what receivers deduplicate on. The intent is not waited on to reach
    /// the disk: a key without one is sent as well, so its fsync would buy nothing but the name
    /// "in doubt". The outcome is: the step reports success only once it is durable.
    async fn deliver_once(&self, call: &ActionCall, outgoing: &Outgoing) -> Result<Value, ConnectorError> {
        let key = &call.idempotency_key;
        match self.sent_log.lookup(key).await? {
            Some(record) if record.is_sent() => return Ok(record.result()),
            Some(_) => tracing::info!(
                %key,
                message_id = %outgoing.message_id,
                "an earlier attempt may have sent this message; sending it again with the same Message-ID"
            ),
            None => {}
        }
        if let Some(skipped) = self.sent_elsewhere(call, outgoing).await? {
            return Ok(skipped);
        }
        let server = self.settings.server.as_ref().ok_or_else(|| {
            ConnectorError::permanent(
                "email is not configured; set `url = \"smtp://host:port\"` (or `outbox = \"outbox/\"`) in the `[connectors.email]` table of flowc.toml",
            )
        })?;
        let transport = self
            .transport
            .get_or_try_init(|| async { smtp::transport(&self.settings, server) })
            .await?;
        let permit = self
            .transactions
            .acquire()
            .await
            .map_err(|_| ConnectorError::permanent("the email connector is shutting down"))?;
        self.sent_log.append(outgoing.record(key, Stage::Intent)).await?;
        transport
            .send(outgoing.message.clone())
            .await
            .map_err(|e| smtp::classify(&e, server))?;
        // Written at once (a killed process keeps it), synced after the next transaction may
        // start: only the write is inside the window in which the server has the message and
        // we do not know it.
        let written = self.sent_log.append(outgoing.record(key, Stage::Sent)).await;
        drop(permit);
        if let Err(e) = written.and(self.sent_log.sync().await) {
            // The server has the message: failing the step now would make its retry send it again.
            tracing::warn!(%key, "sent but not recorded: {e}");
        }
        Ok(outgoing.result())
    }
}

/// A share of the lock for one key; the map entry goes away with its last holder, also when the
/// sending future is dropped (a step timeout).
struct KeyLock<'a> {
    connector: &'a EmailConnector,
    key: String,
    lock: Arc<tokio::sync::Mutex<()>>,
}

impl<'a> KeyLock<'a> {
    fn new(connector: &'a EmailConnector, key: &str) -> KeyLock<'a> {
        let mut in_flight = connector.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        let lock = Arc::clone(in_flight.entry(key.to_string()).or_default());
        KeyLock {
            connector,
            key: key.to_string(),
            lock,
        }
    }
}

impl Drop for KeyLock<'_> {
    fn drop(&mut self) {
        let mut in_flight = self.connector.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        // Two owners left (the map and us): nobody else waits on this key.
        if Arc::strong_count(&self.lock) == 2 {
            in_flight.remove(&self.key);
        }
    }
}

#[async_trait]
impl Connector for EmailConnector {
    fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    fn keep_effects_in(&self, store: Arc<dyn crate::runtime::Store>) {
        self.sent_log.keep_in(store.clone(), "email.sent");
        if let Some(notifications) = &self.notifications {
            notifications.keep_in(store);
        }
    }

    async fn call(&self, call: ActionCall) -> Result<Value, ConnectorError> {
        match &*call.action {
            "send" => self.send(&call).await,
            other => Err(ConnectorError::permanent(format!(
                "the email connector has no action `{other}`"
            ))),
        }
    }
}
