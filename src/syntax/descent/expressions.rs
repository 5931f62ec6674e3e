//! Expressions: operators by the grammar's precedence (the same Pratt parse as the one over
//! pest's pairs in `parser/mod.rs`), literals, strings and their interpolations, lists,
//! records, calls of built-ins, and `if` and `match` values.

use super::cursor::{find, is_keyword};
use super::{Bail, Descent, Parse};
use crate::syntax::ast::*;
use crate::syntax::parser::dedent;
use crate::syntax::Span;
use crate::value::parse_duration;

// Binding powers, numbered as pest's `PrattParser` numbers the grammar's levels (ten per
// level, in the order `parser::pratt` declares them, lowest first).
const OR: u32 = 10;
const AND: u32 = 20;
const NOT: u32 = 30;
const COMPARE: u32 = 40;
const DEFAULT: u32 = 50;
const SUM: u32 = 60;
const PRODUCT: u32 = 70;
const NEGATE: u32 = 80;
const POSTFIX: u32 = 90;

/// What the grammar's parser counts of one `expr`: how deep it nests (an expression weighs
/// its operands and operators), and where its rule ends.
#[derive(Default)]
struct Level {
    weight: usize,
    /// An infix operator was read.
    infix: bool,
    /// The last token read is a postfix operator (`.field`, `[index]`).
    postfix_last: bool,
}

/// What may follow an operand.
enum Operator {
    /// A binary operator, written in `len` bytes.
    Binary(BinaryOp, usize),
    /// `.field`
    Field,
    /// `[index]`
    Index,
}

