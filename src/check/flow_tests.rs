//! Flow tests: the flow under test exists (E0210), stubs and expectations name its steps (E0215)
//! and known actions or sub-flows, error classes exist (E0214), the input fits the flow's input.

use crate::contract::ErrorClass;
use crate::diagnostic::{Code, Diagnostic, Diagnostics, FileId};
use crate::syntax::ast::{self, Expr, ExprKind, Ident, StrPart, StubOutcome, StubTarget, TestItem};
use crate::syntax::Span;

use super::context::{Context, ModuleInfo};
use super::policies::class_names;
use super::scope::{DeclKind, Scope};
use super::suggest;

/// Checks the flow tests of `module`.
pub(crate) fn check_module<'a>(cx: &Context<'a>, module: &ModuleInfo<'a>, diagnostics: &mut Diagnostics) {
    for item in &module.parsed.ast.items {
        if let ast::Item::Test(test) = item {
            check_test(cx, module, test, diagnostics);
        }
    }
}

fn find_flow<'c, 'a>(
    cx: &'c Context<'a>,
    module: &'c ModuleInfo<'a>,
    name: &str,
) -> Option<(&'c ModuleInfo<'a>, &'a ast::Flow)> {
    if let Some(flow) = module.flows.get(name) {
        return Some((module, flow));
    }
    cx.modules.iter().find_map(|m| m.flows.get(name).map(|f| (m, *f)))
}

fn check_test<'a>(
    cx: &Context<'a>,
    module: &ModuleInfo<'a>,
    test: &'a ast::Test,
    diagnostics: &mut Diagnostics,
) {
    let file = module.file();
    let target = find_flow(cx, module, &test.flow.name);
    if target.is_none() && !test.flow.name.is_empty() {
        let names: Vec<&str> = cx.modules.iter().flat_map(|m| m.flows.keys().copied()).collect();
        diagnostics.push(
            Diagnostic::new(
                Code::UnknownFlow,
                file,
                test.flow.span,
                format!("unknown flow `{}`", test.flow.name),
            )
            .label("no flow in the project has this name")
            .help(suggest::help_or(&test.flow.name, names, || {
                "a test names the flow it runs: `test \"...\" for flow_name { ... }`".to_string()
            })),
        );
    }
    let scope = target.map(|(_, flow)| Scope::collect(flow, file, &mut Diagnostics::new()));
    let steps: Vec<&str> = scope
        .as_ref()
        .map(|s| {
            s.decls
                .iter()
                .filter(|d| matches!(d.kind, DeclKind::Step(_)))
                .map(|d| d.name.name.as_str())
                .collect()
        })
        .unwrap_or_default();
    let check_step = |name: &Ident, diagnostics: &mut Diagnostics| {
        let Some((_, flow)) = target else { return };
        if steps.contains(&name.name.as_str()) {
            return;
        }
        diagnostics.push(
            Diagnostic::new(
                Code::UnknownStep,
                file,
                name.span,
                format!("flow `{}` has no step `{}`", flow.name.name, name.name),
            )
            .label("unknown step")
            .help(suggest::help_or(&name.name, steps.iter().copied(), || {
                format!("its steps are {}", suggest::list(&steps))
            })),
        );
    };
    for item in &test.items {
        match item {
            TestItem::Input(expr) => {
                if let Some((_, flow)) = target {
                    check_input(flow, expr, file, diagnostics);
                }
            }
            TestItem::Start(at) => {
                if chrono::DateTime::parse_from_rfc3339(&at.value).is_err() {
                    diagnostics.push(
                        Diagnostic::new(
                            Code::TypeMismatch,
                            file,
                            at.span,
                            format!("`{}` is not a datetime", at.value),
                        )
                        .label("expected an RFC 3339 datetime")
                        .help("write it as `\"2026-01-05T09:00:00Z\"`"),
                    );
                }
            }
            TestItem::Stub(stub) => {
                match &stub.target {
                    StubTarget::Step(name) => check_step(name, diagnostics),
                    StubTarget::Action(path) => {
                        check_action(cx, module, target.map(|t| t.0), path, file, diagnostics)
                    }
                }
                for outcome in &stub.outcomes {
                    if let StubOutcome::Fails { class, .. } = outcome {
                        if ErrorClass::from_name(&class.name).is_none() {
                            diagnostics.push(
                                Diagnostic::new(
                                    Code::UnknownErrorClass,
                                    file,
                                    class.span,
                                    format!("unknown error class `{}`", class.name),
                                )
                                .label("not an error class")
                                .help(suggest::help_or(
                                    &class.name,
                                    class_names().iter().copied(),
                                    || format!("error classes are {}", suggest::list(class_names())),
                                )),
                            );
                        }
                    }
                }
            }
            TestItem::Event(_) => {}
            TestItem::Expect(expect) => match &expect.kind {
                ast::ExpectKind::Step(name, _) => check_step(name, diagnostics),
                ast::ExpectKind::Call { action, .. } | ast::ExpectKind::NoCall(action) => {
                    check_action(cx, module, target.map(|t| t.0), action, file, diagnostics)
                }
                ast::ExpectKind::That(expr) => {
                    if let Some(scope) = &scope {
                        let mut names = Vec::new();
                        root_names(expr, &mut names);
                        for (name, span) in names {
                            if matches!(name, "output" | "status" | "input")
                                || scope.by_name.contains_key(name)
                            {
                                continue;
                            }
                            let mut candidates = vec!["output", "status"];
                            candidates.extend(steps.iter().copied());
                            diagnostics.push(
                                Diagnostic::new(
                                    Code::UnknownName,
                                    file,
                                    span,
                                    format!("unknown name `{name}` in an expectation"),
                                )
                                .label("not `output`, `status` or a step")
                                .help(suggest::help_or(
                                    name,
                                    candidates,
                                    || {
                                        "expectations read `output`, `status` and the flow's steps"
                                            .to_string()
                                    },
                                )),
                            );
                        }
                    }
                }
            },
        }
    }
}

