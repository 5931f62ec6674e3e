//! The manifests a project's flows are checked against, by connector name: the built-in
//! connectors' (one file each here) and those of connectors a host registers.

mod channel;
pub mod email;
pub mod http;
pub mod notion;
pub mod slack;
pub mod sms;
pub mod survey;

use std::collections::BTreeMap;

use super::{ActionSpec, Manifest};

/// Connector manifests by name. The checker reads only these; the runtime's registry of
/// connectors keeps one beside the connectors it calls.
#[derive(Clone, Debug, Default)]
pub struct Manifests {
    by_name: BTreeMap<String, Manifest>,
}

impl Manifests {
    /// No connectors.
    pub fn new() -> Manifests {
        Manifests::default()
    }

    /// The built-in connectors: notion, email, survey, http, sms and slack.
    pub fn builtin() -> Manifests {
        let mut manifests = Manifests::new();
        for manifest in builtin() {
            manifests.add(manifest);
        }
        manifests
    }

    /// Adds (or replaces) a manifest under its name.
    pub fn add(&mut self, manifest: Manifest) -> &mut Manifests {
        self.by_name.insert(manifest.name.clone(), manifest);
        self
    }

    /// The manifest of `name`.
    pub fn manifest(&self, name: &str) -> Option<&Manifest> {
        self.by_name.get(name)
    }

    /// The action `connector.action`.
    pub fn action(&self, connector: &str, action: &str) -> Option<&ActionSpec> {
        self.manifest(connector)?.action(action)
    }

    /// Every manifest, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Manifest> {
        self.by_name.values()
    }

    /// Connector names, sorted (for did-you-mean suggestions).
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }
}

impl AsRef<Manifests> for Manifests {
    fn as_ref(&self) -> &Manifests {
        self
    }
}

/// The manifests of the built-in connectors (notion, email, survey, http, sms, slack), in that order.
pub fn builtin() -> Vec<Manifest> {
    vec![
        notion::manifest(),
        email::manifest(),
        survey::manifest(),
        http::manifest(),
        sms::manifest(),
        slack::manifest(),
    ]
}
