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
        let mut loops = Vec::new();
        scope.block(&flow.body, &mut loops, false, file, diagnostics);
        if let Some(handler) = &flow.on_error {
            scope.block(&handler.stmts, &mut loops, true, file, diagnostics);
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

    fn block(
        &mut self,
        stmts: &'a [Stmt],
        loops: &mut Vec<&'a ast::FanOut>,
        in_error: bool,
        file: FileId,
        diagnostics: &mut Diagnostics,
    ) {
        for stmt in stmts {
            match stmt {
                Stmt::Step(step) => {
                    self.add(
                        Decl {
                            name: &step.name,
                            kind: DeclKind::Step(step),
                            loops: loops.clone(),
                            in_error,
                        },
                        file,
                        diagnostics,
                    );
                    if let StepBody::FanOut(fan_out) = &step.body {
                        loops.push(fan_out);
                        self.block(&fan_out.body.stmts, loops, in_error, file, diagnostics);
                        loops.pop();
                    }
                    for policy in &step.policies {
                        if let Policy::Fallback(Fallback::Block(block)) = policy {
                            self.block(&block.stmts, loops, in_error, file, diagnostics);
                        }
                    }
                }
                Stmt::Let(l) => self.add(
                    Decl {
                        name: &l.name,
                        kind: DeclKind::Let(l),
                        loops: loops.clone(),
                        in_error,
                    },
                    file,
                    diagnostics,
                ),
                Stmt::If(i) => {
                    for (_, block) in &i.branches {
                        self.block(&block.stmts, loops, in_error, file, diagnostics);
                    }
                    if let Some(block) = &i.otherwise {
                        self.block(&block.stmts, loops, in_error, file, diagnostics);
                    }
                }
                Stmt::Match(m) => {
                    for arm in &m.arms {
                        self.block(&arm.body.stmts, loops, in_error, file, diagnostics);
                    }
                }
                _ => {}
            }
        }
    }
}
