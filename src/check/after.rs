//! `after`: the steps a step waits for, recorded as its dependencies while the flow is typed
//! (E0215 for a name that is no step of the flow, E0400 for the step itself).

use crate::diagnostic::{Code, Diagnostic};
use crate::syntax::ast::{self, Ident, Policy};

use super::flow::FlowChecker;
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
}
