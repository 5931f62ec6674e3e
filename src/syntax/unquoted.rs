//! Text of several words written without quotes after a `name:` (`priority: very high`): found
//! on the bytes before the grammar runs, because the grammar reads it as a name followed by a
//! missing comma (arguments) or as a second field (records), which both mislead.

/// Words that make `key: a b` an expression or a clause of flow rather than unquoted text.
const NOT_TEXT: &[&str] = &[
    "and",
    "or",
    "not",
    "in",
    "if",
    "else",
    "then",
    "true",
    "false",
    "none",
    "match",
    "for",
    "where",
    "with",
    "to",
    "by",
    "at",
    "after",
    "until",
    "times",
    "returns",
    "fails",
    "hangs",
    "verified",
    "unverified",
    "ran",
    "skipped",
    "failed",
];

/// Type names: `name: text optional` is a type written wrong, not text.
const TYPES: &[&str] = &["text", "email", "number", "bool", "date", "datetime", "duration"];

/// The words after the `:` at `colon`, when they are two or more plain words (letters, digits,
/// `_`, each starting with a letter) separated by spaces, the last one ending the value (a `,`,
/// a closing bracket, the end of the line or a comment follows). Returns their byte range.
pub(crate) fn words_after_colon(bytes: &[u8], colon: usize) -> Option<(usize, usize)> {
    let skip_blanks = |mut i: usize| {
        while i < bytes.len() && matches!(bytes[i], b' ' | b'\t') {
            i += 1;
        }
        i
    };
    let word_end = |i: usize| {
        let mut j = i;
        while j < bytes.len() && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_') {
            j += 1;
        }
        j
    };
    let start = skip_blanks(colon + 1);
    let mut at = start;
    let mut words = Vec::new();
    loop {
        if !bytes.get(at).is_some_and(u8::is_ascii_alphabetic) {
            return None;
        }
        let end = word_end(at);
        words.push(&bytes[at..end]);
        let next = skip_blanks(end);
        match bytes.get(next) {
            None | Some(b',' | b')' | b']' | b'}' | b'\n' | b'\r') => {
                return accept(&words).then_some((start, end));
            }
            Some(b'/') if bytes.get(next + 1) == Some(&b'/') => {
                return accept(&words).then_some((start, end));
            }
            // Another word after at least one blank.
            Some(_) if next > end => at = next,
            Some(_) => return None,
        }
    }
}

fn accept(words: &[&[u8]]) -> bool {
    let is = |w: &[u8], list: &[&str]| list.iter().any(|k| k.as_bytes() == w);
    words.len() >= 2 && !is(words[0], TYPES) && !words.iter().any(|w| is(w, NOT_TEXT))
}

/// The key written before the `:` at `colon` (`priority`, or `"Due Date"` with its quotes), if
/// it is a name or a string on the same line.
pub(crate) fn key_before_colon(text: &str, colon: usize) -> Option<&str> {
    let before = text.get(..colon)?.trim_end_matches([' ', '\t']);
    if let Some(inner) = before.strip_suffix('"') {
        let open = inner.rfind('"')?;
        return (!inner[open..].contains('\n')).then(|| &before[open..]);
    }
    let len: usize = before
        .chars()
        .rev()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .map(char::len_utf8)
        .sum();
    (len > 0).then(|| &before[before.len() - len..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Option<&str> {
        let colon = text.find(':')?;
        words_after_colon(text.as_bytes(), colon).map(|(s, e)| &text[s..e])
    }

    #[test]
    fn several_plain_words_ending_a_value_are_text() {
        assert_eq!(words("  priority: very high,"), Some("very high"));
        assert_eq!(words("{ Status: To Do }"), Some("To Do"));
        assert_eq!(
            words("  kind: first contact call // a comment"),
            Some("first contact call")
        );
        assert_eq!(words("  kind: a b\r\n"), Some("a b"));
    }

    #[test]
    fn expressions_types_and_missing_commas_are_not() {
        assert_eq!(words("  priority: high,"), None);
        assert_eq!(words("  ok: a and b,"), None);
        assert_eq!(words("  x: a b: 1"), None);
        assert_eq!(words("  x: contact.name other,"), None);
        assert_eq!(words("  name: text optional }"), None);
        assert_eq!(words("  wait: 2 days,"), None);
        assert_eq!(words("  x: f(a) b,"), None);
    }

    #[test]
    fn the_key_is_found_before_the_colon() {
        assert_eq!(key_before_colon("  priority: x", 10), Some("priority"));
        assert_eq!(key_before_colon("{ \"Due Date\" : x", 13), Some("\"Due Date\""));
        assert_eq!(key_before_colon("( : x", 2), None);
    }
}