impl Descent<'_> {
    /// The grammar's `expr`.
    pub(super) fn expr(&mut self) -> Parse<Expr> {
        let outer = std::mem::take(&mut self.deepest);
        let mut level = Level::default();
        let expr = self.operation(0, &mut level)?;
        self.deepest = outer.max(self.deepest + level.weight.max(1));
        // The grammar's `expr` is `operand postfix* (infix operand postfix*)*`: it ends after
        // the blanks that follow it (where it looked for more), unless its last repetition
        // matched, ending exactly: an infix operator's operand with a postfix operator.
        if !(level.infix && level.postfix_last) {
            self.absent();
        }
        Ok(expr)
    }

    /// An operand and the operators that bind tighter than `bound` after it.
    fn operation(&mut self, bound: u32, level: &mut Level) -> Parse<Expr> {
        self.deeper(|p| p.operation_within(bound, level))
    }

    fn operation_within(&mut self, bound: u32, level: &mut Level) -> Parse<Expr> {
        self.skip()?;
        level.weight += 1;
        let mut lhs = match self.byte(0) {
            b'-' => {
                let at = Span::new(self.pos, self.pos + 1);
                self.take(1);
                let operand = self.operation(NEGATE - 1, level)?;
                negate(at, operand)
            }
            // `!` for `not`: a habit the grammar reads and reports.
            b'!' => return Err(Bail),
            _ if self.peek_word() == "not" => {
                let at = Span::new(self.pos, self.pos + 3);
                self.take(3);
                let operand = self.operation(NOT - 1, level)?;
                Expr {
                    span: at.to(operand.span),
                    kind: ExprKind::Unary(UnaryOp::Not, Box::new(operand)),
                }
            }
            _ => {
                level.postfix_last = false;
                self.primary()?
            }
        };
        while let Some((operator, power)) = self.operator()? {
            if power <= bound {
                break;
            }
            level.weight += 1;
            // A left-associative chain (`a + a + ...`) grows here, not by recursion: past the
            // bound the grammar's parser refuses it, and a tree that deep could not even be
            // dropped without overflowing the stack.
            if level.weight > crate::syntax::parser::MAX_DEPTH {
                return Err(Bail);
            }
            level.postfix_last = !matches!(operator, Operator::Binary(..));
            lhs = match operator {
                Operator::Binary(op, len) => {
                    level.infix = true;
                    self.take(len);
                    let right = if op == BinaryOp::Default { power - 1 } else { power };
                    let rhs = self.operation(right, level)?;
                    Expr {
                        span: lhs.span.to(rhs.span),
                        kind: ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)),
                    }
                }
                Operator::Field => {
                    self.take(1);
                    self.skip()?;
                    let field = if self.byte(0) == b'"' {
                        let lit = self.str_lit()?;
                        Ident {
                            name: lit.value,
                            span: lit.span,
                        }
                    } else {
                        self.name()?
                    };
                    Expr {
                        span: lhs.span.to(field.span),
                        kind: ExprKind::Field(Box::new(lhs), field),
                    }
                }
                Operator::Index => {
                    self.take(1);
                    let index = self.expr()?;
                    self.punct("]")?;
                    Expr {
                        span: lhs.span.to(Span::new(self.end - 1, self.end)),
                        kind: ExprKind::Index(Box::new(lhs), Box::new(index)),
                    }
                }
            };
        }
        Ok(lhs)
    }

    /// The operator after blanks, with its binding power, not taken. `None` where the
    /// expression ends; [`Bail`] on an operator of another language.
    fn operator(&mut self) -> Parse<Option<(Operator, u32)>> {
        use BinaryOp::*;
        self.skip()?;
        let (op, len) = match (self.byte(0), self.byte(1), self.byte(2)) {
            (b'.', _, _) => return Ok(Some((Operator::Field, POSTFIX))),
            (b'[', _, _) => return Ok(Some((Operator::Index, POSTFIX))),
            (b'=', b'=', b'=') | (b'!', b'=', b'=') | (b'<', b'>', _) | (b'|', b'|', _) | (b'&', b'&', _) => {
                return Err(Bail)
            }
            (b'=', b'=', _) => (Eq, 2),
            (b'=', b'>', _) => return Ok(None),
            (b'=', _, _) => return Err(Bail),
            (b'!', b'=', _) => (Ne, 2),
            (b'<', b'=', _) => (Le, 2),
            (b'<', _, _) => (Lt, 1),
            (b'>', b'=', _) => (Ge, 2),
            (b'>', _, _) => (Gt, 1),
            (b'?', b'?', _) => (Default, 2),
            (b'+', _, _) => (Add, 1),
            (b'-', _, _) => (Sub, 1),
            (b'*', _, _) => (Mul, 1),
            // `///` starts a doc comment (a `//` comment was skipped as a blank).
            (b'/', b'/', _) => return Ok(None),
            (b'/', _, _) => (Div, 1),
            _ => match self.peek_word() {
                "or" => (Or, 2),
                "and" => (And, 3),
                "in" => (In, 2),
                _ => return Ok(None),
            },
        };
        let power = match op {
            Or => OR,
            And => AND,
            Eq | Ne | Lt | Le | Gt | Ge | In => COMPARE,
            Default => DEFAULT,
            Add | Sub => SUM,
            Mul | Div => PRODUCT,
        };
        Ok(Some((Operator::Binary(op, len), power)))
    }

    /// A value without operators (the grammar's `primary`), blanks already skipped.
    fn primary(&mut self) -> Parse<Expr> {
        let start = self.pos;
        let kind = match self.byte(0) {
            b'"' => return self.string(),
            b'0'..=b'9' => return self.numeric(),
            b'[' => {
                self.take(1);
                ExprKind::List(self.exprs("]")?)
            }
            b'{' => return self.record(),
            b'(' => {
                self.take(1);
                let inner = self.expr()?;
                self.punct(")")?;
                return Ok(inner);
            }
            _ => {
                let word = self.peek_word();
                match word {
                    "" => return Err(Bail),
                    "true" | "false" | "none" | "entity" => {
                        self.take(word.len());
                        match word {
                            "true" => ExprKind::Bool(true),
                            "false" => ExprKind::Bool(false),
                            "none" => ExprKind::None,
                            _ => ExprKind::Name(word.to_string()),
                        }
                    }
                    "if" => {
                        self.take(2);
                        return self.if_value(start);
                    }
                    "match" => {
                        self.take(5);
                        return self.match_value(start);
                    }
                    // Literals and words of other languages (`null`, `True`, `elif`) are read
                    // and reported by the grammar.
                    "True" | "False" | "TRUE" | "FALSE" | "null" | "NULL" | "Null" | "None" | "nil"
                    | "undefined" | "elif" | "elsif" | "elseif" => return Err(Bail),
                    _ if is_keyword(word) => return Err(Bail),
                    _ => {
                        self.take(word.len());
                        let name_end = self.end;
                        self.skip()?;
                        if self.byte(0) == b'(' {
                            self.take(1);
                            let name = Ident {
                                name: word.to_string(),
                                span: Span::new(start, name_end),
                            };
                            ExprKind::Call(name, self.exprs(")")?)
                        } else {
                            ExprKind::Name(word.to_string())
                        }
                    }
                }
            }
        };
        Ok(Expr {
            kind,
            span: self.span_from(start),
        })
    }

    /// Expressions separated by commas (one may trail) up to `close`, the opener taken.
    fn exprs(&mut self, close: &str) -> Parse<Vec<Expr>> {
        let mut items = Vec::new();
        while !self.eat(close)? {
            items.push(self.expr()?);
            if !self.eat(",")? {
                self.punct(close)?;
                break;
            }
        }
        Ok(items)
    }

    /// A literal of a match pattern (`literal` in the grammar).
    pub(super) fn literal(&mut self) -> Parse<Expr> {
        self.skip()?;
        match self.byte(0) {
            b'"' => self.string(),
            b'0'..=b'9' => self.numeric(),
            _ => {
                let start = self.pos;
                let word = self.peek_word();
                let kind = match word {
                    "true" => ExprKind::Bool(true),
                    "false" => ExprKind::Bool(false),
                    "none" => ExprKind::None,
                    _ => return Err(Bail),
                };
                self.take(word.len());
                Ok(Expr {
                    kind,
                    span: self.span_from(start),
                })
            }
        }
    }

    /// A duration or a number.
    fn numeric(&mut self) -> Parse<Expr> {
        let start = self.pos;
        let (kind, len) = if let Some(len) = self.duration_len() {
            let ms = parse_duration(&self.source[start..start + len]).ok_or(Bail)?;
            (ExprKind::Duration(ms), len)
        } else {
            let len = self.number_len().ok_or(Bail)?;
            let text = &self.source[start..start + len];
            // A whole number too large for 64 bits is the grammar's parser's to report.
            let number = if text.contains('.') {
                Num::Float(text.parse().unwrap_or(0.0))
            } else {
                Num::Int(text.parse().map_err(|_| Bail)?)
            };
            (ExprKind::Number(number), len)
        };
        self.take(len);
        Ok(Expr {
            kind,
            span: self.span_from(start),
        })
    }

    /// A string value: triple-quoted (one text part), or with its interpolations.
    fn string(&mut self) -> Parse<Expr> {
        let start = self.pos;
        let kind = if self.at("\"\"\"") {
            let (text_start, text_end) = self.raw_text()?;
            ExprKind::Str(vec![StrPart::Text(dedent(&self.source[text_start..text_end]))])
        } else {
            ExprKind::Str(self.string_parts()?)
        };
        Ok(Expr {
            kind,
            span: self.span_from(start),
        })
    }

    /// Takes a triple-quoted string: where its text starts and ends.
    pub(super) fn raw_text(&mut self) -> Parse<(usize, usize)> {
        let text_start = self.pos + 3;
        let text_end = text_start + find(&self.bytes[text_start..], b"\"\"\"").ok_or(Bail)?;
        self.pos = text_end;
        self.take(3);
        Ok((text_start, text_end))
    }

    /// Takes a one-line string (`"..."`) with its escapes and `{{ }}` interpolations.
    pub(super) fn string_parts(&mut self) -> Parse<Vec<StrPart>> {
        if self.byte(0) != b'"' {
            return Err(Bail);
        }
        self.pos += 1;
        let mut parts = Vec::new();
        loop {
            let run = self.bytes[self.pos..]
                .iter()
                .enumerate()
                .position(|(i, b)| {
                    matches!(b, b'"' | b'\\' | b'\n' | b'\r')
                        || *b == b'{' && self.bytes.get(self.pos + i + 1) == Some(&b'{')
                })
                .unwrap_or(self.bytes.len() - self.pos);
            if run > 0 {
                push_text(&mut parts, &self.source[self.pos..self.pos + run]);
                self.pos += run;
            }
            match self.byte(0) {
                b'"' => {
                    self.take(1);
                    return Ok(parts);
                }
                b'\\' => {
                    let text = match self.byte(1) {
                        b'n' => "\n",
                        b't' => "\t",
                        b'"' => "\"",
                        b'\\' => "\\",
                        b'{' => "{",
                        b'}' => "}",
                        _ => return Err(Bail),
                    };
                    push_text(&mut parts, text);
                    self.pos += 2;
                }
                b'{' => {
                    self.pos += 2;
                    let value = self.expr()?;
                    self.punct("}}")?;
                    parts.push(StrPart::Expr(value));
                }
                // A line break or the end of the file: a string left open.
                _ => return Err(Bail),
            }
        }
    }

    /// Takes a string that must be fixed text (a name, a path, a cron line).
    pub(super) fn str_lit(&mut self) -> Parse<StrLit> {
        self.skip()?;
        if self.at("\"\"\"") {
            return Err(Bail);
        }
        let start = self.pos;
        let mut value = String::new();
        for part in self.string_parts()? {
            match part {
                StrPart::Text(text) => value.push_str(&text),
                StrPart::Expr(_) => return Err(Bail),
            }
        }
        Ok(StrLit {
            value,
            span: self.span_from(start),
        })
    }

    /// `{ name: value, ... }`, blanks before it skipped.
    pub(super) fn record(&mut self) -> Parse<Expr> {
        let start = self.pos;
        self.punct("{")?;
        let mut fields: Vec<RecordField> = Vec::new();
        while !self.eat("}")? {
            let name = if self.byte(0) == b'"' {
                let lit = self.str_lit()?;
                Ident {
                    name: lit.value,
                    span: lit.span,
                }
            } else {
                self.name()?
            };
            if self.eat(":")? {
                let value = self.expr()?;
                if is_unquoted_option(&name, &value) {
                    return Err(Bail);
                }
                fields.push(RecordField {
                    name,
                    value,
                    shorthand: false,
                });
            } else {
                // Two names with only blanks between on one line: a `:` left out, reported by
                // the grammar's parser.
                if let Some(previous) = fields.last().filter(|p| p.shorthand) {
                    let between = self
                        .source
                        .get(previous.name.span.end as usize..name.span.start as usize)
                        .unwrap_or(",");
                    if between.trim().is_empty() && !between.contains('\n') {
                        return Err(Bail);
                    }
                }
                fields.push(RecordField {
                    value: Expr {
                        kind: ExprKind::Name(name.name.clone()),
                        span: name.span,
                    },
                    name,
                    shorthand: true,
                });
            }
            self.eat(",")?;
        }
        Ok(Expr {
            kind: ExprKind::Record(fields),
            span: self.span_from(start),
        })
    }

    /// After `if`: `COND { A } else { B }` or `... else if ...`.
    fn if_value(&mut self, start: usize) -> Parse<Expr> {
        self.deeper(|p| p.if_value_within(start))
    }

    fn if_value_within(&mut self, start: usize) -> Parse<Expr> {
        let condition = self.expr()?;
        self.punct("{")?;
        let then = self.expr()?;
        self.punct("}")?;
        self.keyword("else")?;
        self.skip()?;
        let otherwise = if self.peek_word() == "if" {
            let at = self.pos;
            self.take(2);
            self.if_value(at)?
        } else {
            self.punct("{")?;
            let value = self.expr()?;
            self.punct("}")?;
            value
        };
        Ok(Expr {
            kind: ExprKind::If(Box::new(condition), Box::new(then), Box::new(otherwise)),
            span: self.span_from(start),
        })
    }

    /// After `match`: `VALUE { PATTERN => VALUE, ... }`.
    fn match_value(&mut self, start: usize) -> Parse<Expr> {
        let value = self.expr()?;
        self.punct("{")?;
        let mut arms = Vec::new();
        while !self.eat("}")? {
            let pattern = self.pattern()?;
            self.punct("=>")?;
            arms.push((pattern, self.expr()?));
            self.eat(",")?;
        }
        Ok(Expr {
            kind: ExprKind::Match(Box::new(value), arms),
            span: self.span_from(start),
        })
    }
}

