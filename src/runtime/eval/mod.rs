//! Expression evaluation over [`Value`]; the built-in functions are in `builtins`.
//!
//! Missing values propagate: a field of `none` is `none`, so `p.alternative ?? false` works on a
//! skipped step. Type errors are errors, never panics.

mod builtins;

use std::collections::BTreeMap;

use std::fmt::Write as _;

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone, Utc};

use super::arith::{self, Op};
use crate::plan::{BinaryOp, Builtin, Computed, Expr, FormatDate, Part, Pattern, Strftime, UnaryOp, Zone};
use crate::value::Value;
use builtins::call;

/// Why an expression could not be evaluated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct EvalError(pub String);

fn fail<T>(msg: impl Into<String>) -> Result<T, EvalError> {
    Err(EvalError(msg.into()))
}

/// What names mean where an expression is evaluated.
pub trait Env {
    /// The value of `name`, or `None` when nothing declares it.
    fn lookup(&self, name: &str) -> Option<Value>;
    /// The value of `name.path[0].path[1]...` (`none` where a field is missing). Environments
    /// that hold their values can answer without copying whole records.
    fn lookup_path(&self, name: &str, path: &[String]) -> Option<Value> {
        let mut v = self.lookup(name)?;
        for p in path {
            v = field_of(v, p);
        }
        Some(v)
    }
    /// The current instant (for `now()` and `today()`).
    fn now(&self) -> DateTime<Utc>;
    /// The value of the environment variable `name`, read by `secret("NAME")`. Only an
    /// environment that knows the flow's entity and its declared secrets may answer; by default
    /// nothing is readable. Errors name the variable, never a value.
    fn secret(&self, name: &str) -> Result<String, EvalError> {
        fail(format!(
            "secret `{name}` cannot be read here: no flow's entity is in scope"
        ))
    }
}

/// Reads `name` from the process environment once `entity`'s declared secrets allow it
/// ([`crate::contract::secrets::may_read`], the checker's rule).
pub(crate) fn read_declared_secret(
    entity: &str,
    declared: &[String],
    name: &str,
) -> Result<String, EvalError> {
    crate::contract::secrets::may_read(entity, declared, name).map_err(|e| EvalError(e.to_string()))?;
    std::env::var(name).map_err(|_| EvalError(format!("environment variable `{name}` is not set")))
}

/// An environment that adds one binding in front of another.
pub(crate) struct With<'a> {
    pub(crate) name: &'a str,
    pub(crate) value: &'a Value,
    pub(crate) inner: &'a dyn Env,
}

impl Env for With<'_> {
    fn lookup(&self, name: &str) -> Option<Value> {
        if name == self.name {
            Some(self.value.clone())
        } else {
            self.inner.lookup(name)
        }
    }
    fn now(&self) -> DateTime<Utc> {
        self.inner.now()
    }
    fn secret(&self, name: &str) -> Result<String, EvalError> {
        self.inner.secret(name)
    }
}

/// A fixed set of bindings (tests, constant settings).
pub struct MapEnv {
    /// The bindings.
    pub names: BTreeMap<String, Value>,
    /// The instant `now()` returns.
    pub now: DateTime<Utc>,
}

impl Env for MapEnv {
    fn lookup(&self, name: &str) -> Option<Value> {
        self.names.get(name).cloned()
    }
    fn now(&self) -> DateTime<Utc> {
        self.now
    }
}

