//! The typing walk over statements: blocks and branches (with the narrowing and dependencies
//! their conditions give), steps with their policies and fallbacks, fan-outs, waits, `emit`,
//! `fail` and `yield`.

use std::rc::Rc;

use crate::diagnostic::{Code, Diagnostic};
use crate::syntax::ast::{self, Expr, Fallback, Policy, StepBody, Stmt};
use crate::syntax::Span;
use crate::types::Type;

use super::flow::{FlowChecker, Local};
use super::scope::DeclKind;
use super::type_relations::join;

impl<'a> FlowChecker<'_, 'a> {
    pub fn walk_block(&mut self, stmts: &'a [Stmt], yielding: bool) {
        super::warnings::check_unreachable_stmts(self, stmts);
        let narrowed = self.narrowed.len();
        for stmt in stmts {
            self.walk_stmt(stmt, yielding);
            // `if x == none { fail ... }`: x is not none after it.
            let guarded = super::narrowing::after_guard(stmt, self.source);
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
                    let tells = super::narrowing::narrowing(cond, self.source);
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

    /// Starts walking the declaration named `name`: what it references from now on are its
    /// dependencies. Returns what [`Self::end_decl`] needs.
    fn begin_decl(&mut self, name: &ast::Ident) -> (Option<usize>, Option<usize>) {
        let index = self.scope.by_position.get(&name.span.start).copied();
        let saved = self.current;
        if let Some(i) = index {
            self.in_progress[i] = true;
            self.current = Some(i);
            let ctx = self.ctx_deps.clone();
            self.edges[i].extend(ctx);
        }
        (index, saved)
    }

    /// Ends walking a declaration begun with [`Self::begin_decl`]: it has type `ty`.
    fn end_decl(&mut self, (index, saved): (Option<usize>, Option<usize>), ty: Type) {
        if let Some(i) = index {
            self.in_progress[i] = false;
            self.types[i] = Some(Rc::new(ty));
        }
        self.current = saved;
    }

    pub fn walk_let(&mut self, l: &'a ast::Let) {
        let walking = self.begin_decl(&l.name);
        let ty = self.infer(&l.value);
        self.end_decl(walking, ty);
    }

    pub fn walk_step(&mut self, step: &'a ast::Step) {
        let walking = self.begin_decl(&step.name);
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
        self.end_decl(walking, ty);
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
