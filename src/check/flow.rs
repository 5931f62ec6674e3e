//! Checks one flow: the typing walk's state ([`FlowChecker`]), which walks the flow's input,
//! statements and handler in order ([`super::input`], [`super::statements`]), typing every
//! expression and recording what each step uses, into the [`TypedFlow`]; then the passes over it.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use crate::diagnostic::{Code, Diagnostic, Diagnostics, FileId};
use crate::syntax::ast::{self, Expr};
use crate::syntax::Span;
use crate::types::Type;

use super::context::{Context, ModuleInfo};
use super::grants::AccessUse;
use super::handler_values::{HandlerWalk, Unset};
use super::maybe_none::NoneUse;
use super::outside_blocks::OutsideUse;
use super::scope::{DeclKind, Scope};
use super::typed::TypedFlow;

/// A name bound inside a block: a fan-out's loop variable, `event` in a `where`, `error`.
pub(crate) struct Local<'a> {
    pub name: &'a str,
    pub ty: Type,
    /// For loop variables: the list iterated (to know which entities a loop over entities visits).
    pub over: Option<&'a Expr>,
}

/// The state of checking one flow.
pub(crate) struct FlowChecker<'c, 'a> {
    pub cx: &'c Context<'a>,
    pub module: &'c ModuleInfo<'a>,
    pub flow: &'a ast::Flow,
    pub file: FileId,
    pub source: &'a str,
    pub diagnostics: &'c mut Diagnostics,
    /// Above zero while working out a type ahead of the main walk: nothing is reported then.
    pub quiet: u32,
    pub scope: Scope<'a>,
    pub types: Vec<Option<Rc<Type>>>,
    pub in_progress: Vec<bool>,
    pub used: Vec<bool>,
    /// Shared, so reading `input.x` does not copy the whole input record.
    pub input_type: Rc<Type>,
    pub input_used: HashSet<&'a str>,
    pub input_whole_used: bool,
    /// An unknown `input.x` was reported: the unused-field warning would only repeat it.
    pub input_typo: bool,
    /// The type of the flow's `output`, once the walk has met it.
    pub output_type: Option<Rc<Type>>,
    pub entity: Option<&'a ast::Entity>,
    pub locals: Vec<Local<'a>>,
    /// The declaration whose expressions are being walked (references become its dependencies).
    pub current: Option<usize>,
    /// Every declaration reference seen, in order (a mark into it gives an expression's references).
    pub captured: Vec<(usize, Span)>,
    /// References every declaration walked now depends on (conditions of enclosing branches).
    pub ctx_deps: Vec<(usize, Span)>,
    /// Dependencies of each declaration: (declaration, where it is referenced).
    pub edges: Vec<Vec<(usize, Span)>>,
    /// The values yielded by the fallback and fan-out blocks being walked.
    pub yields: Vec<Vec<Type>>,
    /// How deep the expression being typed is nested, and whether that was too deep once.
    pub depth: u32,
    pub too_deep: bool,
    /// Inside `secret_headers:`, whose values name environment variables rather than hold secrets.
    pub in_secret_names: bool,
    /// Words on the lines that did not parse: a name declared there is missing from the tree,
    /// so "unknown" errors about it would only repeat the syntax error.
    pub broken_words: HashSet<&'a str>,
    /// The conditional blocks the walk is in (see [`super::scope::Decl::branches`]).
    pub branches: Vec<u32>,
    /// The fan-out bodies the walk is in, by the start of their span.
    pub loops: Vec<u32>,
    /// Names and field paths known not to be none here (after `if x != none`).
    pub narrowed: Vec<String>,
    /// `if` blocks under the same condition (`if not duplicate { } ... if not duplicate { }`)
    /// run together: each block's id → the id of the first such block, and condition → that id.
    pub same_branch: HashMap<u32, u32>,
    pub branch_by_condition: HashMap<String, u32>,
    /// Per declaration: set before anything in the body can fail (safe to read in `on error`).
    pub set_before_failure: Vec<Unset>,
    /// Where the walk is with respect to `on error` (E0306).
    pub handler: HandlerWalk,
    /// What the passes over the typed flow report from: the accesses calls need (E0600), the
    /// values given where none fails (E0302), the uses outside a fan-out or fallback (E0303,
    /// E0307). Recorded only by the main walk, not while a type is worked out ahead of it.
    pub accesses: Vec<AccessUse<'a>>,
    pub none_uses: Vec<NoneUse>,
    pub outside_uses: Vec<OutsideUse<'a>>,
}

