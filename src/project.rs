//! A project: its root, configuration and every `.flow` file, parsed.
//!
//! Entities and templates are project-wide names, so checking one file needs the others: the
//! project loads all `.flow` files under its source folders once, then each pass looks names up.

use std::path::{Path, PathBuf};

use crate::config::{self, Config, ConfigError};
use crate::connectors::notion::schema::NotionSchemas;
use crate::contract::SurveyForms;
use crate::diagnostic::{Diagnostic, FileId, Sources};
use crate::syntax::{self, ast};

/// A loaded project.
#[derive(Clone, Debug, Default)]
pub struct Project {
    /// The folder holding `flowc.toml` (or the folder given when there is none).
    pub root: PathBuf,
    /// `flowc.toml`.
    pub config: Config,
    /// The text of every file.
    pub sources: Sources,
    /// The parsed files, in the order of `sources`.
    pub modules: Vec<ParsedModule>,
    /// The pulled Notion schemas (`notion_schema` of flowc.toml, by default
    /// `notion/schema.json`), read here so that the checker reads no files.
    pub notion_schemas: Option<NotionSchemas>,
    /// The survey templates' field refs (`[connectors.survey] templates`), read here for the
    /// same reason.
    pub survey_forms: SurveyForms,
}

/// One parsed file.
#[derive(Clone, Debug)]
pub struct ParsedModule {
    /// Its file.
    pub file: FileId,
    /// Its path relative to the root with `/` separators and no extension (`stdlib/contacts`).
    pub module_path: String,
    /// The tree.
    pub ast: ast::Module,
    /// Syntax diagnostics.
    pub syntax: Vec<Diagnostic>,
    /// Names declared by statements lost to syntax errors (their uses are not reported).
    pub lost: syntax::LostNames,
}

