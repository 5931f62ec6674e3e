//! Query filters and sorts as Notion evaluates them, over the emulator's pages.

use std::cmp::Ordering;

use chrono::{DateTime, FixedOffset, NaiveDate};
use serde_json::Value as Json;

use super::store::{Database, Page};

/// A property value reduced to what filters compare.
#[derive(Debug)]
enum Cell {
    Text(String),
    Number(Option<f64>),
    Bool(bool),
    Names(Vec<String>),
    Date(Option<String>),
}

fn cell(kind: &str, value: &Json) -> Cell {
    let body = value.get(kind).unwrap_or(&Json::Null);
    match kind {
        "title" | "rich_text" => Cell::Text(
            body.as_array()
                .into_iter()
                .flatten()
                .filter_map(|i| i.get("plain_text").and_then(Json::as_str))
                .collect(),
        ),
        "email" | "phone_number" | "url" => Cell::Text(body.as_str().unwrap_or_default().to_string()),
        "select" | "status" => Cell::Text(
            body.get("name")
                .and_then(Json::as_str)
                .unwrap_or_default()
                .to_string(),
        ),
        "number" => Cell::Number(body.as_f64()),
        "checkbox" => Cell::Bool(body.as_bool().unwrap_or(false)),
        "multi_select" => Cell::Names(list(body, "name")),
        "relation" | "people" => Cell::Names(list(body, "id")),
        "date" => Cell::Date(body.get("start").and_then(Json::as_str).map(str::to_string)),
        _ => Cell::Text(String::new()),
    }
}

fn list(body: &Json, key: &str) -> Vec<String> {
    body.as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i.get(key).and_then(Json::as_str).map(str::to_string))
        .collect()
}

fn instant(s: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(s).ok().or_else(|| {
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc().fixed_offset())
    })
}

fn invalid(message: String) -> String {
    format!("body failed validation: {message}")
}

/// Whether `page` passes `filter` (a property filter, a timestamp filter, or an `and`/`or`).
pub(crate) fn matches(filter: &Json, page: &Page, db: &Database) -> Result<bool, String> {
    if let Some(all) = filter.get("and") {
        let items = all
            .as_array()
            .ok_or_else(|| invalid("body.filter.and should be an array.".into()))?;
        for item in items {
            if !matches(item, page, db)? {
                return Ok(false);
            }
        }
        return Ok(true);
    }
    if let Some(any) = filter.get("or") {
        let items = any
            .as_array()
            .ok_or_else(|| invalid("body.filter.or should be an array.".into()))?;
        for item in items {
            if matches(item, page, db)? {
                return Ok(true);
            }
        }
        return Ok(false);
    }
    if let Some(timestamp) = filter.get("timestamp").and_then(Json::as_str) {
        let at = match timestamp {
            "created_time" => page.created,
            "last_edited_time" => page.edited,
            other => {
                return Err(invalid(format!(
                    "body.filter.timestamp `{other}` is not supported."
                )))
            }
        };
        let condition = filter
            .get(timestamp)
            .ok_or_else(|| invalid(format!("body.filter.{timestamp} should be defined.")))?;
        let text = super::store::timestamp(at);
        return date_condition(&Cell::Date(Some(text)), condition);
    }
    let Some(name) = filter.get("property").and_then(Json::as_str) else {
        return Err(invalid(
            "body.filter should have `property`, `timestamp`, `and` or `or`.".into(),
        ));
    };
    let (pname, prop) = db
        .properties
        .iter()
        .find(|(n, p)| *n == name || p.id == name)
        .ok_or_else(|| format!("Could not find property with name or id: {name}"))?;
    // The condition's key must be the property's type (text filters also serve titles).
    let condition_key = match (prop.kind.as_str(), filter.get(&prop.kind)) {
        (_, Some(_)) => prop.kind.as_str(),
        ("title", None) if filter.get("rich_text").is_some() => "rich_text",
        (kind, None) => {
            return Err(invalid(format!(
                "body.filter.{kind} should be defined, because property `{pname}` is of type {kind}."
            )))
        }
    };
    let condition = &filter[condition_key];
    let value = page.properties.get(pname).unwrap_or(&Json::Null);
    let c = cell(&prop.kind, value);
    match c {
        Cell::Date(_) => date_condition(&c, condition),
        _ => condition_holds(&c, condition),
    }
}

fn one_condition(condition: &Json) -> Result<(&str, &Json), String> {
    let object = condition.as_object().filter(|o| o.len() == 1).ok_or_else(|| {
        invalid(format!(
            "a filter condition should have exactly one operator, instead was `{condition}`."
        ))
    })?;
    let (op, value) = object
        .iter()
        .next()
        .ok_or_else(|| invalid("empty filter condition.".into()))?;
    Ok((op.as_str(), value))
}