/// Checks `flow` of `module`: types it, then runs the passes over the typed flow.
pub(crate) fn check_flow<'a>(
    cx: &Context<'a>,
    module: &ModuleInfo<'a>,
    flow: &'a ast::Flow,
    diagnostics: &mut Diagnostics,
) {
    let typed = type_flow(cx, module, flow, diagnostics);
    super::maybe_none::check(&typed, diagnostics);
    super::outside_blocks::check(&typed, diagnostics);
    super::grants::check(&typed, cx, diagnostics);
    super::handler_values::check(&typed, diagnostics);
    super::policies::check(&typed, diagnostics);
    super::cycles::check(&typed, diagnostics);
    super::warnings::check_unused(&typed, diagnostics);
}

/// Types `flow` of `module` (reporting what is wrong on the way) into a [`TypedFlow`].
pub(crate) fn type_flow<'a>(
    cx: &Context<'a>,
    module: &ModuleInfo<'a>,
    flow: &'a ast::Flow,
    diagnostics: &mut Diagnostics,
) -> TypedFlow<'a> {
    let file = module.file();
    let source: &'a str = &cx.project.sources.get(file).text;
    let scope = Scope::collect(flow, file, diagnostics);
    let n = scope.decls.len();
    let set_before_failure = super::handler_values::set_before_failure(flow, &scope);
    let entity = cx.entity(&flow.entity.name);
    let mut checker = FlowChecker {
        cx,
        module,
        flow,
        file,
        source,
        diagnostics,
        quiet: 0,
        scope,
        types: vec![None; n],
        in_progress: vec![false; n],
        used: vec![false; n],
        input_type: Rc::new(Type::record([])),
        input_used: HashSet::new(),
        input_whole_used: false,
        input_typo: false,
        output_type: None,
        entity,
        locals: Vec::new(),
        current: None,
        captured: Vec::new(),
        ctx_deps: Vec::new(),
        edges: vec![Vec::new(); n],
        yields: Vec::new(),
        depth: 0,
        too_deep: false,
        in_secret_names: false,
        broken_words: broken_words(source, &module.parsed.syntax),
        branches: Vec::new(),
        loops: Vec::new(),
        narrowed: Vec::new(),
        same_branch: HashMap::new(),
        branch_by_condition: HashMap::new(),
        set_before_failure,
        handler: HandlerWalk::default(),
        accesses: Vec::new(),
        none_uses: Vec::new(),
        outside_uses: Vec::new(),
    };
    checker.run();
    checker.typed()
}

impl<'c, 'a> FlowChecker<'c, 'a> {
    /// Reports `diagnostic` unless a type is being worked out ahead of the walk.
    pub fn push(&mut self, diagnostic: Diagnostic) {
        if self.quiet == 0 {
            self.diagnostics.push(diagnostic);
        }
    }

    /// `span` without the whitespace and commas the grammar lets trail a statement.
    pub fn trim(&self, span: Span) -> Span {
        trim(self.source, span)
    }

