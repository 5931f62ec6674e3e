//! Content hash of a bundle: sha256 of its canonical JSON without the `hash` field.

use sha2::{Digest, Sha256};

use super::plan::Bundle;

/// The hex sha256 of `bundle`'s JSON with the `hash` field removed. Map keys are sorted (the
/// bundle uses `BTreeMap`s) and struct fields keep their declaration order, so the same input
/// always gives the same text.
pub fn content_hash(bundle: &Bundle) -> String {
    let mut json = match serde_json::to_value(bundle) {
        Ok(json) => json,
        // Serialising plain data cannot fail; an empty hash would still never match a real one.
        Err(_) => return String::new(),
    };
    if let Some(obj) = json.as_object_mut() {
        obj.remove("hash");
    }
    let text = json.to_string();
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// The bundle as pretty JSON (what `flowc build` writes).
pub fn to_json(bundle: &Bundle) -> String {
    serde_json::to_string_pretty(bundle).unwrap_or_default()
}
