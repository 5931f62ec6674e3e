//! The set of connectors a checker or engine knows, by name.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{ActionSpec, Connector, Manifest};
use crate::contract::Manifests;

/// Connectors by name, with their manifests. The checker reads only the manifests (the
/// registry is `AsRef<Manifests>`); the engine calls the connectors.
#[derive(Clone, Default)]
pub struct Registry {
    connectors: BTreeMap<String, Arc<dyn Connector>>,
    manifests: Manifests,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Adds (or replaces) a connector under its manifest's name.
    pub fn register(&mut self, connector: Arc<dyn Connector>) -> &mut Registry {
        let name = connector.manifest().name.clone();
        self.manifests.add(connector.manifest().clone());
        self.connectors.insert(name, connector);
        self
    }

    /// The connector called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn Connector>> {
        self.connectors.get(name)
    }

    /// The manifest of `name`.
    pub fn manifest(&self, name: &str) -> Option<&Manifest> {
        self.connectors.get(name).map(|c| c.manifest())
    }

    /// The action `connector.action`.
    pub fn action(&self, connector: &str, action: &str) -> Option<&ActionSpec> {
        self.manifest(connector)?.action(action)
    }

    /// Every manifest, by name.
    pub fn manifests(&self) -> impl Iterator<Item = &Manifest> {
        self.connectors.values().map(|c| c.manifest())
    }

    /// Connector names, sorted (for did-you-mean suggestions).
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.connectors.keys().map(String::as_str)
    }
}

impl AsRef<Manifests> for Registry {
    fn as_ref(&self) -> &Manifests {
        &self.manifests
    }
}
