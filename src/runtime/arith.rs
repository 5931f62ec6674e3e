//! Number arithmetic: integers stay exact and their overflow is an error; a double on either side
//! makes a double.
//!
//! The language has one `number` type with two representations (see [`Value`]): `Int` for whole
//! numbers of 64 bits, so that ids and counts never round, and `Number` for the rest.

use std::cmp::Ordering;

use crate::value::Value;

/// An arithmetic operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Add,
    Sub,
    Mul,
    Div,
}

impl Op {
    fn symbol(self) -> &'static str {
        match self {
            Op::Add => "+",
            Op::Sub => "-",
            Op::Mul => "*",
            Op::Div => "/",
        }
    }
}

/// `a op b` when both are numbers (`None` otherwise).
///
/// Two integers give an integer, checked: a result beyond 64 bits is an error, never a wrap.
/// Division of integers is exact when it divides (`6 / 3` is `2`), a double when it does not
/// (`7 / 2` is `3.5`). Anything with a double is computed in doubles; a result too large for one
/// (infinity) is an error too, since JSON cannot carry it.
pub(crate) fn apply(op: Op, a: &Value, b: &Value) -> Option<Result<Value, String>> {
    Some(match (a, b) {
        (Value::Int(x), Value::Int(y)) => ints(op, *x, *y),
        _ => floats(op, a.as_f64()?, b.as_f64()?),
    })
}

/// The integer result of `x op y`, or a double for a division that does not divide.
pub(crate) fn ints(op: Op, x: i64, y: i64) -> Result<Value, String> {
    let exact = match op {
        Op::Add => x.checked_add(y),
        Op::Sub => x.checked_sub(y),
        Op::Mul => x.checked_mul(y),
        Op::Div => {
            if y == 0 {
                return Err("division by zero".to_string());
            }
            // `checked_rem` is `None` only for i64::MIN / -1, whose quotient overflows.
            match x.checked_rem(y) {
                Some(0) => x.checked_div(y),
                Some(_) => return Ok(Value::Number(x as f64 / y as f64)),
                None => None,
            }
        }
    };
    exact
        .map(Value::Int)
        .ok_or_else(|| overflow(&format!("{x} {} {y}", op.symbol())))
}

fn floats(op: Op, x: f64, y: f64) -> Result<Value, String> {
    let out = match op {
        Op::Add => x + y,
        Op::Sub => x - y,
        Op::Mul => x * y,
        Op::Div if y == 0.0 => return Err("division by zero".to_string()),
        Op::Div => x / y,
    };
    if out.is_infinite() && x.is_finite() && y.is_finite() {
        return Err(format!(
            "number overflow: `{x} {} {y}` is too large for a number",
            op.symbol()
        ));
    }
    Ok(Value::Number(out))
}

/// `-v` for a number.
pub(crate) fn neg(v: &Value) -> Option<Result<Value, String>> {
    unary(v, "-", i64::checked_neg, |n| -n)
}

/// `abs(v)` for a number.
pub(crate) fn abs(v: &Value) -> Option<Result<Value, String>> {
    unary(v, "abs", i64::checked_abs, f64::abs)
}

fn unary(
    v: &Value,
    name: &str,
    int: fn(i64) -> Option<i64>,
    float: fn(f64) -> f64,
) -> Option<Result<Value, String>> {
    match v {
        Value::Int(i) => Some(
            int(*i)
                .map(Value::Int)
                .ok_or_else(|| overflow(&format!("{name}({i})"))),
        ),
        Value::Number(n) => Some(Ok(Value::Number(float(*n)))),
        _ => None,
    }
}

/// `sum(numbers)`: exact while every item is an integer.
pub(crate) fn sum(numbers: &[Value]) -> Result<Value, String> {
    numbers.iter().try_fold(Value::Int(0), |total, n| {
        apply(Op::Add, &total, n).unwrap_or_else(|| Err(format!("`sum` needs numbers, not a {}", n.kind())))
    })
}

/// The first of the least (`Ordering::Less`) or greatest (`Greater`) of `numbers`, as it is
/// (an integer stays exact); `none` for no numbers.
pub(crate) fn extreme(numbers: Vec<Value>, wanted: Ordering) -> Value {
    numbers
        .into_iter()
        .reduce(|best, n| {
            if n.cmp_numbers(&best) == Some(wanted) {
                n
            } else {
                best
            }
        })
        .unwrap_or(Value::Null)
}

/// A whole double (from `floor`, `ceil`, `round`) as an integer when it fits 64 bits exactly.
pub(crate) fn whole(n: f64) -> Value {
    // 2^63 is exactly a double; every whole double in [-2^63, 2^63) converts without loss.
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if n.fract() == 0.0 && (-TWO_63..TWO_63).contains(&n) {
        Value::Int(n as i64)
    } else {
        Value::Number(n)
    }
}

/// A number written as text (`number("42")`): integers of 64 bits exactly, others as doubles.
/// Only finite numbers: `NaN` and `inf` are not numbers a flow can compute with.
pub(crate) fn parse(text: &str) -> Option<Value> {
    let t = text.trim();
    if let Ok(i) = t.parse::<i64>() {
        return Some(Value::Int(i));
    }
    // Rust also reads `inf`, `NaN` and `infinity`; only digits, signs, `.` and exponents count.
    if !t
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | '.' | 'e' | 'E'))
    {
        return None;
    }
    t.parse::<f64>().ok().filter(|n| n.is_finite()).map(Value::Number)
}

