//! Reading a pulled Notion schema file (`flowc notion pull` writes it); the schema types are part
//! of the contract.

pub use crate::contract::notion_schema::{DatabaseSchema, NotionSchemas, PropertySchema};

impl NotionSchemas {
    /// Reads a schema file written by `flowc notion pull`.
    pub fn load(path: &std::path::Path) -> Result<NotionSchemas, String> {
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }
}