/// `-3` and `-2d` are literals (so `wait -1d` reads as one value); other operands are negated.
fn negate(at: Span, operand: Expr) -> Expr {
    let span = at.to(operand.span);
    let kind = match operand.kind {
        ExprKind::Number(n) if n.negated().is_some() => ExprKind::Number(n.negated().unwrap_or(n)),
        ExprKind::Duration(d) => ExprKind::Duration(-d),
        kind => ExprKind::Unary(
            UnaryOp::Neg,
            Box::new(Expr {
                kind,
                span: operand.span,
            }),
        ),
    };
    Expr { kind, span }
}

/// A capitalised bare word under a capitalised or spaced key (`Status: Completed`): an option
/// value without quotes, which the grammar's parser reports.
fn is_unquoted_option(key: &Ident, value: &Expr) -> bool {
    let property_like = key.name.starts_with(|c: char| c.is_ascii_uppercase()) || key.name.contains(' ');
    matches!(&value.kind, ExprKind::Name(word) if property_like && word.starts_with(|c: char| c.is_ascii_uppercase()))
}

fn push_text(parts: &mut Vec<StrPart>, text: &str) {
    if let Some(StrPart::Text(last)) = parts.last_mut() {
        last.push_str(text);
    } else {
        parts.push(StrPart::Text(text.to_string()));
    }
}
