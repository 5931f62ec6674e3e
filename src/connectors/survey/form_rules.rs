//! What the Typeform Create API accepts in a form definition, written for the emulator from
//! Typeform's reference and not shared with the connector's template rules: a test of the
//! connector against the emulator must compare two readings of the documentation, not one.

/// Every field type the Create API documents (`fields[].type`), not only those the connector's
/// templates use: a form the connector sends with another type must still be judged by
/// Typeform's list, not by the connector's.
pub(super) const DOCUMENTED_FIELD_TYPES: &[&str] = &[
    "calendly",
    "contact_info",
    "date",
    "dropdown",
    "email",
    "file_upload",
    "group",
    "inline_group",
    "legal",
    "long_text",
    "matrix",
    "multi_format",
    "multiple_choice",
    "nps",
    "number",
    "opinion_scale",
    "payment",
    "phone_number",
    "picture_choice",
    "ranking",
    "rating",
    "short_text",
    "statement",
    "website",
    "yes_no",
];

/// A field's `ref`: "readable name you can use to reference the field", unique in the form, at
/// most 255 characters of letters, digits, `_` and `-`.
pub(super) fn is_field_ref(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 255
        && text
            .bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'-'))
}

/// A hidden field name as Typeform keeps it: lowercase letters, digits and `_`.
pub(super) fn is_hidden_name(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_and_hidden_names() {
        assert!(is_field_ref("full_name") && is_field_ref("Q-1"));
        assert!(!is_field_ref("") && !is_field_ref("a b") && !is_field_ref(&"x".repeat(256)));
        assert!(is_hidden_name("client_id") && !is_hidden_name("ClientId") && !is_hidden_name(""));
        assert!(DOCUMENTED_FIELD_TYPES.contains(&"picture_choice"));
    }
}
