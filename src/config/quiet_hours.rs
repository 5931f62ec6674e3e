//! `[entities.NAME.quiet_hours]`: when an entity's non-urgent notices wait (stdlib/notify), as
//! times of day in the recipient's time zone. They live in `flowc.toml`, beside the entity's
//! senders, because they are the staff's policy for reaching people, changed without touching
//! a flow; the flows read them as the entity setting `quiet_hours` (docs/running.md).

use std::fmt;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

use crate::syntax::ast::{self, Expr, ExprKind, Ident, RecordField, Setting, StrPart};
use crate::syntax::Span;

/// A time of day written `"HH:MM"` (24-hour clock).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ClockTime {
    /// Minutes since midnight (0 to 1439).
    minutes: u16,
}

impl ClockTime {
    /// The time `hour:minute`.
    pub const fn new(hour: u16, minute: u16) -> ClockTime {
        ClockTime {
            minutes: hour * 60 + minute,
        }
    }

    /// Reads `"21:00"`; anything else is refused with what to write.
    pub fn parse(text: &str) -> Result<ClockTime, String> {
        let expected =
            "expected a time of day such as \"21:00\" or \"07:30\" (hours 00 to 23, minutes 00 to 59)";
        let refused = || format!("\"{text}\" is not a time of day, {expected}");
        let (h, m) = text.split_once(':').ok_or_else(refused)?;
        let two_digits = |s: &str| s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit());
        if !two_digits(h) || !two_digits(m) {
            return Err(refused());
        }
        let (hour, minute): (u16, u16) = (
            h.parse().map_err(|_| refused())?,
            m.parse().map_err(|_| refused())?,
        );
        if hour > 23 || minute > 59 {
            return Err(refused());
        }
        Ok(ClockTime::new(hour, minute))
    }
}

impl fmt::Display for ClockTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.minutes / 60, self.minutes % 60)
    }
}

impl<'de> Deserialize<'de> for ClockTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ClockTime, D::Error> {
        let text = String::deserialize(deserializer)?;
        ClockTime::parse(&text).map_err(de::Error::custom)
    }
}

impl Serialize for ClockTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

/// Quiet hours: from `from` until `until`, across midnight when `from` is the later time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Written")]
pub struct QuietHours {
    /// When the quiet hours start (`"21:00"`).
    pub from: ClockTime,
    /// When they end (`"08:00"`).
    pub until: ClockTime,
}

/// The table as written, checked into [`QuietHours`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Written {
    from: ClockTime,
    until: ClockTime,
}

impl TryFrom<Written> for QuietHours {
    type Error = String;

    fn try_from(w: Written) -> Result<QuietHours, String> {
        if w.from == w.until {
            return Err(format!(
                "quiet hours from {0} until {0} are empty, expected two different times (remove the table to keep the default, 21:00 until 08:00)",
                w.from
            ));
        }
        Ok(QuietHours {
            from: w.from,
            until: w.until,
        })
    }
}

impl Default for QuietHours {
    /// 21:00 until 08:00: nobody is texted in the night unless an entity says otherwise.
    fn default() -> QuietHours {
        QuietHours {
            from: ClockTime::new(21, 0),
            until: ClockTime::new(8, 0),
        }
    }
}

impl QuietHours {
    /// The entity setting flows read, `quiet_hours = { from: "21:00", until: "08:00" }`, placed
    /// at `at` (the entity's name: it is written in `flowc.toml`, not in the file).
    pub(crate) fn setting(&self, at: Span) -> Setting {
        let text = |t: ClockTime| Expr {
            kind: ExprKind::Str(vec![StrPart::Text(t.to_string())]),
            span: at,
        };
        let field = |name: &str, t: ClockTime| RecordField {
            name: Ident {
                name: name.to_string(),
                span: at,
            },
            value: text(t),
            shorthand: false,
        };
        Setting {
            docs: vec!["Quiet hours, from `[entities.NAME.quiet_hours]` in flowc.toml.".to_string()],
            name: Ident {
                name: SETTING.to_string(),
                span: at,
            },
            value: Expr {
                kind: ExprKind::Record(vec![field("from", self.from), field("until", self.until)]),
                span: at,
            },
            span: at,
        }
    }
}

/// The name of the entity setting that holds an entity's quiet hours.
pub const SETTING: &str = "quiet_hours";

/// Gives each entity of `module` its `quiet_hours` setting from `config` (the default when
/// `flowc.toml` sets none). An entity that declares `quiet_hours` itself keeps it and also gets
/// this one, so the checker reports the setting declared twice: the quiet hours have one home.
pub(crate) fn add_settings(module: &mut ast::Module, config: &super::Config) {
    for item in &mut module.items {
        if let ast::Item::Entity(entity) = item {
            let quiet = config
                .entities
                .get(&entity.name.name)
                .and_then(|e| e.quiet_hours)
                .unwrap_or_default();
            entity.settings.push(quiet.setting(entity.name.span));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_of_day_are_two_digit_hours_and_minutes() {
        assert_eq!(ClockTime::parse("21:00"), Ok(ClockTime::new(21, 0)));
        assert_eq!(
            ClockTime::parse("07:30").map(|t| t.to_string()),
            Ok("07:30".to_string())
        );
        for wrong in [
            "24:00", "21:60", "9:00", "21", "21:00:00", "nine", "-1:00", "21h00",
        ] {
            let e = ClockTime::parse(wrong).unwrap_err();
            assert!(e.contains("is not a time of day"), "{wrong}: {e}");
        }
    }
}
