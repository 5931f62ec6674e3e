//! The built-in functions expressions may call (`lower(x)`, `now()`), with their arity, argument
//! kinds and result types.

use crate::types::Type;

/// What an argument must be.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Param {
    Any,
    Text,
    Number,
    List,
    Record,
    /// A date or datetime.
    Time,
    /// A list of `bool`.
    Bools,
}

impl Param {
    pub fn accepts(self, ty: &Type) -> bool {
        let ty = ty.strip_optional();
        match self {
            Param::Any => true,
            Param::Text => ty.assignable_to(&Type::Text),
            Param::Number => ty.assignable_to(&Type::Number),
            Param::List => matches!(ty, Type::List { .. } | Type::Any),
            Param::Record => matches!(ty, Type::Record { .. } | Type::Any),
            Param::Time => matches!(ty, Type::Date | Type::Datetime | Type::Any),
            Param::Bools => match ty {
                Type::List { of } => of.strip_optional().assignable_to(&Type::Bool),
                Type::Any => true,
                _ => false,
            },
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Param::Any => "any value",
            Param::Text => "`text`",
            Param::Number => "`number`",
            Param::List => "a list",
            Param::Record => "a record",
            Param::Time => "a `date` or `datetime`",
            Param::Bools => "a list of `bool`",
        }
    }
}

/// How the result type follows from the arguments.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Returns {
    Fixed(fn() -> Type),
    /// The type of the first argument.
    First,
    /// The element type of the first argument (a list), or the first argument itself.
    Element,
    /// The element type of the first argument, possibly none.
    OptionalElement,
}

/// A built-in's signature.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Builtin {
    pub min: usize,
    pub max: usize,
    /// Kinds of the leading arguments; later arguments take the last kind.
    pub params: &'static [Param],
    pub returns: Returns,
}

impl Builtin {
    pub fn param(&self, index: usize) -> Param {
        self.params
            .get(index)
            .or(self.params.last())
            .copied()
            .unwrap_or(Param::Any)
    }

    pub fn result(&self, args: &[Type]) -> Type {
        match self.returns {
            Returns::Fixed(f) => f(),
            Returns::First => args
                .first()
                .map(|t| t.strip_optional().clone())
                .unwrap_or(Type::Any),
            Returns::Element => match args {
                [only] => element(only),
                [first, ..] => first.strip_optional().clone(),
                [] => Type::Any,
            },
            Returns::OptionalElement => args
                .first()
                .map(|t| Type::optional(element(t)))
                .unwrap_or(Type::Any),
        }
    }
}

fn element(ty: &Type) -> Type {
    match ty.strip_optional() {
        Type::List { of } => (**of).clone(),
        other => other.clone(),
    }
}

const MANY: usize = usize::MAX;

fn b(min: usize, max: usize, params: &'static [Param], returns: Returns) -> Builtin {
    Builtin {
        min,
        max,
        params,
        returns,
    }
}

/// Every built-in's name, for suggestions.
pub(crate) const NAMES: &[&str] = &[
    "abs",
    "all",
    "any",
    "capitalize",
    "ceil",
    "contains",
    "count",
    "date",
    "datetime",
    "days",
    "ends_with",
    "filter",
    "find",
    "first",
    "floor",
    "format_date",
    "hours",
    "join",
    "keys",
    "last",
    "len",
    "lower",
    "max",
    "min",
    "minutes",
    "now",
    "number",
    "pluck",
    "replace",
    "reverse",
    "round",
    "seconds",
    "secret",
    "sort",
    "split",
    "starts_with",
    "sum",
    "text",
    "today",
    "trim",
    "unique",
    "upper",
    "values",
    "weeks",
];

