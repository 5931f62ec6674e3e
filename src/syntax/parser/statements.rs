//! Parsing statements: blocks, `let`, `if`, `match`, `wait`, `emit`, `fail`, steps with their
//! calls and policies, and match patterns.

use super::*;

impl<'s> Parser<'s> {
    pub(super) fn parse_block(&self, pair: Pair<'s, Rule>) -> Block {
        let whole = span(&pair);
        if !self.enter(1, whole) {
            return Block {
                stmts: Vec::new(),
                span: whole,
            };
        }
        let block = self.parse_block_inner(pair, whole);
        self.leave(1);
        block
    }

    pub(super) fn parse_block_inner(&self, pair: Pair<'s, Rule>, whole: Span) -> Block {
        let mut stmts = Vec::new();
        let mut in_bad_run = false;
        for p in children(pair) {
            let rule = p.as_rule();
            if rule == Rule::bad_line {
                self.diagnose_bad_line(&p, Rule::probe_statement, in_bad_run);
            } else if let Some(stmt) = self.parse_stmt(p) {
                stmts.push(stmt);
            }
            in_bad_run = rule == Rule::bad_line;
        }
        Block { stmts, span: whole }
    }

    pub(super) fn parse_stmt(&self, pair: Pair<'s, Rule>) -> Option<Stmt> {
        let whole = span(&pair);
        let rule = pair.as_rule();
        let stmt = match rule {
            Rule::step_stmt => Stmt::Step(self.parse_step(pair)),
            Rule::let_stmt => {
                let mut inner = children(pair).peekable();
                let docs = self.parse_docs(&mut inner);
                let name = self.presume_ident(inner.next(), whole);
                let value = self.presume_expr(inner.next(), whole);
                Stmt::Let(Let {
                    docs,
                    name,
                    value,
                    span: whole,
                })
            }
            Rule::if_stmt => {
                let mut inner = children(pair).peekable();
                let docs = self.parse_docs(&mut inner);
                let mut branches = Vec::new();
                let mut otherwise = None;
                let mut pending: Option<Expr> = None;
                for p in inner {
                    match p.as_rule() {
                        Rule::else_if => {
                            if let Some(elif) = p.into_inner().find(|w| w.as_rule() == Rule::foreign_elif) {
                                self.push_foreign_word(&elif, "else if", "`else if` continues an `if`");
                            }
                        }
                        Rule::expr => pending = Some(self.parse_expr(p)),
                        Rule::block => {
                            let block = self.parse_block(p);
                            match pending.take() {
                                Some(cond) => branches.push((cond, block)),
                                None => otherwise = Some(block),
                            }
                        }
                        _ => {}
                    }
                }
                Stmt::If(If {
                    docs,
                    branches,
                    otherwise,
                    span: whole,
                })
            }
            Rule::match_stmt => {
                let mut inner = children(pair).peekable();
                let docs = self.parse_docs(&mut inner);
                let value = self.presume_expr(inner.next(), whole);
                let arms = inner
                    .filter(|p| p.as_rule() == Rule::match_arm)
                    .map(|arm| {
                        let arm_span = span(&arm);
                        let mut parts = children(arm).peekable();
                        let docs = self.parse_docs(&mut parts);
                        let pattern = match parts.next() {
                            Some(p) => self.parse_pattern(p),
                            None => Pattern::Wildcard(arm_span),
                        };
                        let body = parts.next().map(|b| self.parse_block(b)).unwrap_or_default();
                        MatchArm {
                            docs,
                            pattern,
                            body,
                            span: arm_span,
                        }
                    })
                    .collect();
                Stmt::Match(Match {
                    docs,
                    value,
                    arms,
                    span: whole,
                })
            }
            Rule::wait_stmt => {
                let mut inner = children(pair).peekable();
                let docs = self.parse_docs(&mut inner);
                let kind = match inner.next() {
                    Some(p) if p.as_rule() == Rule::wait_until => {
                        WaitKind::Until(self.presume_expr(children(p).next(), whole))
                    }
                    other => WaitKind::For(self.presume_expr(other, whole)),
                };
                Stmt::Wait(Wait {
                    docs,
                    kind,
                    span: whole,
                })
            }
            Rule::emit_stmt => {
                let mut inner = children(pair).peekable();
                let docs = self.parse_docs(&mut inner);
                let event = self.presume_str_lit(inner.next(), whole);
                let payload = inner.next().map(|p| self.parse_primary(p));
                Stmt::Emit(Emit {
                    docs,
                    event,
                    payload,
                    span: whole,
                })
            }
            Rule::fail_stmt => {
                let mut inner = children(pair).peekable();
                let docs = self.parse_docs(&mut inner);
                Stmt::Fail(Fail {
                    docs,
                    message: self.presume_expr(inner.next(), whole),
                    span: whole,
                })
            }
            Rule::yield_stmt => {
                let mut inner = children(pair).peekable();
                let docs = self.parse_docs(&mut inner);
                Stmt::Yield(Yield {
                    docs,
                    value: self.presume_expr(inner.next(), whole),
                    span: whole,
                })
            }
            _ => return None,
        };
        Some(stmt)
    }

