//! Where the printer writes parentheses: the precedence of each operator (the Pratt table of
//! the parser, lowest first), and where braces would be misread as a block.

use super::*;

pub(super) const PREC_OR: u8 = 1;
pub(super) const PREC_AND: u8 = 2;
pub(super) const PREC_NOT: u8 = 3;
pub(super) const PREC_CMP: u8 = 4;
pub(super) const PREC_DEFAULT: u8 = 5;
pub(super) const PREC_ADD: u8 = 6;
pub(super) const PREC_MUL: u8 = 7;
pub(super) const PREC_NEG: u8 = 8;
pub(super) const PREC_ATOM: u8 = 9;

pub(super) fn binary_prec(op: BinaryOp) -> u8 {
    match op {
        BinaryOp::Or => PREC_OR,
        BinaryOp::And => PREC_AND,
        BinaryOp::Eq
        | BinaryOp::Ne
        | BinaryOp::Lt
        | BinaryOp::Le
        | BinaryOp::Gt
        | BinaryOp::Ge
        | BinaryOp::In => PREC_CMP,
        BinaryOp::Default => PREC_DEFAULT,
        BinaryOp::Add | BinaryOp::Sub => PREC_ADD,
        BinaryOp::Mul | BinaryOp::Div => PREC_MUL,
    }
}

pub(super) fn prec(e: &Expr) -> u8 {
    match &e.kind {
        ExprKind::Binary(op, ..) => binary_prec(*op),
        ExprKind::Unary(UnaryOp::Not, _) => PREC_NOT,
        ExprKind::Unary(UnaryOp::Neg, _) => PREC_NEG,
        // `-3` is a literal in the tree but reads as `-` applied to `3`.
        ExprKind::Number(n) if n.is_negative() => PREC_NEG,
        ExprKind::Duration(d) if *d < 0 => PREC_NEG,
        _ => PREC_ATOM,
    }
}

/// The least precedence each operand must have to be written without parentheses. `??` groups
/// to the right, every other operator to the left.
pub(super) fn operand_precs(op: BinaryOp) -> (u8, u8) {
    let p = binary_prec(op);
    if op == BinaryOp::Default {
        (p + 1, p)
    } else {
        (p, p + 1)
    }
}

/// The least precedence the left (`left`) or right operand of `op` must have to go without
/// parentheses. Beyond what the grammar needs, `??` mixed with another operator is always
/// parenthesised: `(a ?? b) == c` and `a ?? (b + 1)` read unambiguously, the bare forms do not.
pub(super) fn operand_min(op: BinaryOp, operand: &Expr, left: bool) -> u8 {
    if let ExprKind::Binary(inner, ..) = operand.kind {
        if (op == BinaryOp::Default) != (inner == BinaryOp::Default) {
            return PREC_ATOM;
        }
    }
    let (l, r) = operand_precs(op);
    if left {
        l
    } else {
        r
    }
}

/// `not` binds more loosely than comparisons (`not a == b` is `not (a == b)`), which surprises
/// readers: an operator under `not` is always written in parentheses.
pub(super) fn not_operand_prec(operand: &Expr) -> u8 {
    match operand.kind {
        ExprKind::Binary(..) => PREC_ATOM,
        _ => PREC_NOT,
    }
}

/// Whether `e` is written starting with `{` (so it would read as a block after `fallback`).
pub(super) fn starts_with_brace(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Record(_) => true,
        ExprKind::Binary(op, l, _) => prec(l) >= operand_min(*op, l, true) && starts_with_brace(l),
        ExprKind::Field(b, _) | ExprKind::Index(b, _) => starts_with_brace(b),
        _ => false,
    }
}

/// Whether the record `e` starts with opens with a `name: value` field.
pub(super) fn leading_record_has_named_field(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Record(fields) => fields.first().is_some_and(|f| !f.shorthand),
        ExprKind::Binary(_, l, _) | ExprKind::Field(l, _) | ExprKind::Index(l, _) => {
            leading_record_has_named_field(l)
        }
        _ => false,
    }
}
