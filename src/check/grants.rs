//! Cross-entity access, a pass over the typed flow: whether each entity a call acts for granted
//! the flow's entity that access to the database (E0600). Which entities a call acts for is
//! worked out by the typing walk ([`super::acting`]), which records each access a call needs.

use crate::contract::Access;
use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::syntax::ast::GrantAccess;
use crate::syntax::Span;

use super::context::Context;
use super::typed::TypedFlow;

/// An access a call of the flow needs: `callee` acts as each of `acting` to `access` database
/// `db` (every database when unknown).
pub(crate) struct AccessUse<'a> {
    pub acting: Vec<(&'a str, Span)>,
    pub access: Access,
    pub db: Option<&'a str>,
    pub callee: String,
}

/// E0600 for every access of `typed` that an acting entity (other than the flow's) did not grant.
pub(crate) fn check(typed: &TypedFlow<'_>, cx: &Context<'_>, diagnostics: &mut Diagnostics) {
    // With the flow's own entity unknown (reported already), no grant could ever match.
    let Some(own_entity) = typed.entity else { return };
    for used in &typed.accesses {
        check_access(typed, cx, own_entity.name.name.as_str(), used, diagnostics);
    }
}

fn covers(grant: GrantAccess, need: Access) -> bool {
    matches!(
        (grant, need),
        (GrantAccess::ReadWrite, _) | (GrantAccess::Read, Access::Read) | (GrantAccess::Write, Access::Write)
    )
}

/// E0600 for each acting entity (other than the flow's) that did not grant `access` on `db`.
fn check_access(
    typed: &TypedFlow<'_>,
    cx: &Context<'_>,
    own: &str,
    used: &AccessUse<'_>,
    diagnostics: &mut Diagnostics,
) {
    let AccessUse {
        acting,
        access,
        db,
        callee,
    } = used;
    let (access, db) = (*access, *db);
    let verb = match access {
        Access::Read => "read",
        Access::Write => "write",
    };
    let mut reported: Vec<&str> = Vec::new();
    for &(name, span) in acting {
        if name == own || reported.contains(&name) {
            continue;
        }
        let Some(&(file, entity)) = cx.entities.get(name) else {
            continue;
        };
        let granted = entity.grants.iter().any(|g| {
            covers(g.access, access)
                && g.to.iter().any(|t| t.name == own)
                && db.is_none_or(|d| g.databases.iter().any(|x| x.name == d))
        });
        if granted {
            continue;
        }
        reported.push(name);
        let what = match db {
            Some(d) => format!("`{d}` of `{name}`"),
            None => format!("the databases of `{name}`"),
        };
        let mut diagnostic = Diagnostic::new(
            Code::MissingGrant,
            typed.file,
            span,
            format!("flows of `{own}` may not {verb} {what}"),
        )
        .label(format!("`{callee}` acts as `{name}` here"))
        .help(format!(
            "if `{name}` agrees, add `grant {verb} {} to {own}` to `entity {name}`",
            db.unwrap_or("DATABASE")
        ));
        if file == typed.file {
            diagnostic = diagnostic.with(entity.name.span, format!("`{name}`'s grants are declared here"));
        }
        diagnostics.push(diagnostic);
    }
}
