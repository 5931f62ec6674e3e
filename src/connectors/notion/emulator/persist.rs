//! Keeps the emulator's databases and pages in a folder (`flowc emulate --state DIR`), so a
//! restarted emulator has every page it had: one JSON line per database or page as it is after
//! each write, the last line of an id winning. The file is compacted when it is opened.
//!
//! Lines are written (not fsynced) before the write is answered: they survive the emulator
//! process being killed, which is what the crash tests need, not a power cut.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::store::{Database, Page, Store};

const FILE_NAME: &str = "notion.jsonl";

/// One line of the journal.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Line {
    Database(Database),
    Page(Page),
}

/// The open journal of a store.
#[derive(Debug)]
pub(crate) struct Journal {
    path: PathBuf,
    file: std::fs::File,
}

impl Journal {
    /// Opens the journal in `dir`: the store it holds (None when there is none yet), and the
    /// journal compacted to one line per database and page.
    pub(crate) fn open(dir: &Path) -> std::io::Result<(Journal, Option<Store>)> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(FILE_NAME);
        let restored = match std::fs::File::open(&path) {
            Ok(file) => Some(read(std::io::BufReader::new(file), &path)?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        if let Some(store) = &restored {
            let partial = path.with_extension("jsonl.partial");
            let mut out = std::io::BufWriter::new(std::fs::File::create(&partial)?);
            for db in store.databases.values() {
                writeln!(out, "{}", line_text(&Line::Database(db.clone()))?)?;
            }
            for page in &store.pages {
                writeln!(out, "{}", line_text(&Line::Page(page.clone()))?)?;
            }
            out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            std::fs::rename(&partial, &path)?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        Ok((
            Journal { path, file },
            restored.filter(|s| !s.databases.is_empty()),
        ))
    }

    /// Writes every database and page of `store` (a store seeded for a new folder).
    pub(crate) fn write_all(&mut self, store: &Store) {
        for db in store.databases.values() {
            self.append(&Line::Database(db.clone()));
        }
        for page in &store.pages {
            self.append(&Line::Page(page.clone()));
        }
    }

    /// Writes `database` as it is now.
    pub(crate) fn database(&mut self, database: &Database) {
        self.append(&Line::Database(database.clone()));
    }

    /// Writes `page` as it is now.
    pub(crate) fn page(&mut self, page: &Page) {
        self.append(&Line::Page(page.clone()));
    }

    fn append(&mut self, line: &Line) {
        let written = line_text(line).and_then(|mut text| {
            text.push('\n');
            self.file.write_all(text.as_bytes())
        });
        if let Err(e) = written {
            tracing::warn!("the Notion emulator cannot write {}: {e}", self.path.display());
        }
    }
}

fn line_text(line: &Line) -> std::io::Result<String> {
    serde_json::to_string(line).map_err(std::io::Error::other)
}

fn read(reader: impl BufRead, path: &Path) -> std::io::Result<Store> {
    let mut store = Store::default();
    for (n, text) in reader.lines().enumerate() {
        let text = text?;
        if text.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Line>(&text) {
            Ok(Line::Database(db)) => store.restore_database(db),
            Ok(Line::Page(page)) => store.restore_page(page),
            // The last line of a process killed while writing it.
            Err(e) => tracing::warn!("skipping unreadable line {} of {}: {e}", n + 1, path.display()),
        }
    }
    Ok(store)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connectors::notion::schema::NotionSchemas;

    fn schemas() -> NotionSchemas {
        serde_json::from_value(serde_json::json!({
            "entities": { "shop": { "Task": { "properties": {
                "Name": { "type": "title" },
                "Status": { "type": "select", "options": ["Open"] }
            } } } }
        }))
        .unwrap()
    }

    #[test]
    fn pages_and_new_options_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let (journal, restored) = Journal::open(dir.path()).unwrap();
        assert!(restored.is_none());
        let mut store = Store::seeded(&schemas(), &|_, _| None);
        store.attach(journal);
        let db = store.database_named("shop", "Task").unwrap().id.clone();
        let index = store
            .create_page(
                &db,
                &serde_json::json!({ "Name": { "title": [{ "text": { "content": "a" } }] } }),
            )
            .unwrap();
        store
            .update_page(
                index,
                &serde_json::json!({ "Status": { "select": { "name": "Done" } } }),
            )
            .unwrap();
        let id = store.pages[index].id.clone();
        drop(store);

        let (_, restored) = Journal::open(dir.path()).unwrap();
        let restored = restored.unwrap();
        assert_eq!(restored.database_named("shop", "Task").unwrap().id, db);
        assert_eq!(restored.pages.len(), 1);
        let page = &restored.pages[restored.page_index(&id).unwrap()];
        assert_eq!(page.properties["Status"]["select"]["name"], "Done");
        let options = &restored.database(&db).unwrap().properties["Status"].options;
        assert!(options.contains(&"Done".to_string()), "{options:?}");
        // Compacted: one line for the database, one for the page.
        let text = std::fs::read_to_string(dir.path().join(FILE_NAME)).unwrap();
        assert_eq!(text.lines().count(), 2, "{text}");
    }
}
