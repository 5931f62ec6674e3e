//! Habits from other languages, reported and repaired to what a `.flow` file writes: `#`
//! comments and single quotes.

use super::text::Text;
use super::Edits;
use crate::diagnostic::{Code, Diagnostic};
use crate::syntax::Span;

pub(super) fn hash_comment(text: &mut Text, edits: &mut Edits) {
    let start = text.at;
    let end = text.line_end(start);
    let end = if end > start && text.bytes[end - 1] == b'\r' {
        end - 1
    } else {
        end
    };
    edits.push(
        Diagnostic::new(
            Code::HashComment,
            edits.file,
            Span::new(start, start + 1),
            "`#` does not start a comment in a `.flow` file",
        )
        .label("a comment from another language")
        .help("write `//` for a comment"),
    );
    // Keep multi-byte characters whole: every byte of the comment becomes a space.
    edits.blank(start, end);
    text.comments.push((start, end));
    text.at = end;
}

pub(super) fn single_quoted(text: &mut Text, edits: &mut Edits) {
    let start = text.at;
    let end = text.line_end(start);
    let close = text.bytes[start + 1..end]
        .iter()
        .position(|&b| b == b'\'')
        .map(|i| start + 1 + i);
    match close {
        Some(close) if !text.bytes[start + 1..close].contains(&b'"') => {
            let quoted = &text.source[start..=close];
            edits.push(
                Diagnostic::new(
                    Code::SingleQuotes,
                    edits.file,
                    Span::new(start, close + 1),
                    "strings are written in double quotes",
                )
                .label("single quotes")
                .help(format!("write `\"{}\"`", &quoted[1..quoted.len() - 1])),
            );
            edits.replace(start, b'"');
            edits.replace(close, b'"');
            text.at = close + 1;
        }
        _ => text.at += 1,
    }
}
