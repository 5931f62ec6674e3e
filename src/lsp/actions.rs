//! Code actions: the checker's "did you mean `x`?" help applied as a quick fix.

use std::collections::HashMap;

use lsp_types::{
    CodeAction, CodeActionKind, CodeActionOrCommand, CodeActionParams, TextEdit, Url, WorkspaceEdit,
};

use crate::diagnostic::FileId;
use crate::syntax::Span;

use super::line_index::LineIndex;
use super::workspace::ProjectState;

pub(crate) fn fixes(
    state: &ProjectState,
    file: FileId,
    params: &CodeActionParams,
) -> Vec<CodeActionOrCommand> {
    let text = state.text(file);
    let lines = LineIndex::new(text);
    let (start, end) = (lines.offset(params.range.start), lines.offset(params.range.end));
    let Ok(uri) = Url::from_file_path(state.path(file)) else {
        return Vec::new();
    };
    state
        .diagnostics
        .iter()
        .filter(|d| d.file == file && d.span.start as usize <= end && start <= d.span.end as usize)
        .filter_map(|d| {
            let suggestion = suggestion(d.help.as_deref()?)?;
            let (span, replacement) = replacement(text, d.span, suggestion)?;
            let edit = TextEdit::new(lines.range(span), replacement);
            Some(CodeActionOrCommand::CodeAction(CodeAction {
                title: format!("replace with `{suggestion}`"),
                kind: Some(CodeActionKind::QUICKFIX),
                edit: Some(WorkspaceEdit {
                    changes: Some(HashMap::from([(uri.clone(), vec![edit])])),
                    ..WorkspaceEdit::default()
                }),
                is_preferred: Some(true),
                ..CodeAction::default()
            }))
        })
        .collect()
}

/// `x` of a help saying ``did you mean `x`?``.
fn suggestion(help: &str) -> Option<&str> {
    let rest = &help[help.find("did you mean `")? + "did you mean `".len()..];
    let name = &rest[..rest.find('`')?];
    (!name.is_empty()).then_some(name)
}

/// The word of `span` that the suggestion replaces (the one closest to it: a diagnostic may
/// cover `notion.get_pag` or a quoted property name) and its replacement text.
fn replacement(text: &str, span: Span, suggestion: &str) -> Option<(Span, String)> {
    let covered = text.get(span.range())?;
    let mut best: Option<(usize, Span, bool)> = None;
    let bytes = covered.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        let quoted = bytes[i] == b'"';
        if quoted {
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' {
                i += 1;
            }
            i = (i + 1).min(bytes.len());
        } else if bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' {
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
        } else {
            i += 1;
            continue;
        }
        let word = covered[start..i].trim_matches('"');
        let distance = strsim::damerau_levenshtein(&word.to_lowercase(), &suggestion.to_lowercase());
        if best.is_none_or(|(d, _, _)| distance < d) {
            let absolute = Span::new(span.start as usize + start, span.start as usize + i);
            best = Some((distance, absolute, quoted));
        }
    }
    let (_, span, quoted) = best?;
    let plain = suggestion
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && suggestion.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let text = if quoted || !plain {
        format!("\"{}\"", suggestion.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        suggestion.to_string()
    };
    Some((span, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_closest_word_keeping_quotes() {
        let text = r#"x = notion.get_pag(id: "Emial")"#;
        let span = Span::new(4, 18);
        assert_eq!(suggestion("did you mean `get_page`?"), Some("get_page"));
        assert_eq!(
            replacement(text, span, "get_page"),
            Some((Span::new(11, 18), "get_page".into()))
        );
        let quoted = Span::new(23, 30);
        assert_eq!(
            replacement(text, quoted, "Email"),
            Some((quoted, "\"Email\"".into()))
        );
        assert_eq!(suggestion("add a `db:` argument"), None);
    }
}
