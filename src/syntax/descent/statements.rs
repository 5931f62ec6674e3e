//! Statements: blocks, `let`, `if`, `match`, `wait`, `emit`, `fail`, `yield`, and steps with
//! their calls and policies.

use super::{Bail, Descent, Parse};
use crate::syntax::ast::*;
use crate::syntax::Span;

impl Descent<'_> {
    pub(super) fn block(&mut self) -> Parse<Block> {
        self.nested(1, |p| {
            p.skip()?;
            let start = p.pos;
            p.punct("{")?;
            let mut stmts = Vec::new();
            while !p.eat("}")? {
                let stmt_start = p.pos;
                let docs = p.docs()?;
                stmts.push(p.statement(stmt_start, docs)?);
            }
            Ok(Block {
                stmts,
                span: p.span_from(start),
            })
        })
    }

    /// A statement starting at `start` (its doc comments, already read, included).
    pub(super) fn statement(&mut self, start: usize, docs: Vec<String>) -> Parse<Stmt> {
        let word = self.next_word()?;
        if !matches!(
            word,
            "step" | "let" | "if" | "match" | "wait" | "emit" | "fail" | "yield"
        ) {
            return Err(Bail);
        }
        self.take(word.len());
        let stmt = match word {
            "step" => Stmt::Step(self.step(start, docs)?),
            "let" => {
                let name = self.ident()?;
                self.punct("=")?;
                let value = self.expr()?;
                self.eat(";")?;
                Stmt::Let(Let {
                    docs,
                    name,
                    value,
                    span: self.span_from(start),
                })
            }
            "if" => {
                let mut branches = vec![(self.expr()?, self.block()?)];
                let mut otherwise = None;
                loop {
                    match self.next_word()? {
                        "else" => {
                            self.take(4);
                            if self.eat_keyword("if")? {
                                branches.push((self.expr()?, self.block()?));
                            } else {
                                otherwise = Some(self.block()?);
                                break;
                            }
                        }
                        // Read as `else if` by the grammar, and reported.
                        "elif" | "elsif" | "elseif" => return Err(Bail),
                        _ => {
                            self.absent();
                            break;
                        }
                    }
                }
                Stmt::If(If {
                    docs,
                    branches,
                    otherwise,
                    span: self.span_from(start),
                })
            }
            "match" => {
                let value = self.expr()?;
                self.punct("{")?;
                let mut arms = Vec::new();
                while !self.eat("}")? {
                    let arm_start = self.pos;
                    let docs = self.docs()?;
                    let pattern = self.pattern()?;
                    self.punct("=>")?;
                    let body = self.block()?;
                    self.eat(",")?;
                    arms.push(MatchArm {
                        docs,
                        pattern,
                        body,
                        span: self.span_from(arm_start),
                    });
                }
                Stmt::Match(Match {
                    docs,
                    value,
                    arms,
                    span: self.span_from(start),
                })
            }
            "wait" => {
                let kind = if self.eat_keyword("until")? {
                    WaitKind::Until(self.expr()?)
                } else {
                    WaitKind::For(self.expr()?)
                };
                self.eat(";")?;
                Stmt::Wait(Wait {
                    docs,
                    kind,
                    span: self.span_from(start),
                })
            }
            "emit" => {
                let event = self.str_lit()?;
                self.skip()?;
                let payload = if self.byte(0) == b'{' {
                    Some(self.record()?)
                } else {
                    None
                };
                self.eat(";")?;
                Stmt::Emit(Emit {
                    docs,
                    event,
                    payload,
                    span: self.span_from(start),
                })
            }
            "fail" => {
                let message = self.expr()?;
                self.eat(";")?;
                Stmt::Fail(Fail {
                    docs,
                    message,
                    span: self.span_from(start),
                })
            }
            _ => {
                let value = self.expr()?;
                self.eat(";")?;
                Stmt::Yield(Yield {
                    docs,
                    value,
                    span: self.span_from(start),
                })
            }
        };
        Ok(stmt)
    }

    /// `_`, or literals separated by `|`.
    pub(super) fn pattern(&mut self) -> Parse<Pattern> {
        self.skip()?;
        if self.byte(0) == b'_' && !super::cursor::is_word_char(self.byte(1)) {
            let start = self.pos;
            self.take(1);
            // The grammar's `"_" ~ !ident_char` skips blanks before its lookahead.
            self.skip()?;
            self.absent();
            return Ok(Pattern::Wildcard(self.span_from(start)));
        }
        let mut literals = vec![self.literal()?];
        while self.eat("|")? {
            literals.push(self.literal()?);
        }
        Ok(Pattern::Literals(literals))
    }

    /// After `step`: the rest of the step.
    fn step(&mut self, start: usize, docs: Vec<String>) -> Parse<Step> {
        let name = self.ident()?;
        self.punct("=")?;
        let body_start = self.pos_after_blanks()?;
        let body = match self.peek_word() {
            "wait" => {
                self.take(4);
                self.keyword("for")?;
                self.keyword("event")?;
                let event = self.str_lit()?;
                let filter = if self.eat_keyword("where")? {
                    Some(self.expr()?)
                } else {
                    None
                };
                StepBody::WaitEvent(WaitEvent {
                    event,
                    filter,
                    span: self.span_from(body_start),
                })
            }
            "for" => {
                self.take(3);
                let var = self.ident()?;
                self.keyword("in")?;
                let over = self.expr()?;
                let concurrency = if self.eat_keyword("concurrency")? {
                    Some(self.int()?)
                } else {
                    None
                };
                let body = self.block()?;
                StepBody::FanOut(FanOut {
                    var,
                    over,
                    concurrency,
                    body,
                    span: self.span_from(body_start),
                })
            }
            _ => StepBody::Call(self.call()?),
        };
        let mut policies = Vec::new();
        loop {
            let policy_start = self.pos_after_blanks()?;
            let policy = match self.peek_word() {
                "retry" => Policy::Retry(self.retry(policy_start)?),
                "timeout" => {
                    self.take("timeout".len());
                    // A duration alone reads the same as the expression of that duration.
                    let e = self.expr()?;
                    match e.kind {
                        ExprKind::Duration(ms) => Policy::Timeout(DurationLit { ms, span: e.span }),
                        _ => Policy::TimeoutExpr(e),
                    }
                }
                "fallback" => {
                    self.take("fallback".len());
                    if self.record_follows()? {
                        Policy::Fallback(Fallback::Value(self.expr()?))
                    } else if self.byte(0) == b'{' {
                        Policy::Fallback(Fallback::Block(self.block()?))
                    } else {
                        Policy::Fallback(Fallback::Value(self.expr()?))
                    }
                }
                "after" => {
                    self.take("after".len());
                    Policy::After(self.ident_list()?)
                }
                _ => break,
            };
            policies.push(policy);
        }
        self.eat(";")?;
        Ok(Step {
            docs,
            name,
            body,
            policies,
            span: self.span_from(start),
        })
    }

    /// The position of the next token.
    fn pos_after_blanks(&mut self) -> Parse<usize> {
        self.skip()?;
        Ok(self.pos)
    }

    /// Whether braces then a field name and `:` follow (`fallback { id: "x" }`): a record
    /// value, where other braces are a block. Takes nothing.
    fn record_follows(&mut self) -> Parse<bool> {
        self.skip()?;
        if self.byte(0) != b'{' {
            return Ok(false);
        }
        let (pos, end, deepest) = (self.pos, self.end, self.deepest);
        self.take(1);
        self.skip()?;
        let key = if self.byte(0) == b'"' {
            self.string_parts().is_ok()
        } else {
            self.name().is_ok()
        };
        let follows = key && self.eat(":")?;
        (self.pos, self.end, self.deepest) = (pos, end, deepest);
        Ok(follows)
    }

    pub(super) fn call(&mut self) -> Parse<Call> {
        let start = self.pos_after_blanks()?;
        let callee = self.qualified()?;
        self.punct("(")?;
        let mut args = Vec::new();
        while !self.eat(")")? {
            let arg_start = self.pos_after_blanks()?;
            let name = self.name()?;
            let (value, shorthand) = if self.eat(":")? {
                (self.expr()?, false)
            } else {
                let value = Expr {
                    kind: ExprKind::Name(name.name.clone()),
                    span: name.span,
                };
                (value, true)
            };
            args.push(Arg {
                name,
                value,
                shorthand,
                span: self.span_from(arg_start),
            });
            if !self.eat(",")? {
                self.punct(")")?;
                break;
            }
        }
        Ok(Call {
            callee,
            args,
            span: self.span_from(start),
        })
    }

    fn retry(&mut self, start: usize) -> Parse<Retry> {
        self.take("retry".len());
        let (attempts, attempts_span) = self.int()?;
        self.eat_keyword("times")?;
        let backoff = if self.next_word()? == "backoff" {
            let backoff_start = self.pos;
            self.take("backoff".len());
            let min = self.duration()?;
            self.punct("..")?;
            let max = self.duration()?;
            let factor = if self.eat_keyword("factor")? {
                self.skip()?;
                let len = self.number_len().ok_or(Bail)?;
                let at = self.pos;
                self.take(len);
                let text = &self.source[at..at + len];
                Some((text.parse().unwrap_or(2.0), Span::new(at, self.end)))
            } else {
                None
            };
            Some(Backoff {
                min,
                max,
                factor,
                span: self.span_from(backoff_start),
            })
        } else {
            None
        };
        let jitter = match self.next_word()? {
            "jitter" => {
                self.take("jitter".len());
                Some(true)
            }
            "no" => {
                // `no jitter`, with only blanks and line breaks between (no comment).
                let blanks = self.bytes[self.pos + 2..]
                    .iter()
                    .take_while(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
                    .count();
                self.pos += 2 + blanks;
                if blanks == 0 || self.peek_word() != "jitter" {
                    return Err(Bail);
                }
                self.take("jitter".len());
                Some(false)
            }
            _ => None,
        };
        let mut on = Vec::new();
        if self.next_word()? == "on" {
            let at = self.pos;
            self.pos += 2;
            // `on error` after a step is the flow's handler, not the retry's classes.
            if self.next_word()? == "error" {
                self.pos = at;
                self.absent();
            } else {
                on = self.ident_list()?;
            }
        } else {
            self.absent();
        }
        Ok(Retry {
            attempts,
            attempts_span,
            backoff,
            jitter,
            on,
            span: self.span_from(start),
        })
    }
}
