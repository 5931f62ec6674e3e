//! Pulled Notion database schemas (`flowc notion pull`), used by the checker and the emulator.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Every entity's database schemas: entity → logical database → schema.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct NotionSchemas {
    /// By entity name, then logical database name.
    pub entities: BTreeMap<String, BTreeMap<String, DatabaseSchema>>,
}

impl NotionSchemas {
    /// The schema of `database` in `entity`'s workspace.
    pub fn database(&self, entity: &str, database: &str) -> Option<&DatabaseSchema> {
        self.entities.get(entity)?.get(database)
    }
}

/// One database's properties.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct DatabaseSchema {
    /// By property name (`Full Name`).
    pub properties: BTreeMap<String, PropertySchema>,
}

/// One property.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PropertySchema {
    /// Notion's property type (`title`, `rich_text`, `email`, `select`, ...).
    #[serde(rename = "type")]
    pub kind: String,
    /// Options of select, multi_select and status properties.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}
