//! Runtime values: what flows compute with, connectors receive and return, and plans carry.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A value flowing through an instance.
///
/// JSON is the exchange format (inputs, outputs, connector payloads); dates, date-times and
/// durations are their own variants so that `input.starts_at - 24h` means what it says.
///
/// Numbers are two variants: `Int` keeps every 64-bit integer exact (order ids, counts) and
/// `Number` holds the rest as a double. Both are the language's one `number` type: they compare
/// and are equal by their mathematical value (`1 == 1.0`), exactly, never through a rounding.
#[derive(Clone, Debug, Default)]
pub enum Value {
    /// No value: a missing field, a skipped step, a wait that timed out.
    #[default]
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number that is an integer of 64 bits, kept exact.
    Int(i64),
    /// Any other number, as a double: a fraction, an integer beyond 64 bits, or a result
    /// computed with a double (`0.5 + 1.5` stays a double, equal to `Int(2)`).
    Number(f64),
    /// Text, including e-mail addresses.
    Text(String),
    /// A calendar date.
    Date(NaiveDate),
    /// An instant with its offset.
    DateTime(DateTime<FixedOffset>),
    /// A span of time in milliseconds (may be negative after subtraction).
    Duration(i64),
    /// An ordered list.
    List(Vec<Value>),
    /// A record with named fields, ordered by name so that hashes are stable.
    Record(BTreeMap<String, Value>),
}

impl Value {
    /// A record from `(name, value)` pairs.
    pub fn record<K: Into<String>>(fields: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Record(fields.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// Text value.
    pub fn text(s: impl Into<String>) -> Value {
        Value::Text(s.into())
    }

    /// The field `name` of a record; `Null` for anything else (missing values propagate).
    pub fn get(&self, name: &str) -> &Value {
        static NULL: Value = Value::Null;
        match self {
            Value::Record(fields) => fields.get(name).unwrap_or(&NULL),
            _ => &NULL,
        }
    }

    /// `true` for `Null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Text content, if this is text.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }

    /// Truthiness used by `if`: only `true` is true.
    pub fn is_true(&self) -> bool {
        matches!(self, Value::Bool(true))
    }

    /// The name of this value's kind, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "none",
            Value::Bool(_) => "bool",
            Value::Int(_) | Value::Number(_) => "number",
            Value::Text(_) => "text",
            Value::Date(_) => "date",
            Value::DateTime(_) => "datetime",
            Value::Duration(_) => "duration",
            Value::List(_) => "list",
            Value::Record(_) => "record",
        }
    }

    /// Converts to JSON: dates as `YYYY-MM-DD`, date-times as RFC 3339, durations as text (`1h30m`).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(n) => J::from(*n),
            Value::Number(n) => number_to_json(*n),
            Value::Text(s) => J::String(s.clone()),
            Value::Date(d) => J::String(d.format("%Y-%m-%d").to_string()),
            Value::DateTime(t) => J::String(t.to_rfc3339()),
            Value::Duration(ms) => J::String(format_duration(*ms)),
            Value::List(items) => J::Array(items.iter().map(Value::to_json).collect()),
            Value::Record(fields) => {
                J::Object(fields.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
            }
        }
    }

    /// Converts from JSON without type information: strings stay text.
    pub fn from_json(json: &serde_json::Value) -> Value {
        use serde_json::Value as J;
        match json {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => number_from_json(n),
            J::String(s) => Value::Text(s.clone()),
            J::Array(items) => Value::List(items.iter().map(Value::from_json).collect()),
            J::Object(fields) => Value::Record(
                fields
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::from_json(v)))
                    .collect(),
            ),
        }
    }
}

/// The largest integer below which every integer is exactly a double (2^53).
pub const EXACT_IN_DOUBLE: i64 = 1 << 53;

/// A double as JSON: whole numbers within 2^53 without a fraction (`2`, not `2.0`), as they read
/// back as the same integer; the rest as the shortest text that reads back as the same double.
/// JSON has no NaN or infinity: those become `null`.
fn number_to_json(n: f64) -> serde_json::Value {
    if n.fract() == 0.0 && n.abs() < EXACT_IN_DOUBLE as f64 {
        serde_json::Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null)
    }
}

