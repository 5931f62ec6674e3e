//! Printing expressions: on one line when they fit and hold no comment, else records and lists
//! one element per line; strings as plain, escaped or raw text.

use super::*;

impl Printer<'_> {
    /// `e` on one line, if it can be (no comment inside, no multi-line raw string).
    pub(super) fn flat(&self, e: &Expr, min: u8) -> Option<String> {
        if self.has_comment_in(e.span) {
            return None;
        }
        let mut out = String::new();
        self.flat_into(e, min, false, &mut out).then_some(out)
    }

    /// Writes `e` on one line; false if it holds a multi-line raw string (unless `force`, which
    /// writes such strings with `\n` escapes).
    pub(super) fn flat_into(&self, e: &Expr, min: u8, force: bool, out: &mut String) -> bool {
        let paren = prec(e) < min;
        if paren {
            out.push('(');
        }
        let ok = match &e.kind {
            ExprKind::None => {
                out.push_str("none");
                true
            }
            ExprKind::Bool(b) => {
                out.push_str(if *b { "true" } else { "false" });
                true
            }
            ExprKind::Number(n) => {
                out.push_str(&n.to_string());
                true
            }
            ExprKind::Duration(d) => {
                out.push_str(&self.duration(*d, e.span));
                true
            }
            ExprKind::Str(parts) => match self.string_form(parts, e.span, force) {
                StringForm::Line(s) => {
                    out.push_str(&s);
                    true
                }
                StringForm::Raw(_) => false,
            },
            ExprKind::Name(n) => {
                out.push_str(n);
                true
            }
            ExprKind::Field(base, field) => {
                let ok = self.flat_into(base, PREC_ATOM, force, out);
                out.push('.');
                out.push_str(&key(&field.name));
                ok
            }
            ExprKind::Index(base, index) => {
                let ok = self.flat_into(base, PREC_ATOM, force, out);
                out.push('[');
                let ok2 = self.flat_into(index, 0, force, out);
                out.push(']');
                ok && ok2
            }
            ExprKind::Call(f, args) => {
                out.push_str(&f.name);
                out.push('(');
                let ok = self.flat_list(args, force, out);
                out.push(')');
                ok
            }
            ExprKind::List(items) => {
                out.push('[');
                let ok = self.flat_list(items, force, out);
                out.push(']');
                ok
            }
            ExprKind::Record(fields) => {
                if fields.is_empty() {
                    out.push_str("{}");
                    true
                } else {
                    out.push_str("{ ");
                    let mut ok = true;
                    for (i, f) in fields.iter().enumerate() {
                        if i > 0 {
                            out.push_str(", ");
                        }
                        out.push_str(&key(&f.name.name));
                        if !f.shorthand {
                            out.push_str(": ");
                            ok &= self.flat_into(&f.value, 0, force, out);
                        }
                    }
                    out.push_str(" }");
                    ok
                }
            }
            ExprKind::Unary(op, operand) => {
                let operand_min = match op {
                    UnaryOp::Not => {
                        out.push_str("not ");
                        not_operand_prec(operand)
                    }
                    UnaryOp::Neg => {
                        out.push('-');
                        PREC_NEG
                    }
                };
                self.flat_into(operand, operand_min, force, out)
            }
            ExprKind::Binary(op, l, r) => {
                let (lmin, rmin) = (operand_min(*op, l, true), operand_min(*op, r, false));
                let ok = self.flat_into(l, lmin, force, out);
                out.push(' ');
                out.push_str(op.symbol());
                out.push(' ');
                ok && self.flat_into(r, rmin, force, out)
            }
            ExprKind::If(cond, then, otherwise) => {
                out.push_str("if ");
                let mut ok = self.flat_into(cond, 0, force, out);
                out.push_str(" { ");
                ok &= self.flat_into(then, 0, force, out);
                out.push_str(" } else ");
                if let ExprKind::If(..) = otherwise.kind {
                    ok &= self.flat_into(otherwise, 0, force, out);
                } else {
                    out.push_str("{ ");
                    ok &= self.flat_into(otherwise, 0, force, out);
                    out.push_str(" }");
                }
                ok
            }
            ExprKind::Match(value, arms) => {
                out.push_str("match ");
                let mut ok = self.flat_into(value, 0, force, out);
                out.push_str(" {");
                for (i, (pattern, value)) in arms.iter().enumerate() {
                    out.push_str(if i == 0 { " " } else { ", " });
                    out.push_str(&self.pattern(pattern));
                    out.push_str(" => ");
                    ok &= self.flat_into(value, 0, force, out);
                }
                out.push_str(if arms.is_empty() { "}" } else { " }" });
                ok
            }
        };
        if paren {
            out.push(')');
        }
        ok
    }

    pub(super) fn flat_list(&self, items: &[Expr], force: bool, out: &mut String) -> bool {
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            ok &= self.flat_into(item, 0, force, out);
        }
        ok
    }

    /// Writes `e`: on one line when it fits, else breaking records, lists, calls, `if` and
    /// `match` one element per line.
    pub(super) fn expr(&mut self, e: &Expr, min: u8) {
        let breakable = match &e.kind {
            ExprKind::Record(f) => !f.is_empty(),
            ExprKind::List(items) | ExprKind::Call(_, items) => !items.is_empty(),
            ExprKind::Match(..) | ExprKind::If(..) => true,
            _ => false,
        };
        if let Some(flat) = self.flat(e, min) {
            if !breakable || self.fits(&flat) {
                self.w(&flat);
                return;
            }
        }
        let paren = prec(e) < min;
        if paren {
            self.w("(");
        }
        match &e.kind {
            ExprKind::Record(fields) => self.record_lines(fields, e.span),
            ExprKind::List(items) => {
                self.w("[");
                self.items(items, e.span, e.span.start + 1);
                self.w("]");
            }
            ExprKind::Call(f, args) => {
                self.w(&f.name);
                self.w("(");
                let paren = self.after(f.span.end, b'(');
                self.items(args, e.span, paren);
                self.w(")");
            }
            ExprKind::If(cond, then, otherwise) => {
                self.w("if ");
                self.expr(cond, 0);
                self.w(" ");
                // Comments up to the next condition or value stay inside the branch before it.
                let next_start = |e: &Expr| match &e.kind {
                    ExprKind::If(c, ..) => c.span.start,
                    _ => e.span.start,
                };
                self.branch(then, next_start(otherwise));
                let mut rest: &Expr = otherwise;
                while let ExprKind::If(c, t, o) = &rest.kind {
                    self.w(" else if ");
                    self.expr(c, 0);
                    self.w(" ");
                    self.branch(t, next_start(o));
                    rest = o;
                }
                self.w(" else ");
                self.branch(rest, self.end(e.span).saturating_sub(1));
            }
            ExprKind::Match(value, arms) => {
                self.w("match ");
                self.expr(value, 0);
                self.w(" {");
                let brace = self.after(self.end(value.span), b'{');
                self.open(brace);
                self.indent += 1;
                for (pattern, value) in arms {
                    let start = match pattern {
                        Pattern::Wildcard(s) => s.start,
                        Pattern::Literals(l) => l.first().map_or(value.span.start, |l| l.span.start),
                    };
                    self.element(start);
                    self.w(&self.pattern(pattern));
                    self.w(" => ");
                    self.expr(value, 0);
                    self.w(",");
                    let end = self.end(value.span);
                    self.newline(end);
                }
                self.close(self.end(e.span).saturating_sub(1));
                self.indent -= 1;
                self.w("}");
            }
            ExprKind::Binary(op, l, r) => {
                let (lmin, rmin) = (operand_min(*op, l, true), operand_min(*op, r, false));
                self.expr(l, lmin);
                self.w(&format!(" {} ", op.symbol()));
                self.expr(r, rmin);
            }
            ExprKind::Unary(op, operand) => match op {
                UnaryOp::Not => {
                    self.w("not ");
                    self.expr(operand, not_operand_prec(operand));
                }
                UnaryOp::Neg => {
                    self.w("-");
                    self.expr(operand, PREC_NEG);
                }
            },
            ExprKind::Field(base, field) => {
                self.expr(base, PREC_ATOM);
                self.w(&format!(".{}", key(&field.name)));
            }
            ExprKind::Index(base, index) => {
                self.expr(base, PREC_ATOM);
                self.w("[");
                self.expr(index, 0);
                self.w("]");
            }
            ExprKind::Str(parts) => match self.string_form(parts, e.span, false) {
                StringForm::Line(s) => self.w(&s),
                StringForm::Raw(text) => self.raw_text(&text, false),
            },
            _ => {
                let mut s = String::new();
                self.flat_into(e, 0, true, &mut s);
                self.w(&s);
            }
        }
        if paren {
            self.w(")");
        }
    }

    /// A record one field per line, braces included.
    pub(super) fn record_lines(&mut self, fields: &[RecordField], span: Span) {
        self.w("{");
        self.open(span.start + 1);
        self.indent += 1;
        for f in fields {
            self.element(f.name.span.start);
            self.w(&key(&f.name.name));
            if !f.shorthand {
                self.w(": ");
                self.expr(&f.value, 0);
            }
            self.w(",");
            let end = self.end(f.name.span.to(f.value.span));
            self.newline(end);
        }
        self.close(self.end(span).saturating_sub(1));
        self.indent -= 1;
        self.w("}");
    }

    /// List items or call arguments, one per line, between brackets the caller writes.
    pub(super) fn items(&mut self, items: &[Expr], span: Span, open: u32) {
        self.open(open);
        self.indent += 1;
        for item in items {
            self.element(item.span.start);
            self.expr(item, 0);
            self.w(",");
            let end = self.end(item.span);
            self.newline(end);
        }
        self.close(self.end(span).saturating_sub(1));
        self.indent -= 1;
    }

    /// One branch of a broken `if` expression: `{`, the value on its own line, `}` (with the
    /// comments written before `limit`).
    pub(super) fn branch(&mut self, value: &Expr, limit: u32) {
        self.w("{");
        self.open(value.span.start);
        self.indent += 1;
        self.element(value.span.start);
        self.expr(value, 0);
        let end = self.end(value.span);
        self.newline(end);
        self.close(limit);
        self.indent -= 1;
        self.w("}");
    }

    pub(super) fn string_form(&self, parts: &[StrPart], span: Span, force: bool) -> StringForm {
        if let [StrPart::Text(text)] = parts {
            let raw = self.written_raw(span);
            if !force && text.contains('\n') && raw != Some(false) && raw_lines(text, 0).is_some() {
                return StringForm::Raw(text.clone());
            }
            if raw == Some(true) || (raw.is_none() && text.is_empty()) {
                if let Some(s) = inline_raw(text) {
                    return StringForm::Line(s);
                }
            }
        }
        let mut out = String::from("\"");
        for (i, part) in parts.iter().enumerate() {
            match part {
                StrPart::Text(t) => {
                    let before = matches!(parts.get(i + 1), Some(StrPart::Expr(_)));
                    escape_text(t, before, &mut out);
                }
                StrPart::Expr(e) => {
                    out.push_str("{{ ");
                    self.flat_into(e, 0, true, &mut out);
                    out.push_str(" }}");
                }
            }
        }
        out.push('"');
        StringForm::Line(out)
    }

    /// A multi-line raw string whose lines sit one level in from the current line; the text
    /// after it continues on the closing line. `template` bodies fall back to one line.
    pub(super) fn raw_text(&mut self, text: &str, template: bool) {
        let level = self.indent;
        match raw_lines(text, level) {
            Some((lines, last)) => {
                self.w("\"\"\"");
                self.out.push_str(&self.line);
                self.out.push('\n');
                for l in lines {
                    self.out.push_str(&l);
                    self.out.push('\n');
                }
                self.line = last;
                self.block_start = false;
                self.last_blank = false;
            }
            None if template => match inline_raw(text) {
                Some(s) => self.w(&s),
                None => self.w(&template_string(text).unwrap_or_else(|| format!("\"\"\"{text}\"\"\""))),
            },
            None => self.w(&quoted(text)),
        }
    }
}

pub(super) enum StringForm {
    Line(String),
    Raw(String),
}
