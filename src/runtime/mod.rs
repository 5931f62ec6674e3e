//! The runtime: executes plans through connectors, durably.