/// The built-in called `name`.
pub(crate) fn lookup(name: &str) -> Option<Builtin> {
    use Param as P;
    use Returns as R;
    Some(match name {
        "now" => b(0, 0, &[], R::Fixed(|| Type::Datetime)),
        "today" => b(0, 0, &[], R::Fixed(|| Type::Date)),
        "lower" | "upper" | "trim" | "capitalize" => b(1, 1, &[P::Text], R::Fixed(|| Type::Text)),
        "len" => b(1, 1, &[P::Any], R::Fixed(|| Type::Number)),
        "contains" => b(2, 2, &[P::Any, P::Any], R::Fixed(|| Type::Bool)),
        "starts_with" | "ends_with" => b(2, 2, &[P::Text, P::Text], R::Fixed(|| Type::Bool)),
        "join" => b(1, 2, &[P::List, P::Text], R::Fixed(|| Type::Text)),
        "split" => b(2, 2, &[P::Text, P::Text], R::Fixed(|| Type::list(Type::Text))),
        "replace" => b(3, 3, &[P::Text, P::Text, P::Text], R::Fixed(|| Type::Text)),
        "format_date" => b(2, 3, &[P::Time, P::Text, P::Text], R::Fixed(|| Type::Text)),
        "date" => b(1, 1, &[P::Any], R::Fixed(|| Type::Date)),
        "datetime" => b(1, 2, &[P::Any, P::Text], R::Fixed(|| Type::Datetime)),
        "days" | "hours" | "minutes" | "seconds" | "weeks" => {
            b(1, 1, &[P::Number], R::Fixed(|| Type::Duration))
        }
        "round" => b(1, 2, &[P::Number, P::Number], R::Fixed(|| Type::Number)),
        "floor" | "ceil" | "abs" => b(1, 1, &[P::Number], R::Fixed(|| Type::Number)),
        "min" | "max" => b(1, MANY, &[P::Any], R::Element),
        "sum" => b(1, 1, &[P::List], R::Fixed(|| Type::Number)),
        "first" | "last" => b(1, 1, &[P::List], R::OptionalElement),
        "keys" => b(1, 1, &[P::Record], R::Fixed(|| Type::list(Type::Text))),
        "values" => b(1, 1, &[P::Record], R::Fixed(|| Type::list(Type::Any))),
        "secret" => b(1, 1, &[P::Text], R::Fixed(|| Type::Text)),
        "number" => b(1, 1, &[P::Any], R::Fixed(|| Type::Number)),
        "text" => b(1, 1, &[P::Any], R::Fixed(|| Type::Text)),
        "unique" | "sort" | "reverse" => b(1, 1, &[P::List], R::First),
        // Records of a list whose fields equal the given values.
        "filter" => b(2, 2, &[P::List, P::Record], R::First),
        "find" => b(2, 2, &[P::List, P::Record], R::OptionalElement),
        "count" => b(1, 2, &[P::List, P::Record], R::Fixed(|| Type::Number)),
        // The result's element type is the field's, when the field is a literal (see `infer`).
        "pluck" => b(2, 2, &[P::List, P::Text], R::Fixed(|| Type::list(Type::Any))),
        "any" | "all" => b(1, 1, &[P::Bools], R::Fixed(|| Type::Bool)),
        _ => return None,
    })
}

/// How to call it: `lower(text)`, `round(number, number?)`, `min(any, ...)`.
pub(crate) fn usage(name: &str, b: &Builtin) -> String {
    let word = |p: Param| match p {
        Param::Any => "value",
        Param::Text => "text",
        Param::Number => "number",
        Param::List => "list",
        Param::Record => "record",
        Param::Time => "date",
        Param::Bools => "list",
    };
    let shown = if b.max == MANY { b.min.max(1) } else { b.max };
    let mut args: Vec<String> = (0..shown)
        .map(|i| format!("{}{}", word(b.param(i)), if i >= b.min { "?" } else { "" }))
        .collect();
    if b.max == MANY {
        args.push("...".to_string());
    }
    format!("{name}({})", args.join(", "))
}

/// `1 argument`, `1 or 2 arguments`, `at least 1 argument`.
pub(crate) fn describe_arity(b: &Builtin) -> String {
    let noun = |n: usize| if n == 1 { "argument" } else { "arguments" };
    if b.max == MANY {
        format!("at least {} {}", b.min, noun(b.min))
    } else if b.min == b.max {
        format!("{} {}", b.min, noun(b.min))
    } else if b.max == b.min + 1 {
        format!("{} or {} {}", b.min, b.max, noun(b.max))
    } else {
        format!("{} to {} {}", b.min, b.max, noun(b.max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_has_a_signature() {
        for name in NAMES {
            assert!(lookup(name).is_some(), "{name}");
        }
        assert_eq!(describe_arity(&lookup("round").unwrap()), "1 or 2 arguments");
        assert_eq!(describe_arity(&lookup("now").unwrap()), "0 arguments");
    }

    #[test]
    fn list_built_ins_are_typed() {
        let contacts = Type::list(Type::record([("name", Type::Text), ("vip", Type::Bool)]));
        let criteria = Type::record([("vip", Type::Bool)]);
        let filter = lookup("filter").unwrap();
        assert_eq!(filter.result(&[contacts.clone(), criteria.clone()]), contacts);
        let find = lookup("find").unwrap();
        assert_eq!(
            find.result(&[contacts.clone(), criteria.clone()]),
            Type::optional(Type::record([("name", Type::Text), ("vip", Type::Bool)]))
        );
        let count = lookup("count").unwrap();
        assert_eq!(count.result(std::slice::from_ref(&contacts)), Type::Number);
        assert_eq!(usage("count", &count), "count(list, record?)");
        assert!(!filter.param(1).accepts(&Type::Text), "criteria must be a record");
        let any = lookup("any").unwrap();
        assert!(any.param(0).accepts(&Type::list(Type::Bool)));
        assert!(any.param(0).accepts(&Type::list(Type::optional(Type::Bool))));
        assert!(!any.param(0).accepts(&Type::list(Type::Text)));
        assert!(!any.param(0).accepts(&Type::Bool));
        assert_eq!(any.result(&[Type::list(Type::Bool)]), Type::Bool);
        assert_eq!(usage("pluck", &lookup("pluck").unwrap()), "pluck(list, text)");
    }
}
