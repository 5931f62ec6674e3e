//! `flowc check`: loads the project around the given paths, checks it, and reports the
//! diagnostics of the files under those paths as people (human), tools (json) or CI (github) read them.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::connectors::Registry;
use crate::diagnostic::{self, Diagnostic, FileId, RenderOptions, Severity, Sources};
use crate::project::Project;

use super::{output, CliError};

/// How diagnostics are printed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// Source excerpts with labels and help, on stderr.
    #[default]
    Human,
    /// One JSON document on stdout.
    Json,
    /// GitHub Actions workflow commands (`::error file=...`), on stdout.
    Github,
    /// One line per diagnostic, `file:line:col: error[E0201]: message`, on stdout (for editors'
    /// error formats, e.g. Vim's `errorformat`).
    Short,
}

/// Arguments of `flowc check`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Files or folders (searched recursively for `.flow` files); default: the current folder.
    paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Exit with status 1 when there are warnings, too.
    #[arg(long)]
    deny_warnings: bool,
}

pub(crate) fn run(args: Args) -> Result<ExitCode, CliError> {
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths.clone()
    };
    let mut absolute = Vec::with_capacity(paths.len());
    for path in &paths {
        if !path.exists() {
            return Err(CliError::Usage(format!("`{}` does not exist", path.display())));
        }
        if path.is_file() && path.extension().is_none_or(|x| x != "flow") {
            return Err(CliError::Usage(format!(
                "`{}` is not a `.flow` file; give `.flow` files or folders holding them",
                path.display()
            )));
        }
        // Absolute paths: a bare file name has an empty parent folder, which cannot be searched.
        let canonical = std::fs::canonicalize(path)
            .map_err(|e| CliError::Io(format!("cannot read `{}`: {e}", path.display())))?;
        absolute.push(canonical);
    }
    let paths = absolute;
    let registry = Registry::declared_builtins();
    // Paths of one project share one load and check; paths of different projects get their own.
    let mut projects: Vec<(Project, BTreeSet<FileId>)> = Vec::new();
    for path in &paths {
        // The root `Project::load` will use: the folder of `flowc.toml`, else the path's folder.
        let root = crate::config::find_root(path).unwrap_or_else(|| match path.parent() {
            Some(parent) if path.is_file() => parent.to_path_buf(),
            _ => path.clone(),
        });
        let index = match projects.iter().position(|(p, _)| p.root == root) {
            Some(i) => i,
            None => {
                projects.push((Project::load(path)?, BTreeSet::new()));
                projects.len() - 1
            }
        };
        let (project, wanted) = &mut projects[index];
        wanted.extend(project.files_under(path));
    }
    let projects: Vec<(Project, Vec<Diagnostic>, BTreeSet<FileId>)> = projects
        .into_iter()
        .map(|(project, wanted)| {
            let diagnostics = if wanted.len() == project.modules.len() {
                crate::check(&project, &registry)
            } else {
                let files: Vec<FileId> = wanted.iter().copied().collect();
                crate::check::check_files(&project, &registry, &files)
            };
            (project, diagnostics.sorted(), wanted)
        })
        .collect();
    let cwd = std::env::current_dir().unwrap_or_default();
    let mut out = Report {
        format: args.format,
        ..Report::default()
    };
    for (project, diagnostics, wanted) in &projects {
        // Paths are shown relative to the current folder.
        let mut display = Sources::new();
        for (_, file) in project.sources.iter() {
            display.add(relative(&file.path, &cwd), file.text.clone());
        }
        for d in diagnostics
            .iter()
            .filter(|d| wanted.contains(&d.file) || caused_elsewhere(d))
        {
            out.add(d, &display);
        }
    }
    out.print(args.format)?;
    // The process ends here: freeing every file's tree first would only cost time (compilers
    // skip it too).
    std::mem::forget(projects);
    let failed = out.errors > 0 || (args.deny_warnings && out.warnings > 0);
    Ok(ExitCode::from(u8::from(failed)))
}

