//! What every name of a project is and where it is written: the table behind go to definition,
//! find references, rename, hover and the outline. Built from the parsed project after each change.

use crate::diagnostic::FileId;
use crate::syntax::Span;

/// What kind of declaration a symbol is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SymbolKind {
    Entity,
    Database,
    Setting,
    Template,
    Flow,
    Step,
    Let,
    Input,
    LoopVar,
    Test,
}

impl SymbolKind {
    pub(crate) fn noun(self) -> &'static str {
        match self {
            SymbolKind::Entity => "entity",
            SymbolKind::Database => "database",
            SymbolKind::Setting => "setting",
            SymbolKind::Template => "template",
            SymbolKind::Flow => "flow",
            SymbolKind::Step => "step",
            SymbolKind::Let => "let",
            SymbolKind::Input => "input",
            SymbolKind::LoopVar => "loop variable",
            SymbolKind::Test => "test",
        }
    }
}

/// One declaration.
#[derive(Clone, Debug)]
pub(crate) struct Symbol {
    pub kind: SymbolKind,
    pub name: String,
    pub file: FileId,
    /// The name where it is declared.
    pub span: Span,
    /// The whole declaration (for the outline).
    pub full: Span,
    /// `///` lines.
    pub docs: Vec<String>,
    /// The flow (or entity) it belongs to, as a symbol index.
    pub parent: Option<usize>,
    /// Where the name is visible, for loop variables (the loop's body); `None` for everywhere
    /// its parent is.
    pub visible: Option<Span>,
    /// Steps: the database a Notion call's `db:` names (its result is a page or pages of it); loop
    /// variables: that of the step whose pages they go over.
    pub database: Option<String>,
    /// Steps: the callee (`notion.get_page`, `surveys.send_and_wait`).
    pub callee: Option<String>,
    /// Flows: the entity they run for.
    pub entity: Option<String>,
}

/// What a place in the text stands for.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Target {
    /// A declared name.
    Symbol(usize),
    /// A connector action (`notion.create_page`).
    Action { connector: String, action: String },
    /// A `use`d module, by file.
    Module(FileId),
    /// A Notion property of a database.
    Property {
        entity: String,
        database: String,
        property: String,
    },
}

/// One place where a name is written.
#[derive(Clone, Debug)]
pub(crate) struct Occurrence {
    pub file: FileId,
    pub span: Span,
    pub target: Target,
    /// The declaration itself (not a use).
    pub declaration: bool,
    /// Written as `name` alone for `name: name` (an argument or record field): a rename must keep
    /// the field name.
    pub shorthand: bool,
}

/// The symbols and occurrences of a project.
#[derive(Default, Debug)]
pub(crate) struct Index {
    pub symbols: Vec<Symbol>,
    pub occurrences: Vec<Occurrence>,
}

impl Index {
    /// The innermost occurrence at `offset` of `file` (a cursor just after a name is on it).
    pub(crate) fn at(&self, file: FileId, offset: usize) -> Option<&Occurrence> {
        let offset = offset as u32;
        self.occurrences
            .iter()
            .filter(|o| o.file == file && o.span.start <= offset && offset <= o.span.end)
            .min_by_key(|o| o.span.len())
    }

    /// Every occurrence of symbol `symbol`, its declaration included.
    pub(crate) fn occurrences_of(&self, symbol: usize) -> impl Iterator<Item = &Occurrence> {
        self.occurrences
            .iter()
            .filter(move |o| o.target == Target::Symbol(symbol))
    }

    /// The flow whose declaration covers `offset` of `file`.
    pub(crate) fn enclosing(&self, file: FileId, offset: usize, kind: SymbolKind) -> Option<usize> {
        let offset = offset as u32;
        self.symbols
            .iter()
            .position(|s| s.kind == kind && s.file == file && s.full.start <= offset && offset <= s.full.end)
    }

    /// The symbols visible inside flow `flow` at `offset`: its steps, lets, inputs and the loop
    /// variables whose loop body holds `offset`.
    pub(crate) fn in_scope(&self, flow: usize, offset: usize) -> impl Iterator<Item = &Symbol> {
        let offset = offset as u32;
        self.symbols.iter().filter(move |s| {
            s.parent == Some(flow)
                && matches!(s.kind, SymbolKind::Step | SymbolKind::Let | SymbolKind::LoopVar)
                && s.visible.is_none_or(|v| v.start <= offset && offset <= v.end)
        })
    }

    /// The top-level symbols of one kind.
    pub(crate) fn of_kind(&self, kind: SymbolKind) -> impl Iterator<Item = (usize, &Symbol)> {
        self.symbols
            .iter()
            .enumerate()
            .filter(move |(_, s)| s.kind == kind)
    }

    /// The children of symbol `parent`.
    pub(crate) fn children(&self, parent: usize) -> impl Iterator<Item = (usize, &Symbol)> {
        self.symbols
            .iter()
            .enumerate()
            .filter(move |(_, s)| s.parent == Some(parent))
    }
}
