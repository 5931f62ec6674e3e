//! What the host remembers of watched Notion pages and databases, kept in the state folder so
//! a restart neither misses a change nor starts one twice: each page's last values
//! (`notion-pages.jsonl`) and each database's polling cursor (`notion-cursors.json`).

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::notion_triggers::Seen;

const PAGES_FILE: &str = "notion-pages.jsonl";
const CURSORS_FILE: &str = "notion-cursors.json";

/// Lines appended beyond this many (and beyond twice the pages held) make the pages file be
/// rewritten with one line per page, so it does not grow with every edit forever.
const COMPACT_AFTER: usize = 1000;

#[derive(Serialize, Deserialize)]
struct Line {
    page: String,
    #[serde(flatten)]
    seen: Seen,
}

/// Where polling of one database stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Cursor {
    /// When the host began watching the database: pages created since are new.
    pub(crate) since: DateTime<Utc>,
    /// The latest `last_edited_time` a poll has taken in.
    pub(crate) edited: DateTime<Utc>,
}

/// The pages and cursors remembered.
#[derive(Default)]
pub(crate) struct NotionMemory {
    pages: HashMap<String, Seen>,
    cursors: BTreeMap<String, Cursor>,
    dir: Option<PathBuf>,
    appended: usize,
}

/// Pages are keyed by entity and id without dashes (Notion accepts both spellings).
fn page_key(entity: &str, page: &str) -> String {
    format!("{entity}/{}", page.replace('-', ""))
}

impl NotionMemory {
    /// The memory kept in `state` (read back from it), or in memory only.
    pub(crate) fn open(state: Option<&Path>) -> Result<NotionMemory, String> {
        let Some(dir) = state else {
            return Ok(NotionMemory::default());
        };
        let mut pages = HashMap::new();
        let file = dir.join(PAGES_FILE);
        match std::fs::read_to_string(&file) {
            // A line cut short by a crash is skipped: that page's change may start once more.
            Ok(text) => {
                for line in text.lines().filter_map(|l| serde_json::from_str::<Line>(l).ok()) {
                    pages.insert(line.page, line.seen);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("cannot read {}: {e}", file.display())),
        }
        let file = dir.join(CURSORS_FILE);
        let cursors = match std::fs::read_to_string(&file) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(format!("cannot read {}: {e}", file.display())),
        };
        let mut memory = NotionMemory {
            pages,
            cursors,
            dir: Some(dir.to_path_buf()),
            appended: 0,
        };
        memory.compact();
        Ok(memory)
    }

    /// What was last seen of `page` of `entity`.
    pub(crate) fn page(&self, entity: &str, page: &str) -> Option<&Seen> {
        self.pages.get(&page_key(entity, page))
    }

    /// Remembers `seen` of `page` (in the file too, before returning).
    pub(crate) fn remember(&mut self, entity: &str, page: &str, seen: Seen) {
        let key = page_key(entity, page);
        if self.pages.get(&key) == Some(&seen) {
            return;
        }
        if let Some(dir) = &self.dir {
            let line = Line {
                page: key.clone(),
                seen: seen.clone(),
            };
            let file = dir.join(PAGES_FILE);
            let written = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&file)
                .and_then(|mut f| {
                    let mut text = serde_json::to_string(&line).unwrap_or_default();
                    text.push('\n');
                    f.write_all(text.as_bytes())
                });
            if let Err(e) = written {
                tracing::warn!("cannot remember a Notion page in {}: {e}", file.display());
            }
            self.appended += 1;
        }
        self.pages.insert(key, seen);
        if self.appended > COMPACT_AFTER.max(2 * self.pages.len()) {
            self.compact();
        }
    }

    /// The polling cursor of `database` of `entity`.
    pub(crate) fn cursor(&self, entity: &str, database: &str) -> Option<Cursor> {
        self.cursors.get(&format!("{entity}/{database}")).copied()
    }

    /// Moves the polling cursor of `database` of `entity` (the file is replaced whole).
    pub(crate) fn set_cursor(&mut self, entity: &str, database: &str, cursor: Cursor) {
        self.cursors.insert(format!("{entity}/{database}"), cursor);
        let Some(dir) = &self.dir else { return };
        let text = serde_json::to_string_pretty(&self.cursors).unwrap_or_default();
        if let Err(e) = replace(&dir.join(CURSORS_FILE), &text) {
            tracing::warn!("cannot keep the Notion polling cursors: {e}");
        }
    }

    /// Rewrites the pages file with one line per page.
    fn compact(&mut self) {
        let Some(dir) = &self.dir else { return };
        let mut text = String::new();
        for (page, seen) in &self.pages {
            let line = Line {
                page: page.clone(),
                seen: seen.clone(),
            };
            text.push_str(&serde_json::to_string(&line).unwrap_or_default());
            text.push('\n');
        }
        match replace(&dir.join(PAGES_FILE), &text) {
            Ok(()) => self.appended = 0,
            Err(e) => tracing::warn!("cannot compact the remembered Notion pages: {e}"),
        }
    }
}

/// Writes `text` aside then renames it over `file`: a crash leaves the old or the new content.
fn replace(file: &Path, text: &str) -> std::io::Result<()> {
    let aside = file.with_extension("new");
    std::fs::write(&aside, text)?;
    std::fs::rename(&aside, file)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn pages_and_cursors_survive_a_reopen_and_compaction() {
        let dir = tempfile::tempdir().unwrap();
        let mut m = NotionMemory::open(Some(dir.path())).unwrap();
        for i in 0..(COMPACT_AFTER + 5) {
            let seen = Seen {
                edited: format!("2026-01-01T00:00:{:02}.000Z", i % 60),
                values: BTreeMap::from([("Status".to_string(), json!(i))]),
            };
            m.remember("e", "aaaa-bbbb", seen);
        }
        let at = Utc::now();
        m.set_cursor(
            "e",
            "Task",
            Cursor {
                since: at,
                edited: at,
            },
        );
        let text = std::fs::read_to_string(dir.path().join(PAGES_FILE)).unwrap();
        assert!(text.lines().count() < 10, "the file was not compacted");
        let again = NotionMemory::open(Some(dir.path())).unwrap();
        assert_eq!(again.pages.len(), 1);
        let seen = again.page("e", "aaaabbbb").unwrap();
        assert_eq!(seen.values["Status"], json!(COMPACT_AFTER + 4));
        assert_eq!(
            again.cursor("e", "Task"),
            Some(Cursor {
                since: at,
                edited: at
            })
        );
    }
}
