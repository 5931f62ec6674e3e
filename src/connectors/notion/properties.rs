//! Flow values ⇄ Notion property values, by the data source's schema.
//!
//! Writing is typed by the property (a text goes into `title`, `email` or `select` differently)
//! and checks Notion's size limits before sending, so an over-long value is a clear permanent
//! error instead of a 400 after a round trip. Reading flattens a page into a plain record:
//! `page.Email`, `page."Full Name"`, plus `id`, `url`, `created_time` and `last_edited_time`.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate};
use serde_json::{json, Map, Value as Json};

use super::errors::invalid;
use super::schema::{DatabaseSchema, PropertySchema};
use crate::connectors::ConnectorError;
use crate::value::{Value, EXACT_IN_DOUBLE};

/// Notion's limit on one text object's `content` (in UTF-16 code units, as JavaScript counts).
pub(crate) const MAX_TEXT_CONTENT: usize = 2000;
/// Notion's limit on the number of items in a rich text array, multi-select, relation or people.
pub(crate) const MAX_ARRAY: usize = 100;
/// Notion's limit on a URL.
pub(crate) const MAX_URL: usize = 2000;
/// Notion's limit on an e-mail address or a phone number.
pub(crate) const MAX_EMAIL: usize = 200;

/// The `details.code` of an error naming a property the schema does not have.
pub(crate) const UNKNOWN_PROPERTY: &str = "unknown_property";

/// Property types a page can be given a value for.
pub(crate) const WRITABLE: &[&str] = &[
    "title",
    "rich_text",
    "email",
    "phone_number",
    "url",
    "number",
    "checkbox",
    "select",
    "multi_select",
    "status",
    "date",
    "relation",
    "people",
];

/// The `properties` object of a create or update request for `record` (property name → value).
pub(crate) fn to_notion(
    schema: &DatabaseSchema,
    database: &str,
    record: &Value,
) -> Result<Map<String, Json>, ConnectorError> {
    let fields = match record {
        Value::Record(fields) => fields,
        Value::Null => return Ok(Map::new()),
        other => {
            return Err(invalid(format!(
                "`properties` must be a record of property values, got {}",
                other.kind()
            )))
        }
    };
    let mut out = Map::new();
    for (name, value) in fields {
        let property = lookup(schema, database, name)?;
        out.insert(name.clone(), property_value(name, property, value)?);
    }
    Ok(out)
}

/// The schema of property `name`, or an error naming the closest existing property.
pub(crate) fn lookup<'a>(
    schema: &'a DatabaseSchema,
    database: &str,
    name: &str,
) -> Result<&'a PropertySchema, ConnectorError> {
    schema.properties.get(name).ok_or_else(|| {
        let hint = closest(name, schema.properties.keys().map(String::as_str))
            .map(|c| format!("; did you mean `{c}`?"))
            .unwrap_or_default();
        invalid(format!("database `{database}` has no property `{name}`{hint}"))
            .with_details(Value::record([("code", Value::text(UNKNOWN_PROPERTY))]))
    })
}