fn condition_holds(c: &Cell, condition: &Json) -> Result<bool, String> {
    let (op, value) = one_condition(condition)?;
    let bad = || {
        invalid(format!(
            "the filter operator `{op}` with `{value}` is not valid here."
        ))
    };
    Ok(match (c, op) {
        (Cell::Text(t), "equals") => Some(t.as_str()) == value.as_str(),
        (Cell::Text(t), "does_not_equal") => Some(t.as_str()) != value.as_str(),
        (Cell::Text(t), "contains") => t.contains(value.as_str().ok_or_else(bad)?),
        (Cell::Text(t), "does_not_contain") => !t.contains(value.as_str().ok_or_else(bad)?),
        (Cell::Text(t), "starts_with") => t.starts_with(value.as_str().ok_or_else(bad)?),
        (Cell::Text(t), "ends_with") => t.ends_with(value.as_str().ok_or_else(bad)?),
        (Cell::Text(t), "is_empty") => t.is_empty(),
        (Cell::Text(t), "is_not_empty") => !t.is_empty(),
        (Cell::Number(n), "is_empty") => n.is_none(),
        (Cell::Number(n), "is_not_empty") => n.is_some(),
        (Cell::Number(n), op) => {
            let want = value.as_f64().ok_or_else(bad)?;
            let Some(n) = n else {
                return Ok(op == "does_not_equal");
            };
            match op {
                "equals" => *n == want,
                "does_not_equal" => *n != want,
                "greater_than" => *n > want,
                "less_than" => *n < want,
                "greater_than_or_equal_to" => *n >= want,
                "less_than_or_equal_to" => *n <= want,
                _ => return Err(bad()),
            }
        }
        (Cell::Bool(b), "equals") => Some(*b) == value.as_bool(),
        (Cell::Bool(b), "does_not_equal") => Some(*b) != value.as_bool(),
        (Cell::Names(items), "contains") => items.iter().any(|i| Some(i.as_str()) == value.as_str()),
        (Cell::Names(items), "does_not_contain") => !items.iter().any(|i| Some(i.as_str()) == value.as_str()),
        (Cell::Names(items), "is_empty") => items.is_empty(),
        (Cell::Names(items), "is_not_empty") => !items.is_empty(),
        _ => return Err(bad()),
    })
}

fn date_condition(c: &Cell, condition: &Json) -> Result<bool, String> {
    let Cell::Date(start) = c else {
        return Ok(false);
    };
    let (op, value) = one_condition(condition)?;
    match op {
        "is_empty" => return Ok(start.is_none()),
        "is_not_empty" => return Ok(start.is_some()),
        _ => {}
    }
    let want_text = value
        .as_str()
        .ok_or_else(|| invalid(format!("the date filter `{op}` needs an ISO 8601 date.")))?;
    let want =
        instant(want_text).ok_or_else(|| invalid(format!("`{want_text}` is not an ISO 8601 date.")))?;
    let Some(have) = start.as_deref().and_then(instant) else {
        return Ok(false);
    };
    // A date-only filter compares calendar days, as Notion does.
    let date_only = want_text.len() == 10;
    let ordering = if date_only {
        have.date_naive().cmp(&want.date_naive())
    } else {
        have.cmp(&want)
    };
    Ok(match op {
        "equals" => ordering == Ordering::Equal,
        "before" => ordering == Ordering::Less,
        "after" => ordering == Ordering::Greater,
        "on_or_before" => ordering != Ordering::Greater,
        "on_or_after" => ordering != Ordering::Less,
        other => {
            return Err(invalid(format!(
                "the date filter operator `{other}` is not supported."
            )))
        }
    })
}

fn compare_cells(a: &Cell, b: &Cell) -> Ordering {
    // Empty values sort last, as in Notion.
    match (a, b) {
        (Cell::Text(a), Cell::Text(b)) => match (a.is_empty(), b.is_empty()) {
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            _ => a.cmp(b),
        },
        (Cell::Number(a), Cell::Number(b)) => match (a, b) {
            (Some(a), Some(b)) => a.total_cmp(b),
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (None, None) => Ordering::Equal,
        },
        (Cell::Bool(a), Cell::Bool(b)) => a.cmp(b),
        (Cell::Names(a), Cell::Names(b)) => a.cmp(b),
        (Cell::Date(a), Cell::Date(b)) => {
            match (a.as_deref().and_then(instant), b.as_deref().and_then(instant)) {
                (Some(a), Some(b)) => a.cmp(&b),
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (None, None) => Ordering::Equal,
            }
        }
        _ => Ordering::Equal,
    }
}

/// Sorts `pages` by Notion `sorts` (property or timestamp, ascending or descending).
pub(crate) fn sort(pages: &mut [&Page], sorts: &[Json], db: &Database) -> Result<(), String> {
    let mut keys = Vec::new();
    for s in sorts {
        let descending = match s.get("direction").and_then(Json::as_str) {
            Some("ascending") | None => false,
            Some("descending") => true,
            Some(other) => {
                return Err(invalid(format!(
                    "body.sorts[].direction should be `ascending` or `descending`, instead was `{other}`."
                )))
            }
        };
        if let Some(t) = s.get("timestamp").and_then(Json::as_str) {
            if !matches!(t, "created_time" | "last_edited_time") {
                return Err(invalid(format!("body.sorts[].timestamp `{t}` is not supported.")));
            }
            keys.push((None, t.to_string(), descending));
        } else if let Some(p) = s.get("property").and_then(Json::as_str) {
            let (name, prop) = db
                .properties
                .iter()
                .find(|(n, pr)| *n == p || pr.id == p)
                .ok_or_else(|| format!("Could not find sort property with name or id: {p}"))?;
            keys.push((Some(prop.kind.clone()), name.clone(), descending));
        } else {
            return Err(invalid(
                "body.sorts[] should have `property` or `timestamp`.".into(),
            ));
        }
    }
    pages.sort_by(|a, b| {
        for (kind, name, descending) in &keys {
            let ordering = match kind {
                None if name == "created_time" => a.created.cmp(&b.created),
                None => a.edited.cmp(&b.edited),
                Some(kind) => compare_cells(
                    &cell(kind, a.properties.get(name).unwrap_or(&Json::Null)),
                    &cell(kind, b.properties.get(name).unwrap_or(&Json::Null)),
                ),
            };
            let ordering = if *descending { ordering.reverse() } else { ordering };
            if ordering != Ordering::Equal {
                return ordering;
            }
        }
        Ordering::Equal
    });
    Ok(())
}
