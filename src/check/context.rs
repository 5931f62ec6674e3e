//! The project-wide index every pass looks names up in: entities, templates, modules and their
//! flows, built once per run so no pass searches the whole project again.

use std::collections::{HashMap, HashSet};

use crate::contract::{Manifests, NotionSchemas};
use crate::diagnostic::FileId;
use crate::project::{ParsedModule, Project};
use crate::syntax::ast;

use super::templates::TemplateInfo;

/// One parsed file with its flows and `use` aliases.
pub(crate) struct ModuleInfo<'a> {
    pub parsed: &'a ParsedModule,
    /// Flows by name (the first one when a name is declared twice).
    pub flows: HashMap<&'a str, &'a ast::Flow>,
    /// `use` alias → module path with `/` separators, for the uses whose file exists.
    pub uses: HashMap<&'a str, String>,
}

impl<'a> ModuleInfo<'a> {
    pub fn file(&self) -> FileId {
        self.parsed.file
    }
}

/// Everything a pass needs to know about the project.
pub(crate) struct Context<'a> {
    pub project: &'a Project,
    /// The connectors' manifests calls are checked against.
    pub manifests: &'a Manifests,
    /// Entities by name, with the file declaring them (the first when declared twice).
    pub entities: HashMap<&'a str, (FileId, &'a ast::Entity)>,
    /// Templates by name.
    pub templates: HashMap<&'a str, TemplateInfo<'a>>,
    /// Modules in the order of `project.modules`.
    pub modules: Vec<ModuleInfo<'a>>,
    /// Module path (`stdlib/contacts`) → index in `modules`.
    pub module_index: HashMap<&'a str, usize>,
    /// Every database some entity declares.
    pub databases: HashSet<&'a str>,
    /// Pulled Notion schemas, when the project has them.
    pub schemas: Option<&'a NotionSchemas>,
}

impl<'a> Context<'a> {
    pub fn new(project: &'a Project, manifests: &'a Manifests) -> Context<'a> {
        let mut entities = HashMap::new();
        let mut templates = HashMap::new();
        let mut databases = HashSet::new();
        let mut module_index = HashMap::new();
        for (i, module) in project.modules.iter().enumerate() {
            module_index.entry(module.module_path.as_str()).or_insert(i);
            for item in &module.ast.items {
                match item {
                    ast::Item::Entity(e) => {
                        entities.entry(e.name.name.as_str()).or_insert((module.file, e));
                        databases.extend(e.databases.iter().map(|d| d.name.as_str()));
                    }
                    ast::Item::Template(t) => {
                        templates.entry(t.name.name.as_str()).or_insert_with(|| {
                            TemplateInfo::new(module.file, t, &project.sources.get(module.file).text)
                        });
                    }
                    _ => {}
                }
            }
        }
        let modules = project
            .modules
            .iter()
            .map(|parsed| {
                let mut flows = HashMap::new();
                let mut uses = HashMap::new();
                for item in &parsed.ast.items {
                    match item {
                        ast::Item::Flow(f) => {
                            flows.entry(f.name.name.as_str()).or_insert(f);
                        }
                        ast::Item::Use(u) => {
                            let path = u
                                .path
                                .iter()
                                .map(|p| p.name.as_str())
                                .collect::<Vec<_>>()
                                .join("/");
                            if module_index.contains_key(path.as_str()) {
                                uses.entry(u.name().name.as_str()).or_insert(path);
                            }
                        }
                        _ => {}
                    }
                }
                ModuleInfo { parsed, flows, uses }
            })
            .collect();
        Context {
            project,
            manifests,
            entities,
            templates,
            modules,
            module_index,
            databases,
            schemas: project.notion_schemas.as_ref(),
        }
    }

    /// The module that `alias` (a `use` of `module`) names.
    pub fn used_module(&self, module: &ModuleInfo<'a>, alias: &str) -> Option<&ModuleInfo<'a>> {
        let path = module.uses.get(alias)?;
        self.module_index.get(path.as_str()).map(|&i| &self.modules[i])
    }

    /// The entity declaration called `name`.
    pub fn entity(&self, name: &str) -> Option<&'a ast::Entity> {
        self.entities.get(name).map(|(_, e)| *e)
    }
}
