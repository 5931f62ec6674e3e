//! The created-forms log: one JSON line per form `create` made, keyed by the call's idempotency key,
//! so that replaying a step whose result was lost (a crash after Typeform answered) returns the
//! same form instead of creating another.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::connectors::keyed_log::{Keyed, KeyedLog};

const FILE_NAME: &str = "created.jsonl";

/// One created form.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct CreatedForm {
    pub(crate) key: String,
    pub(crate) form_id: String,
    pub(crate) url: String,
    pub(crate) created_at: String,
}

impl Keyed for CreatedForm {
    fn key(&self) -> &str {
        &self.key
    }
}

/// The created-forms log of a folder.
pub(crate) type CreatedLog = KeyedLog<CreatedForm>;

/// The created-forms log kept in `dir`.
pub(crate) fn created_log(dir: &Path) -> CreatedLog {
    KeyedLog::new(dir, FILE_NAME, "created-forms log")
}
