//! Cross-entity access: which entities a call acts for (known before running, E0601) and whether
//! each one granted the flow's entity that access to the database (E0600).

use crate::contract::Access;
use crate::diagnostic::{Code, Diagnostic};
use crate::syntax::ast::{Expr, ExprKind, GrantAccess, Pattern};
use crate::syntax::Span;

use super::flow::FlowChecker;
use super::scope::DeclKind;

/// How deep `let` and loop indirections are followed (a cycle of lets must not loop forever).
const MAX_DEPTH: u32 = 16;

impl<'a> FlowChecker<'_, 'a> {
    /// The entities `expr` can be, with where each is named; `None` when not statically known.
    pub fn static_entities(&self, expr: &'a Expr, depth: u32) -> Option<Vec<(&'a str, Span)>> {
        if depth > MAX_DEPTH {
            return None;
        }
        match &expr.kind {
            ExprKind::Name(name) => {
                if let Some(local) = self.locals.iter().rev().find(|l| l.name == name) {
                    return self.static_entities(local.over?, depth + 1);
                }
                if let Some(&index) = self.scope.by_name.get(name.as_str()) {
                    return match self.scope.decls[index].kind {
                        DeclKind::Let(l) => self.static_entities(&l.value, depth + 1),
                        DeclKind::Step(_) => None,
                    };
                }
                if name == "entity" {
                    return self.entity.map(|e| vec![(e.name.name.as_str(), expr.span)]);
                }
                if let Some((_, e)) = self.cx.entities.get(name.as_str()) {
                    return Some(vec![(e.name.name.as_str(), expr.span)]);
                }
                None
            }
            ExprKind::List(items) => {
                let mut out = Vec::new();
                for item in items {
                    out.extend(self.static_entities(item, depth + 1)?);
                }
                Some(out)
            }
            ExprKind::If(_, a, b) => {
                let mut out = self.static_entities(a, depth + 1)?;
                out.extend(self.static_entities(b, depth + 1)?);
                Some(out)
            }
            ExprKind::Match(_, arms) => {
                let mut out = Vec::new();
                for (pattern, arm) in arms {
                    let _: &Pattern = pattern;
                    out.extend(self.static_entities(arm, depth + 1)?);
                }
                Some(out)
            }
            _ => None,
        }
    }
}

fn covers(grant: GrantAccess, need: Access) -> bool {
    matches!(
        (grant, need),
        (GrantAccess::ReadWrite, _) | (GrantAccess::Read, Access::Read) | (GrantAccess::Write, Access::Write)
    )
}

/// E0600 for each acting entity (other than the flow's) that did not grant `access` on `db`.
pub(crate) fn check_access<'a>(
    checker: &mut FlowChecker<'_, 'a>,
    acting: &[(&'a str, Span)],
    access: Access,
    db: Option<&str>,
    callee: &str,
) {
    // With the flow's own entity unknown (reported already), no grant could ever match.
    let Some(own_entity) = checker.entity else { return };
    let own = own_entity.name.name.as_str();
    let verb = match access {
        Access::Read => "read",
        Access::Write => "write",
    };
    let mut reported: Vec<&str> = Vec::new();
    for &(name, span) in acting {
        if name == own || reported.contains(&name) {
            continue;
        }
        let Some(&(file, entity)) = checker.cx.entities.get(name) else {
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
            checker.file,
            span,
            format!("flows of `{own}` may not {verb} {what}"),
        )
        .label(format!("`{callee}` acts as `{name}` here"))
        .help(format!(
            "if `{name}` agrees, add `grant {verb} {} to {own}` to `entity {name}`",
            db.unwrap_or("DATABASE")
        ));
        if file == checker.file {
            diagnostic = diagnostic.with(entity.name.span, format!("`{name}`'s grants are declared here"));
        }
        checker.push(diagnostic);
    }
}
