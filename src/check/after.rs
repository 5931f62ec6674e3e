//! `after`: the steps a step waits for, recorded as its dependencies while the flow is typed
//! (E0215 for a name that is no step of the flow, E0400 for the step itself), of the same block:
//! the runtime schedules each fan-out body, fallback block and `on error` as a graph of its own,
//! so `after` across them cannot work (E0303 and E0307 into such a block, E0403 out of one).

use crate::diagnostic::{Code, Diagnostic};
use crate::syntax::ast::{self, Ident, Policy, StepBody};

use super::flow::FlowChecker;
use super::scope::{DeclKind, Graph};
use super::suggest;

impl<'a> FlowChecker<'_, 'a> {
    /// Records what the `after` policies of `step` name as its dependencies.
    pub fn walk_after(&mut self, step: &'a ast::Step) {
        for policy in &step.policies {
            if let Policy::After(names) = policy {
                self.check_after(step, names);
            }
        }
    }

    fn check_after(&mut self, step: &'a ast::Step, names: &'a [Ident]) {
        for name in names {
            match self.scope.by_name.get(name.name.as_str()) {
                Some(&index) => {
                    if name.name == step.name.name {
                        self.push(
                            Diagnostic::new(
                                Code::DependencyCycle,
                                self.file,
                                name.span,
                                format!("step `{}` cannot run after itself", name.name),
                            )
                            .label("the step itself")
                            .help("remove it from `after`"),
                        );
                    } else {
                        self.reference(index, name.span);
                        self.check_same_graph(step, name, index);
                    }
                }
                None if self.broken_words.contains(name.name.as_str()) => {}
                None => {
                    let candidates: Vec<&str> = self.scope.by_name.keys().copied().collect();
                    self.push(
                        Diagnostic::new(
                            Code::UnknownStep,
                            self.file,
                            name.span,
                            format!("unknown step `{}`", name.name),
                        )
                        .label("no step or let has this name")
                        .help(suggest::help_or(&name.name, candidates, || {
                            "`after` names steps of this flow".to_string()
                        })),
                    );
                }
            }
        }
    }

    /// E0303, E0307 or E0403: `after name` in `step`, where `name` (declaration `index`) is
    /// scheduled in another graph than `step`.
    fn check_same_graph(&mut self, step: &'a ast::Step, name: &'a Ident, index: usize) {
        let Some(&here) = self.scope.by_position.get(&step.name.span.start) else {
            return;
        };
        let (here, there) = (&self.scope.decls[here], &self.scope.decls[index]);
        if here.graph == there.graph {
            return;
        }
        let fan_out = there
            .loops
            .iter()
            .find(|f| !here.loops.iter().any(|h| std::ptr::eq(*h, **f)))
            .map(|f| f.body.span.start);
        let fallback = there
            .fallbacks
            .iter()
            .find(|f| !here.fallbacks.contains(f))
            .map(|f| f.0);
        let wanted = &name.name;
        let diagnostic = if let Some(block) = fan_out.or(fallback) {
            let owner = self.owner_of(block).unwrap_or("");
            let (code, message) = if fan_out.is_some() {
                (
                    Code::OutsideFanOut,
                    format!("step `{wanted}` runs once per item of the fan-out `{owner}` and does not exist outside it"),
                )
            } else {
                (
                    Code::OutsideFallback,
                    format!("step `{wanted}` exists only inside the fallback of step `{owner}`"),
                )
            };
            Diagnostic::new(code, self.file, name.span, message)
                .label("a step of another block")
                .with(there.name.span, format!("declared inside the block of `{owner}`"))
                .help(format!("wait for the whole block: `after {owner}`"))
        } else {
            let help = match here.graph {
                Graph::Block(block) => {
                    let owner = self.owner_of(block).unwrap_or("");
                    format!("a step waits only for steps of its own block; put `after {wanted}` on step `{owner}`, whose block this is")
                }
                Graph::Handler => "a step of `on error` waits only for steps of `on error`: the handler runs after the body stopped".to_string(),
                Graph::Body => "a step of the flow's body cannot wait for a step of `on error`, which runs only after the body stopped".to_string(),
            };
            Diagnostic::new(
                Code::InvalidPolicy,
                self.file,
                name.span,
                format!(
                    "step `{}` cannot wait for `{wanted}`, which is outside its block",
                    step.name.name
                ),
            )
            .label("a step of another block")
            .with(there.name.span, format!("`{wanted}` is declared here"))
            .help(help)
        };
        self.push(diagnostic);
    }

    /// The step whose fan-out body or fallback block starts at `block`.
    fn owner_of(&self, block: u32) -> Option<&'a str> {
        self.scope.decls.iter().find_map(|d| match d.kind {
            DeclKind::Step(s) => {
                let fan_out = matches!(&s.body, StepBody::FanOut(f) if f.body.span.start == block);
                let fallback = s
                    .policies
                    .iter()
                    .any(|p| matches!(p, Policy::Fallback(ast::Fallback::Block(b)) if b.span.start == block));
                (fan_out || fallback).then_some(s.name.name.as_str())
            }
            DeclKind::Let(_) => None,
        })
    }
}
