//! Typeform response items → plain records: answers keyed by field `ref`, typed by answer type
//! (text, email, number, boolean, choice label, choice labels, date), plus the hidden fields.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate};
use serde_json::Value as Json;

use crate::value::Value;

/// One response item of `GET /forms/{form_id}/responses` as `{ response_id, submitted_at,
/// landed_at, answers, hidden }`.
pub(crate) fn response_record(item: &Json) -> Value {
    let mut answers = BTreeMap::new();
    for answer in item["answers"].as_array().into_iter().flatten() {
        let field = &answer["field"];
        // Fields created without a ref have only an id; keep their answer rather than drop it.
        let key = field["ref"]
            .as_str()
            .or_else(|| field["id"].as_str())
            .unwrap_or_default();
        if key.is_empty() {
            continue;
        }
        answers.insert(key.to_string(), answer_value(answer));
    }
    let hidden = match &item["hidden"] {
        Json::Object(_) => Value::from_json(&item["hidden"]),
        _ => Value::Record(BTreeMap::new()),
    };
    let id = item["response_id"]
        .as_str()
        .or_else(|| item["token"].as_str())
        .unwrap_or_default();
    Value::record([
        ("response_id", Value::text(id)),
        ("submitted_at", datetime(&item["submitted_at"])),
        ("landed_at", datetime(&item["landed_at"])),
        ("answers", Value::Record(answers)),
        ("hidden", hidden),
    ])
}

/// The answer's value, read from the key its `type` names.
fn answer_value(answer: &Json) -> Value {
    let kind = answer["type"].as_str().unwrap_or_default();
    match kind {
        "choice" => {
            let choice = &answer["choice"];
            Value::from_json(
                choice
                    .get("label")
                    .or_else(|| choice.get("other"))
                    .unwrap_or(&Json::Null),
            )
        }
        "choices" => {
            let choices = &answer["choices"];
            let mut labels: Vec<Value> = choices["labels"]
                .as_array()
                .into_iter()
                .flatten()
                .map(Value::from_json)
                .collect();
            if let Some(other) = choices["other"].as_str() {
                labels.push(Value::text(other));
            }
            Value::List(labels)
        }
        "date" => match answer["date"].as_str() {
            Some(text) => parse_date(text)
                .map(Value::Date)
                .unwrap_or_else(|| Value::text(text)),
            None => Value::Null,
        },
        "" => Value::Null,
        // text, email, number, boolean, url, file_url, phone_number, payment: the value sits
        // under the key named by the type.
        other => Value::from_json(answer.get(other).unwrap_or(&Json::Null)),
    }
}

/// `2026-01-05` or `2026-01-05T00:00:00Z` (both appear in Typeform payloads).
fn parse_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text.get(..10)?, "%Y-%m-%d").ok()
}

fn datetime(json: &Json) -> Value {
    json.as_str()
        .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
        .map(Value::DateTime)
        .unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn answers_are_keyed_by_ref_and_typed() {
        let item = json!({
            "landing_id": "r1", "token": "r1", "response_id": "r1",
            "landed_at": "2026-01-05T09:00:00Z", "submitted_at": "2026-01-05T09:03:10Z",
            "hidden": { "client_id": "c-42" },
            "answers": [
                { "field": { "id": "f1", "type": "short_text", "ref": "name" }, "type": "text", "text": "Ada" },
                { "field": { "id": "f2", "type": "email", "ref": "email" }, "type": "email", "email": "ada@x.example" },
                { "field": { "id": "f3", "type": "rating", "ref": "overall" }, "type": "number", "number": 4 },
                { "field": { "id": "f4", "type": "yes_no", "ref": "newsletter" }, "type": "boolean", "boolean": true },
                { "field": { "id": "f5", "type": "dropdown", "ref": "budget" }, "type": "choice", "choice": { "label": "Not sure yet", "ref": "budget_5" } },
                { "field": { "id": "f6", "type": "multiple_choice", "ref": "areas" }, "type": "choices", "choices": { "labels": ["A", "B"], "other": "C" } },
                { "field": { "id": "f7", "type": "date", "ref": "start" }, "type": "date", "date": "2026-02-01" },
                { "field": { "id": "f8", "type": "multiple_choice" }, "type": "choice", "choice": { "other": "Mine" } }
            ]
        });
        let r = response_record(&item);
        let a = r.get("answers");
        assert_eq!(r.get("response_id"), &Value::text("r1"));
        assert_eq!(r.get("hidden").get("client_id"), &Value::text("c-42"));
        assert!(matches!(r.get("submitted_at"), Value::DateTime(_)));
        assert_eq!(a.get("name"), &Value::text("Ada"));
        assert_eq!(a.get("email"), &Value::text("ada@x.example"));
        assert_eq!(a.get("overall"), &Value::Number(4.0));
        assert_eq!(a.get("newsletter"), &Value::Bool(true));
        assert_eq!(a.get("budget"), &Value::text("Not sure yet"));
        assert_eq!(
            a.get("areas"),
            &Value::List(vec![Value::text("A"), Value::text("B"), Value::text("C")])
        );
        assert_eq!(
            a.get("start"),
            &Value::Date(NaiveDate::from_ymd_opt(2026, 2, 1).unwrap())
        );
        assert_eq!(a.get("f8"), &Value::text("Mine"));
    }
}