/// The most similar candidate, if any is similar enough to be a plausible typo.
pub(crate) fn closest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|c| (strsim::jaro_winkler(&name.to_lowercase(), &c.to_lowercase()), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

fn wrong(name: &str, kind: &str, wanted: &str, value: &Value) -> ConnectorError {
    invalid(format!(
        "property `{name}` is a {kind} property and needs {wanted}, got {}",
        value.kind()
    ))
}

/// One property value in Notion's request shape, e.g. `{"email": "a@b.c"}`.
pub(crate) fn property_value(
    name: &str,
    property: &PropertySchema,
    value: &Value,
) -> Result<Json, ConnectorError> {
    let kind = property.kind.as_str();
    let text = |wanted: &str| -> Result<Option<&str>, ConnectorError> {
        match value {
            Value::Null => Ok(None),
            Value::Text(s) => Ok(Some(s.as_str())),
            other => Err(wrong(name, kind, wanted, other)),
        }
    };
    let body = match kind {
        "title" | "rich_text" => match text("text")? {
            None => json!([]),
            Some(s) => Json::Array(rich_text(name, s)?),
        },
        "email" | "phone_number" => match text("text")? {
            None => Json::Null,
            Some(s) => {
                check_len(name, kind, s, MAX_EMAIL)?;
                json!(s)
            }
        },
        "url" => match text("text")? {
            None => Json::Null,
            Some(s) => {
                check_len(name, kind, s, MAX_URL)?;
                json!(s)
            }
        },
        "number" => match value {
            Value::Null => Json::Null,
            Value::Int(n) => exact_in_notion(name, *n)?,
            Value::Number(n) if n.is_finite() => value.to_json(),
            other => return Err(wrong(name, kind, "a number", other)),
        },
        "checkbox" => match value {
            Value::Bool(b) => json!(b),
            other => return Err(wrong(name, kind, "true or false", other)),
        },
        "select" | "status" => match text("an option name")? {
            None => Json::Null,
            Some(s) => json!({ "name": s }),
        },
        "multi_select" => {
            let names = list_of_text(name, kind, value, "a list of option names")?;
            Json::Array(names.into_iter().map(|n| json!({ "name": n })).collect())
        }
        "relation" => {
            let ids = list_of_text(name, kind, value, "a list of page ids")?;
            Json::Array(ids.into_iter().map(|id| json!({ "id": id })).collect())
        }
        "people" => {
            let ids = list_of_text(name, kind, value, "a list of user ids")?;
            Json::Array(
                ids.into_iter()
                    .map(|id| json!({ "object": "user", "id": id }))
                    .collect(),
            )
        }
        "date" => date_value(name, value)?,
        other => {
            return Err(invalid(format!(
                "property `{name}` is a {other} property, which flows cannot write; writable types are {}",
                WRITABLE.join(", ")
            )))
        }
    };
    let mut object = Map::new();
    object.insert(kind.to_string(), body);
    Ok(Json::Object(object))
}

/// An integer for a number property. Notion keeps numbers as doubles, so one beyond 2^53 would
/// be stored rounded (an order id turned into its neighbour): refused rather than changed.
fn exact_in_notion(name: &str, n: i64) -> Result<Json, ConnectorError> {
    if n.unsigned_abs() > EXACT_IN_DOUBLE.unsigned_abs() {
        return Err(invalid(format!(
            "property `{name}` is a number property and Notion stores {n} rounded (its numbers \
             are exact up to {EXACT_IN_DOUBLE}); keep ids this large in a text property, \
             written as `\"{{{{ value }}}}\"` or `text(value)`"
        )));
    }
    Ok(Json::from(n))
}

fn check_len(name: &str, kind: &str, s: &str, max: usize) -> Result<(), ConnectorError> {
    let len = s.encode_utf16().count();
    if len > max {
        return Err(invalid(format!(
            "property `{name}` ({kind}) is {len} characters long; Notion allows at most {max}"
        )));
    }
    Ok(())
}

/// Text as rich text objects of at most 2,000 characters each, as Notion requires.
pub(crate) fn rich_text(name: &str, s: &str) -> Result<Vec<Json>, ConnectorError> {
    let mut chunks = Vec::new();
    let mut current = String::new();
    let mut units = 0;
    for c in s.chars() {
        // Counted in UTF-16 units, as Notion counts; never splits a character.
        if units + c.len_utf16() > MAX_TEXT_CONTENT {
            chunks.push(std::mem::take(&mut current));
            units = 0;
        }
        current.push(c);
        units += c.len_utf16();
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    if chunks.len() > MAX_ARRAY {
        return Err(invalid(format!(
            "property `{name}` is {} characters long; Notion allows at most {} text pieces of {} characters ({} in all)",
            s.encode_utf16().count(),
            MAX_ARRAY,
            MAX_TEXT_CONTENT,
            MAX_ARRAY * MAX_TEXT_CONTENT
        )));
    }
    Ok(chunks
        .into_iter()
        .map(|c| json!({ "type": "text", "text": { "content": c } }))
        .collect())
}

fn list_of_text<'a>(
    name: &str,
    kind: &str,
    value: &'a Value,
    wanted: &str,
) -> Result<Vec<&'a str>, ConnectorError> {
    let items: Vec<&str> = match value {
        Value::Null => Vec::new(),
        Value::Text(s) => vec![s.as_str()],
        Value::List(items) => items
            .iter()
            .map(|item| match item {
                Value::Text(s) => Ok(s.as_str()),
                other => Err(wrong(name, kind, wanted, other)),
            })
            .collect::<Result<_, _>>()?,
        other => return Err(wrong(name, kind, wanted, other)),
    };
    if items.len() > MAX_ARRAY {
        return Err(invalid(format!(
            "property `{name}` ({kind}) has {} items; Notion allows at most {MAX_ARRAY}",
            items.len()
        )));
    }
    Ok(items)
}

