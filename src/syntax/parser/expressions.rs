//! Parsing expressions: the Pratt parser over operators, literals, strings with their
//! interpolations, records, lists, and durations.

use super::*;

impl<'s> Parser<'s> {
    pub(super) fn presume_expr(&self, pair: Option<Pair<'s, Rule>>, around: Span) -> Expr {
        match pair {
            Some(p) if p.as_rule() == Rule::expr => self.parse_expr(p),
            Some(p) => self.parse_primary(p),
            None => none_expr(around),
        }
    }

    pub(super) fn parse_expr(&self, pair: Pair<'s, Rule>) -> Expr {
        let s = span(&pair);
        let weight = pair.clone().into_inner().count().max(1);
        if !self.enter(weight, s) {
            return none_expr(s);
        }
        let expr = self.parse_expr_pairs(pair.into_inner());
        self.leave(weight);
        expr
    }

    pub(super) fn parse_expr_pairs(&self, pairs: Pairs<'s, Rule>) -> Expr {
        self.pratt
            .map_primary(|p| self.parse_primary(p))
            .map_prefix(|op, rhs| {
                if op.as_str().trim() == "!" {
                    self.push_foreign_operator(&op, "not");
                }
                let op_kind = if op.as_rule() == Rule::op_not {
                    UnaryOp::Not
                } else {
                    UnaryOp::Neg
                };
                let s = span(&op).to(rhs.span);
                // Fold `-3` and `-2d` into literals so that `wait -1d` reads as one value.
                match (op_kind, &rhs.kind) {
                    (UnaryOp::Neg, ExprKind::Number(n)) if n.negated().is_some() => Expr {
                        kind: ExprKind::Number(n.negated().unwrap_or(*n)),
                        span: s,
                    },
                    (UnaryOp::Neg, ExprKind::Duration(d)) => Expr {
                        kind: ExprKind::Duration(-d),
                        span: s,
                    },
                    _ => Expr {
                        kind: ExprKind::Unary(op_kind, Box::new(rhs)),
                        span: s,
                    },
                }
            })
            .map_postfix(|lhs, op| {
                let s = lhs.span.to(span(&op));
                match op.as_rule() {
                    Rule::index => {
                        let index = self.presume_expr(op.into_inner().next(), s);
                        Expr {
                            kind: ExprKind::Index(Box::new(lhs), Box::new(index)),
                            span: s,
                        }
                    }
                    _ => {
                        let field = match op.into_inner().next() {
                            Some(f) if f.as_rule() == Rule::quoted_field => {
                                let lit = self.presume_str_lit(f.into_inner().next(), s);
                                Ident {
                                    name: lit.value,
                                    span: lit.span,
                                }
                            }
                            other => self.presume_ident(other, s),
                        };
                        Expr {
                            kind: ExprKind::Field(Box::new(lhs), field),
                            span: s,
                        }
                    }
                }
            })
            .map_infix(|lhs, op, rhs| {
                match op.as_str().trim() {
                    "||" => self.push_foreign_operator(&op, "or"),
                    "&&" => self.push_foreign_operator(&op, "and"),
                    "=" | "===" => self.push_foreign_operator(&op, "=="),
                    "!==" | "<>" => self.push_foreign_operator(&op, "!="),
                    _ => {}
                }
                let op = match op.as_rule() {
                    Rule::op_or => BinaryOp::Or,
                    Rule::op_and => BinaryOp::And,
                    Rule::op_eq => BinaryOp::Eq,
                    Rule::op_ne => BinaryOp::Ne,
                    Rule::op_lt => BinaryOp::Lt,
                    Rule::op_le => BinaryOp::Le,
                    Rule::op_gt => BinaryOp::Gt,
                    Rule::op_ge => BinaryOp::Ge,
                    Rule::op_default => BinaryOp::Default,
                    Rule::op_add => BinaryOp::Add,
                    Rule::op_sub => BinaryOp::Sub,
                    Rule::op_mul => BinaryOp::Mul,
                    Rule::op_div => BinaryOp::Div,
                    _ => BinaryOp::In,
                };
                let s = lhs.span.to(rhs.span);
                Expr {
                    kind: ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)),
                    span: s,
                }
            })
            .parse(pairs)
    }

    pub(super) fn parse_primary(&self, pair: Pair<'s, Rule>) -> Expr {
        let s = span(&pair);
        let kind = match pair.as_rule() {
            Rule::expr => return self.parse_expr(pair),
            Rule::paren => return self.presume_expr(children(pair).next(), s),
            Rule::none => ExprKind::None,
            Rule::boolean => ExprKind::Bool(pair.as_str() == "true"),
            Rule::number => ExprKind::Number(self.parse_number(&pair)),
            Rule::duration => ExprKind::Duration(self.parse_duration_lit(&pair).ms),
            Rule::bad_duration => ExprKind::Duration(self.push_bad_duration(&pair)),
            Rule::spaced_duration => ExprKind::Duration(self.parse_spaced_duration(&pair).ms),
            Rule::foreign_literal => {
                let (meant, kind) = match pair.as_str() {
                    "True" | "TRUE" => ("true", ExprKind::Bool(true)),
                    "False" | "FALSE" => ("false", ExprKind::Bool(false)),
                    _ => ("none", ExprKind::None),
                };
                self.push_foreign_word(&pair, meant, "the literals are `true`, `false` and `none`");
                kind
            }
            Rule::string => match self.texts.iter().find(|(at, _)| *at == s.start as usize) {
                Some((_, words)) => ExprKind::Str(vec![StrPart::Text(words.clone())]),
                None => ExprKind::Str(self.parse_string_parts(pair)),
            },
            Rule::raw_string => ExprKind::Str(vec![StrPart::Text(
                pair.into_inner()
                    .next()
                    .map(|t| dedent(t.as_str()))
                    .unwrap_or_default(),
            )]),
            Rule::ident | Rule::entity_name => ExprKind::Name(pair.as_str().to_string()),
            Rule::func_call => {
                let mut inner = children(pair);
                let name = self.presume_ident(inner.next(), s);
                ExprKind::Call(name, inner.map(|e| self.parse_expr(e)).collect())
            }
            Rule::list => ExprKind::List(children(pair).map(|e| self.parse_expr(e)).collect()),
            Rule::record => ExprKind::Record(self.parse_record_fields(pair)),
            Rule::if_expr => {
                let mut parts = children(pair).filter(|p| {
                    let elif = p.as_rule() == Rule::foreign_elif;
                    if elif {
                        self.push_foreign_word(p, "else if", "`else if` continues an `if`");
                    }
                    !elif
                });
                let cond = self.presume_expr(parts.next(), s);
                let then = self.presume_expr(parts.next(), s);
                let otherwise = self.presume_expr(parts.next(), s);
                ExprKind::If(Box::new(cond), Box::new(then), Box::new(otherwise))
            }
            Rule::match_expr => {
                let mut parts = children(pair);
                let value = self.presume_expr(parts.next(), s);
                let arms = parts
                    .map(|arm| {
                        let arm_span = span(&arm);
                        let mut a = children(arm);
                        let pattern = match a.next() {
                            Some(p) => self.parse_pattern(p),
                            None => Pattern::Wildcard(arm_span),
                        };
                        (pattern, self.presume_expr(a.next(), arm_span))
                    })
                    .collect();
                ExprKind::Match(Box::new(value), arms)
            }
            _ => ExprKind::None,
        };
        Expr { kind, span: s }
    }

    pub(super) fn parse_record_fields(&self, pair: Pair<'s, Rule>) -> Vec<RecordField> {
        let mut fields: Vec<RecordField> = Vec::new();
        for f in children(pair) {
            let fs = span(&f);
            let mut parts = children(f);
            let name = match parts.next() {
                Some(n) if n.as_rule() == Rule::string => {
                    let lit = self.parse_str_lit(n);
                    Ident {
                        name: lit.value,
                        span: lit.span,
                    }
                }
                other => self.presume_ident(other, fs),
            };
            let field = match parts.next() {
                Some(e) => RecordField {
                    value: self.option_value(&name, self.parse_expr(e)),
                    name,
                    shorthand: false,
                },
                None => {
                    // Commas between fields are optional, so `{ Status "Done" }` parses as two
                    // shorthand fields: on one line with nothing between, it is a missing `:`.
                    if let Some(previous) = fields.last_mut().filter(|p| p.shorthand) {
                        let between = self
                            .source
                            .get(previous.name.span.end as usize..name.span.start as usize)
                            .unwrap_or(",");
                        let quoted = self.source.as_bytes().get(name.span.start as usize) == Some(&b'"');
                        if between.trim().is_empty() && !between.contains('\n') {
                            let key = key_text(&previous.name.name);
                            self.push(
                                Diagnostic::new(
                                    Code::MissingSeparator,
                                    self.file,
                                    previous.name.span,
                                    format!("expected `:` after `{key}`"),
                                )
                                .label("`:` missing after this")
                                .help(format!(
                                    "write `{key}: ...`: a name and its value are separated by `:`"
                                )),
                            );
                            previous.shorthand = false;
                            previous.value = Expr {
                                kind: if quoted {
                                    ExprKind::Str(vec![StrPart::Text(name.name.clone())])
                                } else {
                                    ExprKind::Name(name.name.clone())
                                },
                                span: name.span,
                            };
                            continue;
                        }
                    }
                    RecordField {
                        value: Expr {
                            kind: ExprKind::Name(name.name.clone()),
                            span: name.span,
                        },
                        name,
                        shorthand: true,
                    }
                }
            };
            fields.push(field);
        }
        fields
    }

    pub(super) fn parse_string_parts(&self, pair: Pair<'s, Rule>) -> Vec<StrPart> {
        let mut parts: Vec<StrPart> = Vec::new();
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::string_text => push_text(&mut parts, p.as_str()),
                Rule::escape => push_text(
                    &mut parts,
                    match &p.as_str()[1..] {
                        "n" => "\n",
                        "t" => "\t",
                        other => other,
                    },
                ),
                Rule::interpolation => {
                    let s = span(&p);
                    parts.push(StrPart::Expr(self.presume_expr(p.into_inner().next(), s)));
                }
                _ => {}
            }
        }
        parts
    }

    pub(super) fn parse_str_lit(&self, pair: Pair<'s, Rule>) -> StrLit {
        let s = span(&pair);
        if matches!(
            pair.as_rule(),
            Rule::bare_path | Rule::bare_event | Rule::bare_word
        ) {
            let text = pair.as_str();
            self.push(
                Diagnostic::new(Code::UnquotedText, self.file, s, format!("`{text}` needs quotes"))
                    .label("a string without quotes")
                    .help(format!("write `\"{text}\"`")),
            );
            return StrLit {
                value: text.to_string(),
                span: s,
            };
        }
        let mut value = String::new();
        for part in self.parse_string_parts(pair) {
            match part {
                StrPart::Text(t) => value.push_str(&t),
                StrPart::Expr(e) => self.push(
                    Diagnostic::new(
                        Code::InterpolationNotAllowed,
                        self.file,
                        e.span,
                        "`{{ }}` is not allowed in this string",
                    )
                    .label("interpolation")
                    .help(
                        "this string is a fixed name; write it out in full, or escape the braces as `\\{\\{`",
                    ),
                ),
            }
        }
        StrLit { value, span: s }
    }

    pub(super) fn presume_str_lit(&self, pair: Option<Pair<'s, Rule>>, around: Span) -> StrLit {
        match pair {
            Some(p) => self.parse_str_lit(p),
            None => StrLit {
                value: String::new(),
                span: around,
            },
        }
    }

    pub(super) fn parse_duration_lit(&self, pair: &Pair<'_, Rule>) -> DurationLit {
        let s = span(pair);
        match parse_duration(pair.as_str()) {
            Some(ms) => DurationLit { ms, span: s },
            None => DurationLit {
                ms: self.push_bad_duration(pair),
                span: s,
            },
        }
    }

    pub(super) fn presume_duration(&self, pair: Option<Pair<'_, Rule>>, around: Span) -> DurationLit {
        match pair {
            Some(p) if p.as_rule() == Rule::duration => self.parse_duration_lit(&p),
            Some(p) if p.as_rule() == Rule::spaced_duration => self.parse_spaced_duration(&p),
            Some(p) => DurationLit {
                ms: self.push_bad_duration(&p),
                span: span(&p),
            },
            None => DurationLit { ms: 0, span: around },
        }
    }

    /// `2 days`: read as `2d`, and reported.
    pub(super) fn parse_spaced_duration(&self, pair: &Pair<'_, Rule>) -> DurationLit {
        let text = pair.as_str();
        let digits: String = text.chars().take_while(char::is_ascii_digit).collect();
        let word = text[digits.len()..].trim();
        let unit = duration_unit(word).unwrap_or("s");
        let written = format!("{digits}{unit}");
        self.push(
            Diagnostic::new(
                Code::InvalidDuration,
                self.file,
                span(pair),
                format!("invalid duration `{text}`"),
            )
            .label("a duration in words")
            .help(format!(
                "write `{written}`: a number and its unit, without a space"
            )),
        );
        DurationLit {
            ms: parse_duration(&written).unwrap_or(0),
            span: span(pair),
        }
    }
}

