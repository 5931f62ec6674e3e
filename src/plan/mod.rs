//! The compiler: a checked flow lowered to a plan, a petgraph DAG the runtime executes.
