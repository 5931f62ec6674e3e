//! The built-in functions as an enum: chosen by name at compile time, matched by the runtime.

use serde::{Deserialize, Serialize};

macro_rules! builtins {
    ($($variant:ident = $name:literal,)*) => {
        /// A built-in function.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Builtin {
            $(
                #[doc = concat!("`", $name, "(...)`")]
                $variant,
            )*
        }

        impl Builtin {
            /// Every built-in.
            pub const ALL: &'static [Builtin] = &[$(Builtin::$variant,)*];

            /// The name it is called by.
            pub fn name(self) -> &'static str {
                match self {
                    $(Builtin::$variant => $name,)*
                }
            }

            /// The built-in called `name`.
            pub fn from_name(name: &str) -> Option<Builtin> {
                match name {
                    $($name => Some(Builtin::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

builtins! {
    Abs = "abs",
    All = "all",
    Any = "any",
    Capitalize = "capitalize",
    Ceil = "ceil",
    Contains = "contains",
    Count = "count",
    Date = "date",
    Datetime = "datetime",
    Days = "days",
    EndsWith = "ends_with",
    Filter = "filter",
    Find = "find",
    First = "first",
    Floor = "floor",
    FormatDate = "format_date",
    Hours = "hours",
    Join = "join",
    Keys = "keys",
    Last = "last",
    Len = "len",
    Lower = "lower",
    Max = "max",
    Min = "min",
    Minutes = "minutes",
    Now = "now",
    Number = "number",
    Pluck = "pluck",
    Replace = "replace",
    Reverse = "reverse",
    Round = "round",
    Seconds = "seconds",
    Secret = "secret",
    Sort = "sort",
    Split = "split",
    StartsWith = "starts_with",
    Sum = "sum",
    Text = "text",
    Today = "today",
    Trim = "trim",
    Unique = "unique",
    Upper = "upper",
    Values = "values",
    Weeks = "weeks",
}

#[cfg(test)]
mod tests {
    use super::Builtin;

    #[test]
    fn the_checker_and_the_plan_know_the_same_built_ins() {
        let plan: Vec<&str> = Builtin::ALL.iter().map(|b| b.name()).collect();
        assert_eq!(plan, crate::check::builtins::NAMES);
        for b in Builtin::ALL {
            assert_eq!(Builtin::from_name(b.name()), Some(*b));
            // The serialised name is the name it is called by.
            assert_eq!(serde_json::to_value(b).ok(), Some(serde_json::json!(b.name())));
        }
    }
}