fn overflow(what: &str) -> String {
    format!(
        "number overflow: `{what}` is beyond the integers of 64 bits ({} to {})",
        i64::MIN,
        i64::MAX
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(i: i64) -> Value {
        Value::Int(i)
    }

    #[test]
    fn integers_stay_exact_and_overflow_is_an_error() {
        let id = 820_982_911_946_154_508;
        assert_eq!(apply(Op::Add, &int(id), &int(1)), Some(Ok(int(id + 1))));
        assert!(matches!(
            apply(Op::Add, &int(id), &int(1)),
            Some(Ok(Value::Int(_)))
        ));
        let err = apply(Op::Add, &int(i64::MAX), &int(1)).unwrap().unwrap_err();
        assert!(
            err.contains("number overflow") && err.contains("9223372036854775807 + 1"),
            "{err}"
        );
        assert!(apply(Op::Sub, &int(i64::MIN), &int(1)).unwrap().is_err());
        assert!(apply(Op::Mul, &int(i64::MAX / 2 + 1), &int(2)).unwrap().is_err());
        assert!(apply(Op::Div, &int(i64::MIN), &int(-1)).unwrap().is_err());
        assert!(neg(&int(i64::MIN)).unwrap().is_err());
        assert!(abs(&int(i64::MIN)).unwrap().is_err());
        assert_eq!(neg(&int(i64::MAX)), Some(Ok(int(-i64::MAX))));
    }

    #[test]
    fn division_is_exact_when_it_divides() {
        assert!(matches!(
            apply(Op::Div, &int(6), &int(3)),
            Some(Ok(Value::Int(2)))
        ));
        assert!(matches!(apply(Op::Div, &int(7), &int(2)), Some(Ok(Value::Number(n))) if n == 3.5));
        assert_eq!(
            apply(Op::Div, &int(1), &int(0)),
            Some(Err("division by zero".into()))
        );
        assert_eq!(
            apply(Op::Div, &Value::Number(1.0), &int(0)),
            Some(Err("division by zero".into()))
        );
    }

    #[test]
    fn a_double_makes_a_double() {
        assert!(
            matches!(apply(Op::Add, &int(1), &Value::Number(0.5)), Some(Ok(Value::Number(n))) if n == 1.5)
        );
        assert!(apply(Op::Mul, &Value::Number(1e308), &int(10)).unwrap().is_err());
        assert_eq!(apply(Op::Add, &Value::text("a"), &int(1)), None);
    }

    #[test]
    fn sums_stay_exact_and_extremes_keep_their_kind() {
        let id = 820_982_911_946_154_508;
        assert!(matches!(sum(&[int(id), int(1)]), Ok(Value::Int(n)) if n == id + 1));
        assert!(sum(&[int(i64::MAX), int(1)])
            .unwrap_err()
            .contains("number overflow"));
        assert!(matches!(sum(&[int(1), Value::Number(0.5)]), Ok(Value::Number(n)) if n == 1.5));
        assert!(matches!(sum(&[]), Ok(Value::Int(0))));
        let nums = vec![int(id), int(id + 1), Value::Number(0.5)];
        assert!(matches!(extreme(nums.clone(), Ordering::Greater), Value::Int(n) if n == id + 1));
        assert!(matches!(extreme(nums, Ordering::Less), Value::Number(n) if n == 0.5));
        assert_eq!(extreme(Vec::new(), Ordering::Less), Value::Null);
    }

    #[test]
    fn whole_doubles_become_integers_when_they_fit() {
        assert!(matches!(whole(3.0), Value::Int(3)));
        assert!(matches!(
            whole(-9_223_372_036_854_775_808.0),
            Value::Int(i64::MIN)
        ));
        assert!(matches!(whole(9_223_372_036_854_775_808.0), Value::Number(_)));
        assert!(matches!(whole(1e21), Value::Number(_)));
    }

    #[test]
    fn text_parses_exactly() {
        assert!(matches!(
            parse(" 820982911946154508 "),
            Some(Value::Int(820_982_911_946_154_508))
        ));
        assert!(matches!(parse("0.1"), Some(Value::Number(n)) if n == 0.1));
        assert!(matches!(parse("1e21"), Some(Value::Number(n)) if n == 1e21));
        assert!(matches!(parse("9223372036854775808"), Some(Value::Number(_))));
        for bad in ["NaN", "inf", "-infinity", "1e999", "x", ""] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    proptest::proptest! {
        /// `number(text(n))` is `n`: what a template or `text()` prints reads back the same.
        #[test]
        fn printed_numbers_parse_back(i in proptest::num::i64::ANY, f in proptest::num::f64::NORMAL | proptest::num::f64::SUBNORMAL | proptest::num::f64::ZERO) {
            proptest::prop_assert!(matches!(parse(&Value::Int(i).to_string()), Some(Value::Int(j)) if j == i));
            let back = parse(&Value::Number(f).to_string());
            proptest::prop_assert_eq!(back, Some(Value::Number(f)), "{}", Value::Number(f));
        }
    }
}
