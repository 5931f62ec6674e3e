//! Typeform answers read by field ref (`find(answers, { field: { ref: "email" } })`): each ref
//! must be a field of one of the project's survey templates (stdlib/surveys), so a renamed or
//! misspelt question is found before a response silently reads as `none`.

use crate::diagnostic::{Code, Diagnostic};
use crate::syntax::ast::{Expr, ExprKind, Ident};

use super::flow::FlowChecker;
use super::suggest::closest;

/// Built-ins whose second argument picks records by their fields.
const PICKERS: &[&str] = &["find", "filter", "count"];

/// The `"..."` of `{ field: { ref: "..." } }`, with its expression.
fn ref_literal(criteria: &Expr) -> Option<(String, &Expr)> {
    let ExprKind::Record(fields) = &criteria.kind else {
        return None;
    };
    let field = fields.iter().find(|f| f.name.name == "field")?;
    let ExprKind::Record(inner) = &field.value.kind else {
        return None;
    };
    let reference = inner.iter().find(|f| f.name.name == "ref")?;
    Some((reference.value.as_plain_str()?, &reference.value))
}

/// E0803 when `name(args)` picks Typeform answers by a ref no survey template has.
pub(crate) fn check_call(checker: &mut FlowChecker<'_, '_>, name: &Ident, args: &[Expr]) {
    if checker.quiet > 0 || !PICKERS.contains(&name.name.as_str()) {
        return;
    }
    let Some((wanted, literal)) = args.get(1).and_then(ref_literal) else {
        return;
    };
    let forms = &checker.cx.project.survey_forms;
    if forms.is_empty() || forms.has_ref(&wanted) {
        return;
    }
    let help = match closest(&wanted, forms.refs()) {
        Some(near) => format!("did you mean `{near}`?"),
        None => format!(
            "use a field ref of one of the survey templates ({}), or add the field to its template",
            forms.names().collect::<Vec<_>>().join(", ")
        ),
    };
    checker.push(
        Diagnostic::new(
            Code::UnknownSurveyRef,
            checker.file,
            literal.span,
            format!("no survey template has a field with ref `{wanted}`"),
        )
        .label("not a field ref of stdlib/surveys")
        .help(help),
    );
}
