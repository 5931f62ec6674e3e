//! Date formats compiled at compile time: a plan never holds a format that could fail (or
//! panic) when a flow runs, and a plan file that holds one is refused when read. Time zones are
//! validated the same way ([`crate::time_zone`]).

use std::fmt;

use chrono::format::{Item, StrftimeItems};
use serde::{Deserialize, Serialize};

/// A validated strftime format, parsed once.
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Strftime {
    source: String,
    items: Vec<Item<'static>>,
}

impl Strftime {
    /// Parses `source`; the error says which specifier is wrong.
    pub fn parse(source: &str) -> Result<Strftime, String> {
        match StrftimeItems::new(source).parse_to_owned() {
            Ok(items) => Ok(Strftime {
                source: source.to_string(),
                items,
            }),
            Err(_) => Err(format!(
                "`{source}` is not a valid date format{}",
                first_bad_specifier(source)
                    .map(|s| format!(": `{s}` is not a strftime specifier"))
                    .unwrap_or_default()
            )),
        }
    }

    /// The format as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The compiled items.
    pub fn items(&self) -> &[Item<'static>] {
        &self.items
    }
}

/// The first `%x` of `source` that chrono does not know, for the error message.
fn first_bad_specifier(source: &str) -> Option<String> {
    let mut rest = source;
    while let Some(at) = rest.find('%') {
        let tail = &rest[at..];
        // The shortest prefix `%..x` that parses alone is a specifier; none up to 4 chars: bad.
        let mut end = 1;
        let mut chars = tail.char_indices().skip(1);
        let mut good = false;
        for _ in 0..4 {
            let Some((i, c)) = chars.next() else { break };
            end = i + c.len_utf8();
            if StrftimeItems::new(&tail[..end]).parse().is_ok() {
                good = true;
                break;
            }
        }
        if !good {
            return Some(tail[..end].to_string());
        }
        rest = &tail[end..];
    }
    None
}

impl PartialEq for Strftime {
    fn eq(&self, other: &Strftime) -> bool {
        self.source == other.source
    }
}

impl fmt::Debug for Strftime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Strftime({:?})", self.source)
    }
}

impl TryFrom<String> for Strftime {
    type Error = String;
    fn try_from(source: String) -> Result<Strftime, String> {
        Strftime::parse(&source)
    }
}

impl From<Strftime> for String {
    fn from(f: Strftime) -> String {
        f.source
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_formats_are_refused_with_the_specifier() {
        let e = Strftime::parse("%A %Q").unwrap_err();
        assert!(e.contains("`%Q`"), "{e}");
        assert!(Strftime::parse("%-d %B %Y, %H:%M").is_ok());
        assert!(Strftime::parse("100%").is_err());
        let json = serde_json::to_string(&Strftime::parse("%d").unwrap()).unwrap();
        assert_eq!(json, "\"%d\"");
        assert!(serde_json::from_str::<Strftime>("\"%Q\"").is_err());
    }
}