/// Evaluates `expr` in `env`.
pub fn eval(expr: &Expr, env: &dyn Env) -> Result<Value, EvalError> {
    match expr {
        Expr::Null => Ok(Value::Null),
        Expr::Bool(b) => Ok(Value::Bool(*b)),
        Expr::Int(n) => Ok(Value::Int(*n)),
        Expr::Number(n) => Ok(Value::Number(*n)),
        Expr::Duration(ms) => Ok(Value::Duration(*ms)),
        Expr::Text(t) => Ok(Value::Text(t.clone())),
        Expr::Interpolate(parts) => {
            let mut out = String::new();
            for part in parts {
                match part {
                    Part::Text(t) => out.push_str(t),
                    Part::Expr(e) => match eval(e, env)? {
                        Value::Null => {}
                        v => out.push_str(&v.to_string()),
                    },
                }
            }
            Ok(Value::Text(out))
        }
        Expr::Name(n) => match env.lookup(n.as_str()) {
            Some(v) => Ok(v),
            None => fail(format!("unknown name `{}`", n.as_str())),
        },
        // `a.b.c` on a name: read the field in place.
        Expr::Path(n, path) => match env.lookup_path(n.as_str(), path) {
            Some(v) => Ok(v),
            None => fail(format!("unknown name `{}`", n.as_str())),
        },
        Expr::Field(e, field) => Ok(field_of(eval(e, env)?, field)),
        Expr::Index(e, i) => {
            let v = eval(e, env)?;
            let i = eval(i, env)?;
            Ok(match (v, i) {
                (Value::List(items), Value::Int(n)) => {
                    let idx = if n < 0 {
                        n.checked_add_unsigned(items.len() as u64)
                    } else {
                        Some(n)
                    };
                    idx.and_then(|i| usize::try_from(i).ok())
                        .and_then(|i| items.get(i).cloned())
                        .unwrap_or(Value::Null)
                }
                (Value::List(items), Value::Number(n)) => {
                    let idx = if n < 0.0 { items.len() as f64 + n } else { n };
                    if idx >= 0.0 {
                        items.get(idx as usize).cloned().unwrap_or(Value::Null)
                    } else {
                        Value::Null
                    }
                }
                (v @ Value::Record(_), Value::Text(k)) => field_of(v, &k),
                (Value::Null, _) => Value::Null,
                (v, i) => return fail(format!("cannot index a {} with a {}", v.kind(), i.kind())),
            })
        }
        // The name a secret is read by must be written in the flow, never computed: a plan edited
        // by hand must not turn `secret(input.var)` into a way to read any variable.
        Expr::Call(Builtin::Secret, args) => match args.as_slice() {
            [Expr::Text(name)] => Ok(Value::Text(env.secret(name)?)),
            _ => {
                fail("`secret` needs the variable's name written as a literal, e.g. `secret(\"CRM_TOKEN\")`")
            }
        },
        Expr::Call(f, args) => {
            let mut vals = Vec::with_capacity(args.len());
            for a in args {
                vals.push(eval(a, env)?);
            }
            call(*f, vals, env)
        }
        Expr::FormatDate(f) => format_date(f, env),
        Expr::List(items) => {
            let mut out = Vec::with_capacity(items.len());
            for i in items {
                out.push(eval(i, env)?);
            }
            Ok(Value::List(out))
        }
        Expr::Record(fields) => {
            let mut out = BTreeMap::new();
            for (name, value) in fields {
                out.insert(name.clone(), eval(value, env)?);
            }
            Ok(Value::Record(out))
        }
        Expr::Unary(op, e) => {
            let v = eval(e, env)?;
            if *op == UnaryOp::Neg {
                if let Some(negated) = arith::neg(&v) {
                    return negated.map_err(EvalError);
                }
            }
            match (op, v) {
                (UnaryOp::Not, Value::Bool(b)) => Ok(Value::Bool(!b)),
                (UnaryOp::Not, Value::Null) => Ok(Value::Bool(true)),
                (UnaryOp::Neg, Value::Duration(d)) => Ok(Value::Duration(-d)),
                (op, v) => fail(format!(
                    "`{}` does not apply to a {}",
                    if *op == UnaryOp::Not { "not" } else { "-" },
                    v.kind()
                )),
            }
        }
        Expr::Binary(op, a, b) => binary(*op, a, b, env),
        Expr::If(c, a, b) => {
            if eval(c, env)?.is_true() {
                eval(a, env)
            } else {
                eval(b, env)
            }
        }
        Expr::Match(v, arms) => {
            let v = eval(v, env)?;
            for (p, e) in arms {
                if pattern_matches(p, &v, env)? {
                    return eval(e, env);
                }
            }
            Ok(Value::Null)
        }
    }
}

/// `format_date(value, format, zone)`: a date-time shown in `zone` (default: its own offset).
/// Formats written in the flow were validated when it was compiled; computed ones are validated
/// here, and a format that needs what the value lacks (`%H` of a date) is an error, not a panic.
fn format_date(f: &FormatDate, env: &dyn Env) -> Result<Value, EvalError> {
    let value = eval(&f.value, env)?;
    let zone = match &f.zone {
        None => None,
        Some(Computed::Fixed(z)) => Some(z.clone()),
        Some(Computed::Expr(e)) => zone_of(&eval(e, env)?)?,
    };
    match &f.format {
        Computed::Fixed(format) => render_date(&value, format, zone),
        Computed::Expr(e) => render_date(&value, &format_of(&eval(e, env)?)?, zone),
    }
}

