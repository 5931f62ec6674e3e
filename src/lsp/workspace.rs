//! The projects the editor has files open in: their texts (the editor's version of open files,
//! the disk's of the others), parsed once per change, checked and indexed after each change.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::connectors::notion::schema::NotionSchemas;
use crate::connectors::Registry;
use crate::diagnostic::{Diagnostic, FileId, Sources};
use crate::project::{ParsedModule, Project};
use crate::syntax;

use super::index::Index;
use super::indexer;

/// One project (a `flowc.toml` and its sources) as the editor sees it.
pub(crate) struct ProjectState {
    pub project: Project,
    /// The last check's diagnostics, sorted.
    pub diagnostics: Vec<Diagnostic>,
    pub index: Index,
    /// The pulled Notion schemas, for completion and hover (`None` before `flowc notion pull`).
    pub schemas: Option<NotionSchemas>,
    /// Its text changed since the last check.
    stale: bool,
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
        let mut state = ProjectState {
            project,
            diagnostics: Vec::new(),
            index: Index::default(),
            schemas,
            stale: false,
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
        let Some(file) = self.file(path) else {
            return self.project.add_source(path.to_path_buf(), text);
        };
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

    /// Checks and indexes the project again.
    fn recheck(&mut self, registry: &Registry) {
        self.stale = false;
        self.diagnostics = crate::check(&self.project, registry).sorted();
        self.index = indexer::index(&self.project, registry);
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
        let state = &mut self.projects[i];
        state.set_text(path, text);
        state.stale = true;
        Ok(i)
    }

    /// Checks again every project changed since its last check; returns their indices.
    pub(crate) fn refresh(&mut self) -> Vec<usize> {
        let mut refreshed = Vec::new();
        for (i, state) in self.projects.iter_mut().enumerate().filter(|(_, s)| s.stale) {
            state.recheck(&self.registry);
            refreshed.push(i);
        }
        refreshed
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
