//! A call's idempotency key: the same on every attempt of one step of one instance (and
//! fan-out item), so a connector can make its side effect happen at most once.
//!
//! The engine makes one per call; kept inline (32 hex digits of a SHA-256), it costs no
//! allocation, where a `String` was one per call (the runtime bench counts them). Keys made
//! elsewhere (tests, tools) can be any text: up to 32 bytes inline too, longer ones shared.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use sha2::{Digest, Sha256};

/// See the module documentation. Reads as a `&str`.
#[derive(Clone)]
pub struct IdempotencyKey(Repr);

#[derive(Clone)]
enum Repr {
    /// The first `len` bytes of `bytes`: UTF-8, as they were copied from a `&str`.
    Inline {
        len: u8,
        bytes: [u8; INLINE],
    },
    Shared(Arc<str>),
}

/// The longest key kept inline: a step key's 32 hex digits.
const INLINE: usize = 32;

impl IdempotencyKey {
    /// The key of step `path` of instance `instance`: the first 16 bytes of the SHA-256 of
    /// `instance`, a line feed and `path`, in hex.
    pub fn of_step(instance: &str, path: &str) -> IdempotencyKey {
        let mut hasher = Sha256::new();
        hasher.update(instance.as_bytes());
        hasher.update(b"\n");
        hasher.update(path.as_bytes());
        let mut bytes = [0u8; INLINE];
        // 16 bytes make exactly INLINE hex digits, so this cannot fail.
        if hex::encode_to_slice(&hasher.finalize()[..16], &mut bytes).is_err() {
            return IdempotencyKey::default();
        }
        IdempotencyKey(Repr::Inline {
            len: INLINE as u8,
            bytes,
        })
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            // Only whole `&str`s and hex digits are ever copied into it.
            Repr::Inline { len, bytes } => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default()
            }
            Repr::Shared(text) => text,
        }
    }
}

impl Default for IdempotencyKey {
    /// The empty key (a call made outside an instance): no allocation, as calls are taken
    /// out of their slot with `std::mem::take`.
    fn default() -> Self {
        IdempotencyKey(Repr::Inline {
            len: 0,
            bytes: [0; INLINE],
        })
    }
}

impl Deref for IdempotencyKey {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for IdempotencyKey {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl PartialEq for IdempotencyKey {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for IdempotencyKey {}

impl std::hash::Hash for IdempotencyKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl PartialOrd for IdempotencyKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for IdempotencyKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl PartialEq<str> for IdempotencyKey {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for IdempotencyKey {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for IdempotencyKey {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<IdempotencyKey> for String {
    fn eq(&self, other: &IdempotencyKey) -> bool {
        self == other.as_str()
    }
}

impl From<&str> for IdempotencyKey {
    fn from(text: &str) -> Self {
        if text.len() <= INLINE {
            let mut bytes = [0; INLINE];
            bytes[..text.len()].copy_from_slice(text.as_bytes());
            IdempotencyKey(Repr::Inline {
                len: text.len() as u8,
                bytes,
            })
        } else {
            IdempotencyKey(Repr::Shared(text.into()))
        }
    }
}

impl From<String> for IdempotencyKey {
    fn from(text: String) -> Self {
        IdempotencyKey::from(text.as_str())
    }
}

impl From<IdempotencyKey> for String {
    fn from(key: IdempotencyKey) -> Self {
        key.as_str().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::IdempotencyKey;

    /// The key is the one the engine always made (`hex` of the digest's first 16 bytes), so a
    /// call in flight when an older `flowc` stopped keeps its key after the upgrade.
    #[test]
    fn a_step_key_is_the_hex_of_the_digest() {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        hasher.update(b"i-1\nsent[2].s");
        let expected = hex::encode(&hasher.finalize()[..16]);
        let key = IdempotencyKey::of_step("i-1", "sent[2].s");
        assert_eq!(key.as_str(), expected);
        assert_eq!(key, IdempotencyKey::from(expected.as_str()));
        assert_ne!(key, IdempotencyKey::of_step("i-1", "sent[3].s"));
        assert_ne!(key, IdempotencyKey::of_step("i-2", "sent[2].s"));
    }

    #[test]
    fn any_text_is_a_key_too() {
        let key = IdempotencyKey::from("grants/create_page");
        assert_eq!(&*key, "grants/create_page");
        assert_eq!(key.to_string(), "grants/create_page");
        assert!(IdempotencyKey::default().is_empty());
        // Past the inline length, and with characters of more than one byte.
        let long = "é".repeat(17);
        assert_eq!(IdempotencyKey::from(long.clone()).as_str(), long);
        let exact = "x".repeat(32);
        assert_eq!(IdempotencyKey::from(exact.as_str()).as_str(), exact);
        assert_ne!(IdempotencyKey::from("ab"), IdempotencyKey::from("abc"));
    }
}
