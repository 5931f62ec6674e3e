//! Steps and lets used outside the block they exist in, a pass over the typed flow: a fan-out's
//! run once per item and do not exist outside it (E0303); a fallback block's exist only when the
//! fallback ran (E0307). The typing walk records each such use ([`OutsideUse`]).

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::syntax::ast::Ident;
use crate::syntax::Span;

use super::typed::TypedFlow;

/// The block a declaration exists in, which a use is outside of.
#[derive(Clone, Copy)]
pub(crate) enum Outside<'a> {
    /// A fan-out, by its loop variable.
    FanOut(&'a Ident),
    /// The fallback block of the step named.
    Fallback(&'a Ident),
}

/// A use at `span` of declaration `index` outside its `block`.
pub(crate) struct OutsideUse<'a> {
    pub index: usize,
    pub span: Span,
    pub block: Outside<'a>,
}

/// E0303 and E0307 for every use of `typed` outside the block of what it names.
pub(crate) fn check(typed: &TypedFlow<'_>, diagnostics: &mut Diagnostics) {
    for &OutsideUse { index, span, block } in &typed.outside_uses {
        let decl = &typed.decls[index];
        let (name, noun) = (&decl.name.name, decl.noun);
        let diagnostic = match block {
            Outside::FanOut(var) => Diagnostic::new(
                Code::OutsideFanOut,
                typed.file,
                span,
                format!("{noun} `{name}` runs once per item of a fan-out and does not exist outside it"),
            )
            .label("used outside its fan-out")
            .with(var.span, format!("`{name}` runs once for each `{}`", var.name))
            .help(format!(
                "end the fan-out's block with `yield {name}` and use the fan-out step's result: a list with one value per item"
            )),
            Outside::Fallback(owner) => Diagnostic::new(
                Code::OutsideFallback,
                typed.file,
                span,
                format!("{noun} `{name}` exists only inside the fallback of step `{}`", owner.name),
            )
            .label("used outside that fallback block")
            .with(decl.name.span, format!("runs only when step `{}` failed", owner.name))
            .help(format!(
                "put what the rest of the flow needs in the fallback's `yield` (e.g. `yield {{ ..., {name}: {name} }}`) and read it from `{}`",
                owner.name
            )),
        };
        diagnostics.push(diagnostic);
    }
}
