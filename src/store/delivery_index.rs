//! The SQLite store's index of webhook deliveries, in memory.
//!
//! A delivery's key is kept on disk in its instance's row (`instances.delivery`), written by the
//! start's own insert. Instance ids are UUIDv7, so those rows arrive in time order and a start
//! dirties no page of its own. A table keyed by the delivery key did: providers' ids come in
//! random order, so each start added a 4 KB page to the log, and the log's checkpoints copied
//! pages scattered over the file (docs/serve.md, "Load").
//!
//! Lookups are answered here: a keyed 64-bit hash of each key → its instance. A hit is
//! confirmed against the instance's row ([`Lookup::Confirm`]), so a collision of hashes can
//! cost a read, never a wrong answer. What is kept is bounded: deliveries older than
//! [`RETENTION`] are let go (providers stop retrying within days), and past [`MOST`] the oldest
//! go first, with a warning. [`MOST`] of them hold about 90 MB: a map's entry of hash and
//! instance (32 bytes, in a table that keeps at least half its room free as deliveries come and
//! go) and a hash and time in arrival order (16 bytes).

use std::collections::hash_map::Entry;
use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;

use chrono::{DateTime, Duration, Utc};
use rusqlite::{params, Connection};
use uuid::Uuid;

use super::sqlite::parse_time;

/// How long a delivery is recognised: longer than any provider retries (Stripe three days,
/// Standard Webhooks / Svix about a day and a half, Shopify four hours, GitHub not at all).
pub(crate) const RETENTION: Duration = Duration::days(7);

/// The most deliveries kept: a week of 1.6 per second, a sustained 5,000 per second for about
/// three minutes.
pub(crate) const MOST: usize = 1_000_000;

/// What the index says about a key.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// Never seen (within the retention).
    Unknown,
    /// Seen, with this instance: known exactly.
    Known(String),
    /// Probably these instances: the caller checks which one's row holds the key.
    Confirm(Vec<String>),
}

/// A delivery in arrival order: its hash and when it came (Unix seconds). Deliveries of one hash
/// are let go in the order they came, so its instance is the oldest its hash holds.
struct Kept {
    hash: u64,
    at: i64,
}

/// The deliveries seen recently.
pub(crate) struct DeliveryIndex {
    hasher: RandomState,
    /// Hash → the instance of the oldest delivery with that hash.
    by_hash: HashMap<u64, u128>,
    /// Hash → the instances of later deliveries with a hash `by_hash` holds, oldest first: two
    /// keys whose hashes collide (about once in 10^7 indexes of a million), kept apart so that
    /// the common entry stays 32 bytes.
    later: HashMap<u64, Vec<u128>>,
    /// The deliveries, oldest first, to let go of in order.
    order: VecDeque<Kept>,
    /// Deliveries whose instance id is not a UUID (imported from an older flowc), exactly.
    exact: HashMap<String, String>,
    retention: Duration,
    most: usize,
    /// When deliveries within the retention were last let go (past [`MOST`]) and a warning
    /// said so: at most one an hour.
    warned: Option<DateTime<Utc>>,
}

impl Default for DeliveryIndex {
    fn default() -> DeliveryIndex {
        DeliveryIndex::new(RETENTION, MOST)
    }
}

impl DeliveryIndex {
    pub(crate) fn new(retention: Duration, most: usize) -> DeliveryIndex {
        DeliveryIndex {
            hasher: RandomState::new(),
            by_hash: HashMap::new(),
            later: HashMap::new(),
            order: VecDeque::new(),
            exact: HashMap::new(),
            retention,
            most,
            warned: None,
        }
    }

    /// Delivery `key` started `instance` at `at`. Keys arrive in time order, save the ones
    /// read back at start, which are added oldest first before any new one.
    pub(crate) fn insert(&mut self, key: &str, instance: &str, at: DateTime<Utc>) {
        let Ok(id) = Uuid::parse_str(instance) else {
            self.exact
                .entry(key.to_string())
                .or_insert_with(|| instance.to_string());
            return;
        };
        self.insert_hashed(self.hasher.hash_one(key), id.as_u128(), at);
    }

