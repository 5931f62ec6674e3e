//! Outbox mode: each message is written to `OUTBOX/<key>.eml` instead of being sent (dry runs,
//! local development). The file name comes from the idempotency key, so a retry finds its file.

use std::path::{Path, PathBuf};

use tokio::io::AsyncWriteExt;

use crate::connectors::ConnectorError;

/// The outbox folder.
pub(crate) struct Outbox {
    dir: PathBuf,
}

impl Outbox {
    /// An outbox writing into `dir` (created on the first message).
    pub(crate) fn new(dir: &Path) -> Outbox {
        Outbox {
            dir: dir.to_path_buf(),
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
