//! The grants entities declare (`grant read ContactProfile to higherself`), kept for run time so
//! that a connector reaching a record by id (not by database) can check whose record it is.

use std::collections::BTreeMap;

use super::Access;
use crate::project::Project;
use crate::syntax::ast::{GrantAccess, Item};

/// Who may do what with whose databases: `(granting entity, database)` → `(receiving entity,
/// access)` pairs, as the project's `entity` declarations say.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Grants {
    given: BTreeMap<(String, String), Vec<(String, GrantAccess)>>,
}

impl Grants {
    /// The grants of every entity of `project`.
    pub fn from_project(project: &Project) -> Grants {
        let mut grants = Grants::default();
        for module in &project.modules {
            for item in &module.ast.items {
                let Item::Entity(entity) = item else { continue };
                for grant in &entity.grants {
                    for database in &grant.databases {
                        for to in &grant.to {
                            grants.add(&entity.name.name, &database.name, &to.name, grant.access);
                        }
                    }
                }
            }
        }
        grants
    }

    /// `owner` lets `to` have `access` to its database `database`.
    pub fn add(&mut self, owner: &str, database: &str, to: &str, access: GrantAccess) {
        self.given
            .entry((owner.to_string(), database.to_string()))
            .or_default()
            .push((to.to_string(), access));
    }

    /// Whether a flow of `flow_entity` may have `access` to `database` of `owner`: always for its
    /// own databases, otherwise only through a grant naming that database and that entity.
    pub fn allows(&self, flow_entity: &str, owner: &str, database: &str, access: Access) -> bool {
        if flow_entity == owner {
            return true;
        }
        let Some(given) = self.given.get(&(owner.to_string(), database.to_string())) else {
            return false;
        };
        given.iter().any(|(to, granted)| {
            to == flow_entity
                && matches!(
                    (granted, access),
                    (GrantAccess::ReadWrite, _)
                        | (GrantAccess::Read, Access::Read)
                        | (GrantAccess::Write, Access::Write)
                )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_named_database_access_and_entity_pass() {
        let mut grants = Grants::default();
        grants.add("am", "ContactProfile", "hs", GrantAccess::Read);
        grants.add("am", "Task", "hs", GrantAccess::ReadWrite);
        assert!(grants.allows("am", "am", "Anything", Access::Write));
        assert!(grants.allows("hs", "am", "ContactProfile", Access::Read));
        assert!(!grants.allows("hs", "am", "ContactProfile", Access::Write));
        assert!(grants.allows("hs", "am", "Task", Access::Write));
        assert!(!grants.allows("hs", "am", "Workflow", Access::Read));
        assert!(!grants.allows("seven", "am", "ContactProfile", Access::Read));
    }
}
