//! What to write instead of a value of the wrong type: the help lines of type mismatches.

use crate::types::Type;

/// A help that says what to write where `found` (written as `text`) is given but `expected` is
/// wanted, when there is a usual fix.
pub(crate) fn help(expected: &Type, found: &Type, text: &str) -> Option<String> {
    let text = text.trim();
    let shown = if text.is_empty() || text.len() > 40 || text.contains('\n') {
        "x"
    } else {
        text
    };
    let (expected, found) = (expected.strip_optional(), found.strip_optional());
    Some(match (expected, found) {
        (Type::Number, Type::Text)
            if text.starts_with('"') && text.trim_matches('"').parse::<f64>().is_ok() =>
        {
            format!("write the number without quotes: `{}`", text.trim_matches('"'))
        }
        (Type::Number, Type::Text | Type::Email) => {
            format!("convert the text to a number: `number({shown})`")
        }
        (Type::Text, Type::Number | Type::Bool | Type::Date | Type::Datetime | Type::Duration) => {
            format!("convert it to text: `text({shown})`")
        }
        (Type::Datetime | Type::Date, Type::Duration) => {
            format!("a duration is not a point in time; count it from now: `now() + {shown}`")
        }
        (Type::Duration, Type::Number) => {
            format!("give a unit: `{shown}d`, `{shown}h` or `minutes({shown})`")
        }
        (Type::List { of }, single) if single.assignable_to(of) => {
            format!("put the single value in a list: `[{shown}]`")
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helps_say_what_to_write() {
        assert_eq!(
            help(&Type::Datetime, &Type::Duration, "2d").as_deref(),
            Some("a duration is not a point in time; count it from now: `now() + 2d`")
        );
        assert_eq!(
            help(&Type::Number, &Type::Text, "input.age").as_deref(),
            Some("convert the text to a number: `number(input.age)`")
        );
        assert_eq!(
            help(&Type::list(Type::Email), &Type::Email, "input.email").as_deref(),
            Some("put the single value in a list: `[input.email]`")
        );
        assert_eq!(help(&Type::Bool, &Type::Text, "x"), None);
    }
}
