//! Step calls, once their callee is known ([`super::callee`]): the arguments (E0207, E0208,
//! E0300), databases (E0204), entities (E0203) and templates (E0209), and the accesses to other
//! entities' databases they need (for [`super::grants`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::diagnostic::{Code, Diagnostic};
use crate::syntax::ast::{self, Call, Expr, ExprKind};
use crate::syntax::Span;
use crate::types::Type;

use super::callee::{subflow_output, Target};
use super::flow::FlowChecker;
use super::suggest;
use super::type_expr;

struct ParamInfo<'p> {
    name: &'p str,
    ty: Type,
    required: bool,
}

impl<'a> FlowChecker<'_, 'a> {
    /// Checks a step's call and returns the type of its result.
    pub fn check_call(&mut self, call: &'a Call) -> Type {
        let target = self.resolve_call(call);
        let params: Option<Vec<ParamInfo<'a>>> = match target {
            Target::Action(_, spec) => Some(
                spec.params
                    .iter()
                    .map(|p| ParamInfo {
                        name: &p.name,
                        ty: p.ty.clone(),
                        required: p.required,
                    })
                    .collect(),
            ),
            Target::Flow(flow) => Some(
                flow.input
                    .iter()
                    .flat_map(|i| &i.fields)
                    .map(|f| ParamInfo {
                        name: &f.name.name,
                        ty: type_expr::to_type(&f.ty, &mut None),
                        required: !f.ty.optional && f.default.is_none(),
                    })
                    .collect(),
            ),
            Target::Unknown => None,
        };
        let callee = call.callee_name();

        // The acting entities first: the database and grant checks depend on them.
        let mut acting: Option<Vec<(&'a str, Span)>> = None;
        let mut seen: HashMap<&str, Span> = HashMap::new();
        let mut args: BTreeMap<&str, &'a ast::Arg> = BTreeMap::new();
        for arg in &call.args {
            if let Some(first) = seen.get(arg.name.name.as_str()) {
                let first = *first;
                self.push(
                    Diagnostic::new(
                        Code::DuplicateName,
                        self.file,
                        arg.name.span,
                        format!("argument `{}` is given twice", arg.name.name),
                    )
                    .label("second value")
                    .with(first, "first value")
                    .help("remove one of them"),
                );
                continue;
            }
            seen.insert(&arg.name.name, arg.name.span);
            args.insert(&arg.name.name, arg);
        }
        let param_of = |name: &str| params.as_ref().and_then(|ps| ps.iter().find(|p| p.name == name));
        if let Some(arg) = args.get("entity") {
            if param_of("entity").is_some_and(|p| p.ty == Type::Entity) {
                acting = self.check_entity_arg(&arg.value);
            }
        }
        let flow_entity: Option<(&'a str, Span)> =
            self.entity.map(|e| (e.name.name.as_str(), self.flow.entity.span));
        let has_entity_arg = args.contains_key("entity") && param_of("entity").is_some();
        let acting_or_own: Vec<(&'a str, Span)> = match &acting {
            Some(list) => list.clone(),
            // An entity computed at run time (already reported) could be any: check nothing.
            None if has_entity_arg => Vec::new(),
            None => flow_entity.into_iter().collect(),
        };

        let mut db_name: Option<&'a str> = None;
        // Parameters an unknown argument was probably meant as: not reported missing as well.
        let mut meant: Vec<&'a str> = Vec::new();
        for arg in &call.args {
            super::warnings::check_secret_field(self, &arg.name.name, &arg.value);
            let Some(params) = &params else {
                self.infer(&arg.value);
                continue;
            };
            let Some(param) = params.iter().find(|p| p.name == arg.name.name) else {
                self.infer(&arg.value);
                let names: Vec<&'a str> = params.iter().map(|p| p.name).collect();
                let close = suggest::closest(&arg.name.name, names.iter().copied())
                    .or_else(|| synonym(&arg.name.name).filter(|s| names.contains(s)));
                if let Some(close) = close {
                    meant.push(close);
                }
                let help = match close {
                    Some(name) => format!("did you mean `{name}`?"),
                    None if names.is_empty() => format!("`{callee}` takes no arguments"),
                    None => format!("`{callee}` takes {}", suggest::list(&names)),
                };
                self.push(
                    Diagnostic::new(
                        Code::UnknownArgument,
                        self.file,
                        arg.name.span,
                        format!("`{callee}` has no argument `{}`", arg.name.name),
                    )
                    .label("unknown argument")
                    .help(help),
                );
                continue;
            };
            match &param.ty {
                Type::Entity => {
                    // Checked above, before the others.
                }
                Type::Database => {
                    db_name = self.check_database_arg(&arg.value, &acting_or_own);
                }
                Type::Template => {
                    let ty = self.infer(&arg.value);
                    if let Some(name) = arg.value.as_plain_str() {
                        self.check_template_name(&name, arg.value.span);
                    } else if !ty.assignable_to(&Type::Text) {
                        self.mismatch(arg.value.span, &ty, &format!("argument `{}` must be a template name", param.name), "write the template's name as a string, e.g. `template: \"booking_confirmation\"`");
                    }
                }
                expected => {
                    let expected = expected.clone();
                    self.in_secret_names = arg.name.name == "secret_headers";
                    let found = self.infer(&arg.value);
                    self.in_secret_names = false;
                    if !found.assignable_to(&expected) {
                        let help = super::fix::help(&expected, &found, self.text(arg.value.span))
                            .unwrap_or_else(|| format!("pass a `{expected}` value"));
                        self.push(
                            Diagnostic::new(
                                Code::TypeMismatch,
                                self.file,
                                arg.value.span,
                                format!(
                                    "argument `{}` of `{callee}` must be `{expected}`, found `{found}`",
                                    param.name
                                ),
                            )
                            .label(format!("this is `{found}`"))
                            .help(help),
                        );
                    } else {
                        if param.required && !matches!(expected, Type::Optional { .. } | Type::Any) {
                            self.maybe_none(&arg.value, &found, &format!("argument `{}`", param.name));
                        }
                        self.check_email(&arg.value, &expected, &found, param.name);
                    }
                }
            }
        }
        if let Some(params) = &params {
            let missing: Vec<&str> = params
                .iter()
                .filter(|p| p.required && !args.contains_key(p.name) && !meant.contains(&p.name))
                .map(|p| p.name)
                .collect();
            if !missing.is_empty() {
                let fields = missing
                    .iter()
                    .map(|m| format!("{m}: ..."))
                    .collect::<Vec<_>>()
                    .join(", ");
                let message = if missing.len() == 1 {
                    format!("`{callee}` needs argument `{}`", missing[0])
                } else {
                    format!("`{callee}` needs arguments {}", suggest::list(&missing))
                };
                self.push(
                    Diagnostic::new(Code::MissingArgument, self.file, call.callee_span(), message)
                        .label(format!("missing {}", suggest::list(&missing)))
                        .help(format!("add `{fields}` to the call")),
                );
            }
        }

        match target {
            Target::Action(connector, spec) => {
                if let Some(template_arg) = args.get("template") {
                    if spec
                        .param_spec("template")
                        .is_some_and(|p| p.ty == Type::Template)
                    {
                        self.check_template_vars(template_arg, args.get("with").copied());
                    }
                }
                if let Some(access) = spec.access {
                    if let (Some(list), 0) = (&acting, self.quiet) {
                        self.accesses.push(super::grants::AccessUse {
                            acting: list.clone(),
                            access,
                            db: db_name,
                            callee: callee.clone(),
                        });
                    }
                }
                if connector == "notion" {
                    self.check_notion_properties(&args, db_name, &acting_or_own);
                }
                self.check_phone_numbers(connector, &args);
                self.check_channel_message(connector, call, &args);
                spec.output.clone()
            }
            Target::Flow(flow) => subflow_output(flow),
            Target::Unknown => Type::Any,
        }
    }

    /// Whether `name` means something in this flow other than a project-wide name.
    pub fn is_local_name(&self, name: &str) -> bool {
        self.locals.iter().any(|l| l.name == name)
            || self.scope.by_name.contains_key(name)
            || matches!(name, "input" | "entity")
    }

    fn check_entity_arg(&mut self, value: &'a Expr) -> Option<Vec<(&'a str, Span)>> {
        if let Some(name) = value.as_name() {
            if !self.is_local_name(name) && !self.cx.entities.contains_key(name) {
                let names: Vec<&str> = self.cx.entities.keys().copied().collect();
                self.push(
                    Diagnostic::new(
                        Code::UnknownEntity,
                        self.file,
                        value.span,
                        format!("unknown entity `{name}`"),
                    )
                    .label("no entity has this name")
                    .help(suggest::help_or(name, names, || {
                        format!("declare it with `entity {name} {{ ... }}`")
                    })),
                );
                return None;
            }
        }
        self.infer(value);
        let entities = self.static_entities(value, 0);
        if entities.is_none() {
            self.push(
                Diagnostic::new(
                    Code::DynamicEntity,
                    self.file,
                    value.span,
                    "the `entity:` of a call must be known before the flow runs",
                )
                .label("computed at run time")
                .help("name the entity (`entity: the_7_space`), or go over a list of entity names with `for e in [a, b] { ... }`"),
            );
        }
        entities
    }

    /// The database an argument names, reporting one that the acting entities do not declare.
    fn check_database_arg(&mut self, value: &'a Expr, acting: &[(&'a str, Span)]) -> Option<&'a str> {
        let name: &'a str = match &value.kind {
            ExprKind::Name(n) if !self.is_local_name(n) => n,
            ExprKind::Str(parts) if parts.len() <= 1 => match parts.first() {
                Some(ast::StrPart::Text(t)) => t,
                _ => return None,
            },
            _ => {
                let ty = self.infer(value);
                if !ty.assignable_to(&Type::Database) {
                    self.mismatch(
                        value.span,
                        &ty,
                        "argument `db` must be a database",
                        "name one of the entity's databases, e.g. `db: ContactProfile`",
                    );
                }
                return None;
            }
        };
        for &(entity_name, _) in acting {
            let Some(entity) = self.cx.entity(entity_name) else {
                continue;
            };
            if entity.databases.iter().any(|d| d.name == name) {
                continue;
            }
            let names: Vec<&str> = entity.databases.iter().map(|d| d.name.as_str()).collect();
            let help = suggest::help_or(name, names.iter().copied(), || {
                if names.is_empty() {
                    format!("declare it in `entity {entity_name} {{ databases {name} }}`")
                } else {
                    format!(
                        "`{entity_name}` declares {}; add `{name}` to its `databases` if it exists",
                        suggest::list(&names)
                    )
                }
            });
            self.push(
                Diagnostic::new(
                    Code::UnknownDatabase,
                    self.file,
                    value.span,
                    format!("entity `{entity_name}` has no database `{name}`"),
                )
                .label(format!("not a database of `{entity_name}`"))
                .help(help),
            );
        }
        Some(name)
    }

    fn check_template_name(&mut self, name: &str, span: Span) {
        if self.cx.templates.contains_key(name) {
            return;
        }
        let names: Vec<&str> = self.cx.templates.keys().copied().collect();
        self.push(
            Diagnostic::new(
                Code::UnknownTemplate,
                self.file,
                span,
                format!("unknown template `{name}`"),
            )
            .label("no `template` has this name")
            .help(suggest::help_or(name, names, || {
                format!("declare it with `template {name} {{ subject \"...\" text \"\"\"...\"\"\" }}`")
            })),
        );
    }

    fn check_template_vars(&mut self, template_arg: &'a ast::Arg, with: Option<&'a ast::Arg>) {
        let cx = self.cx;
        let Some(name) = template_arg.value.as_plain_str() else {
            return;
        };
        let Some(info) = cx.templates.get(name.as_str()) else {
            return;
        };
        if self.quiet > 0 {
            return;
        }
        match with {
            None => super::templates::check_with(info, None, template_arg.span, self.file, self.diagnostics),
            Some(with) => {
                let provided: Option<BTreeSet<&str>> = match &with.value.kind {
                    ExprKind::Record(fields) => Some(fields.iter().map(|f| f.name.name.as_str()).collect()),
                    _ => None,
                };
                match provided {
                    Some(p) => super::templates::check_with(
                        info,
                        Some(&p),
                        with.value.span,
                        self.file,
                        self.diagnostics,
                    ),
                    None => {
                        // A record value from elsewhere: only a closed record's fields are known.
                        let mark = self.captured.len();
                        let saved = self.current.take();
                        self.quiet += 1;
                        let ty = self.infer(&with.value);
                        self.quiet -= 1;
                        self.current = saved;
                        self.captured.truncate(mark);
                        if let Type::Record { fields, open: false } = ty.strip_optional() {
                            let p: BTreeSet<&str> = fields.keys().map(String::as_str).collect();
                            super::templates::check_with(
                                info,
                                Some(&p),
                                with.value.span,
                                self.file,
                                self.diagnostics,
                            );
                        }
                    }
                }
            }
        }
    }

    fn check_notion_properties(
        &mut self,
        args: &BTreeMap<&str, &'a ast::Arg>,
        db: Option<&'a str>,
        acting: &[(&'a str, Span)],
    ) {
        let cx = self.cx;
        let (Some(schemas), Some(db)) = (&cx.schemas, db) else {
            return;
        };
        if self.quiet > 0 {
            return;
        }
        for key in ["properties", "where", "match"] {
            let Some(arg) = args.get(key) else { continue };
            if !matches!(arg.value.kind, ExprKind::Record(_)) {
                continue;
            }
            for &(entity, _) in acting {
                super::notion_schema::check_properties(
                    schemas,
                    entity,
                    db,
                    &arg.value,
                    self.file,
                    self.diagnostics,
                );
            }
        }
    }
}

/// The parameter people often mean by another word (`filter` for `where`).
fn synonym(name: &str) -> Option<&'static str> {
    Some(match name {
        "filter" | "filters" | "query" | "criteria" | "conditions" => "where",
        "props" | "fields" | "values" | "data" => "properties",
        "database" | "table" | "database_id" => "db",
        "vars" | "variables" | "context" | "params" => "with",
        "recipient" | "email" | "address" => "to",
        "order" | "order_by" | "sort_by" => "sort",
        "max" | "take" | "count" => "limit",
        _ => return None,
    })
}
