//! The `tracing` subscriber of the command line: engine and connector warnings go to stderr,
//! filtered by `RUST_LOG` when set, else by `-v`/`-q`.

use tracing_subscriber::EnvFilter;

/// How much the runtime's log says, for every subcommand.
#[derive(Debug, clap::Args)]
pub(crate) struct Verbosity {
    /// Say more: `-v` adds what the runtime does (info), `-vv` debug, `-vvv` everything.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Say less: only errors from the runtime's log (warnings are hidden).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
}

impl Verbosity {
    /// The filter the flags ask for; `RUST_LOG`, when set, wins.
    fn directive(&self) -> &'static str {
        match (self.quiet, self.verbose) {
            (true, _) => "error",
            (false, 0) => "warn",
            (false, 1) => "info",
            (false, 2) => "debug",
            (false, _) => "trace",
        }
    }
}

/// Installs the subscriber: plain lines on stderr (coloured on a terminal), no timestamps, since
/// they interleave with the command's own messages. A bad `RUST_LOG` is reported and ignored.
pub(crate) fn install(verbosity: &Verbosity) {
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => EnvFilter::try_new(&spec).unwrap_or_else(|e| {
            errln!(
                "warning: RUST_LOG `{spec}` is not a valid filter ({e}); using `{}`",
                verbosity.directive()
            );
            EnvFilter::new(verbosity.directive())
        }),
        _ => EnvFilter::new(verbosity.directive()),
    };
    // A closed stderr must not turn every later event into a complaint written to... stderr.
    let _ = tracing_subscriber::fmt()
        .log_internal_errors(false)
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(super::output::use_color(true))
        .without_time()
        .with_target(false)
        .try_init();
}