/// A stubbed or expected call: a connector action, or a sub-flow as the flow calls it.
fn check_action(
    cx: &Context<'_>,
    test_module: &ModuleInfo<'_>,
    flow_module: Option<&ModuleInfo<'_>>,
    path: &[Ident],
    file: FileId,
    diagnostics: &mut Diagnostics,
) {
    let modules: Vec<&ModuleInfo<'_>> = flow_module
        .into_iter()
        .chain(std::iter::once(test_module))
        .collect();
    match path {
        [name] => {
            if modules.iter().any(|m| m.flows.contains_key(name.name.as_str())) {
                return;
            }
            diagnostics.push(
                Diagnostic::new(Code::UnknownFlow, file, name.span, format!("unknown flow `{}`", name.name))
                    .label("not a flow of this file")
                    .help("stub a connector action as `connector.action` or a sub-flow by the name the flow calls it with"),
            );
        }
        [first, second] => {
            if let Some(used) = modules.iter().find_map(|m| cx.used_module(m, &first.name)) {
                if !used.flows.contains_key(second.name.as_str()) {
                    diagnostics.push(
                        Diagnostic::new(
                            Code::UnknownFlow,
                            file,
                            second.span,
                            format!("module `{}` has no flow `{}`", first.name, second.name),
                        )
                        .label("not a flow of this module")
                        .help(suggest::help_or(
                            &second.name,
                            used.flows.keys().copied(),
                            || "check the flow's name".to_string(),
                        )),
                    );
                }
                return;
            }
            match cx.manifests.manifest(&first.name) {
                Some(manifest) => {
                    if manifest.action(&second.name).is_none() {
                        let names: Vec<&str> = manifest.actions.iter().map(|a| a.name.as_str()).collect();
                        diagnostics.push(
                            Diagnostic::new(
                                Code::UnknownAction,
                                file,
                                second.span,
                                format!("connector `{}` has no action `{}`", first.name, second.name),
                            )
                            .label("unknown action")
                            .help(suggest::help_or(
                                &second.name,
                                names.iter().copied(),
                                || format!("`{}` has {}", first.name, suggest::list(&names)),
                            )),
                        );
                    }
                }
                None => {
                    let names: Vec<&str> = cx.manifests.names().collect();
                    diagnostics.push(
                        Diagnostic::new(
                            Code::UnknownConnector,
                            file,
                            first.span,
                            format!("unknown connector `{}`", first.name),
                        )
                        .label("no connector or `use` has this name")
                        .help(suggest::help_or(
                            &first.name,
                            names.iter().copied(),
                            || format!("connectors are {}", suggest::list(&names)),
                        )),
                    );
                }
            }
        }
        _ => {}
    }
}

