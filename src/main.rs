//! The `flowc` command: parse arguments, run, exit with the command's code.

/// mimalloc rather than the system's allocator: the engine makes many small, short-lived
/// allocations from several threads, where glibc's malloc costs a fifth of the CPU time
/// (docs/runtime.md, Figures); its options are set first thing (`flowc::cli::allocator`).
/// Hosts that embed the library choose their own.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    flowc::cli::allocator::tune();
    flowc::cli::main()
}
