//! Tests of `flowc check` and `flowc explain`: every diagnostic code is documented with a wrong
//! and a right example that the checker agrees with, a corpus of one-mistake files with reviewed
//! snapshots of what users see, and the command line's formats and exit codes.

#[path = "check/block_names.rs"]
mod block_names;
#[path = "check/cli.rs"]
mod cli;
#[path = "check/common.rs"]
mod common;
#[path = "check/corpus.rs"]
mod corpus;
#[path = "check/docs.rs"]
mod docs;
#[path = "check/handler_values.rs"]
mod handler_values;
#[path = "check/list_builtins.rs"]
mod list_builtins;
#[path = "check/project.rs"]
mod project;
#[path = "check/robust.rs"]
mod robust;
#[path = "check/timeouts.rs"]
mod timeouts;
#[path = "check/typed.rs"]
mod typed;