    fn insert_hashed(&mut self, hash: u64, id: u128, at: DateTime<Utc>) {
        match self.by_hash.entry(hash) {
            Entry::Vacant(v) => {
                v.insert(id);
            }
            Entry::Occupied(held) if *held.get() == id => return,
            Entry::Occupied(_) => {
                let later = self.later.entry(hash).or_default();
                if later.contains(&id) {
                    return;
                }
                later.push(id);
            }
        }
        self.order.push_back(Kept {
            hash,
            at: at.timestamp(),
        });
        self.let_go(at);
    }

    /// The instance delivery `key` started, as far as the index knows.
    pub(crate) fn lookup(&self, key: &str) -> Lookup {
        if let Some(instance) = self.exact.get(key) {
            return Lookup::Known(instance.clone());
        }
        let hash = self.hasher.hash_one(key);
        match self.by_hash.get(&hash) {
            Some(first) => Lookup::Confirm(
                std::iter::once(first)
                    .chain(self.later.get(&hash).into_iter().flatten())
                    .map(|id| Uuid::from_u128(*id).hyphenated().to_string())
                    .collect(),
            ),
            None => Lookup::Unknown,
        }
    }

    /// Lets go of the oldest delivery with `hash`.
    fn forget_oldest(&mut self, hash: u64) {
        if let Some(later) = self.later.get_mut(&hash) {
            if !later.is_empty() {
                let next = later.remove(0);
                if later.is_empty() {
                    self.later.remove(&hash);
                }
                self.by_hash.insert(hash, next);
                return;
            }
        }
        self.by_hash.remove(&hash);
    }

    /// How many deliveries are kept.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.order.len() + self.exact.len()
    }

    /// Lets go of the deliveries past the retention at `now`, and of the oldest past [`MOST`]
    /// (warning when that lets go of some within the retention).
    fn let_go(&mut self, now: DateTime<Utc>) {
        let oldest_kept = (now - self.retention).timestamp();
        let mut early = 0;
        while let Some(first) = self.order.front() {
            let too_many = self.order.len() > self.most;
            if !too_many && first.at >= oldest_kept {
                break;
            }
            if too_many && first.at >= oldest_kept {
                early += 1;
            }
            let Some(gone) = self.order.pop_front() else {
                break;
            };
            self.forget_oldest(gone.hash);
        }
        if early > 0 && self.warned.is_none_or(|w| now - w > Duration::hours(1)) {
            self.warned = Some(now);
            let since = self
                .order
                .front()
                .and_then(|k| DateTime::from_timestamp(k.at, 0))
                .unwrap_or(now);
            tracing::warn!(
                "more than {} webhook deliveries within {} days: a provider's retry of a delivery from before {since} is taken as new",
                self.most,
                self.retention.num_days()
            );
        }
    }
}

/// The deliveries within the retention, read into a fresh index: the instances' own (their ids
/// are UUIDv7, so the range from the oldest time kept is read, in time order), then those of
/// the `deliveries` table (written by an older flowc, or imported).
pub(crate) fn read(conn: &Connection) -> rusqlite::Result<DeliveryIndex> {
    let mut index = DeliveryIndex::default();
    let now = Utc::now();
    let oldest = (now - RETENTION).timestamp_millis().max(0) as u64;
    // A UUIDv7's text starts with its 48-bit millisecond time in hex: `tttttttt-tttt-7…`.
    let from = format!("{:08x}-{:04x}", oldest >> 16, oldest & 0xffff);
    let mut s = conn.prepare(
        "SELECT delivery, id, started_at FROM instances WHERE id >= ?1 AND delivery IS NOT NULL ORDER BY id",
    )?;
    let mut rows = s.query(params![from])?;
    while let Some(row) = rows.next()? {
        let key: String = row.get(0)?;
        let id: String = row.get(1)?;
        index.insert(&key, &id, parse_time(&row.get::<_, String>(2)?));
    }
    let mut s = conn.prepare("SELECT key, instance FROM deliveries")?;
    let mut rows = s.query([])?;
    while let Some(row) = rows.next()? {
        let key: String = row.get(0)?;
        let id: String = row.get(1)?;
        index.insert(&key, &id, now);
    }
    Ok(index)
}

