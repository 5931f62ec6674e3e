//! What a step's call names: a connector action (E0205, E0206), a flow of this file or of a
//! `use`d module (E0210), and what calling a sub-flow gives.

use crate::contract::ActionSpec;
use crate::diagnostic::{Code, Diagnostic};
use crate::syntax::ast::{self, Call, ExprKind};
use crate::types::{Field, Type};

use super::flow::FlowChecker;
use super::suggest;

/// What a call names.
#[derive(Clone, Copy)]
pub(crate) enum Target<'a> {
    Action(&'a str, &'a ActionSpec),
    Flow(&'a ast::Flow),
    Unknown,
}

impl<'a> FlowChecker<'_, 'a> {
    /// Resolves the callee of `call`, reporting what does not exist.
    pub fn resolve_call(&mut self, call: &'a Call) -> Target<'a> {
        let cx = self.cx;
        let module = self.module;
        match call.callee.as_slice() {
            [] => Target::Unknown,
            [name] => match module.flows.get(name.name.as_str()) {
                Some(flow) => Target::Flow(flow),
                None => {
                    let help = if cx.manifests.manifest(&name.name).is_some() {
                        format!(
                            "`{}` is a connector: call one of its actions, e.g. `{}.action(...)`",
                            name.name, name.name
                        )
                    } else if let Some(other) = cx
                        .modules
                        .iter()
                        .find(|m| m.flows.contains_key(name.name.as_str()))
                    {
                        let path = other.parsed.module_path.replace('/', ".");
                        let alias = path.rsplit('.').next().unwrap_or(&path).to_string();
                        format!(
                            "`{}` is in module `{path}`: add `use {path}` and call `{alias}.{}(...)`",
                            name.name, name.name
                        )
                    } else {
                        suggest::help_or(&name.name, module.flows.keys().copied(), || {
                            "call a flow of this file by its name, a flow of another module as `module.flow(...)`, or a connector action as `connector.action(...)`".to_string()
                        })
                    };
                    self.push(
                        Diagnostic::new(
                            Code::UnknownFlow,
                            self.file,
                            name.span,
                            format!("unknown flow `{}`", name.name),
                        )
                        .label("no flow with this name in this file")
                        .help(help),
                    );
                    Target::Unknown
                }
            },
            [first, second] => {
                if let Some(used) = cx.used_module(module, &first.name) {
                    return match used.flows.get(second.name.as_str()) {
                        Some(flow) => Target::Flow(flow),
                        None => {
                            let help = suggest::help_or(&second.name, used.flows.keys().copied(), || {
                                let mut names: Vec<&str> = used.flows.keys().copied().collect();
                                names.sort_unstable();
                                format!("its flows are {}", suggest::list(names))
                            });
                            self.push(
                                Diagnostic::new(
                                    Code::UnknownFlow,
                                    self.file,
                                    second.span,
                                    format!("module `{}` has no flow `{}`", first.name, second.name),
                                )
                                .label("not a flow of this module")
                                .help(help),
                            );
                            Target::Unknown
                        }
                    };
                }
                let declared_use = module
                    .parsed
                    .ast
                    .items
                    .iter()
                    .any(|i| matches!(i, ast::Item::Use(u) if u.name().name == first.name));
                if declared_use {
                    // The `use` itself is reported (E0211); do not pile a second error on each call.
                    return Target::Unknown;
                }
                match cx.manifests.manifest(&first.name) {
                    Some(manifest) => match manifest.action(&second.name) {
                        Some(spec) => Target::Action(&manifest.name, spec),
                        None => {
                            let names: Vec<&str> = manifest.actions.iter().map(|a| a.name.as_str()).collect();
                            let help = suggest::help_or(&second.name, names.iter().copied(), || {
                                format!("`{}` has {}", first.name, suggest::list(&names))
                            });
                            self.push(
                                Diagnostic::new(
                                    Code::UnknownAction,
                                    self.file,
                                    second.span,
                                    format!("connector `{}` has no action `{}`", first.name, second.name),
                                )
                                .label("unknown action")
                                .help(help),
                            );
                            Target::Unknown
                        }
                    },
                    None => {
                        let mut candidates: Vec<&str> = cx.manifests.names().collect();
                        candidates.extend(module.uses.keys().copied());
                        let unimported = cx
                            .modules
                            .iter()
                            .find(|m| m.parsed.module_path.rsplit('/').next() == Some(first.name.as_str()));
                        let help = match unimported {
                            Some(m) => format!(
                                "to call a flow of module `{}`, add `use {}` at the top of the file",
                                m.parsed.module_path.replace('/', "."),
                                m.parsed.module_path.replace('/', ".")
                            ),
                            None => suggest::help_or(&first.name, candidates, || {
                                let names: Vec<&str> = cx.manifests.names().collect();
                                format!(
                                    "connectors are {}; modules are called through a `use`",
                                    suggest::list(names)
                                )
                            }),
                        };
                        self.push(
                            Diagnostic::new(
                                Code::UnknownConnector,
                                self.file,
                                first.span,
                                format!("unknown connector `{}`", first.name),
                            )
                            .label("no connector or `use` has this name")
                            .help(help),
                        );
                        Target::Unknown
                    }
                }
            }
            [first, .., last] => {
                let path: Vec<&str> = call.callee[..call.callee.len() - 1]
                    .iter()
                    .map(|i| i.name.as_str())
                    .collect();
                let span = first.span.to(call.callee[call.callee.len() - 2].span);
                self.push(
                    Diagnostic::new(
                        Code::UnknownFlow,
                        self.file,
                        span,
                        format!("`{}` is not a connector or a `use` name", path.join(".")),
                    )
                    .label("calls go through one name")
                    .help(format!(
                        "add `use {}` and call `{}.{}(...)`",
                        path.join("."),
                        path.last().copied().unwrap_or(""),
                        last.name
                    )),
                );
                Target::Unknown
            }
        }
    }
}

/// What calling `flow` as a sub-flow gives: its output record's fields when written as a record.
pub(crate) fn subflow_output(flow: &ast::Flow) -> Type {
    match flow.output.as_ref().map(|o| &o.value.kind) {
        Some(ExprKind::Record(fields)) => Type::Record {
            fields: fields
                .iter()
                .map(|f| {
                    (
                        f.name.name.clone(),
                        Field {
                            ty: Type::Any,
                            optional: false,
                        },
                    )
                })
                .collect(),
            open: false,
        },
        _ => Type::Any,
    }
}
