//! Values in a history keep their type: dates, date-times and durations are tagged in the
//! journal's JSON (`{"$date": "2026-01-05"}`), so an instance rebuilt from its history (after a
//! restart, or woken from the store) computes with what the live run had, not with text.
//! Untagged JSON (histories written before) reads as it always did.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value as J;

use crate::value::Value;

const DATE: &str = "$date";
const DATETIME: &str = "$datetime";
const DURATION_MS: &str = "$duration_ms";

/// For `#[serde(with = "...")]` on a [`Value`] field.
pub(crate) fn serialize<S: Serializer>(v: &Value, s: S) -> Result<S::Ok, S::Error> {
    to_json(v).serialize(s)
}

/// For `#[serde(with = "...")]` on a [`Value`] field.
pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
    J::deserialize(d).map(|j| from_json(&j))
}

/// For `#[serde(deserialize_with = "...")]` on an `Arc<Value>` field.
pub(crate) fn deserialize_shared<'de, D: Deserializer<'de>>(d: D) -> Result<std::sync::Arc<Value>, D::Error> {
    deserialize(d).map(std::sync::Arc::new)
}

fn tagged(tag: &str, j: J) -> J {
    let mut m = serde_json::Map::new();
    m.insert(tag.to_string(), j);
    J::Object(m)
}

fn to_json(v: &Value) -> J {
    match v {
        Value::Date(_) | Value::DateTime(_) => {
            let tag = if matches!(v, Value::Date(_)) {
                DATE
            } else {
                DATETIME
            };
            tagged(tag, v.to_json())
        }
        Value::Duration(ms) => tagged(DURATION_MS, J::from(*ms)),
        Value::List(items) => J::Array(items.iter().map(to_json).collect()),
        Value::Record(fields) => J::Object(fields.iter().map(|(k, v)| (k.clone(), to_json(v))).collect()),
        _ => v.to_json(),
    }
}

fn from_json(j: &J) -> Value {
    match j {
        J::Array(items) => Value::List(items.iter().map(from_json).collect()),
        J::Object(fields) => {
            if fields.len() == 1 {
                if let Some(v) = untag(fields) {
                    return v;
                }
            }
            Value::Record(fields.iter().map(|(k, v)| (k.clone(), from_json(v))).collect())
        }
        _ => Value::from_json(j),
    }
}

/// The value a one-field object tags, if it is one.
fn untag(fields: &serde_json::Map<String, J>) -> Option<Value> {
    let (tag, j) = fields.iter().next()?;
    match (tag.as_str(), j) {
        (DATE, J::String(s)) => chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .map(Value::Date),
        (DATETIME, J::String(s)) => chrono::DateTime::parse_from_rfc3339(s).ok().map(Value::DateTime),
        (DURATION_MS, J::Number(n)) => n.as_i64().map(Value::Duration),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_date_times_and_durations_keep_their_type_and_plain_json_reads_as_before() {
        let v = Value::record([
            (
                "d",
                Value::Date(chrono::NaiveDate::from_ymd_opt(2026, 1, 5).unwrap()),
            ),
            (
                "t",
                Value::DateTime(chrono::DateTime::parse_from_rfc3339("2026-01-05T09:00:00+01:00").unwrap()),
            ),
            (
                "l",
                Value::List(vec![Value::Duration(-5_400_000), Value::text("2026-01-05")]),
            ),
            ("n", Value::Int(3)),
        ]);
        let back = from_json(&to_json(&v));
        assert!(matches!(back.get("d"), Value::Date(_)));
        assert!(matches!(back.get("t"), Value::DateTime(t) if t.offset().local_minus_utc() == 3600));
        let Value::List(l) = back.get("l") else { panic!() };
        assert!(matches!(l[..], [Value::Duration(-5_400_000), Value::Text(_)]));
        assert_eq!(back, v);
        let plain = from_json(&serde_json::json!({ "d": "2026-01-05", "$date": 1 }));
        assert_eq!(plain.get("d"), &Value::text("2026-01-05"));
    }
}
