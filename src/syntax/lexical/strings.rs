//! Strings and comments, stepped over so that what they hold does not count as code: strings
//! left open and unquoted words are reported and repaired here.

use super::text::Text;
use super::Edits;
use crate::diagnostic::{Code, Diagnostic};
use crate::syntax::unquoted;
use crate::syntax::Span;

/// Closers a repair moved one byte right (to put a string's missing quote before them), at
/// their new place: they still close what their line opened.
pub(super) type Moved = Vec<(usize, u8)>;

pub(super) fn line_comment(text: &mut Text) {
    let end = text.line_end(text.at);
    text.comments.push((text.at, end));
    text.at = end;
}

pub(super) fn block_comment(text: &mut Text) {
    let start = text.at;
    let end = find(&text.bytes[start + 2..], b"*/").map_or(text.bytes.len(), |e| start + e + 4);
    text.comments.push((start, end));
    text.skip_to(end);
}

pub(super) fn raw_string(text: &mut Text, edits: &mut Edits) {
    let start = text.at;
    match find(&text.bytes[start + 3..], b"\"\"\"") {
        Some(e) => text.skip_to(start + 3 + e + 3),
        None => {
            edits.push(
                Diagnostic::new(
                    Code::UnclosedDelimiter,
                    edits.file,
                    Span::new(start, start + 3),
                    "this `\"\"\"` text is never closed",
                )
                .label("opened here")
                .help("add `\"\"\"` on its own line where the text ends"),
            );
            for _ in 0..3 {
                edits.append(b'"');
            }
            text.at = text.bytes.len();
        }
    }
}

/// Whether the word before the cursor is `subject`, `text`, `html`, `sms` or `slack`: a template part,
/// whose string is handlebars (its `{{ }}` are checked by the template checker, not here).
pub(super) fn after_template_part_kind(text: &Text) -> bool {
    let before = text.source[text.line_start..text.at].trim_end();
    ["subject", "text", "html", "sms", "slack"].iter().any(|kind| {
        before
            .strip_suffix(kind)
            .is_some_and(|rest| rest.is_empty() || rest.ends_with([' ', '\t']))
    })
}

/// A template part's one-line string: it ends at the next unescaped `"`.
pub(super) fn template_string(text: &mut Text, edits: &mut Edits) -> Moved {
    let start = text.at;
    text.at += 1;
    while text.at < text.bytes.len() {
        match text.bytes[text.at] {
            b'\\' => text.at += 2,
            b'"' => {
                text.at += 1;
                return Moved::new();
            }
            b'\n' => break,
            b'\r' if text.bytes.get(text.at + 1) == Some(&b'\n') => break,
            _ => text.at += 1,
        }
    }
    let end = text.at.min(text.bytes.len());
    unclosed_string(text, edits, start, end)
}

/// A `"` string, whose `{{ }}` interpolations may hold strings in turn. A string ends on its
/// line: one left open is closed before the closers that end the line's construct.
pub(super) fn string(text: &mut Text, edits: &mut Edits) -> Moved {
    let start = text.at;
    text.at += 1;
    // Nesting of interpolations (`{{`) inside this string, and where each open one began.
    let mut depth = 0usize;
    let mut opened: Vec<usize> = Vec::new();
    let mut in_string = true;
    while text.at < text.bytes.len() {
        let b = text.bytes[text.at];
        if b == b'\n' || (b == b'\r' && text.bytes.get(text.at + 1) == Some(&b'\n')) {
            break;
        }
        if in_string {
            match b {
                b'\\' => text.at += 2,
                b'"' if depth == 0 => {
                    text.at += 1;
                    return Moved::new();
                }
                b'"' => {
                    in_string = false;
                    text.at += 1;
                }
                b'{' if text.starts(b"{{") => {
                    depth += 1;
                    opened.push(text.at);
                    in_string = false;
                    text.at += 2;
                }
                _ => text.at += 1,
            }
        } else {
            match b {
                b'"' => {
                    in_string = true;
                    text.at += 1;
                }
                b'}' if text.starts(b"}}") => {
                    depth = depth.saturating_sub(1);
                    opened.pop();
                    in_string = true;
                    text.at += 2;
                }
                _ => text.at += 1,
            }
        }
    }
    let end = text.at.min(text.bytes.len());
    match opened.first() {
        Some(&open) => {
            unclosed_interpolation(text, edits, open, end);
            Moved::new()
        }
        None => unclosed_string(text, edits, start, end),
    }
}

