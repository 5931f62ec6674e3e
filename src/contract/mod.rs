//! The contract between flows, the checker and the connectors, as data and without IO: what a
//! flow may read (secrets per entity) and, as the layer grows, connector manifests, error classes,
//! access and the Notion schema types. The checker and the runtime both judge by it.

pub mod secrets;
