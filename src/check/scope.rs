//! The names of one flow: its steps and lets (one namespace for the whole flow, nested blocks
//! included), collected before anything is checked so references may point forward.

use std::collections::HashMap;

use crate::diagnostic::{Code, Diagnostic, Diagnostics, FileId};
use crate::syntax::ast::{self, Fallback, Ident, Policy, StepBody, Stmt};

/// A step or let.
pub(crate) struct Decl<'a> {
    pub name: &'a Ident,
    pub kind: DeclKind<'a>,
    /// The fan-outs around it, outermost first (their loop variables are in scope).
    pub loops: Vec<&'a ast::FanOut>,
    /// Declared inside `on error` (where `error` is in scope).
    pub in_error: bool,
    /// The conditional blocks around it (`if` branches, match arms, fallback blocks), by the
    /// start of their span: outside them the declaration may not have run, so it may be none.
    pub branches: Vec<u32>,
    /// The fallback blocks around it (by the start of their span, with the step each one stands
    /// in for): the declaration exists only inside them, as the runtime binds it only when the
    /// fallback ran (E0307).
    pub fallbacks: Vec<(u32, &'a Ident)>,
    /// The block whose statements run as one graph with it: `after` can name only steps of the
    /// same block.
    pub graph: Graph,
}

/// The blocks whose statements are scheduled together (the runtime's graphs): the flow's body
/// (with its `if` branches and match arms), `on error`, and each fan-out body or fallback block.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Graph {
    Body,
    Handler,
    /// A fan-out body or fallback block, by the start of its span.
    Block(u32),
}

/// What declares the name.
#[derive(Clone, Copy)]
pub(crate) enum DeclKind<'a> {
    Step(&'a ast::Step),
    Let(&'a ast::Let),
}

impl Decl<'_> {
    pub fn noun(&self) -> &'static str {
        match self.kind {
            DeclKind::Step(_) => "step",
            DeclKind::Let(_) => "let",
        }
    }
}

/// Every declaration of a flow, in source order, with the first one of each name.
pub(crate) struct Scope<'a> {
    pub decls: Vec<Decl<'a>>,
    pub by_name: HashMap<&'a str, usize>,
    /// Name span start → declaration (each declaration, duplicates included).
    pub by_position: HashMap<u32, usize>,
}

impl<'a> Scope<'a> {
    /// Collects the declarations of `flow`, reporting names declared twice (E0200).
    pub fn collect(flow: &'a ast::Flow, file: FileId, diagnostics: &mut Diagnostics) -> Scope<'a> {
        let mut scope = Scope {
            decls: Vec::new(),
            by_name: HashMap::new(),
            by_position: HashMap::new(),
        };
        let mut at = At {
            loops: Vec::new(),
            branches: Vec::new(),
            fallbacks: Vec::new(),
            graph: Graph::Body,
            in_error: false,
        };
        scope.block(&flow.body, &mut at, file, diagnostics);
        if let Some(handler) = &flow.on_error {
            at.in_error = true;
            at.graph = Graph::Handler;
            scope.block(&handler.stmts, &mut at, file, diagnostics);
        }
        scope
    }

    fn add(&mut self, decl: Decl<'a>, file: FileId, diagnostics: &mut Diagnostics) {
        let index = self.decls.len();
        let name = decl.name;
        if let Some(&first) = self.by_name.get(name.name.as_str()) {
            let first = &self.decls[first];
            diagnostics.push(
                Diagnostic::new(
                    Code::DuplicateName,
                    file,
                    name.span,
                    format!("`{}` is declared twice in this flow", name.name),
                )
                .label(format!("second {} `{}`", decl.noun(), name.name))
                .with(
                    first.name.span,
                    format!("first declared here as a {}", first.noun()),
                )
                .help(
                    "steps and lets share one namespace per flow, nested blocks included; rename one of them",
                ),
            );
        } else {
            self.by_name.insert(&name.name, index);
        }
        self.by_position.insert(name.span.start, index);
        self.decls.push(decl);
    }

    fn block(&mut self, stmts: &'a [Stmt], at: &mut At<'a>, file: FileId, diagnostics: &mut Diagnostics) {
        for stmt in stmts {
            match stmt {
                Stmt::Step(step) => {
                    self.add(at.decl(&step.name, DeclKind::Step(step)), file, diagnostics);
                    if let StepBody::FanOut(fan_out) = &step.body {
                        at.loops.push(fan_out);
                        let graph = std::mem::replace(&mut at.graph, Graph::Block(fan_out.body.span.start));
                        self.block(&fan_out.body.stmts, at, file, diagnostics);
                        at.graph = graph;
                        at.loops.pop();
                    }
                    for policy in &step.policies {
                        if let Policy::Fallback(Fallback::Block(block)) = policy {
                            at.fallbacks.push((block.span.start, &step.name));
                            let graph = std::mem::replace(&mut at.graph, Graph::Block(block.span.start));
                            self.branch(block, at, file, diagnostics);
                            at.graph = graph;
                            at.fallbacks.pop();
                        }
                    }
                }
                Stmt::Let(l) => self.add(at.decl(&l.name, DeclKind::Let(l)), file, diagnostics),
                Stmt::If(i) => {
                    for (_, block) in &i.branches {
                        self.branch(block, at, file, diagnostics);
                    }
                    if let Some(block) = &i.otherwise {
                        self.branch(block, at, file, diagnostics);
                    }
                }
                Stmt::Match(m) => {
                    for arm in &m.arms {
                        self.branch(&arm.body, at, file, diagnostics);
                    }
                }
                _ => {}
            }
        }
    }

    /// A block that may not run.
    fn branch(
        &mut self,
        block: &'a ast::Block,
        at: &mut At<'a>,
        file: FileId,
        diagnostics: &mut Diagnostics,
    ) {
        at.branches.push(block.span.start);
        self.block(&block.stmts, at, file, diagnostics);
        at.branches.pop();
    }
}

/// Where the walk of [`Scope::collect`] is: the blocks around the statement.
struct At<'a> {
    loops: Vec<&'a ast::FanOut>,
    branches: Vec<u32>,
    fallbacks: Vec<(u32, &'a Ident)>,
    graph: Graph,
    in_error: bool,
}

impl<'a> At<'a> {
    fn decl(&self, name: &'a Ident, kind: DeclKind<'a>) -> Decl<'a> {
        Decl {
            name,
            kind,
            loops: self.loops.clone(),
            in_error: self.in_error,
            branches: self.branches.clone(),
            fallbacks: self.fallbacks.clone(),
            graph: self.graph,
        }
    }
}
