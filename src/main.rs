//! The `flowc` command: parse arguments, run, exit with the command's code.

/// mimalloc rather than the system's allocator: the engine makes many small, short-lived
/// allocations from several threads, where glibc's malloc costs a fifth of the CPU time
/// (docs/runtime.md, Figures). Hosts that embed the library choose their own.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    flowc::cli::main()
}
