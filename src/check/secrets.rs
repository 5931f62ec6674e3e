//! `secret(NAME)` (E0602): the name must be written literally and declared for the flow's
//! entity in `flowc.toml`, by the rule of [`crate::contract::secrets`] that the runtime applies too.

use crate::contract::secrets;
use crate::diagnostic::{Code, Diagnostic};
use crate::syntax::ast::Expr;

use super::flow::FlowChecker;
use super::suggest;

impl<'a> FlowChecker<'_, 'a> {
    /// Checks the argument of a `secret(...)` call.
    pub fn check_secret_access(&mut self, args: &'a [Expr]) {
        let Some(arg) = args.first() else { return };
        let entity = self.flow.entity.name.as_str();
        let config = &self.cx.project.config;
        let Some(name) = arg.as_plain_str() else {
            self.push(
                Diagnostic::new(
                    Code::SecretAccess,
                    self.file,
                    arg.span,
                    "the name of a secret must be written literally",
                )
                .label("computed when the flow runs")
                .help("write the environment variable's name, e.g. `secret(\"CRM_TOKEN\")`, and declare it in `secrets` of the entity in flowc.toml"),
            );
            return;
        };
        if self.entity.is_none() || secrets::may_read_configured(config, entity, &name).is_ok() {
            return;
        }
        let declared: Vec<&str> = config
            .entities
            .get(entity)
            .map(|e| e.secrets.iter().map(String::as_str).collect())
            .unwrap_or_default();
        let owner = config
            .entities
            .iter()
            .find(|(other, e)| other.as_str() != entity && e.secrets.contains(&name))
            .map(|(other, _)| other.as_str());
        let help = match owner {
            Some(other) => format!(
                "`{name}` belongs to entity `{other}`; a flow of `{entity}` reads only `{entity}`'s secrets"
            ),
            None => suggest::help_or(&name, declared.iter().copied(), || {
                format!("declare it in flowc.toml: `secrets = [\"{name}\"]` in `[entities.{entity}]`")
            }),
        };
        self.push(
            Diagnostic::new(
                Code::SecretAccess,
                self.file,
                arg.span,
                format!("secret `{name}` is not declared for entity `{entity}`"),
            )
            .label("not in this entity's `secrets`")
            .help(help),
        );
    }
}
