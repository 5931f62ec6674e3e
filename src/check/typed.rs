//! The typed flow: one flow's steps and lets with their names resolved, their types worked out,
//! what each one reads and whether anything reads it, computed once by the typing walk
//! ([`super::flow`]). The passes that need the whole flow typed (cycles, unused names) are
//! functions over it, and editors read the types from it ([`flow_types`]).

use std::collections::HashSet;
use std::rc::Rc;

use crate::contract::Manifests;
use crate::diagnostic::{Diagnostics, FileId};
use crate::project::Project;
use crate::syntax::ast::{self, Ident, StepBody};
use crate::syntax::Span;
use crate::types::Type;

use super::callee::Target;
use super::flow::FlowChecker;
use super::grants::AccessUse;
use super::handler_values::Unset;
use super::maybe_none::NoneUse;
use super::outside_blocks::OutsideUse;
use super::scope::DeclKind;

/// One flow, typed.
pub(crate) struct TypedFlow<'a> {
    pub flow: &'a ast::Flow,
    pub file: FileId,
    pub decls: Vec<TypedDecl<'a>>,
    /// The `input` fields read by name, and whether `input` was read whole.
    pub input_used: HashSet<&'a str>,
    pub input_whole_used: bool,
    /// An unknown `input.x` was reported (an unused-field warning would repeat it).
    pub input_typo: bool,
    /// The type of its `output` (what a sub-flow call gives).
    pub output: Option<Rc<Type>>,
    /// The source text of its file.
    pub source: &'a str,
    /// Per declaration: whether it is set before anything in the body can fail.
    pub set_before_failure: Vec<Unset>,
    /// Reads in `on error` of declarations that may be unset there, untested, in walk order.
    pub handler_reads: Vec<(usize, Span)>,
    /// The flow's entity, when it exists.
    pub entity: Option<&'a ast::Entity>,
    /// The accesses to other entities' databases its calls need.
    pub accesses: Vec<AccessUse<'a>>,
    /// The values given where none fails at run time that may be none.
    pub none_uses: Vec<NoneUse>,
    /// The uses of steps and lets outside the fan-out or fallback they exist in.
    pub outside_uses: Vec<OutsideUse<'a>>,
}

impl TypedFlow<'_> {
    /// `span` without the whitespace and commas the grammar lets trail a statement.
    pub fn trim(&self, span: Span) -> Span {
        super::flow::trim(self.source, span)
    }
}

/// A step or let of a typed flow.
pub(crate) struct TypedDecl<'a> {
    pub name: &'a Ident,
    /// `step` or `let`.
    pub noun: &'static str,
    pub is_let: bool,
    pub ty: Rc<Type>,
    /// Whether anything reads it.
    pub used: bool,
    /// What it depends on (references, enclosing conditions, `after`), with where.
    pub depends_on: Vec<(usize, Span)>,
    /// For a step calling a connector action that only reads: the callee (`notion.query`).
    pub reads_only: Option<String>,
    /// The step, for a step.
    pub step: Option<&'a ast::Step>,
}

impl<'a> FlowChecker<'_, 'a> {
    /// The typed flow, once the walk is over.
    pub fn typed(&mut self) -> TypedFlow<'a> {
        let mut decls = Vec::with_capacity(self.scope.decls.len());
        for index in 0..self.scope.decls.len() {
            let (name, kind) = (self.scope.decls[index].name, self.scope.decls[index].kind);
            let reads_only = match kind {
                DeclKind::Step(ast::Step {
                    body: StepBody::Call(call),
                    ..
                }) => {
                    // Resolved again quietly: its problems were reported when the walk met it.
                    self.quiet += 1;
                    let target = self.resolve_call(call);
                    self.quiet -= 1;
                    match target {
                        Target::Action(_, spec) if !spec.side_effects => Some(call.callee_name()),
                        _ => None,
                    }
                }
                _ => None,
            };
            decls.push(TypedDecl {
                name,
                noun: self.scope.decls[index].noun(),
                is_let: matches!(kind, DeclKind::Let(_)),
                ty: self.types[index].clone().unwrap_or_else(|| Rc::new(Type::Any)),
                used: self.used[index],
                depends_on: std::mem::take(&mut self.edges[index]),
                reads_only,
                step: match kind {
                    DeclKind::Step(step) => Some(step),
                    DeclKind::Let(_) => None,
                },
            });
        }
        TypedFlow {
            flow: self.flow,
            file: self.file,
            decls,
            input_used: std::mem::take(&mut self.input_used),
            input_whole_used: self.input_whole_used,
            input_typo: self.input_typo,
            output: self.output_type.take(),
            source: self.source,
            set_before_failure: std::mem::take(&mut self.set_before_failure),
            handler_reads: std::mem::take(&mut self.handler.reads),
            entity: self.entity,
            accesses: std::mem::take(&mut self.accesses),
            none_uses: std::mem::take(&mut self.none_uses),
            outside_uses: std::mem::take(&mut self.outside_uses),
        }
    }
}

/// The type of one step or let, for editors.
#[derive(Clone, Debug, PartialEq)]
pub struct DeclType {
    /// The name.
    pub name: String,
    /// Where it is declared.
    pub span: Span,
    /// Its type as the checker worked it out.
    pub ty: Type,
}

/// The types of the steps and lets of every flow of `file`, by flow name, as the checker works
/// them out (what an editor shows on hover).
pub fn flow_types(
    project: &Project,
    manifests: &impl AsRef<Manifests>,
    file: FileId,
) -> Vec<(String, Vec<DeclType>)> {
    let cx = super::context::Context::new(project, manifests.as_ref());
    let Some(module) = cx.modules.iter().find(|m| m.file() == file) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in &module.parsed.ast.items {
        if let ast::Item::Flow(flow) = item {
            let mut ignored = Diagnostics::new();
            let typed = super::flow::type_flow(&cx, module, flow, &mut ignored);
            let decls = typed
                .decls
                .iter()
                .map(|d| DeclType {
                    name: d.name.name.clone(),
                    span: d.name.span,
                    ty: (*d.ty).clone(),
                })
                .collect();
            out.push((flow.name.name.clone(), decls));
        }
    }
    out
}

/// The type of what flow `name` of `file` outputs, as the checker works it out from the flow's
/// body (a sub-flow call is checked against the output's field names only; editors show this).
pub fn flow_output_type(
    project: &Project,
    manifests: &impl AsRef<Manifests>,
    file: FileId,
    name: &str,
) -> Option<Type> {
    let cx = super::context::Context::new(project, manifests.as_ref());
    let module = cx.modules.iter().find(|m| m.file() == file)?;
    let flow = module.flows.get(name)?;
    let mut ignored = Diagnostics::new();
    let typed = super::flow::type_flow(&cx, module, flow, &mut ignored);
    typed.output.map(|ty| (*ty).clone())
}
