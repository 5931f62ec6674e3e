//! The checker: every mistake it can find before anything runs, as diagnostics.
//!
//! Pure: it reads no files; the [`Project`] (loaded with its Notion schema and survey forms) and
//! the connectors' [`Manifests`] are all it judges by.
//!
//! Passes, one file each: [`declarations`] (top-level names), [`templates`], [`triggers`], then
//! per flow the typing walk [`flow`] over [`input`], [`statements`] and [`infer`] (expressions),
//! with [`callee`], [`calls`], [`acting`] and [`after`], which computes the flow's [`typed`] form
//! once, recording what the passes need; the passes are functions over it: [`maybe_none`]
//! (E0302), [`outside_blocks`] (E0303, E0307), [`grants`] (E0600), [`handler_values`] (E0306),
//! [`policies`], [`cycles`] and the unused-name [`warnings`]; finally [`flow_tests`]. No pass
//! stops at the first problem: each pushes what it finds and carries on, and the result is
//! sorted by position.

mod acting;
mod addresses;
mod after;
pub(crate) mod builtins;
mod callee;
mod calls;
mod channel_templates;
mod context;
mod cycles;
mod date_format;
mod declarations;
mod fix;
mod flow;
mod flow_tests;
mod foreign_names;
mod grants;
mod handler_values;
mod infer;
mod input;
mod maybe_none;
mod narrowing;
mod notion_schema;
mod outside_blocks;
mod phone_numbers;
mod policies;
mod scope;
mod secrets;
mod statements;
mod suggest;
mod survey_refs;
mod template_vars;
mod templates;
mod triggers;
mod type_expr;
mod type_relations;
mod typed;
mod warnings;

use crate::contract::Manifests;
use std::collections::HashSet;
pub use typed::{flow_output_type, flow_types, DeclType};

use crate::diagnostic::{Diagnostic, Diagnostics, FileId};
use crate::project::Project;
use crate::syntax::ast;

/// Below this much source to check (about 2,000 lines) a second thread costs more than it
/// saves: a thread starts in about 50 µs, and a line of a flow checks in about half a µs.
const PARALLEL_BYTES: usize = 64_000;

/// Checks every flow and flow test of the modules `wanted` accepts; they are independent, so a
/// project of more than a few files is checked on every core.
fn check_modules(cx: &context::Context<'_>, wanted: &Wanted, diagnostics: &mut Diagnostics) {
    let modules: Vec<&context::ModuleInfo<'_>> = cx.modules.iter().filter(|m| wanted.has(m.file())).collect();
    let size = |m: &&context::ModuleInfo<'_>| cx.project.sources.get(m.file()).text.len();
    let found = crate::parallel::map(&modules, size, PARALLEL_BYTES, |module| {
        let mut out = Diagnostics::new();
        for item in &module.parsed.ast.items {
            if let ast::Item::Flow(flow) = item {
                flow::check_flow(cx, module, flow, &mut out);
            }
        }
        flow_tests::check_module(cx, module, &mut out);
        out
    });
    for out in found {
        diagnostics.extend(out);
    }
}

/// Checks every file of `project` against the connector `manifests` (a
/// [`Registry`](crate::Registry) is one); the diagnostics come sorted by file and position. Reads
/// no files: everything it judges by is in `project` and `manifests`.
pub fn check(project: &Project, manifests: &impl AsRef<Manifests>) -> Diagnostics {
    check_in_thread(project, manifests.as_ref(), None)
}

/// Checks `files` of `project` and the files that depend on them (that `use` them, or name an
/// entity or template they declare): what a change to `files` can break. The project-wide checks
/// (declarations, webhook paths) run in full, except that the templates of other files are not
/// compiled: their handlebars syntax and SMS length are not checked, as `files` cannot break
/// them. Flows of other files are not checked, which is what makes `flowc check FILE` fast in a
/// large project.
pub fn check_files(project: &Project, manifests: &impl AsRef<Manifests>, files: &[FileId]) -> Diagnostics {
    check_in_thread(project, manifests.as_ref(), Some(files))
}

fn check_in_thread(project: &Project, manifests: &Manifests, files: Option<&[FileId]>) -> Diagnostics {
    crate::parallel::on_roomy_stack(|| check_here(project, manifests, files))
}

/// The files whose flows are checked.
pub(crate) enum Wanted {
    All,
    Some(HashSet<FileId>),
}

impl Wanted {
    pub(crate) fn has(&self, file: FileId) -> bool {
        match self {
            Wanted::All => true,
            Wanted::Some(files) => files.contains(&file),
        }
    }

