//! The connectors every project has, and a registry for checking without running.

use async_trait::async_trait;

use super::{ActionCall, Connector, ConnectorError, Manifest, Registry};
use crate::value::Value;
use std::sync::Arc;

/// The manifests of the built-in connectors (notion, email, survey, http).
pub fn builtin_manifests() -> Vec<Manifest> {
    crate::contract::manifests::builtin()
}

/// A connector that only declares its actions: what `flowc check` needs. Calling it is an error.
pub struct DeclaredOnly {
    manifest: Manifest,
}

impl DeclaredOnly {
    /// Wraps a manifest.
    pub fn new(manifest: Manifest) -> DeclaredOnly {
        DeclaredOnly { manifest }
    }
}

#[async_trait]
impl Connector for DeclaredOnly {
    fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    async fn call(&self, call: ActionCall) -> Result<Value, ConnectorError> {
        Err(ConnectorError::permanent(format!(
            "connector `{}` is declared but not configured to run `{}`",
            self.manifest.name, call.action
        )))
    }
}

impl Registry {
    /// A registry of the built-in manifests, for checking.
    pub fn declared_builtins() -> Registry {
        let mut registry = Registry::new();
        for manifest in builtin_manifests() {
            registry.register(Arc::new(DeclaredOnly::new(manifest)));
        }
        registry
    }
}
