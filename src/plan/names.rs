//! Which names an expression or block reads and defines: the source of data dependencies.

use std::collections::BTreeSet;

use crate::syntax::ast::{Block, Expr, ExprKind, Fallback, Pattern, Policy, StepBody, Stmt, StrPart};

/// Adds every bare name read by `expr` (the root of each `a.b.c` chain) to `out`.
pub(crate) fn expr_names(expr: &Expr, out: &mut BTreeSet<String>) {
    match &expr.kind {
        ExprKind::None | ExprKind::Bool(_) | ExprKind::Number(_) | ExprKind::Duration(_) => {}
        ExprKind::Str(parts) => {
            for part in parts {
                if let StrPart::Expr(e) = part {
                    expr_names(e, out);
                }
            }
        }
        ExprKind::Name(n) => {
            out.insert(n.clone());
        }
        ExprKind::Field(e, _) => expr_names(e, out),
        ExprKind::Index(a, b) => {
            expr_names(a, out);
            expr_names(b, out);
        }
        ExprKind::Call(_, args) | ExprKind::List(args) => {
            for a in args {
                expr_names(a, out);
            }
        }
        ExprKind::Record(fields) => {
            for f in fields {
                expr_names(&f.value, out);
            }
        }
        ExprKind::Unary(_, e) => expr_names(e, out),
        ExprKind::Binary(_, a, b) => {
            expr_names(a, out);
            expr_names(b, out);
        }
        ExprKind::If(c, a, b) => {
            expr_names(c, out);
            expr_names(a, out);
            expr_names(b, out);
        }
        ExprKind::Match(v, arms) => {
            expr_names(v, out);
            for (p, e) in arms {
                pattern_names(p, out);
                expr_names(e, out);
            }
        }
    }
}

fn pattern_names(pattern: &Pattern, out: &mut BTreeSet<String>) {
    if let Pattern::Literals(lits) = pattern {
        for l in lits {
            expr_names(l, out);
        }
    }
}

/// Names read anywhere in `stmts`, and names they define (steps, lets, loop variables).
#[derive(Default)]
pub(crate) struct BlockNames {
    pub(crate) used: BTreeSet<String>,
    pub(crate) defined: BTreeSet<String>,
}

impl BlockNames {
    /// Names read that the block does not define itself: what an enclosing node depends on.
    pub(crate) fn free(&self) -> BTreeSet<String> {
        self.used.difference(&self.defined).cloned().collect()
    }

    pub(crate) fn block(&mut self, block: &Block) {
        self.block_stmts(&block.stmts);
    }

    pub(crate) fn block_stmts(&mut self, stmts: &[Stmt]) {
        for stmt in stmts {
            self.stmt(stmt);
        }
    }

    pub(crate) fn stmt(&mut self, stmt: &Stmt) {
        match stmt {
            Stmt::Step(step) => {
                self.defined.insert(step.name.name.clone());
                match &step.body {
                    StepBody::Call(call) => {
                        for a in &call.args {
                            expr_names(&a.value, &mut self.used);
                        }
                    }
                    StepBody::WaitEvent(w) => {
                        if let Some(f) = &w.filter {
                            let mut names = BTreeSet::new();
                            expr_names(f, &mut names);
                            names.remove("event");
                            self.used.extend(names);
                        }
                    }
                    StepBody::FanOut(f) => {
                        expr_names(&f.over, &mut self.used);
                        self.defined.insert(f.var.name.clone());
                        self.block(&f.body);
                    }
                }
                for policy in &step.policies {
                    match policy {
                        Policy::Fallback(Fallback::Value(e)) | Policy::TimeoutExpr(e) => {
                            expr_names(e, &mut self.used)
                        }
                        Policy::Fallback(Fallback::Block(b)) => self.block(b),
                        Policy::After(names) => self.used.extend(names.iter().map(|n| n.name.clone())),
                        Policy::Retry(_) | Policy::Timeout(_) => {}
                    }
                }
            }
            Stmt::Let(l) => {
                self.defined.insert(l.name.name.clone());
                expr_names(&l.value, &mut self.used);
            }
            Stmt::If(i) => {
                for (c, b) in &i.branches {
                    expr_names(c, &mut self.used);
                    self.block(b);
                }
                if let Some(b) = &i.otherwise {
                    self.block(b);
                }
            }
            Stmt::Match(m) => {
                expr_names(&m.value, &mut self.used);
                for arm in &m.arms {
                    pattern_names(&arm.pattern, &mut self.used);
                    self.block(&arm.body);
                }
            }
            Stmt::Wait(w) => match &w.kind {
                crate::syntax::ast::WaitKind::For(e) | crate::syntax::ast::WaitKind::Until(e) => {
                    expr_names(e, &mut self.used)
                }
            },
            Stmt::Emit(e) => {
                if let Some(p) = &e.payload {
                    expr_names(p, &mut self.used);
                }
            }
            Stmt::Fail(f) => expr_names(&f.message, &mut self.used),
            Stmt::Yield(y) => expr_names(&y.value, &mut self.used),
        }
    }
}
