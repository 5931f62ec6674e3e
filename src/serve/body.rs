//! Webhook bodies: which are JSON, which are provider pings, and how a JSON body becomes a
//! flow's input (declared fields kept, PHP-style lists made lists, the rest ignored).

use serde_json::{Map, Value};

/// A body, read.
#[derive(Debug, PartialEq)]
pub(crate) enum Body {
    /// A JSON document.
    Json(Value),
    /// WooCommerce's activation ping: form-encoded `webhook_id=N`, unsigned, starting nothing.
    WooCommercePing,
}

/// Why a body cannot be taken.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum BodyError {
    /// Not JSON (answered 415).
    UnsupportedType(String),
    /// JSON that does not parse, or not an object (answered 400).
    Malformed(String),
}

/// Whether the request is WooCommerce's ping, recognised before any verification because
/// WooCommerce does not sign it.
pub(crate) fn is_woocommerce_ping(content_type: Option<&str>, body: &[u8]) -> bool {
    if media_type(content_type) != "application/x-www-form-urlencoded" {
        return false;
    }
    let pairs: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
    matches!(pairs.as_slice(), [(k, v)] if k == "webhook_id" && v.chars().all(|c| c.is_ascii_digit()))
}

fn media_type(content_type: Option<&str>) -> String {
    content_type
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Reads a verified body.
pub(crate) fn read(content_type: Option<&str>, body: &[u8]) -> Result<Body, BodyError> {
    if is_woocommerce_ping(content_type, body) {
        return Ok(Body::WooCommercePing);
    }
    let media = media_type(content_type);
    if media != "application/json" && !media.ends_with("+json") {
        let shown = if media.is_empty() {
            "none".to_string()
        } else {
            media
        };
        return Err(BodyError::UnsupportedType(format!(
            "the body must be JSON (Content-Type: application/json), not {shown}"
        )));
    }
    serde_json::from_slice(body)
        .map(Body::Json)
        .map_err(|e| BodyError::Malformed(format!("the body is not valid JSON: {e}")))
}

/// The flow input in `json`: only the `declared` top-level fields, with every PHP-style list
/// (`{"0": a, "1": b}`, how PHP's json_encode writes an array that lost an element or was
/// built with keys) turned into a list.
pub(crate) fn input(declared: &[String], json: Value) -> Result<Value, BodyError> {
    let Value::Object(obj) = json else {
        return Err(BodyError::Malformed("the body must be a JSON object".into()));
    };
    let kept: Map<String, Value> = obj
        .into_iter()
        .filter(|(k, _)| declared.iter().any(|d| d == k))
        .map(|(k, v)| (k, lists(v)))
        .collect();
    Ok(Value::Object(kept))
}

/// Turns objects keyed `"0"`..`"n-1"` into lists, at any depth. No flow input can declare a
/// record field named `0`, so no declared record is ever mistaken for a list.
fn lists(v: Value) -> Value {
    match v {
        Value::Object(obj) => {
            let indexed = !obj.is_empty() && obj.keys().enumerate().all(|(i, k)| k.parse::<usize>() == Ok(i));
            if indexed {
                Value::Array(obj.into_iter().map(|(_, v)| lists(v)).collect())
            } else {
                Value::Object(obj.into_iter().map(|(k, v)| (k, lists(v))).collect())
            }
        }
        Value::Array(items) => Value::Array(items.into_iter().map(lists).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn php_lists_become_lists_and_undeclared_fields_go() {
        let body = json!({
            "appointment": { "id": 7, "bookings": { "0": { "id": 1 }, "1": { "id": 2 } } },
            "bookings": { "0": { "payments": { "0": { "amount": 65 } } } },
            "_wpnonce": "abc"
        });
        let got = input(&["appointment".into(), "bookings".into()], body).unwrap();
        assert_eq!(
            got,
            json!({
                "appointment": { "id": 7, "bookings": [{ "id": 1 }, { "id": 2 }] },
                "bookings": [{ "payments": [{ "amount": 65 }] }]
            })
        );
    }

    #[test]
    fn objects_with_other_keys_stay_objects() {
        let body = json!({ "a": { "1": "x", "2": "y" }, "b": {} });
        let got = input(&["a".into(), "b".into()], body).unwrap();
        assert_eq!(got, json!({ "a": { "1": "x", "2": "y" }, "b": {} }));
    }

    #[test]
    fn content_types_are_sorted_out() {
        assert!(matches!(
            read(Some("application/json; charset=utf-8"), b"{}"),
            Ok(Body::Json(_))
        ));
        assert!(matches!(
            read(Some("text/plain"), b"{}"),
            Err(BodyError::UnsupportedType(_))
        ));
        assert!(matches!(read(None, b"{}"), Err(BodyError::UnsupportedType(_))));
        assert!(matches!(
            read(Some("application/json"), b"{"),
            Err(BodyError::Malformed(_))
        ));
        assert_eq!(
            read(Some("application/x-www-form-urlencoded"), b"webhook_id=17"),
            Ok(Body::WooCommercePing)
        );
        assert!(matches!(
            read(Some("application/x-www-form-urlencoded"), b"webhook_id=17&x=1"),
            Err(BodyError::UnsupportedType(_))
        ));
    }
}
