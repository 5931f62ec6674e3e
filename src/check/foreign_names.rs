//! Built-in functions under the names other languages give them (`length`, `size`, `strlen`,
//! `toLowerCase`, `str`, `int`): what flowc calls the same thing, for the help of E0212 and of a
//! field read that is really a function (`items.length`).

/// (name elsewhere, flowc's built-in), names elsewhere lowercased without `_`.
const FOREIGN: &[(&str, &str)] = &[
    ("length", "len"),
    ("size", "len"),
    ("sizeof", "len"),
    ("strlen", "len"),
    ("lenght", "len"),
    ("tolowercase", "lower"),
    ("tolower", "lower"),
    ("lowercase", "lower"),
    ("downcase", "lower"),
    ("casefold", "lower"),
    ("touppercase", "upper"),
    ("toupper", "upper"),
    ("uppercase", "upper"),
    ("upcase", "upper"),
    ("strip", "trim"),
    ("trimspace", "trim"),
    ("title", "capitalize"),
    ("includes", "contains"),
    ("startswith", "starts_with"),
    ("endswith", "ends_with"),
    ("str", "text"),
    ("string", "text"),
    ("tostring", "text"),
    ("int", "number"),
    ("float", "number"),
    ("parseint", "number"),
    ("parsefloat", "number"),
    ("tonumber", "number"),
    ("sorted", "sort"),
    ("reversed", "reverse"),
    ("distinct", "unique"),
    ("uniq", "unique"),
    ("head", "first"),
    ("total", "sum"),
    ("strftime", "format_date"),
    ("formatdate", "format_date"),
];

/// flowc's built-in for `name` as other languages spell it (`length` → `len`).
pub(crate) fn builtin_for(name: &str) -> Option<&'static str> {
    let key: String = name
        .chars()
        .filter(|c| *c != '_')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    FOREIGN
        .iter()
        .find(|(foreign, _)| *foreign == key)
        .map(|(_, ours)| *ours)
}

#[cfg(test)]
mod tests {
    use super::builtin_for;

    #[test]
    fn other_languages_names_map_to_builtins() {
        assert_eq!(builtin_for("length"), Some("len"));
        assert_eq!(builtin_for("size"), Some("len"));
        assert_eq!(builtin_for("toLowerCase"), Some("lower"));
        assert_eq!(builtin_for("to_lower"), Some("lower"));
        assert_eq!(builtin_for("startsWith"), Some("starts_with"));
        assert_eq!(builtin_for("client"), None);
        for (_, ours) in super::FOREIGN {
            assert!(
                super::super::builtins::lookup(ours).is_some(),
                "`{ours}` is a built-in"
            );
        }
    }
}
