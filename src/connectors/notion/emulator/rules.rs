//! What Notion documents about property values, written for the emulator from the API reference
//! and not shared with the connector, so a test of one against the other is a real comparison:
//! the request size limits (developers.notion.com/reference/request-limits), the date rule
//! (a date property's `start`/`end` are "an ISO 8601 date, with optional time") and the plain
//! reading of a stored page that tests look at.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use serde_json::Value as Json;

use crate::value::Value;

/// `text.content` of a rich text object: 2000 characters.
pub(super) const TEXT_CONTENT: usize = 2000;
/// Any array of rich text objects, multi-select options, related pages or people: 100.
pub(super) const ARRAY_ITEMS: usize = 100;
/// Any URL: 2000 characters.
pub(super) const URL: usize = 2000;
/// Any email or phone number: 200 characters.
pub(super) const EMAIL_OR_PHONE: usize = 200;

/// Whether Notion takes `text` as a date property's `start` or `end`: a calendar date
/// (`2026-01-05`) or a date-time with or without seconds, fraction and offset
/// (`2026-01-05T09:00`, `2026-01-05T09:00:00.000+02:00`; without an offset the property's
/// `time_zone` applies).
pub(super) fn is_iso_8601(text: &str) -> bool {
    if NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok() || DateTime::parse_from_rfc3339(text).is_ok() {
        return true;
    }
    ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%.f"]
        .iter()
        .any(|format| NaiveDateTime::parse_from_str(text, format).is_ok())
}

/// A stored page (response shape) read plainly for tests: each property's value as the API
/// reference describes its response object (title and rich text as their `plain_text`, select
/// and status as the option name, multi-select as names, relation and people as ids, date as
/// its start, or start and end), plus the page's `id` and `url`.
pub(super) fn plain_page(page: &Json) -> Value {
    let mut out = BTreeMap::new();
    for (name, property) in page["properties"].as_object().into_iter().flatten() {
        out.insert(name.clone(), plain_property(property));
    }
    for key in ["id", "url"] {
        if let Some(text) = page[key].as_str() {
            out.insert(key.to_string(), Value::text(text));
        }
    }
    Value::Record(out)
}

fn plain_property(property: &Json) -> Value {
    let kind = property["type"].as_str().unwrap_or_default();
    let body = &property[kind];
    let list = |key: &str| {
        Value::List(
            body.as_array()
                .into_iter()
                .flatten()
                .filter_map(|item| item[key].as_str().map(Value::text))
                .collect(),
        )
    };
    match kind {
        "title" | "rich_text" => match body.as_array() {
            Some(items) => Value::text(
                items
                    .iter()
                    .filter_map(|i| i["plain_text"].as_str())
                    .collect::<String>(),
            ),
            None => Value::Null,
        },
        "select" | "status" => body["name"].as_str().map_or(Value::Null, Value::text),
        "multi_select" => list("name"),
        "relation" | "people" => list("id"),
        "date" => {
            let Some(start) = body["start"].as_str() else {
                return Value::Null;
            };
            match body["end"].as_str() {
                None => instant(start),
                Some(end) => Value::record([("start", instant(start)), ("end", instant(end))]),
            }
        }
        "checkbox" => Value::Bool(body.as_bool().unwrap_or(false)),
        _ => Value::from_json(body),
    }
}

fn instant(text: &str) -> Value {
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        Value::Date(date)
    } else if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        Value::DateTime(at)
    } else {
        Value::text(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_as_the_reference_allows() {
        for ok in [
            "2026-01-05",
            "2026-01-05T09:00",
            "2026-01-05T09:00:00",
            "2026-01-05T09:00:00.000Z",
            "2026-01-05T09:00:00+02:00",
        ] {
            assert!(is_iso_8601(ok), "{ok}");
        }
        for bad in ["", "tomorrow", "05/01/2026", "2026-13-01", "2026-01-05 09:00"] {
            assert!(!is_iso_8601(bad), "{bad}");
        }
    }
}
