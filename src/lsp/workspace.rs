//! The projects the editor has files open in: their texts (the editor's version of open files,
//! the disk's of the others), parsed once per change; after a change only the changed files and
//! the files depending on them are checked again, and the index is rebuilt when a request needs it.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::connectors::notion::schema::NotionSchemas;
use crate::connectors::Registry;
use crate::diagnostic::{Diagnostic, FileId, Sources};
use crate::project::{ParsedModule, Project};
use crate::syntax::{self, ast};

use super::index::Index;
use super::indexer;

/// One project (a `flowc.toml` and its sources) as the editor sees it.
pub(crate) struct ProjectState {
    pub project: Project,
    /// The last check's diagnostics, sorted.
    pub diagnostics: Vec<Diagnostic>,
    /// The findings in each file's own flows (syntax, flows, tests), kept until a change can
    /// affect them; the project-wide checks are run again on every change.
    flows: HashMap<FileId, Vec<Diagnostic>>,
    /// Built from the current text when a request needs it (typing does not wait for it).
    pub index: Index,
    indexed: bool,
    /// The pulled Notion schemas, for completion and hover (`None` before `flowc notion pull`).
    pub schemas: Option<NotionSchemas>,
    /// Files whose text changed since the last check.
    changed: BTreeSet<FileId>,
    /// The entities and templates the replaced texts declared: files naming them are checked
    /// again too (a renamed template breaks the flows using the old name).
    gone: BTreeSet<String>,
}

impl ProjectState {
    fn load(path: &Path, registry: &Registry) -> Result<ProjectState, String> {
        // A file not saved yet has no project of its own on disk: load its folder's.
        let start = if path.exists() {
            path.to_path_buf()
        } else {
            path.parent().map(Path::to_path_buf).unwrap_or_default()
        };
        let project = Project::load(&start).map_err(|e| e.to_string())?;
        let schema = project
            .config
            .project
            .notion_schema
            .clone()
            .unwrap_or_else(|| "notion/schema.json".into());
        let schemas = NotionSchemas::load(&project.root.join(schema)).ok();
        let changed = project.modules.iter().map(|m| m.file).collect();
        let mut state = ProjectState {
            project,
            diagnostics: Vec::new(),
            flows: HashMap::new(),
            index: Index::default(),
            indexed: false,
            schemas,
            changed,
            gone: BTreeSet::new(),
        };
        state.recheck(registry);
        Ok(state)
    }

    /// The file at `path`, if the project has it.
    pub(crate) fn file(&self, path: &Path) -> Option<FileId> {
        self.project
            .sources
            .iter()
            .find(|(_, f)| f.path == path)
            .map(|(id, _)| id)
    }

    pub(crate) fn text(&self, file: FileId) -> &str {
        &self.project.sources.get(file).text
    }

    pub(crate) fn path(&self, file: FileId) -> &Path {
        &self.project.sources.get(file).path
    }

    pub(crate) fn module(&self, file: FileId) -> Option<&ParsedModule> {
        self.project.module_of(file)
    }

    /// Replaces (or adds) the text of `path`; only that file is parsed again.
    fn set_text(&mut self, path: &Path, text: String) -> FileId {
        let file = self.replace_text(path, text);
        self.changed.insert(file);
        self.indexed = false;
        file
    }

    fn replace_text(&mut self, path: &Path, text: String) -> FileId {
        let Some(file) = self.file(path) else {
            return self.project.add_source(path.to_path_buf(), text);
        };
        if let Some(module) = self.project.module_of(file) {
            for item in &module.ast.items {
                match item {
                    ast::Item::Entity(e) => self.gone.insert(e.name.name.clone()),
                    ast::Item::Template(t) => self.gone.insert(t.name.name.clone()),
                    _ => false,
                };
            }
        }
        // Sources has no replace: rebuild it from the shared texts (cheap, `Arc<str>`).
        let mut sources = Sources::new();
        let text: Arc<str> = text.into();
        for (id, f) in self.project.sources.iter() {
            let t = if id == file {
                Arc::clone(&text)
            } else {
                Arc::clone(&f.text)
            };
            sources.add(f.path.clone(), t);
        }
        self.project.sources = sources;
        let (ast, syntax) = syntax::parse(&text, file);
        if let Some(module) = self.project.modules.iter_mut().find(|m| m.file == file) {
            module.ast = ast;
            module.syntax = syntax;
        }
        file
    }

