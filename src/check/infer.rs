//! Expression typing: resolves every name (E0201), field (E0202) and built-in call (E0212,
//! E0301), and checks operand types (E0300), giving each expression a static [`Type`].

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use crate::diagnostic::{Code, Diagnostic};
use crate::syntax::ast::{self, BinaryOp, Expr, ExprKind, Ident, Pattern, StrPart, UnaryOp};
use crate::syntax::Span;
use crate::types::{Field, Type};

use super::builtins;
use super::type_relations::{comparable, join};

/// Deeper expressions are not written by people; checking them could exhaust the stack.
const MAX_DEPTH: u32 = 1000;
use super::flow::FlowChecker;
use super::suggest;

impl<'a> FlowChecker<'_, 'a> {
    /// The type of `expr`, reporting what is wrong inside it.
    pub fn infer(&mut self, expr: &'a Expr) -> Type {
        if self.depth >= MAX_DEPTH {
            if !self.too_deep && self.quiet == 0 {
                self.too_deep = true;
                self.push(
                    Diagnostic::new(
                        Code::SyntaxError,
                        self.file,
                        expr.span,
                        format!("expression nested more than {MAX_DEPTH} levels deep"),
                    )
                    .label("too deep to check")
                    .help("split the expression into several `let`s"),
                );
            }
            return Type::Any;
        }
        self.depth += 1;
        let ty = self.infer_kind(expr);
        self.depth -= 1;
        ty
    }

    fn infer_kind(&mut self, expr: &'a Expr) -> Type {
        match &expr.kind {
            ExprKind::None => Type::Null,
            ExprKind::Bool(_) => Type::Bool,
            ExprKind::Number(_) => Type::Number,
            ExprKind::Duration(_) => Type::Duration,
            ExprKind::Str(parts) => {
                for part in parts {
                    if let StrPart::Expr(e) = part {
                        self.infer(e);
                    }
                }
                if let Some(text) = expr.as_plain_str() {
                    super::warnings::check_secret_value(self, &text, expr.span);
                    if text.contains('@') && super::addresses::is_address(&text) {
                        return Type::Email;
                    }
                }
                Type::Text
            }
            ExprKind::Name(name) => {
                let ty = Rc::unwrap_or_clone(self.resolve_name(name, expr.span));
                self.narrowed(expr, ty)
            }
            ExprKind::Field(base, field) => {
                let ty = self.infer_field(base, field);
                self.narrowed(expr, ty)
            }
            ExprKind::Index(base, index) => {
                let base_ty = self.infer(base);
                let index_ty = self.infer(index);
                match base_ty.strip_optional() {
                    Type::List { of } => {
                        let of = (**of).clone();
                        if !index_ty.assignable_to(&Type::Number) {
                            self.mismatch(
                                index.span,
                                &index_ty,
                                "a list index must be a `number`",
                                "index lists by position, starting at 0",
                            );
                        }
                        Type::optional(of)
                    }
                    Type::Record { .. } | Type::Any | Type::Entity => Type::Any,
                    Type::Text => Type::Text,
                    other => {
                        let other = other.clone();
                        self.mismatch(
                            base.span,
                            &other,
                            "only lists, records and text can be indexed",
                            "index a list (`items[0]`) or a record (`record[\"Full Name\"]`)",
                        );
                        Type::Any
                    }
                }
            }
            ExprKind::Call(name, args) => self.infer_builtin(name, args, expr.span),
            ExprKind::List(items) => {
                let mut ty: Option<Type> = None;
                for item in items {
                    let t = self.infer(item);
                    ty = Some(match ty {
                        Some(prev) => join(&prev, &t),
                        None => t,
                    });
                }
                Type::list(ty.unwrap_or(Type::Any))
            }
            ExprKind::Record(fields) => {
                let mut out = BTreeMap::new();
                let mut first: HashMap<&str, Span> = HashMap::new();
                for field in fields {
                    let ty = self.infer(&field.value);
                    super::warnings::check_secret_field(self, &field.name.name, &field.value);
                    if let Some(span) = first.get(field.name.name.as_str()) {
                        let span = *span;
                        self.push(
                            Diagnostic::new(
                                Code::DuplicateName,
                                self.file,
                                field.name.span,
                                format!("field `{}` is given twice", field.name.name),
                            )
                            .label("second value")
                            .with(span, "first value")
                            .help("remove one of them"),
                        );
                        continue;
                    }
                    first.insert(&field.name.name, field.name.span);
                    out.insert(field.name.name.clone(), Field { ty, optional: false });
                }
                Type::Record {
                    fields: out,
                    open: false,
                }
            }
            ExprKind::Unary(op, operand) => {
                let ty = self.infer(operand);
                match op {
                    UnaryOp::Not => {
                        self.expect_bool(&ty, operand.span, "the operand of `not`");
                        Type::Bool
                    }
                    UnaryOp::Neg => match ty.strip_optional() {
                        Type::Number | Type::Duration | Type::Any => ty.strip_optional().clone(),
                        other => {
                            let other = other.clone();
                            self.mismatch(
                                operand.span,
                                &other,
                                "`-` needs a `number` or a `duration`",
                                "negate numbers or durations only",
                            );
                            Type::Any
                        }
                    },
                }
            }
            ExprKind::Binary(op, left, right) => self.infer_binary(*op, left, right),
            ExprKind::If(cond, then, otherwise) => {
                let c = self.infer(cond);
                self.expect_bool(&c, cond.span, "an `if` condition");
                let a = self.infer(then);
                let b = self.infer(otherwise);
                join(&a, &b)
            }
            ExprKind::Match(value, arms) => {
                let v = self.infer(value);
                super::warnings::check_unreachable_arms(self, arms.iter().map(|(p, e)| (p, e.span)));
                let mut ty: Option<Type> = None;
                let mut has_wildcard = false;
                for (pattern, arm) in arms {
                    has_wildcard |= matches!(pattern, Pattern::Wildcard(_));
                    self.check_pattern(pattern, &v);
                    let t = self.infer(arm);
                    ty = Some(match ty {
                        Some(prev) => join(&prev, &t),
                        None => t,
                    });
                }
                let ty = ty.unwrap_or(Type::Null);
                // Without `_`, a value no arm matches gives none.
                if has_wildcard {
                    ty
                } else {
                    Type::optional(ty)
                }
            }
        }
    }

    /// The type of `expr`, which the enclosing expression tests for none when `tested`.
    fn infer_tested(&mut self, expr: &'a Expr, tested: bool) -> Type {
        let saved = std::mem::replace(&mut self.handler.tested, tested);
        let ty = self.infer(expr);
        self.handler.tested = saved;
        ty
    }

    /// Checks that the literals of `pattern` can equal a value of type `value`.
    pub fn check_pattern(&mut self, pattern: &'a Pattern, value: &Type) {
        if let Pattern::Literals(literals) = pattern {
            for literal in literals {
                let ty = self.infer(literal);
                if !comparable(&ty, value) {
                    let message = format!("this pattern is `{ty}` but the value matched is `{value}`");
                    self.push(
                        Diagnostic::new(Code::TypeMismatch, self.file, literal.span, message)
                            .label("can never match")
                            .help(format!("write a `{}` pattern", value.strip_optional())),
                    );
                }
            }
        }
    }

    /// The type of a name, shared rather than copied (field reads on names are the hot path).
    fn resolve_name(&mut self, name: &'a str, span: Span) -> Rc<Type> {
        if let Some(local) = self.locals.iter().rev().find(|l| l.name == name) {
            return Rc::new(local.ty.clone());
        }
        if let Some(&index) = self.scope.by_name.get(name) {
            self.reference(index, span);
            let ty = self.decl_type(index);
            return self.seen_from_here(index, span, ty);
        }
        match name {
            "input" => {
                self.input_whole_used = true;
                return Rc::clone(&self.input_type);
            }
            "entity" => return Rc::new(self.entity_record(self.entity)),
            _ => {}
        }
        if self.cx.entities.contains_key(name) {
            return Rc::new(Type::Entity);
        }
        if self.cx.databases.contains(name) {
            return Rc::new(Type::Database);
        }
        if self.broken_words.contains(name) {
            return Rc::new(Type::Any);
        }
        let mut candidates: Vec<&str> = self.locals.iter().map(|l| l.name).collect();
        candidates.extend(self.scope.by_name.keys().copied());
        candidates.extend(["input", "entity"]);
        candidates.extend(self.cx.entities.keys().copied());
        let loop_var = self.scope.decls.iter().any(|d| match d.kind {
            super::scope::DeclKind::Step(s) => {
                matches!(&s.body, ast::StepBody::FanOut(f) if f.var.name == name)
            }
            _ => false,
        });
        let help = if loop_var {
            format!("`{name}` is a loop variable: it exists only inside its `for` block; outside, use the fan-out step's list")
        } else if builtins::lookup(name).is_some() {
            format!("`{name}` is a built-in function: call it as `{name}(...)`")
        } else {
            suggest::help_or(name, candidates, || {
                "declare it with `let` or `step`, or read it from `input`".to_string()
            })
        };
        self.push(
            Diagnostic::new(
                Code::UnknownName,
                self.file,
                span,
                format!("unknown name `{name}`"),
            )
            .label("not declared in this flow")
            .help(help),
        );
        Rc::new(Type::Any)
    }

    /// The record an entity is seen as through `entity.x` or `the_7_space.x`.
    pub fn entity_record(&self, entity: Option<&'a ast::Entity>) -> Type {
        let Some(entity) = entity else { return Type::Any };
        let mut fields = BTreeMap::new();
        fields.insert(
            "name".to_string(),
            Field {
                ty: Type::Text,
                optional: false,
            },
        );
        fields.insert(
            "title".to_string(),
            Field {
                ty: Type::Text,
                optional: false,
            },
        );
        for setting in &entity.settings {
            fields.insert(
                setting.name.name.clone(),
                Field {
                    ty: literal_type(&setting.value),
                    optional: false,
                },
            );
        }
        Type::Record { fields, open: false }
    }

    fn infer_field(&mut self, base: &'a Expr, field: &'a Ident) -> Type {
        // `the_7_space.follow_up_days`: an entity's settings.
        let base_ty: Rc<Type> = match &base.kind {
            ExprKind::Name(name)
                if self.cx.entities.contains_key(name.as_str())
                    && !self.scope.by_name.contains_key(name.as_str())
                    && !self.locals.iter().any(|l| l.name == name) =>
            {
                Rc::new(self.entity_record(self.cx.entity(name)))
            }
            ExprKind::Name(name)
                if name == "input"
                    && !self.scope.by_name.contains_key("input")
                    && !self.locals.iter().any(|l| l.name == "input") =>
            {
                self.input_used.insert(&field.name);
                Rc::clone(&self.input_type)
            }
            ExprKind::Name(name) => {
                let ty = self.resolve_name(name, base.span);
                if self.narrowed.is_empty() || !matches!(*ty, Type::Optional { .. }) {
                    ty
                } else {
                    Rc::new(self.narrowed(base, Rc::unwrap_or_clone(ty)))
                }
            }
            _ => Rc::new(self.infer(base)),
        };
        // A field of a value that may be none may be none too.
        if matches!(*base_ty, Type::Optional { .. }) {
            return Type::optional(self.field_type(base, base_ty.strip_optional(), field));
        }
        self.field_type(base, &base_ty, field)
    }

    /// The type of `field` of `base`, a value of type `base_ty`.
    fn field_type(&mut self, base: &'a Expr, base_ty: &Type, field: &'a Ident) -> Type {
        match base_ty {
            Type::Any | Type::Entity => Type::Any,
            Type::Record { fields, open } => match fields.get(&field.name) {
                Some(f) if f.optional => Type::optional(f.ty.clone()),
                Some(f) => f.ty.clone(),
                None if *open => Type::Any,
                None => {
                    if base.as_name() == Some("input") {
                        self.input_typo = true;
                    }
                    let names: Vec<&str> = fields.keys().map(String::as_str).collect();
                    let base_text = self.describe(base);
                    let help = suggest::help_or(&field.name, names.iter().copied(), || {
                        if base.as_name() == Some("input") {
                            format!("declare `{}` in the flow's `input` block", field.name)
                        } else if names.is_empty() {
                            format!("{base_text} has no fields")
                        } else {
                            format!("{base_text} has {}", suggest::list(&names))
                        }
                    });
                    self.push(
                        Diagnostic::new(
                            Code::UnknownField,
                            self.file,
                            field.span,
                            format!("unknown field `{}` on {base_text}", field.name),
                        )
                        .label("no such field")
                        .help(help),
                    );
                    Type::Any
                }
            },
            other => {
                let other = other.clone();
                let base_text = self.describe(base);
                self.push(
                    Diagnostic::new(
                        Code::UnknownField,
                        self.file,
                        field.span,
                        format!("{base_text} is `{other}`, which has no field `{}`", field.name),
                    )
                    .label("no fields here")
                    .help(function_for_field(&field.name, &base_text)),
                );
                Type::Any
            }
        }
    }

    /// `` `input` `` or `this value`, for messages.
    fn describe(&self, expr: &Expr) -> String {
        let text = self.text(expr.span);
        if !text.is_empty() && text.len() <= 40 && !text.contains('\n') {
            format!("`{text}`")
        } else {
            "this value".to_string()
        }
    }

    fn infer_builtin(&mut self, name: &'a Ident, args: &'a [Expr], span: Span) -> Type {
        let types: Vec<Type> = args.iter().map(|a| self.infer(a)).collect();
        super::survey_refs::check_call(self, name, args);
        let Some(builtin) = builtins::lookup(&name.name) else {
            self.push(
                Diagnostic::new(
                    Code::UnknownFunction,
                    self.file,
                    name.span,
                    format!("unknown function `{}`", name.name),
                )
                .label("not a built-in function")
                .help(unknown_function_help(&name.name)),
            );
            return Type::Any;
        };
        if args.len() < builtin.min || args.len() > builtin.max {
            let given = args.len();
            self.push(
                Diagnostic::new(
                    Code::WrongArity,
                    self.file,
                    span,
                    format!(
                        "`{}` takes {}, but {given} {} given",
                        name.name,
                        builtins::describe_arity(&builtin),
                        if given == 1 { "was" } else { "were" }
                    ),
                )
                .label(format!(
                    "{given} {}",
                    if given == 1 { "argument" } else { "arguments" }
                ))
                .help(format!("call it as `{}`", builtins::usage(&name.name, &builtin))),
            );
            return builtin.result(&types);
        }
        for (i, (arg, ty)) in args.iter().zip(&types).enumerate() {
            let param = builtin.param(i);
            if !param.accepts(ty) {
                self.push(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        self.file,
                        arg.span,
                        format!(
                            "argument {} of `{}` must be {}, found `{ty}`",
                            i + 1,
                            name.name,
                            param.describe()
                        ),
                    )
                    .label(format!("this is `{ty}`"))
                    .help(format!("pass {} here", param.describe())),
                );
            }
        }
        match name.name.as_str() {
            "format_date" => self.check_date_format(args),
            "secret" => self.check_secret_access(args),
            _ => {}
        }
        match (name.name.as_str(), args, types.as_slice()) {
            ("pluck", [_, field], [list, _]) => self.pluck_type(list, field),
            _ => builtin.result(&types),
        }
    }

    /// `pluck(list, "field")`: a list of the field's type when the field is written literally,
    /// an unknown field of a closed record being an error like `x.field`.
    fn pluck_type(&mut self, list: &Type, field: &'a Expr) -> Type {
        let name = match &field.kind {
            ExprKind::Str(parts) => match parts.as_slice() {
                [ast::StrPart::Text(t)] => t.as_str(),
                _ => return Type::list(Type::Any),
            },
            _ => return Type::list(Type::Any),
        };
        let Type::List { of } = list.strip_optional() else {
            return Type::list(Type::Any);
        };
        let Type::Record { fields, open } = of.strip_optional() else {
            return Type::list(Type::Any);
        };
        match fields.get(name) {
            Some(f) if f.optional => Type::list(Type::optional(f.ty.clone())),
            Some(f) => Type::list(f.ty.clone()),
            None if *open => Type::list(Type::Any),
            None => {
                let names: Vec<&str> = fields.keys().map(String::as_str).collect();
                let help = suggest::help_or(name, names.iter().copied(), || {
                    format!("the list's records have {}", suggest::list(&names))
                });
                self.push(
                    Diagnostic::new(
                        Code::UnknownField,
                        self.file,
                        field.span,
                        format!("the list's records have no field `{name}`"),
                    )
                    .label("no such field")
                    .help(help),
                );
                Type::list(Type::Any)
            }
        }
    }

    fn infer_binary(&mut self, op: BinaryOp, left: &'a Expr, right: &'a Expr) -> Type {
        use BinaryOp::*;
        // `x ?? d` and `x != none` say what happens without a value (for E0306).
        let tests = |e: &Expr, other: &Expr| {
            super::narrowing::key(e, self.source).is_some()
                && match op {
                    Default => std::ptr::eq(e, left),
                    Eq | Ne => matches!(other.kind, ExprKind::None),
                    _ => false,
                }
        };
        let (tests_left, tests_right) = (tests(left, right), tests(right, left));
        let l = self.infer_tested(left, tests_left);
        let r = self.infer_tested(right, tests_right);
        use Type as T;
        let (ls, rs) = (l.strip_optional().clone(), r.strip_optional().clone());
        let any = matches!(ls, T::Any) || matches!(rs, T::Any);
        let result = match op {
            And | Or => {
                self.expect_bool(&l, left.span, &format!("the left side of `{}`", op.symbol()));
                self.expect_bool(&r, right.span, &format!("the right side of `{}`", op.symbol()));
                return T::Bool;
            }
            Eq | Ne => {
                if !comparable(&l, &r) {
                    self.operands(op, left, &l, right, &r, "compare values of the same type");
                }
                return T::Bool;
            }
            Lt | Le | Gt | Ge => {
                let ok = any
                    || matches!(
                        (&ls, &rs),
                        (T::Number, T::Number)
                            | (T::Duration, T::Duration)
                            | (T::Date | T::Datetime, T::Date | T::Datetime)
                            | (T::Text | T::Email, T::Text | T::Email)
                    );
                if !ok {
                    self.operands(
                        op,
                        left,
                        &l,
                        right,
                        &r,
                        "order numbers, durations, dates or text, both sides the same kind",
                    );
                }
                return T::Bool;
            }
            Default => {
                return match &l {
                    T::Optional { of } => join(of, &r),
                    T::Null => r,
                    other => join(other, &r),
                };
            }
            In => {
                if !matches!(
                    rs,
                    T::List { .. } | T::Text | T::Email | T::Record { .. } | T::Any
                ) {
                    self.mismatch(
                        right.span,
                        &r,
                        "the right side of `in` must be a list or text",
                        "test membership in a list (`x in [\"a\", \"b\"]`) or text",
                    );
                }
                return T::Bool;
            }
            Add => match (&ls, &rs) {
                _ if any => Some(if matches!(ls, T::Any) {
                    rs.clone()
                } else {
                    ls.clone()
                }),
                (T::Number, T::Number) => Some(T::Number),
                (T::Text | T::Email, T::Text | T::Email) => Some(T::Text),
                (T::Duration, T::Duration) => Some(T::Duration),
                (T::Date | T::Datetime, T::Duration) => Some(T::Datetime),
                (T::Duration, T::Date | T::Datetime) => Some(T::Datetime),
                (T::List { .. }, T::List { .. }) => Some(join(&ls, &rs)),
                _ => None,
            },
            Sub => match (&ls, &rs) {
                _ if any => Some(T::Any),
                (T::Number, T::Number) => Some(T::Number),
                (T::Duration, T::Duration) => Some(T::Duration),
                (T::Date | T::Datetime, T::Duration) => Some(T::Datetime),
                (T::Date | T::Datetime, T::Date | T::Datetime) => Some(T::Duration),
                _ => None,
            },
            Mul => match (&ls, &rs) {
                _ if any => Some(T::Any),
                (T::Number, T::Number) => Some(T::Number),
                (T::Duration, T::Number) | (T::Number, T::Duration) => Some(T::Duration),
                _ => None,
            },
            Div => match (&ls, &rs) {
                _ if any => Some(T::Any),
                (T::Number, T::Number) => Some(T::Number),
                (T::Duration, T::Number) => Some(T::Duration),
                (T::Duration, T::Duration) => Some(T::Number),
                _ => None,
            },
        };
        match result {
            Some(t) => t,
            None => {
                let help = match quoted_duration(left, &l, right, &r) {
                    Some(written) => format!("a duration is written without quotes: `{written}`"),
                    None => match op {
                        Add => "add numbers, join text, or add a duration to a date or datetime",
                        Sub => "subtract numbers, durations, or a duration from a date or datetime",
                        _ => "multiply and divide numbers (or a duration by a number)",
                    }
                    .to_string(),
                };
                self.operands(op, left, &l, right, &r, &help);
                T::Any
            }
        }
    }

    fn operands(&mut self, op: BinaryOp, left: &Expr, l: &Type, right: &Expr, r: &Type, help: &str) {
        self.push(
            Diagnostic::new(
                Code::TypeMismatch,
                self.file,
                left.span.to(right.span),
                format!("cannot use `{}` on `{l}` and `{r}`", op.symbol()),
            )
            .label(format!("`{l}` {} `{r}`", op.symbol()))
            .help(help.to_string()),
        );
    }
}

