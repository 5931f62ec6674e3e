//! Validating an instance's input against the flow's `input { ... }` declaration: JSON in,
//! typed [`Value`]s out, defaults applied, dates parsed, errors naming the field.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde_json::Value as J;

use super::eval::{self, parse_datetime, MapEnv};
use crate::plan::{Expr, InputField, InputType, Shape};
use crate::value::{parse_duration, Value};

/// Converts `json` to the flow's input record.
pub(crate) fn validate(fields: &[InputField], json: &J) -> Result<Value, String> {
    let empty = serde_json::Map::new();
    let obj = match json {
        J::Object(o) => o,
        J::Null => &empty,
        other => {
            return Err(format!(
                "the input must be a JSON object, not {}",
                json_kind(other)
            ))
        }
    };
    let known: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
    if let Some(extra) = obj.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(format!(
            "unknown input field `{extra}`; the flow takes: {}",
            if known.is_empty() {
                "nothing".to_string()
            } else {
                known.join(", ")
            }
        ));
    }
    let mut out = BTreeMap::new();
    for f in fields {
        let v = field(&f.name, &f.ty, f.default.as_ref(), obj.get(&f.name))?;
        out.insert(f.name.clone(), v);
    }
    Ok(Value::Record(out))
}

fn field(path: &str, ty: &InputType, default: Option<&Expr>, json: Option<&J>) -> Result<Value, String> {
    match json {
        None | Some(J::Null) => {
            if let Some(d) = default {
                let env = MapEnv {
                    names: BTreeMap::new(),
                    now: chrono::Utc::now(),
                };
                let v = eval::eval(d, &env).map_err(|e| format!("default of `{path}`: {e}"))?;
                // A default written as text for a date field means the date.
                return Ok(match v {
                    Value::Text(t) => convert(path, ty, &J::String(t))?,
                    v => v,
                });
            }
            if ty.optional {
                Ok(Value::Null)
            } else {
                Err(format!("missing input field `{path}`"))
            }
        }
        Some(j) => convert(path, ty, j),
    }
}

fn json_kind(j: &J) -> &'static str {
    match j {
        J::Null => "null",
        J::Bool(_) => "a boolean",
        J::Number(_) => "a number",
        J::String(_) => "a string",
        J::Array(_) => "a list",
        J::Object(_) => "an object",
    }
}

fn convert(path: &str, ty: &InputType, j: &J) -> Result<Value, String> {
    let wrong = |want: &str| format!("input field `{path}` must be {want}, not {}", json_kind(j));
    match (&ty.shape, j) {
        (Shape::Text, J::String(s)) => Ok(Value::Text(s.clone())),
        (Shape::Email, J::String(s)) => {
            if crate::connectors::email::is_address(s) {
                Ok(Value::Text(s.clone()))
            } else {
                Err(format!(
                    "input field `{path}` must be an e-mail address, not `{s}`"
                ))
            }
        }
        (Shape::Number, J::Number(_)) => Ok(Value::from_json(j)),
        (Shape::Bool, J::Bool(b)) => Ok(Value::Bool(*b)),
        (Shape::Datetime, J::String(s)) => parse_datetime(s).map(Value::DateTime).ok_or_else(|| {
            format!("input field `{path}` must be a date-time like 2026-01-05T09:00:00Z, not `{s}`")
        }),
        (Shape::Date, J::String(s)) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map(Value::Date)
            .map_err(|_| format!("input field `{path}` must be a date like 2026-01-05, not `{s}`")),
        (Shape::Duration, J::String(s)) => parse_duration(s)
            .map(Value::Duration)
            .ok_or_else(|| format!("input field `{path}` must be a duration like 2d or 1h30m, not `{s}`")),
        // A number is milliseconds, and only a whole one: 1.5 is not silently 0.
        (Shape::Duration, J::Number(n)) => n.as_i64().map(Value::Duration).ok_or_else(|| {
            format!("input field `{path}` must be a duration like 2d or whole milliseconds, not {n}")
        }),
        (Shape::Text | Shape::Email, _) => Err(wrong("text")),
        (Shape::Number, _) => Err(wrong("a number")),
        (Shape::Bool, _) => Err(wrong("true or false")),
        (Shape::Datetime | Shape::Date | Shape::Duration, _) => Err(wrong("a string")),
        (Shape::Any, _) => Ok(Value::from_json(j)),
        (Shape::List(inner), J::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| convert(&format!("{path}[{i}]"), inner, item))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::List),
        (Shape::List(_), _) => Err(wrong("a list")),
        (Shape::Record(fields), J::Object(obj)) => {
            let mut out = BTreeMap::new();
            for f in fields {
                let p = format!("{path}.{}", f.name);
                out.insert(
                    f.name.clone(),
                    field(&p, &f.ty, f.default.as_ref(), obj.get(&f.name))?,
                );
            }
            Ok(Value::Record(out))
        }
        (Shape::Record(_), _) => Err(wrong("an object")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_inputs_are_parsed_as_addresses() {
        let ty = InputType {
            shape: Shape::Email,
            optional: false,
        };
        for good in ["a@b.c", "jo.rivers+lead@northwind.example", "x@localhost"] {
            assert_eq!(
                convert("to", &ty, &J::from(good)),
                Ok(Value::text(good)),
                "{good}"
            );
        }
        for bad in [
            "@",
            "a@",
            "@b.c",
            "a b@c.d",
            "a@b@c.d",
            "Jo <jo@x.example>",
            "jo@x.example ",
        ] {
            let err = convert("to", &ty, &J::from(bad)).unwrap_err();
            assert!(err.contains("`to` must be an e-mail address"), "{bad}: {err}");
        }
    }

    #[test]
    fn numbers_keep_64_bit_integers_and_durations_whole_milliseconds() {
        let ty = |shape| InputType {
            shape,
            optional: false,
        };
        let id: J = serde_json::from_str("820982911946154508").unwrap();
        assert!(matches!(
            convert("id", &ty(Shape::Number), &id),
            Ok(Value::Int(820_982_911_946_154_508))
        ));
        let half: J = serde_json::from_str("0.5").unwrap();
        assert_eq!(convert("x", &ty(Shape::Number), &half), Ok(Value::Number(0.5)));
        assert_eq!(
            convert("d", &ty(Shape::Duration), &J::from(90_000)),
            Ok(Value::Duration(90_000))
        );
        let err = convert("d", &ty(Shape::Duration), &J::from(1.5)).unwrap_err();
        assert!(
            err.contains("`d` must be a duration like 2d or whole milliseconds, not 1.5"),
            "{err}"
        );
    }
}
