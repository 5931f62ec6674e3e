//! `where:` records and `sort:` lists as Notion query filters and sorts.
//!
//! A `where:` record is a conjunction of equalities; each becomes the condition Notion expects
//! for the property's type (`title: {equals}`, `multi_select: {contains}`, ...), and `none`
//! means "is empty".

use serde_json::{json, Value as Json};

use super::errors::invalid;
use super::properties::{lookup, property_value};
use super::schema::DatabaseSchema;
use crate::connectors::ConnectorError;
use crate::value::Value;

/// The Notion filter for `where` (a record of property equalities), or `None` for no filter.
pub(crate) fn equality_filter(
    schema: &DatabaseSchema,
    database: &str,
    where_: &Value,
) -> Result<Option<Json>, ConnectorError> {
    let fields = match where_ {
        Value::Null => return Ok(None),
        Value::Record(fields) => fields,
        other => {
            return Err(invalid(format!(
                "`where` must be a record of property values, got {}",
                other.kind()
            )))
        }
    };
    let mut conditions = Vec::new();
    for (name, value) in fields {
        let property = lookup(schema, database, name)?;
        let kind = property.kind.as_str();
        let condition = |c: Json| json!({ "property": name, kind: c });
        if value.is_null() {
            conditions.push(condition(json!({ "is_empty": true })));
            continue;
        }
        match kind {
            "multi_select" | "relation" | "people" => {
                // Every listed item must be present.
                let items = match value {
                    Value::List(items) => items.clone(),
                    other => vec![other.clone()],
                };
                for item in items {
                    let Value::Text(s) = item else {
                        return Err(invalid(format!(
                            "`where` value for `{name}` ({kind}) must be text or a list of text, got {}",
                            item.kind()
                        )));
                    };
                    conditions.push(condition(json!({ "contains": s })));
                }
            }
            "checkbox" | "number" | "title" | "rich_text" | "email" | "phone_number" | "url" | "select"
            | "status" | "date" => {
                // The request shape of the value, validated the same way as when writing.
                let written = property_value(name, property, value)?;
                let equals = match kind {
                    "title" | "rich_text" => json!(value.as_str().unwrap_or_default()),
                    "select" | "status" => written[kind]["name"].clone(),
                    "date" => written[kind]["start"].clone(),
                    _ => written[kind].clone(),
                };
                conditions.push(condition(json!({ "equals": equals })));
            }
            other => {
                return Err(invalid(format!(
                    "cannot filter on `{name}`: {other} properties are not supported in `where`"
                )))
            }
        }
    }
    Ok(match conditions.len() {
        0 => None,
        1 => conditions.pop(),
        _ => Some(json!({ "and": conditions })),
    })
}

/// Notion sorts for `sort` (property names, `-` prefix for descending; `created_time` and
/// `last_edited_time` sort by the page's timestamps).
pub(crate) fn sorts(
    schema: &DatabaseSchema,
    database: &str,
    sort: &Value,
) -> Result<Vec<Json>, ConnectorError> {
    let items = match sort {
        Value::Null => return Ok(Vec::new()),
        Value::Text(_) => std::slice::from_ref(sort),
        Value::List(items) => items.as_slice(),
        other => {
            return Err(invalid(format!(
                "`sort` must be a list of property names, got {}",
                other.kind()
            )))
        }
    };
    let mut out = Vec::new();
    for item in items {
        let Value::Text(spec) = item else {
            return Err(invalid(format!(
                "`sort` items must be property names, got {}",
                item.kind()
            )));
        };
        let (name, direction) = match spec.strip_prefix('-') {
            Some(name) => (name, "descending"),
            None => (spec.strip_prefix('+').unwrap_or(spec), "ascending"),
        };
        if matches!(name, "created_time" | "last_edited_time") && !schema.properties.contains_key(name) {
            out.push(json!({ "timestamp": name, "direction": direction }));
        } else {
            lookup(schema, database, name)?;
            out.push(json!({ "property": name, "direction": direction }));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connectors::notion::schema::PropertySchema;

    fn schema() -> DatabaseSchema {
        let mut s = DatabaseSchema::default();
        for (name, kind) in [("Name", "title"), ("Tags", "multi_select"), ("Age", "number")] {
            s.properties.insert(
                name.into(),
                PropertySchema {
                    kind: kind.into(),
                    options: vec![],
                },
            );
        }
        s
    }

    #[test]
    fn equalities_use_the_property_type() {
        let w = Value::record([("Name", Value::text("Ada")), ("Age", Value::Number(36.0))]);
        let f = equality_filter(&schema(), "People", &w).unwrap().unwrap();
        assert_eq!(
            f,
            json!({"and": [
                {"property": "Age", "number": {"equals": 36}},
                {"property": "Name", "title": {"equals": "Ada"}}
            ]})
        );
        let w = Value::record([("Tags", Value::Null)]);
        let f = equality_filter(&schema(), "People", &w).unwrap().unwrap();
        assert_eq!(f, json!({"property": "Tags", "multi_select": {"is_empty": true}}));
        let w = Value::record([("Nmae", Value::text("x"))]);
        let e = equality_filter(&schema(), "People", &w).unwrap_err();
        assert!(e.message.contains("did you mean `Name`"), "{}", e.message);
    }

    #[test]
    fn sorts_read_direction_prefixes() {
        let s = Value::List(vec![Value::text("-Age"), Value::text("created_time")]);
        assert_eq!(
            sorts(&schema(), "People", &s).unwrap(),
            vec![
                json!({"property": "Age", "direction": "descending"}),
                json!({"timestamp": "created_time", "direction": "ascending"}),
            ]
        );
    }
}
