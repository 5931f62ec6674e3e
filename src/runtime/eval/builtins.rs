//! The built-in functions (`len`, `sum`, `format_date`, `unique`, ...), applied to evaluated
//! arguments.

use super::*;

fn num(v: &Value, f: &str) -> Result<f64, EvalError> {
    match v.as_f64() {
        Some(n) => Ok(n),
        None => fail(format!("`{f}` needs a number, not a {}", v.kind())),
    }
}

/// `v` itself when it is a number (integers stay exact).
fn number_arg(v: &Value, f: &str) -> Result<Value, EvalError> {
    num(v, f).map(|_| v.clone())
}

/// `floor`, `ceil` or `round` of a number: an integer is already whole (and may not fit a double).
fn whole_of(v: &Value, f: &str, to_whole: fn(f64) -> f64) -> Result<Value, EvalError> {
    match v {
        Value::Int(i) => Ok(Value::Int(*i)),
        _ => Ok(arith::whole(to_whole(num(v, f)?))),
    }
}

/// A count (a length, a number of matches) as an integer.
fn count(n: usize) -> Value {
    Value::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

fn text<'a>(v: &'a Value, f: &str) -> Result<&'a str, EvalError> {
    match v {
        Value::Text(t) => Ok(t),
        other => fail(format!("`{f}` needs text, not a {}", other.kind())),
    }
}

/// The items of a list argument (`none` is the empty list).
fn items(v: &Value, f: &str) -> Result<Vec<Value>, EvalError> {
    match v {
        Value::List(l) => Ok(l.clone()),
        Value::Null => Ok(Vec::new()),
        v => fail(format!("`{f}` needs a list, not a {}", v.kind())),
    }
}

/// Whether `record` has every field of `criteria` with an equal value (`none` criteria: all do).
fn matches_all(record: &Value, criteria: &Value) -> bool {
    match criteria {
        Value::Record(c) => c.iter().all(|(k, want)| equal(record.get(k), want)),
        _ => true,
    }
}