fn format_of(v: &Value) -> Result<Strftime, EvalError> {
    match v {
        Value::Null => Strftime::parse("%Y-%m-%d"),
        Value::Text(t) => Strftime::parse(t),
        v => return fail(format!("`format_date` needs a text format, not a {}", v.kind())),
    }
    .map_err(EvalError)
}

fn zone_of(v: &Value) -> Result<Option<Zone>, EvalError> {
    match v {
        Value::Null => Ok(None),
        Value::Text(t) => Zone::parse(t).map(Some).map_err(EvalError),
        v => fail(format!(
            "`format_date` needs a time zone name, not a {}",
            v.kind()
        )),
    }
}

fn render_date(value: &Value, format: &Strftime, zone: Option<Zone>) -> Result<Value, EvalError> {
    let items = format.items().iter();
    let mut out = String::new();
    let written = match (value, zone) {
        (Value::DateTime(t), Some(z)) => write!(out, "{}", z.format(t.with_timezone(&Utc), items)),
        (Value::DateTime(t), None) => write!(out, "{}", t.format_with_items(items)),
        (Value::Date(d), _) => write!(out, "{}", d.format_with_items(items)),
        (Value::Null, _) => return Ok(Value::Null),
        (v, _) => return fail(format!("`format_date` needs a date, not a {}", v.kind())),
    };
    match written {
        Ok(()) => Ok(Value::Text(out)),
        Err(_) => fail(format!(
            "`format_date` cannot format a {} with `{}`",
            value.kind(),
            format.source()
        )),
    }
}

/// `t + ms` milliseconds, saturating at the calendar's ends instead of overflowing.
pub(crate) fn add_ms(t: DateTime<Utc>, ms: i64) -> DateTime<Utc> {
    chrono::Duration::try_milliseconds(ms)
        .and_then(|d| t.checked_add_signed(d))
        .unwrap_or(if ms < 0 {
            DateTime::<Utc>::MIN_UTC
        } else {
            DateTime::<Utc>::MAX_UTC
        })
}

fn add_ms_date(d: NaiveDate, ms: i64) -> Option<NaiveDate> {
    d.checked_add_signed(chrono::Duration::try_milliseconds(ms)?)
}

/// Whether `value` matches `pattern`.
pub fn pattern_matches(pattern: &Pattern, value: &Value, env: &dyn Env) -> Result<bool, EvalError> {
    match pattern {
        Pattern::Wildcard => Ok(true),
        Pattern::Literals(lits) => {
            for l in lits {
                if equal(&eval(l, env)?, value) {
                    return Ok(true);
                }
            }
            Ok(false)
        }
    }
}

fn field_of(v: Value, name: &str) -> Value {
    match v {
        Value::Record(mut fields) => fields.remove(name).unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

/// Equality as `==` sees it: numbers by value (`1 == 1.0`), dates with date-times at midnight UTC.
pub fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::DateTime(x), Value::DateTime(y)) => x == y,
        (Value::Date(d), Value::DateTime(t)) | (Value::DateTime(t), Value::Date(d)) => {
            date_to_datetime(*d) == *t
        }
        _ => a == b,
    }
}

fn date_to_datetime(d: NaiveDate) -> DateTime<FixedOffset> {
    Utc.from_utc_datetime(&d.and_time(chrono::NaiveTime::MIN))
        .fixed_offset()
}

fn compare(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::Int(_) | Value::Number(_), _) => a.cmp_numbers(b),
        (Value::Text(x), Value::Text(y)) => Some(x.cmp(y)),
        (Value::Duration(x), Value::Duration(y)) => Some(x.cmp(y)),
        (Value::Date(x), Value::Date(y)) => Some(x.cmp(y)),
        (Value::DateTime(x), Value::DateTime(y)) => Some(x.cmp(y)),
        (Value::Date(d), Value::DateTime(t)) => Some(date_to_datetime(*d).cmp(t)),
        (Value::DateTime(t), Value::Date(d)) => Some(t.cmp(&date_to_datetime(*d))),
        _ => None,
    }
}