/// Which of `instances` (offered by [`Lookup::Confirm`]) delivery `key` started: the one whose
/// row, or whose row of the `deliveries` table, holds the key.
pub(crate) fn confirm(
    conn: &Connection,
    key: &str,
    instances: Vec<String>,
) -> rusqlite::Result<Option<String>> {
    let mut s = conn.prepare_cached(
        "SELECT 1 FROM instances WHERE id = ?1 AND delivery = ?2
         UNION ALL SELECT 1 FROM deliveries WHERE key = ?2 AND instance = ?1",
    )?;
    for instance in instances {
        if s.exists(params![instance, key])? {
            return Ok(Some(instance));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u64) -> String {
        Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_0000 | n as u128)
            .hyphenated()
            .to_string()
    }

    #[test]
    fn a_key_finds_its_instance_and_an_unknown_key_none() {
        let mut index = DeliveryIndex::default();
        let now = Utc::now();
        index.insert("delivery /hooks#a", &id(1), now);
        index.insert("delivery /hooks#b", &id(2), now);
        assert_eq!(index.lookup("delivery /hooks#a"), Lookup::Confirm(vec![id(1)]));
        assert_eq!(index.lookup("delivery /hooks#b"), Lookup::Confirm(vec![id(2)]));
        assert_eq!(index.lookup("delivery /hooks#c"), Lookup::Unknown);
        assert_eq!(index.len(), 2);
    }

    #[test]
    fn an_instance_id_that_is_not_a_uuid_is_kept_exactly() {
        let mut index = DeliveryIndex::default();
        index.insert("delivery /hooks#a", "signup-1", Utc::now());
        assert_eq!(
            index.lookup("delivery /hooks#a"),
            Lookup::Known("signup-1".into())
        );
        assert_eq!(index.lookup("delivery /hooks#b"), Lookup::Unknown);
    }

    #[test]
    fn deliveries_past_the_retention_are_let_go() {
        let mut index = DeliveryIndex::new(Duration::days(7), 100);
        let start = Utc::now() - Duration::days(10);
        index.insert("old", &id(1), start);
        index.insert("recent", &id(2), start + Duration::days(4));
        // The newest delivery's time decides what is past the retention.
        index.insert("now", &id(3), start + Duration::days(10));
        assert_eq!(index.lookup("old"), Lookup::Unknown);
        assert_eq!(index.lookup("recent"), Lookup::Confirm(vec![id(2)]));
        assert_eq!(index.len(), 2);
    }

    #[test]
    fn past_the_most_the_oldest_go_first() {
        let mut index = DeliveryIndex::new(Duration::days(7), 3);
        let now = Utc::now();
        for n in 0..5 {
            index.insert(&format!("k{n}"), &id(n), now);
        }
        assert_eq!(index.len(), 3);
        assert_eq!(index.lookup("k1"), Lookup::Unknown);
        assert_eq!(index.lookup("k2"), Lookup::Confirm(vec![id(2)]));
        assert!(index.by_hash.len() == 3, "nothing left behind in the map");
    }

    #[test]
    fn letting_go_within_the_retention_warns_once_an_hour() {
        let mut index = DeliveryIndex::new(Duration::days(7), 2);
        let now = Utc::now();
        for n in 0..3 {
            index.insert(&format!("k{n}"), &id(n), now);
        }
        assert_eq!(index.warned, Some(now), "k0 went early");
        let later = now + Duration::minutes(30);
        index.insert("k3", &id(3), later);
        assert_eq!(index.warned, Some(now), "not again within the hour");
        let much_later = now + Duration::hours(2);
        index.insert("k4", &id(4), much_later);
        assert_eq!(index.warned, Some(much_later));
    }

    #[test]
    fn letting_go_for_age_is_not_early_even_when_the_index_is_full() {
        let mut index = DeliveryIndex::new(Duration::days(7), 2);
        let now = Utc::now();
        index.insert("old", &id(0), now - Duration::days(8));
        index.insert("a", &id(1), now - Duration::days(9));
        // Three held, two allowed: the one let go is past the retention anyway.
        index.insert("b", &id(2), now);
        assert_eq!(index.lookup("old"), Lookup::Unknown);
        assert_eq!(index.warned, None);
    }

    #[test]
    fn of_two_deliveries_sharing_a_hash_the_older_is_let_go_first() {
        let mut index = DeliveryIndex::new(Duration::days(7), 2);
        let now = Utc::now();
        // Two keys whose hashes collide, forced: the later is held apart until the first goes.
        index.insert_hashed(7, 1, now);
        index.insert_hashed(7, 2, now);
        assert_eq!(
            (index.by_hash[&7], index.later[&7].as_slice()),
            (1, [2].as_slice())
        );
        index.insert_hashed(8, 3, now);
        assert_eq!(index.by_hash[&7], 2, "the first of the hash went");
        assert!(index.later.is_empty());
        index.insert_hashed(9, 4, now);
        assert!(!index.by_hash.contains_key(&7));
        assert_eq!(index.len(), 2);
    }

    #[test]
    fn the_same_delivery_twice_is_kept_once() {
        let mut index = DeliveryIndex::new(Duration::days(7), 3);
        let now = Utc::now();
        index.insert("k", &id(1), now);
        index.insert("k", &id(1), now);
        assert_eq!(index.len(), 1);
    }

    /// A database at the current schema, in memory.
    fn database() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::store::schema::migrate(&mut conn, ":memory:").unwrap();
        conn
    }

    fn start(conn: &Connection, id: &str, delivery: Option<&str>, at: DateTime<Utc>) {
        conn.execute(
            "INSERT INTO instances (id, flow, entity, status, started_at, updated_at, delivery)
             VALUES (?1, 'signup', 'shop', 'running', ?2, ?2, ?3)",
            params![id, at.to_rfc3339(), delivery],
        )
        .unwrap();
    }

    #[test]
    fn a_hash_that_matches_is_confirmed_by_the_row_that_holds_the_key() {
        let conn = database();
        let now = Utc::now();
        start(&conn, &id(1), Some("k"), now);
        start(&conn, &id(2), Some("other"), now);
        // Two keys sharing a hash offer both instances; the row decides.
        let both = vec![id(2), id(1)];
        assert_eq!(confirm(&conn, "k", both.clone()).unwrap(), Some(id(1)));
        assert_eq!(confirm(&conn, "k3", both).unwrap(), None);
        // A delivery of the `deliveries` table (imported) is confirmed by its row there.
        conn.execute(
            "INSERT INTO deliveries (key, instance) VALUES ('old', ?1)",
            params![id(9)],
        )
        .unwrap();
        assert_eq!(confirm(&conn, "old", vec![id(9)]).unwrap(), Some(id(9)));
    }

    #[test]
    fn reading_back_takes_the_deliveries_within_the_retention_and_the_imported_ones() {
        let conn = database();
        let now = Utc::now();
        let then = now - Duration::days(8);
        let uuid_at = |t: DateTime<Utc>, n: u64| {
            let ms = t.timestamp_millis() as u128;
            Uuid::from_u128((ms << 80) | (0x7000 << 64) | (0x8000 << 48) | n as u128)
                .hyphenated()
                .to_string()
        };
        start(&conn, &uuid_at(then, 1), Some("stale"), then);
        start(&conn, &uuid_at(now, 2), Some("fresh"), now);
        start(&conn, &uuid_at(now, 3), None, now);
        conn.execute(
            "INSERT INTO deliveries (key, instance) VALUES ('imported', 'signup-1')",
            [],
        )
        .unwrap();
        let index = read(&conn).unwrap();
        assert_eq!(index.lookup("stale"), Lookup::Unknown, "past the retention");
        assert_eq!(index.lookup("fresh"), Lookup::Confirm(vec![uuid_at(now, 2)]));
        assert_eq!(index.lookup("imported"), Lookup::Known("signup-1".into()));
        assert_eq!(index.len(), 2);
    }
}
