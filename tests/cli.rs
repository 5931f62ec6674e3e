//! The `flowc` binary as users drive it: closed pipes, refused arguments, the runtime's log on
//! stderr, `init` and `completions`.

#[path = "cli/init.rs"]
mod init;
#[path = "cli/logging.rs"]
mod logging;
#[path = "cli/pipes.rs"]
mod pipes;
#[path = "cli/refusals.rs"]
mod refusals;
#[path = "cli/support.rs"]
mod support;
