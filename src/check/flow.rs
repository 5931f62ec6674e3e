//! Checks one flow: walks its statements in order, typing every expression, checking every call
//! and policy, and recording which names each step uses (for cycles and unused warnings).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::rc::Rc;

use crate::diagnostic::{Code, Diagnostic, Diagnostics, FileId};
use crate::syntax::ast::{self, Expr, Fallback, Policy, StepBody, Stmt};
use crate::syntax::Span;
use crate::types::{Field, Type};

use super::context::{Context, ModuleInfo};
use super::handler_values::{HandlerWalk, Unset};
use super::scope::{DeclKind, Scope};
use super::type_expr;
use super::type_relations::join;
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
}

/// Checks `flow` of `module`: types it, then runs the passes over the typed flow.
pub(crate) fn check_flow<'a>(
    cx: &Context<'a>,
    module: &ModuleInfo<'a>,
    flow: &'a ast::Flow,
    diagnostics: &mut Diagnostics,
) {
    let typed = type_flow(cx, module, flow, diagnostics);
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

    fn check_input(&mut self) {
        let Some(input) = &self.flow.input else {
            // Without an `input` block the trigger's payload (a webhook body, a Notion page, an
            // event) is read as it comes: any field may be there.
            self.input_type = Rc::new(Type::open_record([]));
            return;
        };
        let mut report = Some((&mut *self.diagnostics, self.file));
        let mut fields = BTreeMap::new();
        let mut first: BTreeMap<&str, Span> = BTreeMap::new();
        let mut declared = Vec::new();
        for field in &input.fields {
            let ty = type_expr::to_type(&field.ty, &mut report);
            declared.push(ty.clone());
            if let Some(span) = first.get(field.name.name.as_str()) {
                if let Some((d, file)) = &mut report {
                    d.push(
                        Diagnostic::new(
                            Code::DuplicateName,
                            *file,
                            field.name.span,
                            format!("input field `{}` is declared twice", field.name.name),
                        )
                        .label("second declaration")
                        .with(*span, "first declared here")
                        .help("remove one of them or rename it"),
                    );
                }
                continue;
            }
            first.insert(&field.name.name, field.name.span);
            // A field with a default is never none when read (only absent when called).
            let optional = field.ty.optional;
            let value_ty = if field.ty.optional { Type::optional(ty) } else { ty };
            fields.insert(
                field.name.name.clone(),
                Field {
                    ty: value_ty,
                    optional,
                },
            );
        }
        self.input_type = Rc::new(Type::Record { fields, open: false });
        for (field, ty) in input.fields.iter().zip(declared) {
            if let Some(default) = &field.default {
                let found = self.infer(default);
                if !found.assignable_to(&ty) {
                    self.push(
                        Diagnostic::new(
                            Code::TypeMismatch,
                            self.file,
                            default.span,
                            format!(
                                "default of `{}` is `{found}`, but the field is `{ty}`",
                                field.name.name
                            ),
                        )
                        .label(format!("`{found}`"))
                        .help(if found == Type::Null {
                            format!(
                                "to allow none, declare the field optional: `{}: {ty}?`",
                                field.name.name
                            )
                        } else {
                            format!("give a `{ty}` default or change the field's type")
                        }),
                    );
                }
            }
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

    pub fn walk_block(&mut self, stmts: &'a [Stmt], yielding: bool) {
        super::warnings::check_unreachable_stmts(self, stmts);
        let narrowed = self.narrowed.len();
        for stmt in stmts {
            self.walk_stmt(stmt, yielding);
            // `if x == none { fail ... }`: x is not none after it.
            let guarded = super::maybe_none::after_guard(stmt, self.source);
            self.narrowed.extend(guarded);
        }
        self.narrowed.truncate(narrowed);
    }

    /// Walks a block that may not run, knowing `narrowed` are not none in it; `condition` is
    /// what makes it run, for blocks that run under the same condition as an earlier one.
    fn walk_branch(
        &mut self,
        block: &'a ast::Block,
        narrowed: Vec<String>,
        condition: Option<String>,
        yielding: bool,
    ) {
        let depth = self.narrowed.len();
        let branches = self.branches.len();
        self.narrowed.extend(narrowed);
        self.branches.push(block.span.start);
        if let Some(condition) = condition {
            let first = *self
                .branch_by_condition
                .entry(condition)
                .or_insert(block.span.start);
            self.same_branch.insert(block.span.start, first);
            self.branches.push(first);
        }
        self.walk_block(&block.stmts, yielding);
        self.branches.truncate(branches);
        self.narrowed.truncate(depth);
    }

    /// The text of `expr` without spaces, to recognise the same condition written twice.
    fn condition_key(&self, expr: &Expr) -> String {
        self.text(expr.span)
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect()
    }

    fn walk_stmt(&mut self, stmt: &'a Stmt, yielding: bool) {
        match stmt {
            Stmt::Step(step) => self.walk_step(step),
            Stmt::Let(l) => self.walk_let(l),
            Stmt::If(i) => {
                let depth = self.ctx_deps.len();
                let narrowed = self.narrowed.len();
                let mut conditions = String::new();
                for (cond, block) in &i.branches {
                    let mark = self.captured.len();
                    let ty = self.infer(cond);
                    self.expect_bool(&ty, cond.span, "an `if` condition");
                    let refs: Vec<_> = self.captured[mark..].to_vec();
                    // Every later branch runs only after this condition was evaluated.
                    self.ctx_deps.extend(refs);
                    let tells = super::maybe_none::narrowing(cond, self.source);
                    let key = format!("{conditions}if {}", self.condition_key(cond));
                    conditions = format!("{conditions}not {};", self.condition_key(cond));
                    self.walk_branch(block, tells.when_true, Some(key), yielding);
                    // Later branches run only when this condition was false.
                    self.narrowed.extend(tells.when_false);
                }
                if let Some(block) = &i.otherwise {
                    self.walk_branch(block, Vec::new(), Some(conditions), yielding);
                }
                self.narrowed.truncate(narrowed);
                self.ctx_deps.truncate(depth);
            }
            Stmt::Match(m) => {
                let depth = self.ctx_deps.len();
                let mark = self.captured.len();
                let value = self.infer(&m.value);
                let refs: Vec<_> = self.captured[mark..].to_vec();
                self.ctx_deps.extend(refs);
                super::warnings::check_unreachable_arms(self, m.arms.iter().map(|a| (&a.pattern, a.span)));
                for arm in &m.arms {
                    self.check_pattern(&arm.pattern, &value);
                    self.walk_branch(&arm.body, Vec::new(), None, yielding);
                }
                self.ctx_deps.truncate(depth);
            }
            Stmt::Wait(w) => match &w.kind {
                ast::WaitKind::For(e) => {
                    let ty = self.infer(e);
                    if !ty.assignable_to(&Type::Duration) {
                        self.mismatch(e.span, &ty, "`wait` needs a `duration`", "write a duration such as `2d` or `1h30m`, or use `wait until` for a point in time");
                    }
                }
                ast::WaitKind::Until(e) => {
                    let ty = self.infer(e);
                    if !matches!(ty.strip_optional(), Type::Date | Type::Datetime | Type::Any) {
                        let help = super::fix::help(&Type::Datetime, &ty, self.text(e.span)).unwrap_or_else(|| {
                                "give a point in time, e.g. `input.starts_at - 24h`; use `wait` for a duration".to_string()
                            });
                        self.mismatch(e.span, &ty, "`wait until` needs a `datetime` or `date`", &help);
                    } else {
                        self.maybe_none(e, &ty, "`wait until`");
                    }
                }
            },
            Stmt::Emit(e) => {
                if e.event.value.trim().is_empty() {
                    self.push(
                        Diagnostic::new(Code::TypeMismatch, self.file, e.event.span, "event name is empty")
                            .label("empty")
                            .help("name the event, e.g. `emit \"contact.created\" { id: client.id }`"),
                    );
                }
                if let Some(payload) = &e.payload {
                    self.infer(payload);
                }
            }
            Stmt::Fail(f) => {
                self.infer(&f.message);
            }
            Stmt::Yield(y) => {
                let ty = self.infer(&y.value);
                if yielding {
                    if let Some(frame) = self.yields.last_mut() {
                        frame.push(ty);
                    }
                } else {
                    self.push(
                        Diagnostic::new(
                            Code::MisplacedYield,
                            self.file,
                            Span::new(y.span.start as usize, y.span.start as usize + 5),
                            "`yield` outside a fallback or fan-out block",
                        )
                        .label("nothing receives this value")
                        .help("`yield` gives the value of a `fallback { ... }` or `for x in list { ... }` block; use `output` for the flow's result"),
                    );
                }
            }
        }
    }

    fn walk_let(&mut self, l: &'a ast::Let) {
        let index = self.scope.by_position.get(&l.name.span.start).copied();
        let saved = self.current;
        if let Some(i) = index {
            self.in_progress[i] = true;
            self.current = Some(i);
            let ctx = self.ctx_deps.clone();
            self.edges[i].extend(ctx);
        }
        let ty = self.infer(&l.value);
        if let Some(i) = index {
            self.in_progress[i] = false;
            self.types[i] = Some(Rc::new(ty));
        }
        self.current = saved;
    }

    pub fn walk_step(&mut self, step: &'a ast::Step) {
        let index = self.scope.by_position.get(&step.name.span.start).copied();
        let saved = self.current;
        if let Some(i) = index {
            self.in_progress[i] = true;
            self.current = Some(i);
            let ctx = self.ctx_deps.clone();
            self.edges[i].extend(ctx);
        }
        self.walk_after(step);
        let mut ty = match &step.body {
            StepBody::Call(call) => self.check_call(call),
            StepBody::WaitEvent(w) => {
                if w.event.value.trim().is_empty() {
                    self.push(
                        Diagnostic::new(Code::TypeMismatch, self.file, w.event.span, "event name is empty")
                            .label("empty")
                            .help(
                                "name the event the step waits for, e.g. `wait for event \"lead.replied\"`",
                            ),
                    );
                }
                let timeout = step
                    .policies
                    .iter()
                    .any(|p| matches!(p, Policy::Timeout(_) | Policy::TimeoutExpr(_)));
                if !timeout {
                    self.push(
                        Diagnostic::new(
                            Code::WaitWithoutTimeout,
                            self.file,
                            step.name.span.to(w.event.span),
                            format!("step `{}` may wait forever", step.name.name),
                        )
                        .label("no `timeout`")
                        .help(format!(
                            "add a timeout, e.g. `step {} = wait for event \"{}\" timeout 7d`, and handle the none it gives when the time runs out",
                            step.name.name, w.event.value
                        )),
                    );
                }
                if let Some(filter) = &w.filter {
                    self.locals.push(Local {
                        name: "event",
                        ty: Type::open_record([]),
                        over: None,
                    });
                    let t = self.infer(filter);
                    self.expect_bool(&t, filter.span, "a `where` condition");
                    self.locals.pop();
                }
                Type::optional(Type::open_record([]))
            }
            StepBody::FanOut(f) => self.walk_fan_out(f),
        };
        let result = ty.clone();
        for policy in &step.policies {
            if let Policy::TimeoutExpr(e) = policy {
                let t = self.infer(e);
                if !t.strip_optional().assignable_to(&Type::Duration) {
                    self.mismatch(
                        e.span,
                        &t,
                        "`timeout` needs a `duration`",
                        "compute a duration, e.g. `timeout input.deadline - now()`, or write one such as `30s`",
                    );
                }
            }
            if let Policy::Fallback(fallback) = policy {
                let fallback_ty = match fallback {
                    Fallback::Value(e) => self.infer(e),
                    Fallback::Block(block) => {
                        self.yields.push(Vec::new());
                        let depth = self.ctx_deps.len();
                        // The fallback runs after the step failed: its steps follow the step's inputs.
                        self.walk_branch(block, Vec::new(), None, true);
                        self.ctx_deps.truncate(depth);
                        let yielded = self.yields.pop().unwrap_or_default();
                        self.check_final_yield(block, "fallback");
                        yielded
                            .into_iter()
                            .reduce(|a, b| join(&a, &b))
                            .unwrap_or(Type::Any)
                    }
                };
                self.check_fallback_type(step, fallback, &result, &fallback_ty);
                ty = join(&ty, &fallback_ty);
            }
        }
        if let Some(i) = index {
            self.in_progress[i] = false;
            self.types[i] = Some(Rc::new(ty));
        }
        self.current = saved;
    }

    /// E0300: a fallback whose value is of another type than the step's result.
    fn check_fallback_type(&mut self, step: &ast::Step, fallback: &Fallback, result: &Type, found: &Type) {
        // Records (and lists) of other shapes are joined: a fallback may give fewer fields.
        if super::type_relations::comparable(found, result) {
            return;
        }
        let span = match fallback {
            Fallback::Value(e) => e.span,
            Fallback::Block(b) => b.span,
        };
        self.push(
            Diagnostic::new(
                Code::TypeMismatch,
                self.file,
                span,
                format!(
                    "the fallback of step `{}` is `{found}`, but the step gives `{result}`",
                    step.name.name
                ),
            )
            .label(format!("this is `{found}`"))
            .with(step.name.span, format!("`{}` gives `{result}`", step.name.name))
            .help(format!(
                "the fallback stands in for the step's result: give a `{result}`, or `fallback none` to go on without one"
            )),
        );
    }

    fn walk_fan_out(&mut self, f: &'a ast::FanOut) -> Type {
        let mark = self.captured.len();
        let over = self.infer(&f.over);
        let refs: Vec<_> = self.captured[mark..].to_vec();
        let element = match over.strip_optional() {
            Type::List { of } => {
                self.maybe_none(&f.over, &over, "a fan-out");
                (**of).clone()
            }
            Type::Any => Type::Any,
            other => {
                let other = other.clone();
                let help = if self.is_query_one(&f.over) {
                    "`notion.query_one` gives one page (or none); to go over every matching page, use `notion.query`"
                } else {
                    "give a list, e.g. `for m in members { ... }` where `members` is a list"
                };
                self.mismatch(f.over.span, &other, "a fan-out needs a list to go over", help);
                Type::Any
            }
        };
        if let Some((0, span)) = f.concurrency {
            self.push(
                Diagnostic::new(
                    Code::InvalidPolicy,
                    self.file,
                    span,
                    "`concurrency 0` would never run an item",
                )
                .label("must be at least 1")
                .help("write `concurrency 1` to run items one at a time, or remove it for no limit"),
            );
        }
        let depth = self.ctx_deps.len();
        self.ctx_deps.extend(refs);
        self.locals.push(Local {
            name: &f.var.name,
            ty: element,
            over: Some(&f.over),
        });
        self.yields.push(Vec::new());
        self.loops.push(f.body.span.start);
        self.walk_block(&f.body.stmts, true);
        self.loops.pop();
        let yielded = self.yields.pop().unwrap_or_default();
        self.locals.pop();
        self.ctx_deps.truncate(depth);
        self.check_final_yield(&f.body, "fan-out");
        Type::list(
            yielded
                .into_iter()
                .reduce(|a, b| join(&a, &b))
                .unwrap_or(Type::Any),
        )
    }

    /// Whether `expr` names a step that calls `notion.query_one`.
    fn is_query_one(&self, expr: &Expr) -> bool {
        let Some(&index) = expr.as_name().and_then(|n| self.scope.by_name.get(n)) else {
            return false;
        };
        matches!(self.scope.decls[index].kind,
            DeclKind::Step(ast::Step { body: StepBody::Call(call), .. }) if call.callee_name() == "notion.query_one")
    }

    fn check_final_yield(&mut self, block: &ast::Block, what: &str) {
        // A line of the block that did not parse may be the `yield`: the syntax error says it.
        let broken = self.module.parsed.syntax.iter().any(|d| {
            d.code == Code::SyntaxError && d.span.start >= block.span.start && d.span.end <= block.span.end
        });
        if broken || ends_with_yield(&block.stmts) {
            return;
        }
        let end = block.span.end as usize;
        let span = Span::new(end.saturating_sub(1), end);
        self.push(
            Diagnostic::new(
                Code::MisplacedYield,
                self.file,
                span,
                format!("{what} block has no final `yield`"),
            )
            .label("the block ends here without a value")
            .help(match what {
                "fallback" => {
                    "end the block with `yield VALUE`: the value that stands in for the step's result"
                }
                _ => "end the block with `yield VALUE`: the value collected for each item",
            }),
        );
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
        let start = source[..(d.span.start as usize).min(source.len())]
            .rfind('\n')
            .map_or(0, |i| i + 1);
        let end = source[start..].find('\n').map_or(source.len(), |i| start + i);
        let line = source.get(start..end).unwrap_or("");
        words.extend(
            line.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| !w.is_empty()),
        );
    }
    words
}

/// Whether a block's value is given by a final `yield` (or `fail`), through if/match whose every
/// branch ends so.
pub(crate) fn ends_with_yield(stmts: &[Stmt]) -> bool {
    match stmts.last() {
        Some(Stmt::Yield(_)) | Some(Stmt::Fail(_)) => true,
        Some(Stmt::If(i)) => {
            i.otherwise.as_ref().is_some_and(|b| ends_with_yield(&b.stmts))
                && i.branches.iter().all(|(_, b)| ends_with_yield(&b.stmts))
        }
        Some(Stmt::Match(m)) => {
            m.arms
                .iter()
                .any(|a| matches!(a.pattern, ast::Pattern::Wildcard(_)))
                && m.arms.iter().all(|a| ends_with_yield(&a.body.stmts))
        }
        _ => false,
    }
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