    pub(super) fn parse_step(&self, pair: Pair<'s, Rule>) -> Step {
        let whole = span(&pair);
        let mut inner = children(pair).peekable();
        let docs = self.parse_docs(&mut inner);
        let name = self.presume_ident(inner.next(), whole);
        let mut body = None;
        let mut policies = Vec::new();
        for p in inner {
            let s = span(&p);
            match p.as_rule() {
                Rule::call => body = Some(StepBody::Call(self.parse_call(p))),
                Rule::wait_event => {
                    let mut parts = children(p);
                    let event = self.presume_str_lit(parts.next(), s);
                    let filter = parts.next().map(|e| self.parse_expr(e));
                    body = Some(StepBody::WaitEvent(WaitEvent {
                        event,
                        filter,
                        span: s,
                    }));
                }
                Rule::fan_out => {
                    let mut var = None;
                    let mut over = None;
                    let mut concurrency = None;
                    let mut block = Block::default();
                    for c in children(p) {
                        match c.as_rule() {
                            Rule::ident => var = Some(self.parse_ident(c)),
                            Rule::expr => over = Some(self.parse_expr(c)),
                            Rule::int => concurrency = Some((self.parse_int(&c), span(&c))),
                            Rule::block => block = self.parse_block(c),
                            _ => {}
                        }
                    }
                    body = Some(StepBody::FanOut(FanOut {
                        var: var.unwrap_or_else(|| self.presume_ident(None, s)),
                        over: over.unwrap_or_else(|| none_expr(s)),
                        concurrency,
                        body: block,
                        span: s,
                    }));
                }
                Rule::retry_policy => policies.push(Policy::Retry(self.parse_retry(p))),
                Rule::timeout_policy => match children(p).next() {
                    Some(e) if e.as_rule() == Rule::expr => {
                        let e = self.parse_expr(e);
                        // `timeout (2d)` is still a written duration.
                        policies.push(match e.kind {
                            ExprKind::Duration(ms) => Policy::Timeout(DurationLit { ms, span: e.span }),
                            _ => Policy::TimeoutExpr(e),
                        })
                    }
                    d => policies.push(Policy::Timeout(self.presume_duration(d, s))),
                },
                Rule::fallback_policy => {
                    let fallback = match children(p).next() {
                        Some(b) if b.as_rule() == Rule::block => Fallback::Block(self.parse_block(b)),
                        other => Fallback::Value(self.presume_expr(other, s)),
                    };
                    policies.push(Policy::Fallback(fallback));
                }
                Rule::after_policy => {
                    let names = children(p)
                        .next()
                        .map(|l| self.parse_ident_list(l))
                        .unwrap_or_default();
                    policies.push(Policy::After(names));
                }
                _ => {}
            }
        }
        Step {
            docs,
            name,
            body: body.unwrap_or_else(|| {
                StepBody::Call(Call {
                    callee: Vec::new(),
                    args: Vec::new(),
                    span: whole,
                })
            }),
            policies,
            span: whole,
        }
    }

    pub(super) fn parse_call(&self, pair: Pair<'s, Rule>) -> Call {
        let whole = span(&pair);
        let mut callee = Vec::new();
        let mut args = Vec::new();
        for p in children(pair) {
            match p.as_rule() {
                Rule::qualified => callee = p.into_inner().map(|i| self.parse_ident(i)).collect(),
                Rule::arg => {
                    let s = span(&p);
                    let mut parts = children(p);
                    let name = self.presume_ident(parts.next(), s);
                    let (value, shorthand) = match parts.next() {
                        Some(e) => (self.parse_expr(e), false),
                        None => (
                            Expr {
                                kind: ExprKind::Name(name.name.clone()),
                                span: name.span,
                            },
                            true,
                        ),
                    };
                    args.push(Arg {
                        name,
                        value,
                        shorthand,
                        span: s,
                    });
                }
                _ => {}
            }
        }
        Call {
            callee,
            args,
            span: whole,
        }
    }

    pub(super) fn parse_retry(&self, pair: Pair<'s, Rule>) -> Retry {
        let whole = span(&pair);
        let mut retry = Retry {
            attempts: 1,
            attempts_span: whole,
            backoff: None,
            jitter: None,
            on: Vec::new(),
            span: whole,
        };
        for p in children(pair) {
            match p.as_rule() {
                Rule::int => {
                    retry.attempts = self.parse_int(&p);
                    retry.attempts_span = span(&p);
                }
                Rule::backoff => {
                    let s = span(&p);
                    let mut parts = children(p);
                    let min = self.presume_duration(parts.next(), s);
                    let max = self.presume_duration(parts.next(), s);
                    let factor = parts
                        .next()
                        .map(|f| (f.as_str().parse().unwrap_or(2.0), span(&f)));
                    retry.backoff = Some(Backoff {
                        min,
                        max,
                        factor,
                        span: s,
                    });
                }
                Rule::jitter => retry.jitter = Some(!p.as_str().starts_with("no")),
                Rule::retry_on => {
                    retry.on = children(p)
                        .next()
                        .map(|l| self.parse_ident_list(l))
                        .unwrap_or_default()
                }
                _ => {}
            }
        }
        retry
    }

    pub(super) fn parse_pattern(&self, pair: Pair<'s, Rule>) -> Pattern {
        let whole = span(&pair);
        let mut literals = Vec::new();
        for p in children(pair) {
            if p.as_rule() == Rule::wildcard {
                return Pattern::Wildcard(whole);
            }
            literals.push(self.parse_primary(p));
        }
        Pattern::Literals(literals)
    }

    pub(super) fn parse_int(&self, pair: &Pair<'_, Rule>) -> u32 {
        match pair.as_str().parse() {
            Ok(n) => n,
            Err(_) => {
                self.push(
                    Diagnostic::new(
                        Code::SyntaxError,
                        self.file,
                        span(pair),
                        format!("`{}` is too large", pair.as_str()),
                    )
                    .label("this number")
                    .help("use a whole number below 4294967296"),
                );
                u32::MAX
            }
        }
    }
}
