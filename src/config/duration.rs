//! A duration in `flowc.toml`, written as in `.flow` files (`"30s"`, `"5m"`, `"2h"`, `"1d"`,
//! `"1h30m"`): one syntax for the whole project. Numbers and words are refused with the form meant.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::value::{format_duration, parse_duration};

/// What starts the message of a refused duration, so the error can be told apart (E0903) from
/// other values; the help follows the first line break.
pub(super) const REFUSED: &str = "not a duration: ";

/// A positive duration read from a string such as `"30s"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConfigDuration(pub Duration);

impl ConfigDuration {
    /// The duration.
    pub fn get(self) -> Duration {
        self.0
    }
}

/// The message of a refused duration written `written`, with its help.
fn refused(written: &str, help: String) -> String {
    format!("{REFUSED}{written}\n{help}")
}

/// The duration meant by `text`, or the help that says how to write it.
fn read(text: &str) -> Result<Duration, String> {
    match parse_duration(text.trim()) {
        Some(ms) if ms > 0 => Ok(Duration::from_millis(ms as u64)),
        Some(_) => Err(refused(
            &format!("\"{text}\""),
            "a duration here is more than zero: write e.g. `\"30s\"`".to_string(),
        )),
        None => Err(refused(&format!("\"{text}\""), suggestion(text))),
    }
}

/// How to write `text` as a duration (`"30 seconds"` → `"30s"`), or the units.
fn suggestion(text: &str) -> String {
    let text = text.trim();
    let digits: String = text.chars().take_while(char::is_ascii_digit).collect();
    let unit = text[digits.len()..].trim().to_ascii_lowercase();
    let unit = match unit.as_str() {
        "sec" | "secs" | "second" | "seconds" => Some("s"),
        "min" | "mins" | "minute" | "minutes" => Some("m"),
        "hr" | "hrs" | "hour" | "hours" => Some("h"),
        "day" | "days" => Some("d"),
        "week" | "weeks" => Some("w"),
        "" if !digits.is_empty() => Some("s"),
        _ => None,
    };
    match unit {
        Some(u) if !digits.is_empty() => format!(
            "write `\"{digits}{u}\"`: durations are written as in .flow files (`\"30s\"`, `\"5m\"`, `\"2h\"`, `\"1d\"`)"
        ),
        _ => "write it as in .flow files: a whole number and a unit (ms, s, m, h, d, w), e.g. `\"30s\"`, `\"5m\"`, `\"1h30m\"`".to_string(),
    }
}

impl<'de> Deserialize<'de> for ConfigDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Text;
        impl Visitor<'_> for Text {
            type Value = ConfigDuration;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as \"30s\"")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<ConfigDuration, E> {
                read(text).map(ConfigDuration).map_err(E::custom)
            }

            fn visit_i64<E: de::Error>(self, n: i64) -> Result<ConfigDuration, E> {
                Err(E::custom(refused(
                    &n.to_string(),
                    format!("write `\"{n}s\"` for {n} seconds: durations are written as in .flow files (`\"30s\"`, `\"5m\"`, `\"2h\"`)"),
                )))
            }

            fn visit_f64<E: de::Error>(self, n: f64) -> Result<ConfigDuration, E> {
                Err(E::custom(refused(
                    &n.to_string(),
                    "durations are whole numbers of a unit: write `\"1m30s\"` rather than `1.5`".to_string(),
                )))
            }
        }
        deserializer.deserialize_any(Text)
    }
}

impl Serialize for ConfigDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format_duration(self.0.as_millis() as i64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct T {
        d: ConfigDuration,
    }

    fn read_toml(text: &str) -> Result<Duration, String> {
        toml::from_str::<T>(text)
            .map(|t| t.d.get())
            .map_err(|e| e.message().to_string())
    }

    #[test]
    fn durations_are_written_as_in_flow_files() {
        assert_eq!(read_toml("d = \"30s\""), Ok(Duration::from_secs(30)));
        assert_eq!(read_toml("d = \"1h30m\""), Ok(Duration::from_secs(5400)));
        let e = read_toml("d = 30").unwrap_err();
        assert!(e.starts_with(REFUSED) && e.contains("write `\"30s\"`"), "{e}");
        let e = read_toml("d = \"2 days\"").unwrap_err();
        assert!(e.contains("write `\"2d\"`"), "{e}");
        let e = read_toml("d = \"soon\"").unwrap_err();
        assert!(e.contains("a whole number and a unit"), "{e}");
        assert!(read_toml("d = \"0s\"").is_err());
        assert!(read_toml("d = 1.5").unwrap_err().contains("whole numbers"));
    }
}
