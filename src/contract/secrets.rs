//! Which secrets a flow may read: the environment variables `flowc.toml` lists in its entity's
//! table (`secrets = ["CRM_TOKEN"]`). One rule for the checker and the runtime, so a flow that
//! was never checked still cannot read another business's credentials.

use std::fmt;

/// Why a `secret(...)` read is refused. It names the variable and the entity, never a value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretRefused {
    /// The environment variable asked for.
    pub name: String,
    /// The entity of the flow that asked.
    pub entity: String,
}

impl fmt::Display for SecretRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "secret `{}` is not declared for entity `{}`: add it to `secrets` in `[entities.{}]` of flowc.toml",
            self.name, self.entity, self.entity
        )
    }
}

impl std::error::Error for SecretRefused {}

/// Whether a flow of `entity`, whose declared secrets are `declared`, may read the environment
/// variable `name`.
pub fn may_read(entity: &str, declared: &[String], name: &str) -> Result<(), SecretRefused> {
    if declared.iter().any(|d| d == name) {
        Ok(())
    } else {
        Err(SecretRefused {
            name: name.to_string(),
            entity: entity.to_string(),
        })
    }
}

/// [`may_read`] against a project's configuration: an entity `flowc.toml` does not list has no
/// secrets.
pub fn may_read_configured(
    config: &crate::config::Config,
    entity: &str,
    name: &str,
) -> Result<(), SecretRefused> {
    let declared = config
        .entities
        .get(entity)
        .map_or(&[][..], |e| e.secrets.as_slice());
    may_read(entity, declared, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_declared_names_are_read() {
        let declared = vec!["CRM_TOKEN".to_string()];
        assert!(may_read("studio", &declared, "CRM_TOKEN").is_ok());
        let refused = may_read("studio", &declared, "NOTION_TOKEN_AM_CONSULTING").unwrap_err();
        assert_eq!(refused.name, "NOTION_TOKEN_AM_CONSULTING");
        assert!(refused.to_string().contains("[entities.studio]"));
        assert!(may_read("studio", &[], "CRM_TOKEN").is_err());
    }
}
