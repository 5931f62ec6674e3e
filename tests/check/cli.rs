//! The command line: formats, exit codes, colour and `explain`.