fn date_text(name: &str, value: &Value) -> Result<String, ConnectorError> {
    match value {
        Value::Date(d) => Ok(d.format("%Y-%m-%d").to_string()),
        Value::DateTime(t) => Ok(t.to_rfc3339()),
        Value::Text(s) if is_date_text(s) => Ok(s.clone()),
        Value::Text(s) => Err(invalid(format!(
            "property `{name}` is a date property and `{s}` is not a date (`2026-01-05`) or date-time (`2026-01-05T09:00:00Z`)"
        ))),
        other => Err(wrong(name, "date", "a date or date-time", other)),
    }
}

/// Whether `s` is an ISO 8601 date or RFC 3339 date-time.
pub(crate) fn is_date_text(s: &str) -> bool {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok() || DateTime::parse_from_rfc3339(s).is_ok()
}

fn date_value(name: &str, value: &Value) -> Result<Json, ConnectorError> {
    match value {
        Value::Null => Ok(Json::Null),
        Value::Record(fields) => {
            let start = date_text(name, value.get("start"))?;
            let mut out = json!({ "start": start });
            if let Some(end) = fields.get("end").filter(|e| !e.is_null()) {
                out["end"] = json!(date_text(name, end)?);
            }
            if let Some(Value::Text(zone)) = fields.get("time_zone") {
                out["time_zone"] = json!(zone);
            }
            Ok(out)
        }
        other => Ok(json!({ "start": date_text(name, other)? })),
    }
}

/// A page from Notion as a flat record: each property by name, plus the page's own fields.
pub(crate) fn flatten_page(page: &Json) -> Value {
    let mut out = BTreeMap::new();
    if let Some(Json::Object(properties)) = page.get("properties") {
        for (name, property) in properties {
            out.insert(name.clone(), property_to_value(property));
        }
    }
    // The page's own fields win over properties with the same name: they identify the page.
    for key in ["id", "url"] {
        if let Some(Json::String(s)) = page.get(key) {
            out.insert(key.to_string(), Value::text(s.clone()));
        }
    }
    for key in ["created_time", "last_edited_time"] {
        if let Some(Json::String(s)) = page.get(key) {
            out.insert(key.to_string(), parse_time(s));
        }
    }
    Value::Record(out)
}

fn parse_time(s: &str) -> Value {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        Value::DateTime(t)
    } else if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        Value::Date(d)
    } else {
        Value::text(s)
    }
}

fn plain_text(items: &Json) -> Value {
    let Some(items) = items.as_array() else {
        return Value::Null;
    };
    let mut out = String::new();
    for item in items {
        let piece = item
            .get("plain_text")
            .or_else(|| item.get("text").and_then(|t| t.get("content")))
            .and_then(Json::as_str)
            .unwrap_or_default();
        out.push_str(piece);
    }
    Value::Text(out)
}

fn names(items: &Json, key: &str) -> Value {
    Value::List(
        items
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| i.get(key).and_then(Json::as_str))
            .map(Value::text)
            .collect(),
    )
}

fn date_to_value(date: &Json) -> Value {
    let Some(start) = date.get("start").and_then(Json::as_str) else {
        return Value::Null;
    };
    match date.get("end").and_then(Json::as_str) {
        None => parse_time(start),
        Some(end) => Value::record([("start", parse_time(start)), ("end", parse_time(end))]),
    }
}