fn check_input(flow: &ast::Flow, expr: &Expr, file: FileId, diagnostics: &mut Diagnostics) {
    let ExprKind::Record(fields) = &expr.kind else {
        return;
    };
    let declared: Vec<&ast::FieldDecl> = flow.input.iter().flat_map(|i| &i.fields).collect();
    let names: Vec<&str> = declared.iter().map(|f| f.name.name.as_str()).collect();
    for field in fields {
        if !names.contains(&field.name.name.as_str()) {
            diagnostics.push(
                Diagnostic::new(
                    Code::UnknownField,
                    file,
                    field.name.span,
                    format!(
                        "flow `{}` has no input field `{}`",
                        flow.name.name, field.name.name
                    ),
                )
                .label("unknown input field")
                .help(suggest::help_or(&field.name.name, names.iter().copied(), || {
                    format!("its input fields are {}", suggest::list(&names))
                })),
            );
        }
    }
    let missing: Vec<&str> = declared
        .iter()
        .filter(|f| !f.ty.optional && f.default.is_none())
        .map(|f| f.name.name.as_str())
        .filter(|n| !fields.iter().any(|f| f.name.name == *n))
        .collect();
    if !missing.is_empty() {
        diagnostics.push(
            Diagnostic::new(
                Code::MissingArgument,
                file,
                expr.span,
                format!(
                    "test input lacks {} of flow `{}`",
                    suggest::list(&missing),
                    flow.name.name
                ),
            )
            .label("required input missing")
            .help(format!(
                "add {} to the test's `input`",
                missing
                    .iter()
                    .map(|m| format!("`{m}: ...`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        );
    }
}

/// The bare names an expression reads (not field names, not function names).
fn root_names<'e>(expr: &'e Expr, out: &mut Vec<(&'e str, Span)>) {
    match &expr.kind {
        ExprKind::Name(n) => out.push((n, expr.span)),
        ExprKind::Field(base, _) => root_names(base, out),
        ExprKind::Index(a, b) => {
            root_names(a, out);
            root_names(b, out);
        }
        ExprKind::Call(_, args) | ExprKind::List(args) => args.iter().for_each(|a| root_names(a, out)),
        ExprKind::Record(fields) => fields.iter().for_each(|f| root_names(&f.value, out)),
        ExprKind::Unary(_, e) => root_names(e, out),
        ExprKind::Binary(_, a, b) => {
            root_names(a, out);
            root_names(b, out);
        }
        ExprKind::If(a, b, c) => {
            root_names(a, out);
            root_names(b, out);
            root_names(c, out);
        }
        ExprKind::Match(v, arms) => {
            root_names(v, out);
            arms.iter().for_each(|(_, e)| root_names(e, out));
        }
        ExprKind::Str(parts) => parts.iter().for_each(|p| {
            if let StrPart::Expr(e) = p {
                root_names(e, out)
            }
        }),
        _ => {}
    }
}