    /// `files` and the modules that depend on them.
    fn around(cx: &context::Context<'_>, files: &[FileId]) -> Wanted {
        let mut wanted: HashSet<FileId> = files.iter().copied().collect();
        let paths: Vec<&str> = cx
            .modules
            .iter()
            .filter(|m| files.contains(&m.file()))
            .map(|m| m.parsed.module_path.as_str())
            .collect();
        // Names that other files may use: entities, templates and flows the files declare.
        let mut names: Vec<&str> = Vec::new();
        for module in cx.modules.iter().filter(|m| files.contains(&m.file())) {
            for item in &module.parsed.ast.items {
                match item {
                    ast::Item::Entity(e) => names.push(&e.name.name),
                    ast::Item::Template(t) => names.push(&t.name.name),
                    _ => {}
                }
            }
        }
        for module in &cx.modules {
            let uses = module.uses.values().any(|p| paths.contains(&p.as_str()));
            let text = &cx.project.sources.get(module.file()).text;
            if uses || names.iter().any(|n| text.contains(n)) {
                wanted.insert(module.file());
            }
        }
        Wanted::Some(wanted)
    }
}

fn check_here(project: &Project, manifests: &Manifests, files: Option<&[FileId]>) -> Diagnostics {
    let parts = check_parts(project, manifests, files, Templates::OfFiles);
    let mut diagnostics = parts.wide;
    diagnostics.extend(parts.flows);
    let mut sorted = Diagnostics::new();
    sorted.extend(diagnostics.sorted());
    sorted
}

/// What [`check_files`] finds, kept apart for an editor that checks again only what a change can
/// affect and keeps the findings of the other files' flows.
pub struct CheckedFiles {
    /// The findings of the project-wide checks (declarations, templates, webhook paths), for
    /// every file.
    pub wide: Diagnostics,
    /// The findings in the checked files (syntax, flows, tests).
    pub flows: Diagnostics,
    /// The checked files: the files asked for and the files depending on them.
    pub checked: Vec<FileId>,
}

/// [`check_files`] with its findings kept apart: see [`CheckedFiles`].
pub fn check_files_apart(
    project: &Project,
    manifests: &impl AsRef<Manifests>,
    files: &[FileId],
) -> CheckedFiles {
    let manifests = manifests.as_ref();
    crate::parallel::on_roomy_stack(|| check_parts(project, manifests, Some(files), Templates::All))
}

/// Which templates' handlebars the project-wide checks compile.
#[derive(Clone, Copy, PartialEq)]
enum Templates {
    /// Every template's: an editor keeps the project-wide findings of every file.
    All,
    /// Only those of the files checked (every file, when all are): the syntax and SMS length
    /// of another file's template cannot be caused by the files asked for.
    OfFiles,
}

fn check_parts(
    project: &Project,
    manifests: &Manifests,
    files: Option<&[FileId]>,
    templates: Templates,
) -> CheckedFiles {
    let mut wide = Diagnostics::new();
    let mut flows = Diagnostics::new();
    let cx = context::Context::new(project, manifests);
    let wanted = match files {
        None => Wanted::All,
        Some(files) => Wanted::around(&cx, files),
    };
    for module in project.modules.iter().filter(|m| wanted.has(m.file)) {
        flows.extend(module.syntax.iter().cloned());
    }
    declarations::check(&cx, &mut wide);
    let compile = |info: &templates::TemplateInfo<'_>| {
        templates == Templates::All || files.is_none_or(|files| files.contains(&info.file))
    };
    templates::check_declarations(cx.templates.values(), compile, &mut wide);
    triggers::check_webhook_paths(&cx, &mut wide);
    check_modules(&cx, &wanted, &mut flows);
    // Where part of a file did not parse, declarations and uses are missing from its tree, so
    // "unused" and "unreachable" warnings there would be noise caused by the syntax error.
    let broken: Vec<_> = project
        .modules
        .iter()
        .filter(|m| m.syntax.iter().any(|d| d.code.is_syntax()))
        .map(|m| m.file)
        .collect();
    let keep = |d: &Diagnostic| {
        (d.is_error() || !broken.contains(&d.file))
        // Uses of a name whose declaration was lost to a syntax error follow from that error.
            && !project
                .module_of(d.file)
                .is_some_and(|m| !m.lost.is_empty() && m.lost.explains(d, &project.sources.get(d.file).text))
    };
    wide.retain(&keep);
    flows.retain(&keep);
    let checked = project
        .modules
        .iter()
        .map(|m| m.file)
        .filter(|&f| wanted.has(f))
        .collect();
    CheckedFiles { wide, flows, checked }
}