    /// The source text of `span`.
    pub fn text(&self, span: Span) -> &'a str {
        self.source.get(span.range()).unwrap_or("")
    }

    fn run(&mut self) {
        let flow = self.flow;
        if self.entity.is_none() && !flow.entity.name.is_empty() {
            let names: Vec<&str> = self.cx.entities.keys().copied().collect();
            self.push(
                Diagnostic::new(
                    Code::UnknownEntity,
                    self.file,
                    flow.entity.span,
                    format!("unknown entity `{}`", flow.entity.name),
                )
                .label("no entity has this name")
                .help(super::suggest::help_or(&flow.entity.name, names, || {
                    format!(
                        "declare it with `entity {} {{ databases ... }}`",
                        flow.entity.name
                    )
                })),
            );
        }
        self.check_input();
        super::triggers::check_flow_triggers(self);
        self.walk_block(&flow.body, false);
        if let Some(output) = &flow.output {
            self.output_type = Some(Rc::new(self.infer(&output.value)));
        }
        if let Some(handler) = &flow.on_error {
            self.locals.push(Local {
                name: "error",
                ty: error_type(),
                over: None,
            });
            self.handler.inside = true;
            self.walk_block(&handler.stmts, false);
            self.handler.inside = false;
            self.locals.pop();
        }
    }

    /// The type of declaration `index`, working it out now if the walk has not reached it.
    pub fn decl_type(&mut self, index: usize) -> Rc<Type> {
        if let Some(ty) = &self.types[index] {
            return Rc::clone(ty);
        }
        if self.in_progress[index] {
            return Rc::new(Type::Any);
        }
        // A forward reference: walk the declaration quietly now (its problems are reported when
        // the main walk reaches it), in the scope it is declared in.
        let saved_locals = std::mem::take(&mut self.locals);
        let saved_current = self.current.take();
        let saved_ctx = std::mem::take(&mut self.ctx_deps);
        let saved_narrowed = std::mem::take(&mut self.narrowed);
        let mark = self.captured.len();
        self.quiet += 1;
        let decl = &self.scope.decls[index];
        let (kind, loops, in_error) = (decl.kind, decl.loops.clone(), decl.in_error);
        let saved_branches = std::mem::replace(&mut self.branches, decl.branches.clone());
        let saved_handler = (
            std::mem::replace(&mut self.handler.inside, in_error),
            std::mem::take(&mut self.handler.tested),
        );
        let saved_loops =
            std::mem::replace(&mut self.loops, loops.iter().map(|f| f.body.span.start).collect());
        if in_error {
            self.locals.push(Local {
                name: "error",
                ty: error_type(),
                over: None,
            });
        }
        for fan_out in loops {
            let over = self.infer(&fan_out.over);
            self.locals.push(Local {
                name: &fan_out.var.name,
                ty: element_type(&over),
                over: Some(&fan_out.over),
            });
        }
        match kind {
            DeclKind::Step(step) => self.walk_step(step),
            DeclKind::Let(l) => self.walk_let(l),
        }
        self.quiet -= 1;
        self.captured.truncate(mark);
        self.locals = saved_locals;
        self.current = saved_current;
        self.ctx_deps = saved_ctx;
        self.narrowed = saved_narrowed;
        self.branches = saved_branches;
        self.loops = saved_loops;
        (self.handler.inside, self.handler.tested) = saved_handler;
        self.types[index].clone().unwrap_or_else(|| Rc::new(Type::Any))
    }

    /// Records that the declaration being walked uses declaration `index` at `span`.
    pub fn reference(&mut self, index: usize, span: Span) {
        self.used[index] = true;
        self.captured.push((index, span));
        if let Some(current) = self.current {
            self.edges[current].push((index, span));
        }
    }

    /// E0300 at `span`: `what`, found `found`.
    pub fn mismatch(&mut self, span: Span, found: &Type, what: &str, help: &str) {
        self.push(
            Diagnostic::new(
                Code::TypeMismatch,
                self.file,
                span,
                format!("{what}, found `{found}`"),
            )
            .label(format!("this is `{found}`"))
            .help(help.to_string()),
        );
    }

    pub fn expect_bool(&mut self, ty: &Type, span: Span, what: &str) {
        if !ty.assignable_to(&Type::Bool) {
            self.mismatch(
                span,
                ty,
                &format!("{what} must be `bool`"),
                "compare the value, e.g. `x == \"yes\"`, or use `x != none` to test for a value",
            );
        }
    }
}

/// `span` of `source` without the whitespace and commas the grammar lets trail a statement.
pub(crate) fn trim(source: &str, span: Span) -> Span {
    let text = source.get(span.range()).unwrap_or("");
    let kept = text.trim_end_matches(|c: char| c.is_whitespace() || c == ',' || c == ';');
    Span::new(span.start as usize, span.start as usize + kept.len())
}

/// The identifiers on every line with a syntax error.
fn broken_words<'a>(source: &'a str, syntax: &[Diagnostic]) -> HashSet<&'a str> {
    let mut words = HashSet::new();
    for d in syntax.iter().filter(|d| d.code == Code::SyntaxError) {
        // A recovered syntax error's span may start inside a character: back off to its start.
        let mut cut = (d.span.start as usize).min(source.len());
        while !source.is_char_boundary(cut) {
            cut -= 1;
        }
        let start = source[..cut].rfind('\n').map_or(0, |i| i + 1);
        let end = source[start..].find('\n').map_or(source.len(), |i| start + i);
        let line = source.get(start..end).unwrap_or("");
        words.extend(
            line.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| !w.is_empty()),
        );
    }
    words
}

/// The element type of a list type (`any` for anything else).
pub(crate) fn element_type(ty: &Type) -> Type {
    match ty.strip_optional() {
        Type::List { of } => (**of).clone(),
        _ => Type::Any,
    }
}

/// `error` in `on error`: the failed step and why.
fn error_type() -> Type {
    Type::open_record([
        ("step", Type::Text),
        ("message", Type::Text),
        ("class", Type::Text),
    ])
}
