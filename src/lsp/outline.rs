//! The outline of one file: entities with their databases and settings, flows with their
//! inputs, steps and lets, templates and tests.

use lsp_types::{DocumentSymbol, DocumentSymbolResponse, SymbolKind as LspKind};

use crate::diagnostic::FileId;

use super::index::{Index, Symbol, SymbolKind};
use super::line_index::LineIndex;
use super::workspace::ProjectState;

pub(crate) fn symbols(state: &ProjectState, file: FileId) -> DocumentSymbolResponse {
    let lines = LineIndex::new(state.text(file));
    let index = &state.index;
    let top = index
        .symbols
        .iter()
        .enumerate()
        .filter(|(_, s)| s.file == file && s.parent.is_none())
        .map(|(i, s)| tree(index, &lines, i, s))
        .collect();
    DocumentSymbolResponse::Nested(top)
}

fn tree(index: &Index, lines: &LineIndex<'_>, i: usize, symbol: &Symbol) -> DocumentSymbol {
    let children: Vec<DocumentSymbol> = index
        .children(i)
        .filter(|(_, s)| s.kind != SymbolKind::LoopVar)
        .map(|(c, s)| tree(index, lines, c, s))
        .collect();
    // The selection must lie inside the whole range; a recovered tree may break that.
    let full = symbol.full.to(symbol.span);
    #[allow(deprecated)] // `deprecated` is a required field of the struct
    DocumentSymbol {
        name: symbol.name.clone(),
        detail: Some(symbol.kind.noun().to_string()),
        kind: match symbol.kind {
            SymbolKind::Entity => LspKind::NAMESPACE,
            SymbolKind::Database => LspKind::STRUCT,
            SymbolKind::Setting => LspKind::CONSTANT,
            SymbolKind::Template => LspKind::STRING,
            SymbolKind::Flow => LspKind::FUNCTION,
            SymbolKind::Step => LspKind::EVENT,
            SymbolKind::Let => LspKind::VARIABLE,
            SymbolKind::Input => LspKind::FIELD,
            SymbolKind::LoopVar => LspKind::VARIABLE,
            SymbolKind::Test => LspKind::METHOD,
        },
        tags: None,
        deprecated: None,
        range: lines.range(full),
        selection_range: lines.range(symbol.span),
        children: (!children.is_empty()).then_some(children),
    }
}