/// A JSON number as a value: integers that fit 64 bits exactly, anything else as a double.
fn number_from_json(n: &serde_json::Number) -> Value {
    match n.as_i64() {
        Some(i) => Value::Int(i),
        None => Value::Number(n.as_f64().unwrap_or(f64::NAN)),
    }
}

/// Orders an integer and a double by their exact values (no rounding of either; NaN: none).
pub(crate) fn cmp_int_float(i: i64, f: f64) -> Option<Ordering> {
    if f.is_nan() {
        return None;
    }
    // 2^63 is exactly a double; every double in [-2^63, 2^63) has an integer part that fits i64.
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if f >= TWO_63 {
        return Some(Ordering::Less);
    }
    if f < -TWO_63 {
        return Some(Ordering::Greater);
    }
    let whole = f.trunc();
    match i.cmp(&(whole as i64)) {
        Ordering::Equal => (0.0).partial_cmp(&(f - whole)),
        other => Some(other),
    }
}

impl Value {
    /// Orders two numbers by their exact values; `None` if either is not a number, or is NaN.
    pub fn cmp_numbers(&self, other: &Value) -> Option<Ordering> {
        match (self, other) {
            (Value::Int(a), Value::Int(b)) => Some(a.cmp(b)),
            (Value::Number(a), Value::Number(b)) => a.partial_cmp(b),
            (Value::Int(a), Value::Number(b)) => cmp_int_float(*a, *b),
            (Value::Number(a), Value::Int(b)) => cmp_int_float(*b, *a).map(Ordering::reverse),
            _ => None,
        }
    }

    /// The number as a double (integers beyond 2^53 round to the nearest); `None` for non-numbers.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }
}

impl PartialEq for Value {
    /// Structural equality, except that numbers are equal by value: `Int(1) == Number(1.0)`.
    fn eq(&self, other: &Value) -> bool {
        use Value::*;
        match (self, other) {
            (Int(_) | Number(_), Int(_) | Number(_)) => self.cmp_numbers(other) == Some(Ordering::Equal),
            (Null, Null) => true,
            (Bool(a), Bool(b)) => a == b,
            (Text(a), Text(b)) => a == b,
            (Date(a), Date(b)) => a == b,
            (DateTime(a), DateTime(b)) => a == b,
            (Duration(a), Duration(b)) => a == b,
            (List(a), List(b)) => a == b,
            (Record(a), Record(b)) => a == b,
            _ => false,
        }
    }
}

/// Formats milliseconds as the language writes durations: `1d2h`, `90s` → `1m30s`, `250ms`.
pub fn format_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    if ms < 0 {
        out.push('-');
    }
    let mut rest = ms.unsigned_abs();
    for (unit, size) in [
        ("w", 604_800_000u64),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ] {
        if rest >= size {
            out.push_str(&format!("{}{}", rest / size, unit));
            rest %= size;
        }
    }
    out
}

/// Parses a duration written as the language writes it (`2d`, `1h30m`, `250ms`).
pub fn parse_duration(text: &str) -> Option<i64> {
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    if body.is_empty() {
        return None;
    }
    let bytes = body.as_bytes();
    let mut i = 0;
    let mut total: i64 = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if start == i {
            return None;
        }
        let n: i64 = body[start..i].parse().ok()?;
        let unit_start = i;
        while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
            i += 1;
        }
        let size = match &body[unit_start..i] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 604_800_000,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(size)?)?;
    }
    Some(if negative { -total } else { total })
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => write!(f, "none"),
            Value::Text(s) => write!(f, "{s}"),
            other => write!(f, "{}", other.to_json()),
        }
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        serde_json::Value::deserialize(deserializer).map(|j| Value::from_json(&j))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_trip() {
        for text in ["2d", "1h30m", "250ms", "1w", "-1d2h", "0s"] {
            let ms = parse_duration(text).unwrap();
            assert_eq!(format_duration(ms), text);
        }
        assert_eq!(parse_duration("90s"), Some(90_000));
        assert_eq!(format_duration(90_000), "1m30s");
        assert_eq!(parse_duration("5x"), None);
        assert_eq!(parse_duration(""), None);
    }

    #[test]
    fn json_round_trip_keeps_structure() {
        let json = serde_json::json!({"a": [1, 2.5, "x", null, true], "b": {"c": "d"}});
        assert_eq!(Value::from_json(&json).to_json(), json);
    }
}