/// `priority: very high`: several words after a `name:` that only make sense as text. The
/// first and last letters become the quotes of the repaired text (same length), and the
/// words as written are kept for the parser to read as the string meant.
pub(super) fn unquoted_words(text: &Text, edits: &mut Edits) {
    let Some((start, end)) = unquoted::words_after_colon(text.bytes, text.at) else {
        return;
    };
    let words = &text.source[start..end];
    let quoted = match unquoted::key_before_colon(text.source, text.at) {
        Some(key) => format!("{key}: \"{words}\""),
        None => format!("\"{words}\""),
    };
    edits.push(
        Diagnostic::new(
            Code::UnquotedText,
            edits.file,
            Span::new(start, end),
            format!("`{words}` needs quotes"),
        )
        .label("text written without quotes")
        .help(format!(
            "write `{quoted}`: text of several words is written in double quotes"
        )),
    );
    edits.replace(start, b'"');
    edits.replace(end - 1, b'"');
    edits.texts.push((start, words.to_string()));
}

/// A `{{` that no `}}` closes before the end of its line (`"Hi {{ name }"`): reported once,
/// at the `{{`. The interpolation is blanked out of the repaired text, so the grammar reads
/// a plain string and the rest of the line as code; left in, it made the string unreadable
/// and the recovery swallow braces across the rest of the file.
fn unclosed_interpolation(text: &mut Text, edits: &mut Edits, open: usize, end: usize) {
    edits.push(
        Diagnostic::new(
            Code::UnclosedDelimiter,
            edits.file,
            Span::new(open, open + 2),
            "this `{{` is never closed",
        )
        .label("the value put into the text starts here")
        .help("close it with `}}` where the value ends: `\"Hello {{ name }}\"`"),
    );
    let last_quote = text.bytes[open..end]
        .iter()
        .rposition(|&b| b == b'"')
        .map(|i| open + i);
    let resume = match last_quote {
        // The string's own closing quote is there: the text up to it is the string.
        Some(quote) => {
            edits.blank(open, quote);
            quote + 1
        }
        // No quote either: the string ends where the interpolation began, and its first
        // `}` is taken as its attempt at closing; what follows is code (`,`, `)`).
        None => {
            let through = text.bytes[open + 2..end]
                .iter()
                .position(|&b| b == b'}')
                .map_or(end, |i| open + 2 + i + 1);
            edits.replace(open, b'"');
            edits.blank(open + 1, through);
            through
        }
    };
    text.at = resume;
}

/// Closes the string opened at `start` that runs to `end` (its line's end): before a run of
/// closing brackets (and spaces) that ends the line, when the line opened that many.
fn unclosed_string(text: &mut Text, edits: &mut Edits, start: usize, end: usize) -> Moved {
    let bytes = text.bytes;
    let mut open = 0usize;
    for &b in &bytes[text.line_start..start] {
        match b {
            b'(' | b'[' | b'{' => open += 1,
            b')' | b']' | b'}' => open = open.saturating_sub(1),
            _ => {}
        }
    }
    let mut close_at = end;
    let mut closers = 0;
    while close_at > start + 1 && closers < open {
        match bytes[close_at - 1] {
            b')' | b']' | b'}' => closers += 1,
            b' ' | b'\t' => {}
            _ => break,
        }
        close_at -= 1;
    }
    while close_at < end && matches!(bytes[close_at], b' ' | b'\t') {
        close_at += 1;
    }
    let moved: Moved = (close_at..end)
        .filter(|&i| matches!(bytes[i], b')' | b']' | b'}'))
        .map(|i| (i + 1, bytes[i]))
        .collect();
    edits.push(
        Diagnostic::new(
            Code::UnclosedDelimiter,
            edits.file,
            Span::new(start, start + 1),
            "this string is never closed",
        )
        .label("the string starts here and runs to the end of the line")
        .help("add the closing `\"` where the text ends; a string stays on one line (use `\"\"\"` for several lines)"),
    );
    // Shift what follows the text one byte right over the line break (or append), and put
    // the quote where the text ends. Before `\r\n`, the `\r` is overwritten and the `\n` kept.
    for i in (close_at..end).rev() {
        edits.replace(i + 1, bytes[i]);
    }
    edits.replace(close_at, b'"');
    text.at = end;
    moved
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