fn binary(op: BinaryOp, a: &Expr, b: &Expr, env: &dyn Env) -> Result<Value, EvalError> {
    match op {
        BinaryOp::And => {
            return Ok(Value::Bool(eval(a, env)?.is_true() && eval(b, env)?.is_true()));
        }
        BinaryOp::Or => {
            return Ok(Value::Bool(eval(a, env)?.is_true() || eval(b, env)?.is_true()));
        }
        BinaryOp::Default => {
            let v = eval(a, env)?;
            return if v.is_null() { eval(b, env) } else { Ok(v) };
        }
        _ => {}
    }
    let x = eval(a, env)?;
    let y = eval(b, env)?;
    let arith_op = match op {
        BinaryOp::Add => Some(Op::Add),
        BinaryOp::Sub => Some(Op::Sub),
        BinaryOp::Mul => Some(Op::Mul),
        BinaryOp::Div => Some(Op::Div),
        _ => None,
    };
    if let Some(result) = arith_op.and_then(|op| arith::apply(op, &x, &y)) {
        return result.map_err(EvalError);
    }
    use Value::*;
    let out = match op {
        BinaryOp::Eq => Bool(equal(&x, &y)),
        BinaryOp::Ne => Bool(!equal(&x, &y)),
        BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => {
            if x.is_null() || y.is_null() {
                return Ok(Bool(false));
            }
            let Some(ord) = compare(&x, &y) else {
                return fail(format!("cannot compare a {} with a {}", x.kind(), y.kind()));
            };
            Bool(match op {
                BinaryOp::Lt => ord.is_lt(),
                BinaryOp::Le => ord.is_le(),
                BinaryOp::Gt => ord.is_gt(),
                _ => ord.is_ge(),
            })
        }
        BinaryOp::In => match (&x, &y) {
            (_, List(items)) => Bool(items.iter().any(|i| equal(i, &x))),
            (Text(needle), Text(hay)) => Bool(hay.contains(needle.as_str())),
            (Text(k), Record(fields)) => Bool(fields.contains_key(k)),
            (_, Null) => Bool(false),
            _ => return fail(format!("`in` needs a list, text or record, not a {}", y.kind())),
        },
        BinaryOp::Add => match (x, y) {
            (Text(p), q) => Text(format!(
                "{p}{}",
                if q.is_null() { String::new() } else { q.to_string() }
            )),
            (Duration(p), Duration(q)) => Duration(p + q),
            (DateTime(t), Duration(d)) | (Duration(d), DateTime(t)) => {
                match t.checked_add_signed(
                    chrono::Duration::try_milliseconds(d).unwrap_or(chrono::Duration::MAX),
                ) {
                    Some(v) => DateTime(v),
                    None => return fail("the date-time is out of range"),
                }
            }
            (Date(t), Duration(d)) => match add_ms_date(t, d) {
                Some(v) => Date(v),
                None => return fail("the date is out of range"),
            },
            (List(mut p), List(q)) => {
                p.extend(q);
                List(p)
            }
            (Null, _) | (_, Null) => Null,
            (p, q) => return fail(format!("cannot add a {} and a {}", p.kind(), q.kind())),
        },
        BinaryOp::Sub => match (x, y) {
            (Duration(p), Duration(q)) => Duration(p - q),
            (DateTime(t), Duration(d)) => {
                match t.checked_sub_signed(
                    chrono::Duration::try_milliseconds(d).unwrap_or(chrono::Duration::MAX),
                ) {
                    Some(v) => DateTime(v),
                    None => return fail("the date-time is out of range"),
                }
            }
            (Date(t), Duration(d)) => match add_ms_date(t, d.saturating_neg()) {
                Some(v) => Date(v),
                None => return fail("the date is out of range"),
            },
            (DateTime(p), DateTime(q)) => Duration((p - q).num_milliseconds()),
            (Date(p), Date(q)) => Duration((p - q).num_milliseconds()),
            (Null, _) | (_, Null) => Null,
            (p, q) => return fail(format!("cannot subtract a {} from a {}", q.kind(), p.kind())),
        },
        BinaryOp::Mul => match (x, y) {
            (Duration(d), Int(n)) | (Int(n), Duration(d)) => match d.checked_mul(n) {
                Some(ms) => Duration(ms),
                None => return fail("the duration is out of range"),
            },
            (Duration(d), Number(n)) | (Number(n), Duration(d)) => Duration((d as f64 * n) as i64),
            (Null, _) | (_, Null) => Null,
            (p, q) => return fail(format!("cannot multiply a {} by a {}", p.kind(), q.kind())),
        },
        BinaryOp::Div => match (x, y) {
            (Duration(d), Int(n)) if n != 0 => Duration(d.checked_div(n).unwrap_or(i64::MAX)),
            (Duration(d), Number(n)) if n != 0.0 => Duration((d as f64 / n) as i64),
            // `2d / 1h` is 48: a count, exact when it divides.
            (Duration(p), Duration(q)) => arith::ints(Op::Div, p, q).map_err(EvalError)?,
            (Null, _) | (_, Null) => Null,
            (p, q) => return fail(format!("cannot divide a {} by a {}", p.kind(), q.kind())),
        },
        BinaryOp::And | BinaryOp::Or | BinaryOp::Default => Null,
    };
    Ok(out)
}