pub(super) fn call(builtin: Builtin, args: Vec<Value>, env: &dyn Env) -> Result<Value, EvalError> {
    use Builtin as B;
    use Value::*;
    let f = builtin.name();
    let arity = |n: usize| -> Result<(), EvalError> {
        if args.len() == n {
            Ok(())
        } else {
            fail(format!("`{f}` takes {n} argument(s), not {}", args.len()))
        }
    };
    let a0 = args.first().cloned().unwrap_or(Null);
    let a1 = args.get(1).cloned().unwrap_or(Null);
    Ok(match builtin {
        B::Now => {
            arity(0)?;
            DateTime(env.now().fixed_offset())
        }
        B::Today => {
            arity(0)?;
            Date(env.now().date_naive())
        }
        B::Lower => Text(text(&a0, f)?.to_lowercase()),
        B::Upper => Text(text(&a0, f)?.to_uppercase()),
        B::Trim => Text(text(&a0, f)?.trim().to_string()),
        B::Len => match &a0 {
            Text(t) => count(t.chars().count()),
            List(l) => count(l.len()),
            Record(r) => count(r.len()),
            Null => Int(0),
            v => {
                return fail(format!(
                    "`len` needs text, a list or a record, not a {}",
                    v.kind()
                ))
            }
        },
        B::Contains => match (&a0, &a1) {
            (Text(h), Text(n)) => Bool(h.contains(n.as_str())),
            (List(l), v) => Bool(l.iter().any(|i| equal(i, v))),
            (Null, _) => Bool(false),
            (v, _) => return fail(format!("`contains` needs text or a list, not a {}", v.kind())),
        },
        B::StartsWith => Bool(text(&a0, f)?.starts_with(text(&a1, f)?)),
        B::EndsWith => Bool(text(&a0, f)?.ends_with(text(&a1, f)?)),
        B::Join => match &a0 {
            List(l) => {
                let sep = if a1.is_null() { ", " } else { text(&a1, f)? };
                Text(l.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(sep))
            }
            v => return fail(format!("`join` needs a list, not a {}", v.kind())),
        },
        B::Split => List(
            text(&a0, f)?
                .split(text(&a1, f)?)
                .map(|s| Text(s.to_string()))
                .collect(),
        ),
        B::FormatDate => {
            let zone = zone_of(args.get(2).unwrap_or(&Null))?;
            render_date(&a0, &format_of(&a1)?, zone)?
        }
        B::Date => match &a0 {
            Text(s) => match NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .or_else(|| parse_datetime(s).map(|t| t.date_naive()))
            {
                Some(d) => Date(d),
                None => return fail(format!("`{s}` is not a date (YYYY-MM-DD)")),
            },
            DateTime(t) => Date(t.date_naive()),
            Date(d) => Date(*d),
            v => return fail(format!("`date` needs text, not a {}", v.kind())),
        },
        B::Datetime => match &a0 {
            Text(s) => match parse_datetime(s) {
                Some(t) => DateTime(t),
                None => return fail(format!("`{s}` is not a date-time (RFC 3339)")),
            },
            Date(d) => DateTime(date_to_datetime(*d)),
            DateTime(t) => DateTime(*t),
            v => return fail(format!("`datetime` needs text, not a {}", v.kind())),
        },
        B::Days => Duration((num(&a0, f)? * 86_400_000.0) as i64),
        B::Hours => Duration((num(&a0, f)? * 3_600_000.0) as i64),
        B::Minutes => Duration((num(&a0, f)? * 60_000.0) as i64),
        B::Round => {
            let digits = if a1.is_null() { 0.0 } else { num(&a1, f)? };
            match number_arg(&a0, f)? {
                // An integer has no fraction to round (rounding to tens is rare enough for doubles).
                Int(i) if digits >= 0.0 => Int(i),
                n if digits == 0.0 => whole_of(&n, f, f64::round)?,
                n => {
                    let p = 10f64.powi(digits as i32);
                    Number((num(&n, f)? * p).round() / p)
                }
            }
        }
        B::Min | B::Max | B::Sum => {
            let items: Vec<Value> = match (&a0, args.len()) {
                (List(l), 1) => l.clone(),
                _ => args.clone(),
            };
            let mut nums = Vec::with_capacity(items.len());
            for i in &items {
                nums.push(number_arg(i, f)?);
            }
            match builtin {
                B::Sum => arith::sum(&nums).map_err(EvalError)?,
                B::Min => arith::extreme(nums, std::cmp::Ordering::Less),
                _ => arith::extreme(nums, std::cmp::Ordering::Greater),
            }
        }
        B::First => match a0 {
            List(l) => l.into_iter().next().unwrap_or(Null),
            _ => Null,
        },
        B::Last => match a0 {
            List(l) => l.into_iter().last().unwrap_or(Null),
            _ => Null,
        },
        B::Keys => match a0 {
            Record(r) => List(r.into_keys().map(Text).collect()),
            _ => List(Vec::new()),
        },
        B::Filter => List(
            items(&a0, f)?
                .into_iter()
                .filter(|r| matches_all(r, &a1))
                .collect(),
        ),
        B::Find => items(&a0, f)?
            .into_iter()
            .find(|r| matches_all(r, &a1))
            .unwrap_or(Null),
        B::Count => count(items(&a0, f)?.iter().filter(|r| matches_all(r, &a1)).count()),
        B::Pluck => {
            let field = text(&a1, f)?;
            List(items(&a0, f)?.iter().map(|r| r.get(field).clone()).collect())
        }
        B::Any | B::All => {
            let mut bools = Vec::new();
            for v in items(&a0, f)? {
                match v {
                    Bool(b) => bools.push(b),
                    Null => bools.push(false),
                    v => {
                        return fail(format!(
                            "`{f}` needs a list of bools, not one holding a {}",
                            v.kind()
                        ))
                    }
                }
            }
            Bool(if builtin == B::Any {
                bools.into_iter().any(|b| b)
            } else {
                bools.into_iter().all(|b| b)
            })
        }
        B::Capitalize => {
            let t = text(&a0, f)?;
            let mut chars = t.chars();
            Text(match chars.next() {
                Some(c) => c.to_uppercase().chain(chars).collect(),
                None => String::new(),
            })
        }
        B::Replace => {
            let to = args.get(2).cloned().unwrap_or(Null);
            Text(text(&a0, f)?.replace(text(&a1, f)?, text(&to, f)?))
        }
        B::Floor => whole_of(&a0, f, f64::floor)?,
        B::Ceil => whole_of(&a0, f, f64::ceil)?,
        B::Abs => match arith::abs(&a0) {
            Some(n) => n.map_err(EvalError)?,
            None => return fail(format!("`abs` needs a number, not a {}", a0.kind())),
        },
        B::Seconds => Duration((num(&a0, f)? * 1_000.0) as i64),
        B::Weeks => Duration((num(&a0, f)? * 604_800_000.0) as i64),
        B::Reverse => {
            let mut l = items(&a0, f)?;
            l.reverse();
            List(l)
        }
        B::Sort => {
            let mut l = items(&a0, f)?;
            l.sort_by(|a, b| compare(a, b).unwrap_or(std::cmp::Ordering::Equal));
            List(l)
        }
        B::Unique => {
            let mut out: Vec<Value> = Vec::new();
            for v in items(&a0, f)? {
                if !out.iter().any(|o| equal(o, &v)) {
                    out.push(v);
                }
            }
            List(out)
        }
        B::Values => match a0 {
            Record(r) => List(r.into_values().collect()),
            _ => List(Vec::new()),
        },
        B::Text => Text(a0.to_string()),
        B::Number => match &a0 {
            Int(_) | Number(_) => a0.clone(),
            Text(t) => match arith::parse(t) {
                Some(n) => n,
                None => return fail(format!("`{t}` is not a number")),
            },
            v => return fail(format!("`number` needs text, not a {}", v.kind())),
        },
        // Reached only through a computed call; `eval` answers the literal form.
        B::Secret => return fail("`secret` needs the variable's name written as a literal"),
    })
}