    /// Checks the changed files again, with the files depending on them (what they `use`, the
    /// entities and templates they declare, now or before the change) and the project-wide checks;
    /// the other files' flows keep their findings.
    fn recheck(&mut self, registry: &Registry) {
        let mut files: Vec<FileId> = std::mem::take(&mut self.changed).into_iter().collect();
        let gone = std::mem::take(&mut self.gone);
        if !gone.is_empty() {
            for (id, source) in self.project.sources.iter() {
                if !files.contains(&id) && gone.iter().any(|name| source.text.contains(name.as_str())) {
                    files.push(id);
                }
            }
        }
        let found = crate::check::check_files_apart(&self.project, registry, &files);
        for file in &found.checked {
            self.flows.insert(*file, Vec::new());
        }
        for d in found.flows.iter() {
            let kept = self.flows.entry(d.file).or_default();
            // A finding of a checked flow placed in a file not checked again would otherwise be
            // added once more on every change.
            if found.checked.contains(&d.file) || !kept.contains(d) {
                kept.push(d.clone());
            }
        }
        let mut all = found.wide;
        all.extend(self.flows.values().flatten().cloned());
        self.diagnostics = all.sorted();
    }

    /// Indexes the project again if its text changed since.
    fn reindex(&mut self, registry: &Registry) {
        if !self.indexed {
            self.index = indexer::index(&self.project, registry);
            self.indexed = true;
        }
    }
}

/// Every project with an open file.
pub(crate) struct Workspace {
    pub registry: Registry,
    pub projects: Vec<ProjectState>,
}

impl Workspace {
    pub(crate) fn new() -> Workspace {
        Workspace {
            registry: Registry::declared_builtins(),
            projects: Vec::new(),
        }
    }

    /// The project holding `path`, loading it the first time.
    fn project_index(&mut self, path: &Path) -> Result<usize, String> {
        if let Some(i) = self.projects.iter().position(|p| p.file(path).is_some()) {
            return Ok(i);
        }
        let root = root_of(path);
        if let Some(i) = self.projects.iter().position(|p| p.project.root == root) {
            return Ok(i);
        }
        self.projects.push(ProjectState::load(path, &self.registry)?);
        Ok(self.projects.len() - 1)
    }

    /// Sets the text of `path` (opened or changed in the editor); its project is checked again by
    /// [`Workspace::refresh`].
    pub(crate) fn update(&mut self, path: &Path, text: String) -> Result<usize, String> {
        let i = self.project_index(path)?;
        self.projects[i].set_text(path, text);
        Ok(i)
    }

    /// Checks again every project changed since its last check; returns their indices.
    pub(crate) fn refresh(&mut self) -> Vec<usize> {
        let mut refreshed = Vec::new();
        for (i, state) in self
            .projects
            .iter_mut()
            .enumerate()
            .filter(|(_, s)| !s.changed.is_empty())
        {
            state.recheck(&self.registry);
            refreshed.push(i);
        }
        refreshed
    }

    /// Brings every project's index up to its text (before answering a request).
    pub(crate) fn reindex(&mut self) {
        for state in &mut self.projects {
            state.reindex(&self.registry);
        }
    }

    /// Goes back to the disk's text of `path` (closed without saving).
    pub(crate) fn revert(&mut self, path: &Path) -> Result<Option<usize>, String> {
        match std::fs::read_to_string(path) {
            Ok(text) => self.update(path, text).map(Some),
            Err(_) => Ok(None),
        }
    }

    /// The project and file of `path`, if it is loaded.
    pub(crate) fn find(&self, path: &Path) -> Option<(&ProjectState, FileId)> {
        self.projects.iter().find_map(|p| p.file(path).map(|f| (p, f)))
    }
}

/// The folder `Project::load` would use as the root for `path`.
fn root_of(path: &Path) -> PathBuf {
    let dir = path.parent().unwrap_or(path);
    crate::config::find_root(dir)
        .or_else(|| std::fs::canonicalize(dir).ok())
        .unwrap_or_else(|| dir.to_path_buf())
}