pub(super) fn none_expr(span: Span) -> Expr {
    Expr {
        kind: ExprKind::None,
        span,
    }
}

pub(super) fn push_text(parts: &mut Vec<StrPart>, text: &str) {
    if let Some(StrPart::Text(last)) = parts.last_mut() {
        last.push_str(text);
    } else {
        parts.push(StrPart::Text(text.to_string()));
    }
}

/// Removes the first line break, the trailing indentation before the closing quotes, and the
/// indentation common to every non-blank line, so templates can be indented with the code.
pub(crate) fn dedent(raw: &str) -> String {
    let body = raw
        .strip_prefix("\r\n")
        .or_else(|| raw.strip_prefix('\n'))
        .unwrap_or(raw);
    let body = match body.rfind('\n') {
        Some(i) if body[i + 1..].trim().is_empty() => &body[..i + 1],
        _ => body,
    };
    let indent = body
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    let mut out = String::with_capacity(body.len());
    for line in body.split_inclusive('\n') {
        if line.trim().is_empty() {
            out.push_str(if line.ends_with('\n') { "\n" } else { "" });
        } else {
            // `indent` counts bytes; a line indented with other whitespace than the rest may
            // not have a character boundary there.
            out.push_str(line.get(indent..).unwrap_or_else(|| line.trim_start()));
        }
    }
    out
}
