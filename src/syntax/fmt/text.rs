//! How literal text is written: escapes, quoted keys, numbers, names, indentation, and
//! raw (`"""`) and template strings that must read back as the same text.

use super::*;

pub(super) fn is_name(text: &str) -> bool {
    let mut chars = text.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Text inside `"..."`: escapes for what a string cannot hold as is. `{` is escaped where it
/// would otherwise open an interpolation (`{{`, or just before one).
pub(super) fn escape_text(text: &str, before_interpolation: bool, out: &mut String) {
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '{' if chars.peek() == Some(&'{') || (chars.peek().is_none() && before_interpolation) => {
                out.push_str("\\{")
            }
            c => out.push(c),
        }
    }
}

pub(super) fn quoted(text: &str) -> String {
    let mut out = String::from("\"");
    escape_text(text, false, &mut out);
    out.push('"');
    out
}

/// A field or record key: bare when it is a name, quoted otherwise (`."Full Name"`).
pub(super) fn key(name: &str) -> String {
    if is_name(name) {
        name.to_string()
    } else {
        quoted(name)
    }
}

pub(super) fn number(n: f64) -> String {
    format!("{n}")
}

pub(super) fn path(idents: &[Ident]) -> String {
    idents
        .iter()
        .map(|i| i.name.as_str())
        .collect::<Vec<_>>()
        .join(".")
}

pub(super) fn names(idents: &[Ident]) -> String {
    idents
        .iter()
        .map(|i| i.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn pad(level: usize) -> String {
    "  ".repeat(level)
}

/// A raw string body for `text` whose lines sit at `level`, closing quotes included, if the
/// parser's dedent gives `text` back exactly.
pub(super) fn raw_lines(text: &str, level: usize) -> Option<(Vec<String>, String)> {
    let content_pad = pad(level + 1);
    let (body, closed) = match text.strip_suffix('\n') {
        Some(body) => (body, true),
        None => (text, false),
    };
    let mut lines: Vec<String> = body
        .split('\n')
        .map(|l| {
            if l.is_empty() {
                String::new()
            } else {
                format!("{content_pad}{l}")
            }
        })
        .collect();
    let last = if closed {
        format!("{}\"\"\"", pad(level))
    } else {
        let last = lines.pop().unwrap_or_default();
        if last.ends_with('"') {
            return None;
        }
        format!("{last}\"\"\"")
    };
    let mut inner = String::from("\n");
    inner.push_str(&lines.join("\n"));
    if closed {
        if !lines.is_empty() {
            inner.push('\n');
        }
        inner.push_str(&pad(level));
    } else {
        if !lines.is_empty() {
            inner.push('\n');
        }
        inner.push_str(&last[..last.len() - 3]);
    }
    if inner.contains("\"\"\"") || dedent(&inner) != text {
        return None;
    }
    Some((lines, last))
}

/// `"""text"""` on one line, if that reads back as `text`.
pub(super) fn inline_raw(text: &str) -> Option<String> {
    let fits = !text.contains('\n')
        && !text.contains("\"\"\"")
        && !text.ends_with('"')
        && !text.starts_with('"')
        && dedent(text) == text;
    fits.then(|| format!("\"\"\"{text}\"\"\""))
}

/// Whether a template body can be written as `"..."` (one line; `\"` is its only escape).
pub(super) fn template_string(body: &str) -> Option<String> {
    if body.contains(['\n', '\r']) {
        return None;
    }
    let escaped = body.replace('"', "\\\"");
    // Read it back as the grammar does: `\` takes the next character whatever it is.
    let mut chars = escaped.chars();
    while let Some(c) = chars.next() {
        if c == '\\' && chars.next().is_none() {
            return None;
        }
    }
    (escaped.replace("\\\"", "\"") == body).then(|| format!("\"{escaped}\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_lines_round_trip_through_dedent() {
        for text in ["a\nb\n", "a\n  b\n", "a\n\nb\n", "a\nb", "  a\nb\n", "\na\n"] {
            assert!(raw_lines(text, 2).is_some(), "{text:?}");
        }
        assert!(raw_lines("a\nb\"", 1).is_none());
        assert!(raw_lines("a\n\"\"\"\n", 1).is_none());
    }

    #[test]
    fn template_strings_escape_quotes_only() {
        assert_eq!(
            template_string("say \"hi\"").as_deref(),
            Some("\"say \\\"hi\\\"\"")
        );
        assert_eq!(template_string("a\\"), None);
        assert_eq!(template_string("a\nb"), None);
    }

    #[test]
    fn braces_are_escaped_only_where_they_would_interpolate() {
        let mut out = String::new();
        escape_text("{a} {{b}}", false, &mut out);
        assert_eq!(out, "{a} \\{{b}}");
        let mut out = String::new();
        escape_text("x{", true, &mut out);
        assert_eq!(out, "x\\{");
    }

    #[test]
    fn keys_are_quoted_when_not_names() {
        assert_eq!(key("Full Name"), "\"Full Name\"");
        assert_eq!(key("status"), "status");
        assert_eq!(key("2x"), "\"2x\"");
    }
}
