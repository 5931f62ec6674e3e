//! Outbox mode: each message is written to `OUTBOX/<key>.eml` instead of being sent (dry runs,
//! local development). The file name comes from the idempotency key, so a retry finds its file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::io::AsyncWriteExt;

use crate::connectors::faults::{Fault, FaultGate};
use crate::connectors::ConnectorError;
use crate::value::Value;

/// The outbox folder.
pub(crate) struct Outbox {
    dir: PathBuf,
    /// A fault plan's SMTP part: the outbox stands for the SMTP server of an emulated run.
    faults: Option<Arc<FaultGate>>,
}

impl Outbox {
    /// An outbox writing into `dir` (created on the first message).
    pub(crate) fn new(dir: &Path) -> Outbox {
        Outbox {
            dir: dir.to_path_buf(),
            faults: None,
        }
    }

    /// Fails deliveries as the SMTP server of a bad day would (`--faults smtp:...`).
    pub(crate) fn with_faults(mut self, gate: Arc<FaultGate>) -> Outbox {
        self.faults = Some(gate);
        self
    }

    /// Writes `message` unless a planned fault says the SMTP server refused it; a timeout
    /// delivers it but loses the answer (the retry then finds its file).
    pub(crate) async fn deliver_or_fail(&self, key: &str, message: &[u8]) -> Result<PathBuf, ConnectorError> {
        let Some(gate) = &self.faults else {
            return self.deliver(key, message).await;
        };
        match gate.next().await {
            None => self.deliver(key, message).await,
            Some(Fault::Down) => Err(ConnectorError::transient(
                "cannot connect to the SMTP server: connection refused (emulated: the server is down)",
            )),
            Some(Fault::Status(code)) => {
                let reply = format!("{code} {}.0.0 emulated fault", code / 100);
                let error = if code < 500 {
                    ConnectorError::transient(format!("the SMTP server deferred the message: {reply}"))
                } else {
                    ConnectorError::permanent(format!("the SMTP server rejected the message: {reply}"))
                };
                Err(error.with_details(Value::record([("smtp_code", Value::text(code.to_string()))])))
            }
            Some(Fault::Timeout) => {
                self.deliver(key, message).await?;
                gate.hold().await;
                Err(ConnectorError::transient(
                    "the SMTP server did not answer after the message was sent (emulated timeout)",
                ))
            }
        }
    }

    /// The file for the message with idempotency key `key`.
    pub(crate) fn path_for(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{}.eml", file_stem(key)))
    }

    /// Writes `message` (RFC 5322 bytes) unless a message with the same key is already there.
    pub(crate) async fn deliver(&self, key: &str, message: &[u8]) -> Result<PathBuf, ConnectorError> {
        let path = self.path_for(key);
        if tokio::fs::try_exists(&path).await.unwrap_or(false) {
            return Ok(path);
        }
        let io = |e: std::io::Error| {
            ConnectorError::permanent(format!("cannot write to the outbox {}: {e}", self.dir.display()))
        };
        tokio::fs::create_dir_all(&self.dir).await.map_err(io)?;
        // Write then rename: a reader never sees half a message.
        // A name of its own, so concurrent attempts never write into one file.
        let partial = path.with_extension(format!("{}.partial", uuid::Uuid::new_v4().simple()));
        let mut file = tokio::fs::File::create(&partial).await.map_err(io)?;
        file.write_all(message).await.map_err(io)?;
        file.sync_data().await.map_err(io)?;
        tokio::fs::rename(&partial, &path).await.map_err(io)?;
        Ok(path)
    }
}

/// The key with anything unsafe in a file name written `_XX`.
fn file_stem(key: &str) -> String {
    let mut stem = String::with_capacity(key.len());
    for byte in key.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'.' && !stem.is_empty() {
            stem.push(byte as char);
        } else {
            stem.push_str(&format!("_{byte:02X}"));
        }
    }
    stem
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_safe_and_distinct() {
        assert_eq!(file_stem("inst-1/send"), "inst-1_2Fsend");
        assert_eq!(file_stem("../x"), "_2E._2Fx");
        assert_ne!(file_stem("a_2F"), file_stem("a/"));
    }
}
