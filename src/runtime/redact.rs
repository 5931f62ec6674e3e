//! Hides the values of an entity's declared secrets from what an instance shows: its output,
//! its history (events) and its error messages. The values stay usable inside the run (a
//! connector still receives the token); only what is kept or reported is rewritten.

use std::borrow::Cow;

use super::event::EventKind;
use crate::value::Value;

/// What a hidden value is replaced with.
pub(crate) const MASK: &str = "[secret]";

/// The current values of one entity's declared secrets.
pub(crate) struct Redactor {
    values: Vec<String>,
}

impl Redactor {
    /// Reads the values of `declared` from the environment (unset or empty ones hide nothing).
    pub(crate) fn new(declared: &[String]) -> Redactor {
        let mut values: Vec<String> = declared
            .iter()
            .filter_map(|name| std::env::var(name).ok())
            .filter(|v| !v.is_empty())
            .collect();
        // Longest first, so a secret containing another is hidden whole.
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        Redactor { values }
    }

    /// Whether there is nothing to hide.
    pub(crate) fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// `text` with every secret value masked.
    pub(crate) fn text<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let mut out = Cow::Borrowed(text);
        for v in &self.values {
            if out.contains(v.as_str()) {
                out = Cow::Owned(out.replace(v.as_str(), MASK));
            }
        }
        out
    }

    /// `value` with every secret value masked in its texts.
    pub(crate) fn value(&self, value: Value) -> Value {
        if self.is_empty() {
            // Nothing to hide: the value as it is, not a copy rebuilt field by field.
            return value;
        }
        self.masked(value)
    }

    fn masked(&self, value: Value) -> Value {
        match value {
            Value::Text(t) => match self.text(&t) {
                Cow::Borrowed(_) => Value::Text(t),
                Cow::Owned(o) => Value::Text(o),
            },
            Value::List(items) => Value::List(items.into_iter().map(|v| self.masked(v)).collect()),
            Value::Record(fields) => {
                Value::Record(fields.into_iter().map(|(k, v)| (k, self.masked(v))).collect())
            }
            v => v,
        }
    }

    /// `kind` with every secret value masked. Only an event that holds one is rewritten.
    pub(crate) fn event(&self, kind: EventKind) -> EventKind {
        if self.is_empty() {
            return kind;
        }
        let Ok(json) = serde_json::to_value(&kind) else {
            return kind;
        };
        let masked = self.json(json.clone());
        if masked == json {
            return kind;
        }
        serde_json::from_value(masked).unwrap_or(kind)
    }

    fn json(&self, json: serde_json::Value) -> serde_json::Value {
        use serde_json::Value as J;
        match json {
            J::String(s) => J::String(self.text(&s).into_owned()),
            J::Array(items) => J::Array(items.into_iter().map(|v| self.json(v)).collect()),
            J::Object(fields) => J::Object(fields.into_iter().map(|(k, v)| (k, self.json(v))).collect()),
            v => v,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_masked_in_text_and_nested_values() {
        let r = Redactor {
            values: vec!["tok-123".into()],
        };
        assert_eq!(r.text("bearer tok-123 used"), "bearer [secret] used");
        let v = r.value(Value::record([("a", Value::List(vec![Value::text("xtok-123")]))]));
        assert_eq!(v.get("a"), &Value::List(vec![Value::text("x[secret]")]));
        assert_eq!(r.text("nothing"), "nothing");
    }
}
