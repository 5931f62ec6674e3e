//! Notion database schemas as data (what `flowc notion pull` writes): the property names, types
//! and options the checker holds flows to, and the emulator and the connector work by.

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

impl DatabaseSchema {
    /// The schema in a data source object (`GET /v1/data_sources/{id}`) or a page object (whose
    /// property values carry their types but not the options).
    pub fn from_json(object: &serde_json::Value) -> DatabaseSchema {
        let mut schema = DatabaseSchema::default();
        let Some(properties) = object.get("properties").and_then(|p| p.as_object()) else {
            return schema;
        };
        for (name, property) in properties {
            let kind = property
                .get("type")
                .and_then(|t| t.as_str())
                .unwrap_or_default()
                .to_string();
            let options = property
                .get(&kind)
                .and_then(|body| body.get("options"))
                .and_then(|o| o.as_array())
                .into_iter()
                .flatten()
                .filter_map(|o| o.get("name").and_then(|n| n.as_str()).map(str::to_string))
                .collect();
            schema
                .properties
                .insert(name.clone(), PropertySchema { kind, options });
        }
        schema
    }
}

impl NotionSchemas {
    /// The file as `flowc notion pull` writes it: pretty JSON, sorted keys, final newline.
    pub fn to_pretty_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }
}
