//! The checker's diagnostics as the editor shows them: code, range, related locations, help.

use std::collections::HashMap;

use lsp_types::{
    Diagnostic as LspDiagnostic, DiagnosticRelatedInformation, DiagnosticSeverity, Location, NumberOrString,
    Url,
};

use crate::diagnostic::{Diagnostic, FileId, Severity};

use super::line_index::LineIndex;
use super::workspace::ProjectState;

/// The diagnostics of `state` grouped by file, every file included (a file without any is
/// cleared in the editor).
pub(crate) fn by_file(state: &ProjectState) -> HashMap<FileId, Vec<&Diagnostic>> {
    let mut out: HashMap<FileId, Vec<&Diagnostic>> = state
        .project
        .sources
        .iter()
        .map(|(id, _)| (id, Vec::new()))
        .collect();
    for d in &state.diagnostics {
        out.entry(d.file).or_default().push(d);
    }
    out
}

/// `diagnostics`, all of `file`, as the editor shows them.
pub(crate) fn to_lsp(state: &ProjectState, file: FileId, diagnostics: &[&Diagnostic]) -> Vec<LspDiagnostic> {
    let index = LineIndex::new(state.text(file));
    let uri = Url::from_file_path(state.path(file)).ok();
    diagnostics
        .iter()
        .map(|d| convert(d, uri.as_ref(), &index))
        .collect()
}

fn convert(d: &Diagnostic, uri: Option<&Url>, index: &LineIndex<'_>) -> LspDiagnostic {
    let range = index.range(d.span);
    let mut message = d.message.clone();
    if let Some(help) = &d.help {
        message.push_str("\nhelp: ");
        message.push_str(help);
    }
    let related: Vec<DiagnosticRelatedInformation> = d
        .secondary
        .iter()
        .filter_map(|label| {
            Some(DiagnosticRelatedInformation {
                location: Location {
                    uri: uri?.clone(),
                    range: index.range(label.span),
                },
                message: label.message.clone(),
            })
        })
        .collect();
    LspDiagnostic {
        range,
        severity: Some(match d.severity {
            Severity::Error => DiagnosticSeverity::ERROR,
            Severity::Warning => DiagnosticSeverity::WARNING,
        }),
        code: Some(NumberOrString::String(d.code.as_str().to_string())),
        code_description: None,
        source: Some("flowc".to_string()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        tags: None,
        data: None,
    }
}
