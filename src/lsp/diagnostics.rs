//! The checker's diagnostics as the editor shows them: code, range, related locations, help.

use std::collections::HashMap;

use lsp_types::{
    Diagnostic as LspDiagnostic, DiagnosticRelatedInformation, DiagnosticSeverity, Location, NumberOrString,
    Url,
};

use crate::diagnostic::{Diagnostic, FileId, Severity};

use super::line_index::LineIndex;
use super::workspace::ProjectState;

/// The diagnostics of every file of `state`, by file URI (files without any included, so the
/// editor clears what was fixed).
pub(crate) fn by_file(state: &ProjectState) -> HashMap<Url, Vec<LspDiagnostic>> {
    let mut out: HashMap<Url, Vec<LspDiagnostic>> = HashMap::new();
    let mut indexes: HashMap<FileId, LineIndex<'_>> = HashMap::new();
    for (id, file) in state.project.sources.iter() {
        indexes.insert(id, LineIndex::new(&file.text));
        if let Ok(url) = Url::from_file_path(&file.path) {
            out.entry(url).or_default();
        }
    }
    for d in &state.diagnostics {
        let Ok(url) = Url::from_file_path(state.path(d.file)) else {
            continue;
        };
        let converted = convert(d, state, &indexes);
        out.entry(url).or_default().push(converted);
    }
    out
}

fn convert(d: &Diagnostic, state: &ProjectState, indexes: &HashMap<FileId, LineIndex<'_>>) -> LspDiagnostic {
    let range = indexes.get(&d.file).map(|i| i.range(d.span)).unwrap_or_default();
    let mut message = d.message.clone();
    if let Some(help) = &d.help {
        message.push_str("\nhelp: ");
        message.push_str(help);
    }
    let related: Vec<DiagnosticRelatedInformation> = d
        .secondary
        .iter()
        .filter_map(|label| {
            let uri = Url::from_file_path(state.path(d.file)).ok()?;
            let range = indexes.get(&d.file)?.range(label.span);
            Some(DiagnosticRelatedInformation {
                location: Location { uri, range },
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
