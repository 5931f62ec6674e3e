//! Printing statements: blocks, `let`, `if`, `match`, `wait`, steps with their policies, calls
//! (with a long last record hugged to the call) and patterns.

use super::*;

impl Printer<'_> {
    /// `{ statements }`, `{}` when empty; the closing brace ends the current line's text.
    pub(super) fn block(&mut self, b: &Block) {
        let close = self.end(b.span).saturating_sub(1);
        if b.stmts.is_empty() && !self.has_comment_in(Span::new(b.span.start as usize + 1, close as usize)) {
            self.w("{}");
            return;
        }
        self.w("{");
        self.open(b.span.start + 1);
        self.indent += 1;
        for s in &b.stmts {
            self.element(s.span().start);
            self.stmt(s);
            let end = self.end(s.span());
            self.newline(end);
        }
        self.close(close);
        self.indent -= 1;
        self.w("}");
    }

    pub(super) fn stmt(&mut self, s: &Stmt) {
        match s {
            Stmt::Step(step) => self.step(step),
            Stmt::Let(l) => {
                self.docs(&l.docs, &l.name);
                self.w(&format!("let {} = ", l.name.name));
                self.expr(&l.value, 0);
            }
            Stmt::If(i) => {
                if let Some((cond, _)) = i.branches.first() {
                    self.docs_before(&i.docs, self.keyword_before(cond.span.start, "if"));
                }
                for (n, (cond, block)) in i.branches.iter().enumerate() {
                    self.w(if n == 0 { "if " } else { " else if " });
                    self.expr(cond, 0);
                    self.w(" ");
                    self.block(block);
                }
                if let Some(otherwise) = &i.otherwise {
                    self.w(" else ");
                    self.block(otherwise);
                }
            }
            Stmt::Match(m) => {
                self.docs_before(&m.docs, self.keyword_before(m.value.span.start, "match"));
                self.w("match ");
                self.expr(&m.value, 0);
                self.w(" {");
                let brace = self.after(self.end(m.value.span), b'{');
                self.open(brace);
                self.indent += 1;
                for arm in &m.arms {
                    self.element(arm.span.start);
                    let pattern_start = match &arm.pattern {
                        Pattern::Wildcard(span) => span.start,
                        Pattern::Literals(literals) => {
                            literals.first().map_or(arm.span.start, |l| l.span.start)
                        }
                    };
                    self.docs_before(&arm.docs, pattern_start);
                    self.w(&self.pattern(&arm.pattern));
                    self.w(" => ");
                    self.block(&arm.body);
                    let end = self.end(arm.span);
                    self.newline(end);
                }
                self.close(self.end(m.span).saturating_sub(1));
                self.indent -= 1;
                self.w("}");
            }
            Stmt::Wait(w) => {
                let value = match &w.kind {
                    WaitKind::For(e) | WaitKind::Until(e) => e.span.start,
                };
                self.docs_before(&w.docs, self.keyword_before(value, "wait"));
                self.wait(w);
            }
            Stmt::Emit(e) => {
                self.docs_before(&e.docs, self.keyword_before(e.event.span.start, "emit"));
                self.w(&format!("emit {}", quoted(&e.event.value)));
                if let Some(p) = &e.payload {
                    self.w(" ");
                    self.expr(p, 0);
                }
            }
            Stmt::Fail(f) => {
                self.docs_before(&f.docs, self.keyword_before(f.message.span.start, "fail"));
                self.w("fail ");
                self.expr(&f.message, 0);
            }
            Stmt::Yield(y) => {
                self.docs_before(&y.docs, self.keyword_before(y.value.span.start, "yield"));
                self.w("yield ");
                self.expr(&y.value, 0);
            }
        }
    }

    pub(super) fn wait(&mut self, w: &Wait) {
        match &w.kind {
            WaitKind::For(e) => {
                self.w("wait ");
                self.expr(e, 0);
            }
            WaitKind::Until(e) => {
                self.w("wait until ");
                self.expr(e, 0);
            }
        }
    }

    pub(super) fn step(&mut self, step: &Step) {
        self.docs(&step.docs, &step.name);
        self.w(&format!("step {} = ", step.name.name));
        let body_span = match &step.body {
            StepBody::Call(c) => {
                self.call(c);
                c.span
            }
            StepBody::WaitEvent(w) => {
                self.w(&format!("wait for event {}", quoted(&w.event.value)));
                if let Some(filter) = &w.filter {
                    self.w(" where ");
                    self.expr(filter, 0);
                }
                w.span
            }
            StepBody::FanOut(f) => {
                self.w(&format!("for {} in ", f.var.name));
                self.expr(&f.over, 0);
                if let Some((n, _)) = f.concurrency {
                    self.w(&format!(" concurrency {n}"));
                }
                self.w(" ");
                self.block(&f.body);
                f.span
            }
        };
        let mut previous_end = self.end(body_span);
        for policy in &step.policies {
            let (span, keyword) = match policy {
                Policy::Retry(r) => (r.span, "retry"),
                Policy::Timeout(d) => (d.span, "timeout"),
                Policy::TimeoutExpr(e) => (e.span, "timeout"),
                Policy::Fallback(Fallback::Value(e)) => (e.span, "fallback"),
                Policy::Fallback(Fallback::Block(b)) => (b.span, "fallback"),
                Policy::After(names) => match (names.first(), names.last()) {
                    (Some(a), Some(b)) => (a.span.to(b.span), "after"),
                    _ => (Span::new(previous_end as usize, previous_end as usize), "after"),
                },
            };
            // The tree's span starts at the value; the line starts at the keyword.
            let start = self.keyword_before(span.start, keyword).max(previous_end);
            self.newline(previous_end);
            self.indent += 1;
            self.element(start);
            self.policy(policy);
            self.indent -= 1;
            previous_end = self.end(span);
        }
    }

    pub(super) fn policy(&mut self, policy: &Policy) {
        match policy {
            Policy::Retry(r) => {
                self.w(&format!("retry {} times", r.attempts));
                if let Some(b) = &r.backoff {
                    let (min, max) = (
                        self.duration(b.min.ms, b.min.span),
                        self.duration(b.max.ms, b.max.span),
                    );
                    self.w(&format!(" backoff {min}..{max}"));
                    if let Some((factor, _)) = b.factor {
                        self.w(&format!(" factor {}", number(factor)));
                    }
                }
                match r.jitter {
                    Some(true) => self.w(" jitter"),
                    Some(false) => self.w(" no jitter"),
                    None => {}
                }
                if !r.on.is_empty() {
                    self.w(&format!(" on {}", names(&r.on)));
                }
            }
            Policy::Timeout(d) => {
                let d = self.duration(d.ms, d.span);
                self.w(&format!("timeout {d}"));
            }
            Policy::TimeoutExpr(e) => {
                self.w("timeout ");
                self.expr(e, 0);
            }
            Policy::Fallback(Fallback::Block(b)) => {
                self.w("fallback ");
                self.block(b);
            }
            Policy::Fallback(Fallback::Value(e)) => {
                self.w("fallback ");
                // A value with a leading `{` reads as a record only when the braces open with
                // `name:`; anything else (`{}`, `{ client }`) would read as a block.
                if starts_with_brace(e) && !leading_record_has_named_field(e) {
                    self.w("(");
                    self.expr(e, 0);
                    self.w(")");
                } else {
                    self.expr(e, 0);
                }
            }
            Policy::After(names_) => self.w(&format!("after {}", names(names_))),
        }
    }

    /// `callee(name: value, ...)` on one line if it fits, else one argument per line.
    pub(super) fn call(&mut self, c: &Call) {
        let callee = path(&c.callee);
        let flat = self.flat_call(c);
        if let Some(flat) = flat.filter(|f| self.fits(f)) {
            self.w(&flat);
            return;
        }
        if self.hug_last_record(c) {
            return;
        }
        self.w(&callee);
        self.w("(");
        let paren = self.after(c.callee_span().end, b'(');
        self.open(paren);
        self.indent += 1;
        for arg in &c.args {
            self.element(arg.span.start);
            self.w(&arg.name.name);
            if !arg.shorthand {
                self.w(": ");
                self.expr(&arg.value, 0);
            }
            self.w(",");
            let end = self.end(arg.span);
            self.newline(end);
        }
        self.close(self.end(c.span).saturating_sub(1));
        self.indent -= 1;
        self.w(")");
    }

    /// `callee(a: 1, last: {` + one field per line + `})` when the call ends with a record too
    /// long for a line of its own and everything before it fits: the usual shape of
    /// `create_page(db: ..., properties: { ... })`, which reads better than one argument per line.
    pub(super) fn hug_last_record(&mut self, c: &Call) -> bool {
        let Some((last, rest)) = c.args.split_last() else {
            return false;
        };
        let ExprKind::Record(fields) = &last.value.kind else {
            return false;
        };
        if last.shorthand || fields.is_empty() {
            return false;
        }
        // A record that fits on an argument line of its own reads better there.
        let own_line = (self.indent + 1) * 2 + last.name.name.len() + 3;
        if let Some(flat) = self.flat(&last.value, 0) {
            if own_line + flat.chars().count() <= WIDTH {
                return false;
            }
        }
        // With comments the call is written one argument per line, where each has a place
        // that stays the same when formatted again.
        // Comments still waiting to be written (from before the call) would land inside it too.
        let record = last.value.span;
        let pending = (0..self.comments.len())
            .any(|i| !self.used[i] && self.in_window(i) && self.comments[i].start < c.span.end);
        if pending || self.has_comment_in(c.span) {
            return false;
        }
        let mut head = format!("{}(", path(&c.callee));
        for arg in rest {
            if arg.shorthand {
                head.push_str(&arg.name.name);
            } else {
                match self.flat(&arg.value, 0) {
                    Some(value) => head.push_str(&format!("{}: {value}", arg.name.name)),
                    None => return false,
                }
            }
            head.push_str(", ");
        }
        head.push_str(&format!("{}: ", last.name.name));
        if !self.fits(&format!("{head}{{")) {
            return false;
        }
        self.w(&head);
        self.record_lines(fields, record);
        self.w(")");
        true
    }

    pub(super) fn flat_call(&self, c: &Call) -> Option<String> {
        if self.has_comment_in(c.span) {
            return None;
        }
        let mut args = Vec::new();
        for arg in &c.args {
            if arg.shorthand {
                args.push(arg.name.name.clone());
            } else {
                args.push(format!("{}: {}", arg.name.name, self.flat(&arg.value, 0)?));
            }
        }
        Some(format!("{}({})", path(&c.callee), args.join(", ")))
    }

    pub(super) fn pattern(&self, p: &Pattern) -> String {
        match p {
            Pattern::Wildcard(_) => "_".into(),
            Pattern::Literals(lits) => lits
                .iter()
                .map(|l| {
                    let mut s = String::new();
                    self.flat_into(l, PREC_ATOM, true, &mut s);
                    s
                })
                .collect::<Vec<_>>()
                .join(" | "),
        }
    }
}