/// Parses an RFC 3339 instant or a `YYYY-MM-DD` date (midnight UTC).
pub fn parse_datetime(s: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(s).ok().or_else(|| {
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .map(date_to_datetime)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::expr_from_source;

    fn ev(src: &str) -> Value {
        let env = MapEnv {
            names: [("n".to_string(), Value::Null)].into_iter().collect(),
            now: Utc::now(),
        };
        eval(&expr_from_source(src).unwrap(), &env).unwrap()
    }

    #[test]
    fn arithmetic_and_defaults() {
        assert_eq!(ev("1 + 2 * 3"), Value::Number(7.0));
        assert_eq!(ev("n.x ?? 5"), Value::Number(5.0));
        assert_eq!(ev("2d - 24h"), Value::Duration(86_400_000));
        assert_eq!(ev("\"a{{ 1 + 1 }}b\""), Value::text("a2b"));
        assert_eq!(ev("\"x\" in [\"x\", \"y\"]"), Value::Bool(true));
        assert_eq!(ev("upper(\"ab\")"), Value::text("AB"));
        assert_eq!(ev("match 2 { 1 => \"a\", _ => \"b\" }"), Value::text("b"));
        assert_eq!(
            ev("datetime(\"2026-01-05T09:00:00Z\") - 24h"),
            Value::DateTime(parse_datetime("2026-01-04T09:00:00Z").unwrap())
        );
    }

    const PEOPLE: &str = r#"[{ name: "Ada", role: "artist", vip: true }, { name: "Bo", role: "client", vip: false }, { name: "Cy", role: "artist", vip: false }]"#;

    #[test]
    fn list_built_ins() {
        let names = |v: Value| match v {
            Value::List(l) => l.iter().map(|r| r.get("name").to_string()).collect::<Vec<_>>(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            names(ev(&format!("filter({PEOPLE}, {{ role: \"artist\" }})"))),
            ["Ada", "Cy"]
        );
        assert_eq!(
            names(ev(&format!(
                "filter({PEOPLE}, {{ role: \"artist\", vip: false }})"
            ))),
            ["Cy"]
        );
        assert_eq!(names(ev(&format!("filter({PEOPLE}, {{}})"))), ["Ada", "Bo", "Cy"]);
        assert_eq!(
            ev(&format!("find({PEOPLE}, {{ vip: false }})")).get("name"),
            &Value::text("Bo")
        );
        assert_eq!(
            ev(&format!("find({PEOPLE}, {{ role: \"curator\" }})")),
            Value::Null
        );
        assert_eq!(
            ev(&format!("count({PEOPLE}, {{ role: \"artist\" }})")),
            Value::Number(2.0)
        );
        assert_eq!(ev(&format!("count({PEOPLE})")), Value::Number(3.0));
        assert_eq!(ev("count(n)"), Value::Number(0.0));
        assert_eq!(
            ev(&format!("pluck({PEOPLE}, \"name\")")),
            Value::List(vec![Value::text("Ada"), Value::text("Bo"), Value::text("Cy")])
        );
        assert_eq!(
            ev("pluck([{ a: 1 }, { b: 2 }], \"a\")"),
            Value::List(vec![Value::Number(1.0), Value::Null])
        );
        assert_eq!(ev("any([false, true])"), Value::Bool(true));
        assert_eq!(ev("any([])"), Value::Bool(false));
        assert_eq!(ev("all([true, true])"), Value::Bool(true));
        assert_eq!(ev("all([true, false])"), Value::Bool(false));
        assert_eq!(ev("all([])"), Value::Bool(true));
        assert_eq!(ev(&format!("any(pluck({PEOPLE}, \"vip\"))")), Value::Bool(true));
    }

    fn ev_err(src: &str) -> String {
        let env = MapEnv {
            names: BTreeMap::new(),
            now: Utc::now(),
        };
        eval(&expr_from_source(src).unwrap(), &env).unwrap_err().0
    }

    #[test]
    fn list_built_ins_reject_what_is_not_a_list() {
        assert_eq!(
            ev_err("filter(\"ab\", { a: 1 })"),
            "`filter` needs a list, not a text"
        );
        assert_eq!(
            ev_err("any([1])"),
            "`any` needs a list of bools, not one holding a number"
        );
    }

    #[test]
    fn every_built_in_is_evaluated_without_panicking() {
        for &builtin in Builtin::ALL {
            let env = MapEnv {
                names: BTreeMap::new(),
                now: Utc::now(),
            };
            for args in [
                vec![],
                vec![Value::Null],
                vec![Value::text("x"), Value::Number(1.0)],
            ] {
                let _ = call(builtin, args, &env);
            }
        }
    }

    fn at(rfc3339: &str) -> MapEnv {
        MapEnv {
            names: [("t".to_string(), Value::DateTime(parse_datetime(rfc3339).unwrap()))]
                .into_iter()
                .collect(),
            now: Utc::now(),
        }
    }

    #[test]
    fn format_date_honours_the_time_zone_and_pads_as_asked() {
        let env = at("2026-12-03T09:05:00Z");
        let show = |src: &str| eval(&expr_from_source(src).unwrap(), &env).unwrap();
        assert_eq!(
            show(r#"format_date(t, "%A %-d %B at %H:%M")"#),
            Value::text("Thursday 3 December at 09:05")
        );
        // Why the flows no longer write `%e`: it pads the day with a space.
        assert_eq!(
            show(r#"format_date(t, "%A %e %B")"#),
            Value::text("Thursday  3 December")
        );
        assert_eq!(
            show(r#"format_date(t, "%H:%M %Z", "America/New_York")"#),
            Value::text("04:05 EST")
        );
        assert_eq!(
            show(r#"format_date(t, "%H:%M", "Europe/" + "Paris")"#),
            Value::text("10:05")
        );
        assert_eq!(
            show(r#"format_date(date("2026-12-03"), "%-d/%-m")"#),
            Value::text("3/12")
        );
    }

    #[test]
    fn bad_date_formats_are_errors_never_panics() {
        let env = at("2026-12-03T09:05:00Z");
        let err = |src: &str| eval(&expr_from_source(src).unwrap(), &env).unwrap_err().0;
        // Computed at run time: validated then.
        assert!(err(r#"format_date(t, "%" + "Q")"#).contains("`%Q`"));
        assert!(err(r#"format_date(t, "%H", "Mars/" + "Base")"#).contains("time zone"));
        // A date has no hour: chrono's formatter fails, the run does not.
        assert_eq!(
            err(r#"format_date(date("2026-12-03"), "%H:%M")"#),
            "`format_date` cannot format a date with `%H:%M`"
        );
        // Written in the flow: refused when compiled.
        assert!(expr_from_source(r#"format_date(t, "%Q")"#)
            .unwrap_err()
            .message
            .contains("`%Q`"));
        assert!(expr_from_source(r#"format_date(t, "%H", "Mars/Base")"#).is_err());
    }

    #[test]
    fn text_number_and_list_helpers() {
        assert_eq!(ev("capitalize(\"ada\")"), Value::text("Ada"));
        assert_eq!(ev("replace(\"a-b-c\", \"-\", \"+\")"), Value::text("a+b+c"));
        assert_eq!(ev("floor(2.7) + ceil(2.2) + abs(-1)"), Value::Number(6.0));
        assert_eq!(
            ev("weeks(1) - days(6) - hours(23) - minutes(59)"),
            Value::Duration(60_000)
        );
        assert_eq!(ev("seconds(2)"), Value::Duration(2_000));
        assert_eq!(
            ev("sort(unique([3, 1, 3, 2]))"),
            Value::List(vec![Value::Number(1.0), Value::Number(2.0), Value::Number(3.0)])
        );
        assert_eq!(
            ev("reverse([1, 2])"),
            Value::List(vec![Value::Number(2.0), Value::Number(1.0)])
        );
        assert_eq!(ev("values({ a: 1 })"), Value::List(vec![Value::Number(1.0)]));
    }
}
