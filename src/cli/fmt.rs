//! `flowc fmt`: rewrites `.flow` files in the canonical layout, or with `--check` lists those
//! that are not (for CI) without writing anything.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::{output, CliError};
use crate::diagnostic::{render, RenderOptions, Sources};

/// Arguments of `flowc fmt`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Write nothing: list the files that are not formatted (with the first lines that differ)
    /// and exit with 1 if there are any.
    #[arg(long)]
    check: bool,
    /// Files or folders (searched recursively for `.flow` files); the current folder by default.
    /// `-` formats standard input to standard output (for editors).
    paths: Vec<PathBuf>,
}

pub(crate) fn run(args: Args) -> Result<ExitCode, CliError> {
    if args.paths.len() == 1 && args.paths[0] == Path::new("-") {
        return stdin(args.check);
    }
    let paths = if args.paths.is_empty() {
        default_paths()
    } else {
        args.paths
    };
    if let Some(missing) = paths.iter().find(|p| !p.exists()) {
        return Err(CliError::Usage(format!("`{}` does not exist", missing.display())));
    }
    // Named files are rewritten in place: anything but flowc's own would be damaged.
    if let Some(other) = paths
        .iter()
        .find(|p| p.is_file() && p.extension().is_none_or(|x| x != "flow"))
    {
        return Err(CliError::Usage(format!(
            "`{}` is not a `.flow` file; `flowc fmt` formats `.flow` files only (give them, or folders holding them)",
            other.display()
        )));
    }
    let mut files: Vec<PathBuf> = paths.iter().flat_map(|p| flow_files(p)).collect();
    files.dedup();
    let mut problems = false;
    let mut unformatted = 0;
    for file in &files {
        let bytes = std::fs::read(file)
            .map_err(|e| CliError::Io(format!("cannot read `{}`: {e}", file.display())))?;
        let text = text_of(bytes);
        let formatted = match crate::syntax::format(&text) {
            Ok(formatted) => formatted,
            Err(diagnostics) => {
                problems = true;
                report(file, &text, &diagnostics);
                continue;
            }
        };
        if formatted == text {
            continue;
        }
        unformatted += 1;
        if args.check {
            problems = true;
            outln!("{} is not formatted", file.display());
            out!("{}", first_difference(&text, &formatted));
        } else {
            std::fs::write(file, &formatted)
                .map_err(|e| CliError::Io(format!("cannot write `{}`: {e}", file.display())))?;
            outln!("formatted {}", file.display());
        }
    }
    if args.check && unformatted > 0 {
        errln!(
            "{unformatted} file{} not formatted: run `flowc fmt` to fix",
            if unformatted == 1 { " is" } else { "s are" }
        );
    }
    Ok(if problems {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Formats standard input to standard output. On a syntax error the text is written back
/// unchanged (an editor filtering through `flowc fmt -` must not lose it) and the diagnostics go
/// to standard error.
fn stdin(check: bool) -> Result<ExitCode, CliError> {
    use std::io::{Read, Write};
    let mut bytes = Vec::new();
    std::io::stdin()
        .read_to_end(&mut bytes)
        .map_err(|e| CliError::Io(format!("cannot read standard input: {e}")))?;
    let text = text_of(bytes.clone());
    let (out, code) = match crate::syntax::format(&text) {
        Ok(formatted) if check => {
            let changed = formatted != text;
            if changed {
                out!("{}", first_difference(&text, &formatted));
            }
            return Ok(if changed {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            });
        }
        Ok(formatted) => (formatted.into_bytes(), ExitCode::SUCCESS),
        Err(diagnostics) => {
            report(Path::new("<stdin>"), &text, &diagnostics);
            // The bytes as read, not their UTF-8 repair.
            (bytes, ExitCode::from(1))
        }
    };
    std::io::stdout()
        .write_all(&out)
        .map_err(|e| CliError::Io(format!("cannot write standard output: {e}")))?;
    Ok(code)
}

/// The text of a file's bytes. Bytes that are not UTF-8 become `�`, which the parser reports
/// (E0112) at its line, so the file is refused like any file with a syntax error and never
/// rewritten with the replacement characters in it.
fn text_of(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Without paths, the project's source folders (`[project] sources` of `flowc.toml`, as `flowc check`
/// reads them), so fixtures with deliberate mistakes elsewhere in the tree are left alone; `.` when
/// the project does not name its sources.
fn default_paths() -> Vec<PathBuf> {
    let here = PathBuf::from(".");
    let Some(root) = crate::config::find_root(&here) else {
        return vec![here];
    };
    let sources = crate::config::Config::load(&root)
        .map(|c| c.project.sources)
        .unwrap_or_default();
    if sources.is_empty() {
        return vec![here];
    }
    let cwd = std::fs::canonicalize(&here).unwrap_or_default();
    sources
        .iter()
        .map(|s| {
            let path = root.join(s);
            // Relative to where the user stands when possible, as they would have typed it.
            match path.strip_prefix(&cwd) {
                Ok(rel) if rel.as_os_str().is_empty() => PathBuf::from("."),
                Ok(rel) => rel.to_path_buf(),
                Err(_) => path,
            }
        })
        .collect()
}

/// `path` itself if it is a file, else the `.flow` files under it (hidden folders, `target` and
/// `node_modules` skipped), sorted, with paths as the user wrote them.
fn flow_files(path: &Path) -> Vec<PathBuf> {
    if path.is_file() {
        return vec![path.to_path_buf()];
    }
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(path)
        .into_iter()
        .filter_entry(|e| {
            let name = e.file_name().to_string_lossy();
            e.depth() == 0 || !(name.starts_with('.') || name == "target" || name == "node_modules")
        })
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "flow"))
        .map(|e| e.into_path())
        .collect();
    files.sort();
    files
}

fn report(file: &Path, text: &str, diagnostics: &[crate::Diagnostic]) {
    let mut sources = Sources::new();
    // Diagnostics point into the text as the formatter read it (one kind of line ending).
    sources.add(file, text.replace("\r\n", "\n"));
    let options = RenderOptions {
        color: output::use_color(true),
        width: output::width(),
    };
    for d in diagnostics {
        err!("{}", render(d, &sources, options));
    }
    errln!(
        "{} was left unchanged: fix the errors above, then format it",
        file.display()
    );
}

/// A unified-style hunk of the first lines that differ, with a little context.
fn first_difference(old: &str, new: &str) -> String {
    const CONTEXT: usize = 2;
    const MAX_LINES: usize = 16;
    let old: Vec<&str> = old.lines().collect();
    let new: Vec<&str> = new.lines().collect();
    let ops = line_diff(&old, &new);
    let Some(first) = ops.iter().position(|op| !matches!(op, Op::Same(..))) else {
        return "@@ only line endings or the final line break differ @@\n".to_string();
    };
    let from = first.saturating_sub(CONTEXT);
    // The hunk ends after CONTEXT unchanged lines past the last change of this run of changes.
    let mut end = first;
    let mut same_run = 0;
    while end < ops.len() && same_run < CONTEXT + 1 {
        same_run = if matches!(ops[end], Op::Same(..)) {
            same_run + 1
        } else {
            0
        };
        end += 1;
    }
    let end = end
        .min(ops.len())
        .saturating_sub(same_run.saturating_sub(CONTEXT));
    let hunk = &ops[from..end];
    let (old_start, new_start) = match hunk.first() {
        Some(Op::Same(o, n)) => (*o, *n),
        Some(Op::Removed(o, n)) | Some(Op::Added(o, n)) => (*o, *n),
        None => (0, 0),
    };
    let old_count = hunk.iter().filter(|op| !matches!(op, Op::Added(..))).count();
    let new_count = hunk.iter().filter(|op| !matches!(op, Op::Removed(..))).count();
    let mut out = format!(
        "@@ -{},{old_count} +{},{new_count} @@\n",
        old_start + 1,
        new_start + 1
    );
    for op in hunk.iter().take(MAX_LINES) {
        match *op {
            Op::Same(o, _) => out.push_str(&format!(" {}\n", old[o])),
            Op::Removed(o, _) => out.push_str(&format!("-{}\n", old[o])),
            Op::Added(_, n) => out.push_str(&format!("+{}\n", new[n])),
        }
    }
    if hunk.len() > MAX_LINES {
        out.push_str(" ...\n");
    }
    out
}

/// One line of a diff, with its line indexes in the old and new text.
enum Op {
    Same(usize, usize),
    Removed(usize, usize),
    Added(usize, usize),
}

/// The line diff of the longest common subsequence. Files are small; a very large pair is
/// compared as one block of changes past the common start and end.
fn line_diff(old: &[&str], new: &[&str]) -> Vec<Op> {
    let prefix = old.iter().zip(new).take_while(|(a, b)| a == b).count();
    let suffix = old[prefix..]
        .iter()
        .rev()
        .zip(new[prefix..].iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let a = &old[prefix..old.len() - suffix];
    let b = &new[prefix..new.len() - suffix];
    let mut ops: Vec<Op> = (0..prefix).map(|i| Op::Same(i, i)).collect();
    if a.len().saturating_mul(b.len()) > 4_000_000 {
        ops.extend((0..a.len()).map(|i| Op::Removed(prefix + i, prefix)));
        ops.extend((0..b.len()).map(|j| Op::Added(prefix + a.len(), prefix + j)));
    } else {
        // lcs[i][j]: length of the common subsequence of a[i..] and b[j..].
        let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
        for i in (0..a.len()).rev() {
            for j in (0..b.len()).rev() {
                lcs[i][j] = if a[i] == b[j] {
                    lcs[i + 1][j + 1] + 1
                } else {
                    lcs[i + 1][j].max(lcs[i][j + 1])
                };
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < a.len() || j < b.len() {
            if i < a.len() && j < b.len() && a[i] == b[j] {
                ops.push(Op::Same(prefix + i, prefix + j));
                i += 1;
                j += 1;
            } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
                ops.push(Op::Removed(prefix + i, prefix + j));
                i += 1;
            } else {
                ops.push(Op::Added(prefix + i, prefix + j));
                j += 1;
            }
        }
    }
    let (old_end, new_end) = (old.len() - suffix, new.len() - suffix);
    ops.extend((0..suffix).map(|k| Op::Same(old_end + k, new_end + k)));
    ops
}

#[cfg(test)]
mod tests {
    use super::first_difference;

    #[test]
    fn shows_the_first_differing_lines_with_context() {
        let old = "a\nb\nc\n  d\ne\n";
        let new = "a\nb\nc\nd\ne\n";
        assert_eq!(
            first_difference(old, new),
            "@@ -2,4 +2,4 @@\n b\n c\n-  d\n+d\n e\n"
        );
    }

    #[test]
    fn handles_added_lines_at_the_end() {
        assert_eq!(first_difference("a", "a\n\nb"), "@@ -1,1 +1,3 @@\n a\n+\n+b\n");
    }

    #[test]
    fn shows_only_the_first_hunk() {
        let old = "1\nx\n2\n3\n4\n5\n6\ny\n7\n";
        let new = "1\n2\n3\n4\n5\n6\n7\n";
        assert_eq!(first_difference(old, new), "@@ -1,4 +1,3 @@\n 1\n-x\n 2\n 3\n");
    }
}
