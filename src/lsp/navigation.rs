//! Go to definition, find references and rename, all answered from the index.

use std::collections::HashMap;

use lsp_types::{
    GotoDefinitionResponse, Location, PrepareRenameResponse, Range, TextEdit, Url, WorkspaceEdit,
};

use crate::diagnostic::FileId;
use crate::syntax::Span;

use super::completion::RESERVED;
use super::index::{SymbolKind, Target};
use super::line_index::LineIndex;
use super::workspace::ProjectState;
use super::Cursor;

fn location(state: &ProjectState, file: FileId, span: Span) -> Option<Location> {
    let uri = Url::from_file_path(state.path(file)).ok()?;
    let range = LineIndex::new(state.text(file)).range(span);
    Some(Location { uri, range })
}

pub(crate) fn definition(cursor: &Cursor<'_>) -> Option<GotoDefinitionResponse> {
    let state = cursor.state;
    let occurrence = state.index.at(cursor.file, cursor.offset)?;
    let location = match &occurrence.target {
        Target::Symbol(s) => {
            let symbol = &state.index.symbols[*s];
            location(state, symbol.file, symbol.span)?
        }
        Target::Module(file) => location(state, *file, Span::default())?,
        Target::Action { .. } | Target::Property { .. } => return None,
    };
    Some(GotoDefinitionResponse::Scalar(location))
}

pub(crate) fn references(cursor: &Cursor<'_>, include_declaration: bool) -> Option<Vec<Location>> {
    let state = cursor.state;
    let occurrence = state.index.at(cursor.file, cursor.offset)?;
    let target = occurrence.target.clone();
    let locations = state
        .index
        .occurrences
        .iter()
        .filter(|o| o.target == target && (include_declaration || !o.declaration))
        .filter_map(|o| location(state, o.file, o.span))
        .collect();
    Some(locations)
}

/// The step or let under the cursor, which is what can be renamed.
fn renamable(cursor: &Cursor<'_>) -> Result<(usize, Span), String> {
    let state = cursor.state;
    let occurrence = state
        .index
        .at(cursor.file, cursor.offset)
        .ok_or_else(|| "nothing to rename here: put the cursor on a step or let name".to_string())?;
    match occurrence.target {
        Target::Symbol(s) if matches!(state.index.symbols[s].kind, SymbolKind::Step | SymbolKind::Let) => {
            Ok((s, occurrence.span))
        }
        Target::Symbol(s) => Err(format!(
            "only steps and lets can be renamed, not a {}",
            state.index.symbols[s].kind.noun()
        )),
        _ => Err("only steps and lets can be renamed".to_string()),
    }
}

pub(crate) fn prepare_rename(cursor: &Cursor<'_>) -> Option<PrepareRenameResponse> {
    let (_, span) = renamable(cursor).ok()?;
    let range: Range = LineIndex::new(cursor.text()).range(span);
    Some(PrepareRenameResponse::Range(range))
}

pub(crate) fn rename(cursor: &Cursor<'_>, new_name: &str) -> Result<WorkspaceEdit, String> {
    let state = cursor.state;
    let (symbol, _) = renamable(cursor)?;
    let valid = new_name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && new_name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid || RESERVED.contains(&new_name) {
        return Err(format!(
            "`{new_name}` is not a valid name: use letters, digits and `_`, not starting with a digit, and no reserved word"
        ));
    }
    let old = &state.index.symbols[symbol];
    let clash = state
        .index
        .symbols
        .iter()
        .any(|s| s.parent == old.parent && s.name == new_name && s.kind != SymbolKind::Input);
    if clash {
        return Err(format!("`{new_name}` is already declared in this flow"));
    }
    let mut changes: HashMap<Url, Vec<TextEdit>> = HashMap::new();
    for o in state.index.occurrences_of(symbol) {
        let Some(location) = location(state, o.file, o.span) else {
            continue;
        };
        // `foo(name)` means `foo(name: name)`: the argument keeps its name.
        let text = if o.shorthand {
            format!("{}: {new_name}", old.name)
        } else {
            new_name.to_string()
        };
        changes
            .entry(location.uri)
            .or_default()
            .push(TextEdit::new(location.range, text));
    }
    Ok(WorkspaceEdit {
        changes: Some(changes),
        ..WorkspaceEdit::default()
    })
}