/// One property of a page response as a flow value.
pub(crate) fn property_to_value(property: &Json) -> Value {
    let kind = property.get("type").and_then(Json::as_str).unwrap_or("");
    let body = property.get(kind).unwrap_or(&Json::Null);
    match kind {
        "title" | "rich_text" => plain_text(body),
        "email" | "phone_number" | "url" => match body {
            Json::String(s) => Value::text(s.clone()),
            _ => Value::Null,
        },
        "number" => match body {
            Json::Number(_) => Value::from_json(body),
            _ => Value::Null,
        },
        "checkbox" => Value::Bool(body.as_bool().unwrap_or(false)),
        "select" | "status" => body
            .get("name")
            .and_then(Json::as_str)
            .map_or(Value::Null, Value::text),
        "multi_select" => names(body, "name"),
        "relation" | "people" => names(body, "id"),
        "date" => date_to_value(body),
        "created_time" | "last_edited_time" => body.as_str().map_or(Value::Null, parse_time),
        "created_by" | "last_edited_by" => body
            .get("id")
            .and_then(Json::as_str)
            .map_or(Value::Null, Value::text),
        "unique_id" => match body.get("number").and_then(Json::as_i64) {
            None => Value::Null,
            Some(n) => match body.get("prefix").and_then(Json::as_str) {
                Some(prefix) => Value::text(format!("{prefix}-{n}")),
                None => Value::Int(n),
            },
        },
        "formula" => {
            let inner = body.get("type").and_then(Json::as_str).unwrap_or("");
            match (inner, body.get(inner)) {
                ("date", Some(d)) => date_to_value(d),
                (_, Some(v)) => Value::from_json(v),
                _ => Value::Null,
            }
        }
        "files" => Value::List(
            body.as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| {
                    let kind = f.get("type").and_then(Json::as_str)?;
                    f.get(kind)?.get("url")?.as_str().map(Value::text)
                })
                .collect(),
        ),
        _ => Value::from_json(body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prop(kind: &str) -> PropertySchema {
        PropertySchema {
            kind: kind.to_string(),
            options: Vec::new(),
        }
    }

    #[test]
    fn long_text_is_split_without_breaking_characters() {
        let s = "é".repeat(2500);
        let chunks = rich_text("Notes", &s).unwrap();
        assert_eq!(chunks.len(), 2);
        assert_eq!(
            chunks[0]["text"]["content"].as_str().unwrap().chars().count(),
            2000
        );
        // An emoji is two UTF-16 units: 1999 letters then an emoji do not fit in one piece.
        let s = format!("{}😀", "a".repeat(1999));
        assert_eq!(rich_text("Notes", &s).unwrap().len(), 2);
    }

    #[test]
    fn values_follow_the_property_type() {
        let v = property_value(
            "Tags",
            &prop("multi_select"),
            &Value::List(vec![Value::text("a")]),
        );
        assert_eq!(v.unwrap(), json!({"multi_select": [{"name": "a"}]}));
        let v = property_value("Age", &prop("number"), &Value::text("x"));
        assert!(v.unwrap_err().message.contains("needs a number"));
        let v = property_value("When", &prop("date"), &Value::text("2026-01-05"));
        assert_eq!(v.unwrap(), json!({"date": {"start": "2026-01-05"}}));
        let v = property_value("When", &prop("date"), &Value::text("tomorrow"));
        assert!(v.is_err());
    }

    #[test]
    fn integers_are_written_exactly_or_refused() {
        let safe = EXACT_IN_DOUBLE;
        let v = property_value("Count", &prop("number"), &Value::Int(safe)).unwrap();
        assert_eq!(v["number"].as_i64(), Some(safe));
        let v = property_value("Count", &prop("number"), &Value::Int(-safe)).unwrap();
        assert_eq!(v["number"].as_i64(), Some(-safe));
        // Notion would keep 820982911946154508 as 820982911946154500: another order's id.
        for id in [safe + 1, -safe - 1, 820_982_911_946_154_508, i64::MIN] {
            let err = property_value("Order", &prop("number"), &Value::Int(id)).unwrap_err();
            assert!(
                err.message.contains(&format!("stores {id} rounded")),
                "{}",
                err.message
            );
            assert!(err.message.contains("text property"), "{}", err.message);
        }
        let v = property_value("Price", &prop("number"), &Value::Number(0.1)).unwrap();
        assert_eq!(v, json!({ "number": 0.1 }));
    }

    #[test]
    fn numbers_read_back_as_integers_when_whole() {
        let page = |n: Json| json!({ "type": "number", "number": n });
        let v = property_to_value(&page(json!(9_007_199_254_740_993_i64)));
        assert!(matches!(v, Value::Int(9_007_199_254_740_993)), "{v:?}");
        assert!(matches!(property_to_value(&page(json!(2.5))), Value::Number(n) if n == 2.5));
        assert_eq!(property_to_value(&page(Json::Null)), Value::Null);
        let id = json!({ "type": "unique_id", "unique_id": { "number": 42, "prefix": "PRJ" } });
        assert_eq!(property_to_value(&id), Value::text("PRJ-42"));
    }
}