/// Errors that a file asked for can cause in the files depending on it (a webhook path taken
/// twice, a template variable or sub-flow argument that no longer matches, a name that went away):
/// shown with the file's own diagnostics. Only the dependents' flows were checked.
fn caused_elsewhere(d: &Diagnostic) -> bool {
    use crate::diagnostic::Code;
    d.is_error()
        && matches!(
            d.code,
            Code::DuplicateName
                | Code::InvalidWebhook
                | Code::TemplateVariable
                | Code::UnknownTemplate
                | Code::UnknownFlow
                | Code::UnknownArgument
                | Code::MissingArgument
                | Code::UnknownEntity
                | Code::UnknownDatabase
                | Code::MissingGrant
        )
}

fn relative(path: &Path, cwd: &Path) -> PathBuf {
    path.strip_prefix(cwd)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| path.to_path_buf())
}

#[derive(Default)]
struct Report {
    /// Only this format is built.
    format: Format,
    human: String,
    json: Vec<serde_json::Value>,
    /// The `github` or `short` lines.
    lines: String,
    errors: usize,
    warnings: usize,
}

impl Report {
    fn add(&mut self, d: &Diagnostic, sources: &Sources) {
        match d.severity {
            Severity::Error => self.errors += 1,
            Severity::Warning => self.warnings += 1,
        }
        if self.format == Format::Human {
            let options = RenderOptions {
                color: output::use_color(true),
                width: output::width(),
            };
            self.human.push_str(&diagnostic::render(d, sources, options));
            self.human.push('\n');
            return;
        }
        let (line, column, end_line, end_column) = diagnostic::position(d, sources);
        let file = sources.get(d.file).path.display().to_string();
        let level = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        if self.format == Format::Short {
            // One line, always: a message never holds a line break, but be sure of it.
            let message = d.message.replace('\n', " ");
            self.lines.push_str(&format!(
                "{file}:{line}:{column}: {level}[{}]: {message}\n",
                d.code.as_str()
            ));
            return;
        }
        if self.format == Format::Json {
            let text = &sources.get(d.file).text;
            let labels: Vec<serde_json::Value> = d
                .secondary
                .iter()
                .map(|l| {
                    let (line, column) = crate::syntax::line_col(text, l.span.start as usize);
                    let (end_line, end_column) = crate::syntax::line_col(text, l.span.end as usize);
                    serde_json::json!({
                        "message": l.message,
                        "line": line,
                        "column": column,
                        "end_line": end_line,
                        "end_column": end_column,
                    })
                })
                .collect();
            self.json.push(serde_json::json!({
                "file": file,
                "code": d.code.as_str(),
                "severity": d.severity,
                "message": d.message,
                "line": line,
                "column": column,
                "end_line": end_line,
                "end_column": end_column,
                "help": d.help,
                "label": d.label,
                "labels": labels,
            }));
            return;
        }
        let mut message = d.message.clone();
        if let Some(help) = &d.help {
            message.push_str(&format!("\n\nhelp: {help}"));
        }
        self.lines.push_str(&format!(
            "::{level} file={},line={line},col={column},endLine={end_line},endColumn={end_column},title={}::{}\n",
            escape_property(&file),
            d.code.as_str(),
            escape_data(&message)
        ));
    }

    fn print(&self, format: Format) -> Result<(), CliError> {
        let io = |e: std::io::Error| CliError::Io(format!("cannot write the report: {e}"));
        match format {
            Format::Human => {
                let mut stderr = std::io::stderr().lock();
                stderr.write_all(self.human.as_bytes()).map_err(io)?;
                writeln!(stderr, "{}", self.summary()).map_err(io)?;
            }
            Format::Json => {
                let doc = serde_json::json!({
                    "diagnostics": self.json,
                    "errors": self.errors,
                    "warnings": self.warnings,
                });
                let mut stdout = std::io::stdout().lock();
                writeln!(stdout, "{doc}").map_err(io)?;
            }
            Format::Github | Format::Short => {
                let mut stdout = std::io::stdout().lock();
                stdout.write_all(self.lines.as_bytes()).map_err(io)?;
            }
        }
        Ok(())
    }

    fn summary(&self) -> String {
        let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
        match (self.errors, self.warnings) {
            (0, 0) => "no problems found".to_string(),
            (e, 0) => format!("{} found", plural(e, "error")),
            (0, w) => format!("{} found", plural(w, "warning")),
            (e, w) => format!("{} and {} found", plural(e, "error"), plural(w, "warning")),
        }
    }
}

/// GitHub workflow command escaping for the message part.
fn escape_data(text: &str) -> String {
    text.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// GitHub workflow command escaping for property values.
fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}
