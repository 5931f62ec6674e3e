//! Environments: `flowc.NAME.toml` laid over `flowc.toml` (`--env staging`), table by table,
//! so an environment file holds only what differs.

use std::path::Path;

use crate::config::{Config, FILE_NAME};

/// `over` laid on `base`: tables merge key by key, any other value replaces.
pub fn overlay(mut base: toml::Table, over: toml::Table) -> toml::Table {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => {
                let merged = overlay(std::mem::take(b), o);
                *b = merged;
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
    base
}

/// The configuration of environment `env` of the project at `root`: `flowc.toml` with
/// `flowc.ENV.toml` laid over it; the environment file must exist.
pub fn load_environment(root: &Path, env: &str) -> Result<Config, String> {
    let read = |name: &str| -> Result<toml::Table, String> {
        let path = root.join(name);
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    };
    let base = if root.join(FILE_NAME).is_file() {
        // Checked alone first, so that a mistake in it is shown at its own line (the merged
        // text below is a re-serialisation whose lines are not the file's).
        Config::load(root).map_err(|e| e.to_string())?;
        read(FILE_NAME)?
    } else {
        toml::Table::new()
    };
    let over_name = format!("flowc.{env}.toml");
    let merged = overlay(base, read(&over_name)?);
    let text = toml::to_string(&merged).map_err(|e| e.to_string())?;
    Config::parse(&text, &root.join(&over_name)).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_merge_and_values_replace() {
        let base: toml::Table = toml::from_str(
            "[connectors.email]\nurl = \"smtp://127.0.0.1:2525\"\ntimeout = 5\n[project]\nname = \"x\"",
        )
        .unwrap();
        let over: toml::Table =
            toml::from_str("[connectors.email]\nurl = \"smtp://mail.staging:25\"").unwrap();
        let merged = overlay(base, over);
        let email = &merged["connectors"]["email"];
        assert_eq!(email["url"].as_str(), Some("smtp://mail.staging:25"));
        assert_eq!(email["timeout"].as_integer(), Some(5));
        assert_eq!(merged["project"]["name"].as_str(), Some("x"));
    }

    #[test]
    fn a_mistake_in_the_base_file_is_shown_at_its_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("flowc.toml"),
            "[project]\nname = \"x\"\n\n[connectors.http]\ntimeout = 10\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("flowc.staging.toml"), "[project]\nname = \"y\"\n").unwrap();
        let e = load_environment(dir.path(), "staging").unwrap_err();
        assert!(e.contains("E0903") && e.contains("flowc.toml:5:11"), "{e}");
    }

    #[test]
    fn a_missing_environment_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let e = load_environment(dir.path(), "staging").unwrap_err();
        assert!(e.contains("flowc.staging.toml"), "{e}");
    }
}