/// Why a project could not be loaded at all (as opposed to diagnostics in its files).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// `flowc.toml` is unreadable or invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The Notion schema file is missing (when configured), unreadable or not a schema.
    #[error("{message}: the Notion schema of the project (`notion_schema` in flowc.toml) cannot be read; run `flowc notion pull` to write it")]
    Schema {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the file.
        message: String,
    },
    /// A path given does not exist or cannot be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl Project {
    /// Loads the project containing `path` (a file or folder): finds `flowc.toml` above it,
    /// then parses every `.flow` file under the project's source folders.
    pub fn load(path: &Path) -> Result<Project, LoadError> {
        if !path.exists() {
            return Err(LoadError::Io {
                path: path.to_path_buf(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or directory"),
            });
        }
        let root = match config::find_root(path) {
            Some(root) => root,
            None => {
                let dir = if path.is_file() {
                    path.parent()
                        .filter(|p| !p.as_os_str().is_empty())
                        .unwrap_or(Path::new("."))
                } else {
                    path
                };
                std::fs::canonicalize(dir).map_err(|source| LoadError::Io {
                    path: dir.to_path_buf(),
                    source,
                })?
            }
        };
        let config = Config::load(&root)?;
        let notion_schemas = notion_schemas(&root, &config)?;
        let survey_forms = crate::connectors::survey::refs_by_template(&root, &config);
        let mut project = Project {
            root: root.clone(),
            config,
            notion_schemas,
            survey_forms,
            ..Project::default()
        };
        let folders: Vec<PathBuf> = if project.config.project.sources.is_empty() {
            vec![root.clone()]
        } else {
            project
                .config
                .project
                .sources
                .iter()
                .map(|s| root.join(s))
                .collect()
        };
        let mut files = Vec::new();
        for folder in folders {
            files.extend(flow_files(&folder));
        }
        // A file given explicitly outside the source folders still belongs to the run.
        if path.is_file() {
            let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
            if !files.contains(&canonical) {
                files.push(canonical);
            }
        }
        files.sort();
        files.dedup();
        let mut texts = Vec::with_capacity(files.len());
        for file in files {
            let bytes = std::fs::read(&file).map_err(|source| LoadError::Io {
                path: file.clone(),
                source,
            })?;
            // Text that is not UTF-8 is still checked: each bad byte becomes `�`, which the
            // parser reports (E0112) at its line.
            let text = String::from_utf8(bytes)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
            texts.push((file, text));
        }
        project.add_sources(texts);
        Ok(project)
    }

    /// A project made of in-memory sources (tests, editors): `(path relative to root, text)`.
    pub fn from_sources<'a>(
        root: &Path,
        config: Config,
        files: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Project {
        // In-memory projects (tests, editors) use a schema when there is a readable one.
        let notion_schemas = notion_schemas(root, &config).ok().flatten();
        let survey_forms = crate::connectors::survey::refs_by_template(root, &config);
        let mut project = Project {
            root: root.to_path_buf(),
            config,
            notion_schemas,
            survey_forms,
            ..Project::default()
        };
        let files = files
            .into_iter()
            .map(|(path, text)| (root.join(path), text.to_string()))
            .collect();
        project.add_sources(files);
        project
    }

    /// Parses and adds many files, in order; large projects are parsed on every core.
    pub fn add_sources(&mut self, files: Vec<(PathBuf, String)>) {
        // A thread starts in tens of microseconds and a well-formed line parses in under one
        // (the grammar's parser, for a file with mistakes, takes about five): above about 1,500
        // lines (a project like this repository's, loaded for `flowc check FILE`), parsing on
        // every core pays.
        const PARALLEL_BYTES: usize = 64_000;
        let ids: Vec<FileId> = files
            .into_iter()
            .map(|(path, text)| self.sources.add(path, text))
            .collect();
        let sources = &self.sources;
        let parsed = crate::parallel::map(
            &ids,
            |id| sources.get(*id).text.len(),
            PARALLEL_BYTES,
            |id| syntax::parse_recovering(&sources.get(*id).text, *id),
        );
        for (file, mut parsed) in ids.into_iter().zip(parsed) {
            let module_path = module_path(&self.root, &self.sources.get(file).path);
            config::add_quiet_hours(&mut parsed.module, &self.config);
            self.modules.push(ParsedModule {
                file,
                module_path,
                ast: parsed.module,
                syntax: parsed.diagnostics,
                lost: parsed.lost,
            });
        }
    }

    /// Parses and adds one file.
    pub fn add_source(&mut self, path: PathBuf, text: String) -> FileId {
        let module_path = module_path(&self.root, &path);
        let file = self.sources.add(path, text);
        let mut parsed = syntax::parse_recovering(&self.sources.get(file).text, file);
        config::add_quiet_hours(&mut parsed.module, &self.config);
        self.modules.push(ParsedModule {
            file,
            module_path,
            ast: parsed.module,
            syntax: parsed.diagnostics,
            lost: parsed.lost,
        });
        file
    }

    /// The module for `use a.b` (`a/b.flow` under the root).
    pub fn module(&self, dotted: &str) -> Option<&ParsedModule> {
        let wanted = dotted.replace('.', "/");
        self.modules.iter().find(|m| m.module_path == wanted)
    }

    /// The parsed module of `file`.
    pub fn module_of(&self, file: FileId) -> Option<&ParsedModule> {
        self.modules.iter().find(|m| m.file == file)
    }

    /// Files whose path is `path` or lies under it (for reporting only what was asked for).
    pub fn files_under(&self, path: &Path) -> Vec<FileId> {
        let wanted = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        self.sources
            .iter()
            .filter(|(_, f)| f.path.starts_with(&wanted))
            .map(|(id, _)| id)
            .collect()
    }
}

/// The project's pulled Notion schemas: none when no schema is configured and the default file is
/// absent (the schema is optional); an error naming the file when it is configured but missing,
/// unreadable or not a schema, so property checks are never skipped silently.
fn notion_schemas(root: &Path, config: &Config) -> Result<Option<NotionSchemas>, LoadError> {
    let (path, configured) = match &config.project.notion_schema {
        Some(path) => (root.join(path), true),
        None => (root.join("notion/schema.json"), false),
    };
    if !configured && !path.exists() {
        return Ok(None);
    }
    NotionSchemas::load(&path)
        .map(Some)
        .map_err(|message| LoadError::Schema { path, message })
}

fn module_path(root: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(root).unwrap_or(file);
    let rel = rel.with_extension("");
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// Every `.flow` file under `dir` (or `dir` itself), skipping hidden folders and `target`.
pub fn flow_files(dir: &Path) -> Vec<PathBuf> {
    if dir.is_file() {
        return vec![std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf())];
    }
    // The walk does not follow links (a linked file is not a file to it), so every path it
    // finds is canonical when the folder's is: one `canonicalize` instead of one per file.
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    walkdir::WalkDir::new(&dir)
        .into_iter()
        .filter_entry(|e| {
            let name = e.file_name().to_string_lossy();
            e.depth() == 0 || !(name.starts_with('.') || name == "target" || name == "node_modules")
        })
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "flow"))
        .map(walkdir::DirEntry::into_path)
        .collect()
}
