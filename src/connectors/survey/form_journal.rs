//! Keeps the Typeform emulator's forms and responses in a folder (`flowc emulate --state DIR`),
//! so a restarted emulator still has them: one JSON line per form created and per response
//! submitted, written before the request is answered (not fsynced: it survives the emulator
//! process being killed, not a power cut).

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

const FILE_NAME: &str = "typeform.jsonl";

/// One line of the journal.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Entry {
    /// A form as created (with its ids and links).
    Form { id: String, seq: u64, definition: Json },
    /// A response to form `form`; `submitted_at` in RFC 3339.
    Response {
        form: String,
        seq: u64,
        submitted_at: String,
        item: Json,
    },
}

/// The open journal.
pub(crate) struct FormJournal {
    path: PathBuf,
    file: std::fs::File,
}

impl FormJournal {
    /// Opens the journal in `dir` and reads what it holds, in the order it was written.
    pub(crate) fn open(dir: &Path) -> std::io::Result<(FormJournal, Vec<Entry>)> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(FILE_NAME);
        let mut entries = Vec::new();
        match std::fs::File::open(&path) {
            Ok(file) => {
                for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
                    let line = line?;
                    if line.trim().is_empty() {
                        continue;
                    }
                    match serde_json::from_str(&line) {
                        Ok(entry) => entries.push(entry),
                        // The last line of a process killed while writing it.
                        Err(e) => {
                            tracing::warn!("skipping unreadable line {} of {}: {e}", n + 1, path.display())
                        }
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        // A torn last line must not swallow the next one.
        file.write_all(b"\n")?;
        Ok((FormJournal { path, file }, entries))
    }

    /// Appends `entry`.
    pub(crate) fn write(&mut self, entry: &Entry) {
        let written = serde_json::to_string(entry)
            .map_err(std::io::Error::other)
            .and_then(|mut text| {
                text.push('\n');
                self.file.write_all(text.as_bytes())
            });
        if let Err(e) = written {
            tracing::warn!("the Typeform emulator cannot write {}: {e}", self.path.display());
        }
    }
}
