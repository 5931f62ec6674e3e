//! Formatting through `flowc fmt`'s formatter: one edit replacing the whole text.

use lsp_types::{Range, TextEdit};

use crate::diagnostic::FileId;
use crate::syntax::Span;

use super::line_index::LineIndex;
use super::workspace::ProjectState;

/// The edits that format `file`; `None` while it has syntax errors (the diagnostics say where)
/// or is formatted already.
pub(crate) fn format(state: &ProjectState, file: FileId) -> Option<Vec<TextEdit>> {
    let text = state.text(file);
    let formatted = crate::syntax::format(text).ok()?;
    if formatted == text {
        return Some(Vec::new());
    }
    let range: Range = LineIndex::new(text).range(Span::new(0, text.len()));
    Some(vec![TextEdit::new(range, formatted)])
}