/// A duration written in quotes next to a date, datetime or duration (`starts - "1 day"`): the
/// duration as flow writes it (`1d`).
fn quoted_duration(left: &Expr, l: &Type, right: &Expr, r: &Type) -> Option<String> {
    let timed = |t: &Type| matches!(t.strip_optional(), Type::Date | Type::Datetime | Type::Duration);
    let (text, other) = match (l.strip_optional(), r.strip_optional()) {
        (Type::Text, _) => (left, r),
        (_, Type::Text) => (right, l),
        _ => return None,
    };
    if !timed(other) {
        return None;
    }
    crate::syntax::written_duration(&text.as_plain_str()?)
}

/// The type of a constant expression (entity settings), without a scope.
pub(crate) fn literal_type(expr: &Expr) -> Type {
    match &expr.kind {
        ExprKind::None => Type::Null,
        ExprKind::Bool(_) => Type::Bool,
        ExprKind::Number(_) => Type::Number,
        ExprKind::Duration(_) => Type::Duration,
        // A literal address is an `email` (entity settings such as `staff_email`).
        ExprKind::Str(_) => match expr.as_plain_str() {
            Some(text) if text.contains('@') && super::addresses::is_address(&text) => Type::Email,
            _ => Type::Text,
        },
        ExprKind::List(items) => Type::list(
            items
                .iter()
                .map(literal_type)
                .reduce(|a, b| join(&a, &b))
                .unwrap_or(Type::Any),
        ),
        ExprKind::Record(fields) => Type::Record {
            fields: fields
                .iter()
                .map(|f| {
                    (
                        f.name.name.clone(),
                        Field {
                            ty: literal_type(&f.value),
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

/// The help for `base.field` on a value without fields: `len(base)` for `base.length`, and the
/// like for every built-in written as a field.
fn function_for_field(field: &str, base_text: &str) -> String {
    let builtin: Option<&str> = match super::foreign_names::builtin_for(field) {
        Some(ours) => Some(ours),
        None => builtins::lookup(field).map(|_| field),
    };
    match builtin {
        Some(f) => {
            let base = base_text
                .strip_prefix('`')
                .and_then(|b| b.strip_suffix('`'))
                .unwrap_or("x");
            format!("`{field}` is not a field: call the built-in function, `{f}({base})`")
        }
        None => "fields can only be read from records".to_string(),
    }
}

/// Did-you-mean for an unknown function: the closest built-in, else flowc's name for what other
/// languages call it (`length` → `len`, which no edit distance finds).
fn unknown_function_help(name: &str) -> String {
    let close = suggest::closest(name, builtins::NAMES.iter().copied());
    match (close, super::foreign_names::builtin_for(name)) {
        (Some(close), Some(ours)) if close == ours => format!("did you mean `{ours}`?"),
        (_, Some(ours)) => format!("did you mean `{ours}`? that is flowc's name for `{name}`"),
        (Some(close), None) => format!("did you mean `{close}`?"),
        (None, None) => {
            "connector actions are called as steps: `step x = connector.action(arg: value)`".to_string()
        }
    }
}
