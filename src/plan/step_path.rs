//! A step's path in an instance (`sent[2].s`, `wait#3`): made once per step and shared, not
//! copied, by the step's events, calls and timers.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// A step's path: the step's name, prefixed by its fan-out items (`sent[2].s`); a statement
/// without a name is `keyword#index`. Cloning it copies a pointer, not the text: one step's
/// path appears in about five history events and its call, and an instance of a 5-step flow
/// used to spend a third of its allocations on copies of them.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StepPath(Arc<str>);

impl StepPath {
    /// The path as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Deref for StepPath {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for StepPath {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

// Hashes and compares as its text, so maps keyed by paths are read with a `&str`.
impl Borrow<str> for StepPath {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StepPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for StepPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl From<&str> for StepPath {
    fn from(path: &str) -> StepPath {
        StepPath(Arc::from(path))
    }
}

impl From<String> for StepPath {
    fn from(path: String) -> StepPath {
        StepPath(Arc::from(path))
    }
}

impl From<&String> for StepPath {
    fn from(path: &String) -> StepPath {
        StepPath(Arc::from(path.as_str()))
    }
}

impl From<StepPath> for String {
    fn from(path: StepPath) -> String {
        path.0.to_string()
    }
}

impl PartialEq<str> for StepPath {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for StepPath {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl PartialEq<String> for StepPath {
    fn eq(&self, other: &String) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<StepPath> for str {
    fn eq(&self, other: &StepPath) -> bool {
        self == &*other.0
    }
}

impl PartialEq<StepPath> for &str {
    fn eq(&self, other: &StepPath) -> bool {
        *self == &*other.0
    }
}

impl PartialEq<StepPath> for String {
    fn eq(&self, other: &StepPath) -> bool {
        **self == *other.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_its_text_in_json_and_in_comparisons() {
        let path = StepPath::from("sent[2].s");
        assert_eq!(serde_json::to_string(&path).unwrap(), r#""sent[2].s""#);
        let back: StepPath = serde_json::from_str(r#""sent[2].s""#).unwrap();
        assert_eq!(back, path);
        assert!(path == "sent[2].s");
        assert!("sent[2].s" == path);
        assert!(path != "sent[2]");
        let text = String::from("sent[2].s");
        assert!(path == text);
        assert!(text == path);
        assert_eq!(format!("{path} {path:?}"), r#"sent[2].s "sent[2].s""#);
        let mut map = std::collections::HashMap::new();
        map.insert(path.clone(), 1);
        assert_eq!(map.get("sent[2].s"), Some(&1));
    }

    #[test]
    fn a_clone_shares_the_text() {
        let path = StepPath::from("s");
        assert!(std::ptr::eq(path.as_str(), path.clone().as_str()));
    }
}
