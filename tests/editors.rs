//! The editor grammars and the VS Code extension, tested with their own ecosystems' tools:
//! `tree-sitter test` and `tree-sitter parse`, `vscode-tmgrammar-snap`, `vsce package`, and Vim
//! running `flowc check --format short` with `:make` into its quickfix list.
//!
//! A missing tool fails the test (`.ci/test` installs them all): skipping would let the editors
//! rot unseen.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `program` with `args` in `dir`; a program that is not installed fails the test.
fn run(dir: &Path, program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!("`{program}` cannot run ({e}): run `bash .ci/test`, which installs the editor tools")
        })
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn tree_sitter_dir() -> PathBuf {
    root().join("editors/tree-sitter-flow")
}

/// `tree-sitter generate` once per test binary (tests run in parallel).
fn generated() -> &'static Path {
    static GENERATED: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    GENERATED.get_or_init(|| {
        let dir = tree_sitter_dir();
        let out = run(&dir, "tree-sitter", &["generate"]);
        assert!(
            out.status.success(),
            "tree-sitter generate failed:\n{}",
            text(&out)
        );
        dir
    })
}

#[test]
fn tree_sitter_corpus_passes() {
    let dir = generated();
    let out = run(dir, "tree-sitter", &["test"]);
    let report = text(&out);
    assert!(out.status.success(), "tree-sitter test failed:\n{report}");
    assert!(
        report.contains("✓") || report.contains("passed"),
        "no corpus test ran:\n{report}"
    );
    // The highlight tests (test/highlight/: `// ^ capture` assertions under the lines they
    // check) ran too; they hold highlights.scm and locals.scm to what each name is.
    assert!(
        report.contains("syntax highlighting") && report.contains("assertions"),
        "no highlight test ran:\n{report}"
    );
}

#[test]
fn tree_sitter_queries_compile_and_inject_handlebars_into_templates() {
    let dir = generated();
    let sample = root().join("editors/vscode/test/snapshots/template_with_a_handlebars_body.flow");
    let sample = sample.display().to_string();
    for query in ["highlights", "locals", "folds", "injections"] {
        let path = format!("queries/{query}.scm");
        let out = run(dir, "tree-sitter", &["query", &path, &sample]);
        assert!(out.status.success(), "{path} does not compile:\n{}", text(&out));
    }
    let out = run(dir, "tree-sitter", &["query", "queries/injections.scm", &sample]);
    let report = text(&out);
    // The subject line and the raw text body of `template welcome`.
    assert!(report.contains("`\"Welcome {{ name }}\"`"), "{report}");
    assert_eq!(report.matches("injection.content, start").count(), 2, "{report}");
}

/// Every `.flow` file under `dir`.
fn flow_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = walkdir(dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|x| x == "flow"))
        .collect();
    files.sort();
    files
}

fn walkdir(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() && !path.ends_with("node_modules") {
            out.extend(walkdir(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// The ```flow blocks of the docs, except the wrong examples of syntax errors (E01xx), which
/// are meant not to parse.
fn doc_blocks() -> Vec<(String, String)> {
    let mut blocks = Vec::new();
    for page in walkdir(&root().join("docs"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
    {
        let text = std::fs::read_to_string(&page).unwrap_or_default();
        let name = page.strip_prefix(root()).unwrap_or(&page).display().to_string();
        let syntax_page = page
            .file_name()
            .is_some_and(|f| f.to_string_lossy().starts_with("E01"));
        let mut rest = text.as_str();
        let mut n = 0;
        while let Some(start) = rest.find("```flow") {
            let after = &rest[start + 3..];
            let fence = after.lines().next().unwrap_or_default();
            let body_start = start + 3 + fence.len() + 1;
            let Some(len) = rest.get(body_start..).and_then(|b| b.find("\n```")) else {
                break;
            };
            let body = &rest[body_start..body_start + len + 1];
            n += 1;
            if !(syntax_page && fence.contains("wrong")) {
                blocks.push((format!("{name} block {n}"), whole_file(body)));
            }
            rest = &rest[body_start + len + 4..];
        }
    }
    blocks
}

/// A docs block as a file: fragments (a few statements, a few test lines) are put in a flow or a
/// test, as the text around them says they stand.
fn whole_file(block: &str) -> String {
    let first = block
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("//"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_default();
    match first {
        "step" | "let" | "if" | "match" | "wait" | "emit" | "fail" | "yield" | "on" | "output" => {
            format!("flow fragment for e {{\n{block}}}\n")
        }
        "stub" | "expect" | "send" | "start" => format!("test \"fragment\" for f {{\n{block}}}\n"),
        _ => block.to_string(),
    }
}

#[test]
fn every_flow_of_the_repository_parses_with_no_error_node() {
    let dir = generated();
    let scratch = tempfile::tempdir().expect("a temporary folder");
    let mut files: Vec<(String, PathBuf)> = Vec::new();
    for folder in ["flows", "stdlib", "editors"] {
        for file in flow_files(&root().join(folder)) {
            let name = file.strip_prefix(root()).unwrap_or(&file).display().to_string();
            files.push((name, file));
        }
    }
    let blocks = doc_blocks();
    assert!(
        blocks.len() > 100,
        "the docs' flow blocks were found: {}",
        blocks.len()
    );
    for (i, (name, body)) in blocks.into_iter().enumerate() {
        let path = scratch.path().join(format!("doc{i}.flow"));
        std::fs::write(&path, body).expect("write a docs block");
        files.push((name, path));
    }
    assert!(files.len() > 130, "{} files", files.len());
    let mut failures = Vec::new();
    // One process per batch: `tree-sitter parse` takes many paths.
    for batch in files.chunks(64) {
        let mut args = vec!["parse".to_string(), "--quiet".to_string()];
        args.extend(batch.iter().map(|(_, p)| p.display().to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run(dir, "tree-sitter", &args);
        let report = text(&out);
        for (name, path) in batch {
            if report.lines().any(|l| {
                l.contains(&path.display().to_string()) && (l.contains("ERROR") || l.contains("MISSING"))
            }) {
                failures.push(name.clone());
            }
        }
        if !out.status.success() && failures.is_empty() {
            failures.push(format!("tree-sitter parse failed:\n{report}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} files do not parse:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn vscode_dir() -> PathBuf {
    let dir = root().join("editors/vscode");
    assert!(
        dir.join("node_modules/.bin/vsce").exists(),
        "the extension's npm packages are not installed: run `bash .ci/test` (it runs `npm ci` in editors/vscode)"
    );
    dir
}

/// The cases of the tree-sitter corpus (`test/corpus/*.txt`) as (file name, input): a case's
/// title made a file name, its input with surrounding blank lines taken off.
fn corpus_cases() -> Vec<(String, String)> {
    let mut cases = Vec::new();
    let corpus = tree_sitter_dir().join("test/corpus");
    let mut files: Vec<PathBuf> = walkdir(&corpus);
    files.sort();
    let rule = |line: &str, c: char| line.len() >= 3 && line.chars().all(|x| x == c);
    for file in files {
        let text = std::fs::read_to_string(&file).expect("a corpus file");
        let lines: Vec<&str> = text.lines().collect();
        let mut i = 0;
        while i + 2 < lines.len() {
            if !(rule(lines[i], '=') && rule(lines[i + 2], '=')) {
                i += 1;
                continue;
            }
            let title = lines[i + 1];
            let body: Vec<&str> = lines[i + 3..]
                .iter()
                .take_while(|&&l| !rule(l, '-'))
                .copied()
                .collect();
            let name: String = title
                .to_lowercase()
                .split(|c: char| !c.is_ascii_alphanumeric())
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
                .join("_");
            let input = format!("{}\n", body.join("\n").trim_matches('\n'));
            cases.push((format!("{name}.flow"), input));
            i += 3 + body.len();
        }
    }
    cases
}

/// The TextMate snapshots tokenise the tree-sitter corpus: one `.flow` file per corpus case, the
/// same text, and nothing else. A new corpus case needs its file (and snapshot) here.
#[test]
fn textmate_snapshots_are_the_tree_sitter_corpus() {
    let cases = corpus_cases();
    assert!(cases.len() >= 7, "the corpus was read: {cases:?}");
    let snapshots = root().join("editors/vscode/test/snapshots");
    let mut names: Vec<String> = flow_files(&snapshots)
        .iter()
        .filter_map(|p| Some(p.file_name()?.to_string_lossy().into_owned()))
        .collect();
    names.sort();
    let mut wanted: Vec<String> = cases.iter().map(|(name, _)| name.clone()).collect();
    wanted.sort();
    assert_eq!(names, wanted, "one snapshot input per corpus case");
    for (name, input) in &cases {
        let snapshot = std::fs::read_to_string(snapshots.join(name)).unwrap_or_default();
        assert_eq!(
            &snapshot, input,
            "editors/vscode/test/snapshots/{name} is not its corpus case's input"
        );
    }
}

#[test]
fn textmate_tokenisation_matches_the_snapshots() {
    let dir = vscode_dir();
    let samples = flow_files(&dir.join("test/snapshots"));
    assert!(samples.len() >= 3, "the snapshot corpus is there");
    for sample in &samples {
        let snap = PathBuf::from(format!("{}.snap", sample.display()));
        assert!(
            snap.exists(),
            "{} has no snapshot: run `npm run test:grammar -- --updateSnapshot` and review it",
            sample.display()
        );
    }
    let out = run(
        &dir,
        "node_modules/.bin/vscode-tmgrammar-snap",
        &[
            "--scope",
            "source.flow",
            "--grammar",
            "syntaxes/flow.tmLanguage.json",
            "test/snapshots/*.flow",
        ],
    );
    assert!(
        out.status.success(),
        "the TextMate tokenisation changed:\n{}",
        text(&out)
    );
}

#[test]
fn the_vscode_extension_packs_with_the_language_client() {
    let dir = vscode_dir();
    let out_dir = tempfile::tempdir().expect("a temporary folder");
    let vsix = out_dir.path().join("flowc-flow.vsix");
    let vsix_arg = vsix.display().to_string();
    let out = run(
        &dir,
        "node_modules/.bin/vsce",
        &[
            "package",
            "--allow-missing-repository",
            "--skip-license",
            "--out",
            &vsix_arg,
        ],
    );
    assert!(out.status.success(), "vsce package failed:\n{}", text(&out));
    // A VSIX is a zip: its listing names every file packed.
    let listing = run(
        out_dir.path(),
        "python3",
        &[
            "-c",
            "import sys, zipfile; print('\\n'.join(zipfile.ZipFile(sys.argv[1]).namelist()))",
            &vsix_arg,
        ],
    );
    let names = text(&listing);
    for wanted in [
        "extension/extension.js",
        "extension/syntaxes/flow.tmLanguage.json",
        "extension/node_modules/vscode-languageclient/node.js",
        "extension/package.json",
    ] {
        assert!(
            names.lines().any(|l| l == wanted),
            "{wanted} is not packed:\n{names}"
        );
    }
    assert!(
        !names.contains("test/snapshots"),
        "test files are left out:\n{names}"
    );
    let package: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("package.json")).expect("package.json"))
            .expect("json");
    assert!(package["dependencies"]["vscode-languageclient"].is_string());
    let extension = std::fs::read_to_string(dir.join("extension.js")).expect("extension.js");
    assert!(
        extension.contains("args: [\"lsp\"]"),
        "the extension starts `flowc lsp`"
    );
}

#[test]
fn vim_make_runs_flowc_check_into_the_quickfix_list() {
    let project = tempfile::tempdir().expect("a temporary folder");
    let dir = project.path();
    std::fs::write(dir.join("flowc.toml"), "[project]\nname = \"vim\"\n").expect("flowc.toml");
    std::fs::create_dir(dir.join("flows")).expect("flows/");
    let broken = "entity studio {\n}\n\nflow greet for studio {\n  on manual\n  let unused = 1\n  output { name: clinet }\n}\n";
    std::fs::write(dir.join("flows/greet.flow"), broken).expect("greet.flow");
    let out_file = dir.join("qf.json");
    // As a user has it: the ftdetect and ftplugin files on the runtime path select the compiler
    // for a `.flow` buffer; `:make` runs the real `flowc check --format short` (from PATH).
    let flowc = PathBuf::from(env!("CARGO_BIN_EXE_flowc"));
    let bin = flowc.parent().expect("the binary's folder");
    let script = format!(
        "let $PATH = '{bin}:' . $PATH\nset runtimepath^={rtp}\nfiletype plugin on\nedit flows/greet.flow\n\
         call writefile([&filetype, get(b:, 'current_compiler', get(g:, 'current_compiler', ''))], '{dir}/ft.txt')\n\
         silent make!\n\
         call writefile([json_encode(map(getqflist(), {{_, e -> extend(e, {{'file': bufname(e.bufnr)}})}}))], '{out}')\nqa!\n",
        bin = bin.display(),
        rtp = root().join("editors/vim").display(),
        dir = dir.display(),
        out = out_file.display(),
    );
    let script_file = dir.join("test.vim");
    std::fs::write(&script_file, script).expect("script");
    let out = run(
        dir,
        "vim",
        &[
            "-Nu",
            "NONE",
            "-i",
            "NONE",
            "-es",
            "-S",
            &script_file.display().to_string(),
        ],
    );
    let ft = std::fs::read_to_string(dir.join("ft.txt"))
        .unwrap_or_else(|_| panic!("vim did not run the script:\n{}", text(&out)));
    assert_eq!(
        ft, "flow\nflowc\n",
        "the filetype and the compiler the ftplugin selects"
    );
    let qf = std::fs::read_to_string(&out_file)
        .unwrap_or_else(|_| panic!("vim wrote no quickfix list:\n{}", text(&out)));
    let qf: serde_json::Value = serde_json::from_str(qf.trim()).expect("json");
    let entries: Vec<&serde_json::Value> = qf
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["valid"] == 1)
        .collect();
    assert_eq!(entries.len(), 2, "an error and a warning: {qf}");
    let error = entries
        .iter()
        .find(|e| e["type"] == "e")
        .unwrap_or_else(|| panic!("an error entry: {qf}"));
    assert_eq!(error["file"], "flows/greet.flow");
    assert_eq!(
        (error["lnum"].as_i64(), error["col"].as_i64()),
        (Some(7), Some(18))
    );
    let message = error["text"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("[E0201]: ") && message.contains("`clinet`"),
        "{message}"
    );
    let warning = entries
        .iter()
        .find(|e| e["type"] == "w")
        .unwrap_or_else(|| panic!("a warning entry: {qf}"));
    assert_eq!(
        (warning["lnum"].as_i64(), warning["col"].as_i64()),
        (Some(6), Some(7))
    );
    assert!(
        warning["text"]
            .as_str()
            .unwrap_or_default()
            .starts_with("[W0004]: "),
        "{warning}"
    );
}

/// The fenced blocks of `lang` in editors/README.md.
fn readme_blocks(lang: &str) -> Vec<String> {
    let readme = std::fs::read_to_string(root().join("editors/README.md")).expect("editors/README.md");
    let fence = format!("```{lang}\n");
    readme
        .split(&fence)
        .skip(1)
        .filter_map(|rest| rest.split_once("\n```").map(|(body, _)| body.to_string()))
        .collect()
}

/// Helix's setup in editors/README.md is TOML Helix can read: a language server running
/// `flowc lsp`, the language on `.flow` files with the tree-sitter grammar's scope, and the
/// grammar at editors/tree-sitter-flow. Neovim's starts the same command on the same files.
#[test]
fn the_readme_sets_up_helix_and_neovim_with_flowc_lsp() {
    let helix = readme_blocks("toml");
    assert_eq!(helix.len(), 1, "one languages.toml block");
    let config: toml::Table = toml::from_str(&helix[0]).expect("the Helix block is TOML");
    assert_eq!(
        config["language-server"]["flowc"]["command"].as_str(),
        Some("flowc")
    );
    assert_eq!(
        config["language-server"]["flowc"]["args"]
            .as_array()
            .map(Vec::as_slice),
        Some(&[toml::Value::from("lsp")][..])
    );
    let language = &config["language"][0];
    let tree_sitter: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(tree_sitter_dir().join("tree-sitter.json")).expect("tree-sitter.json"),
    )
    .expect("json");
    let grammar = &tree_sitter["grammars"][0];
    assert_eq!(language["name"].as_str(), grammar["name"].as_str());
    assert_eq!(language["scope"].as_str(), grammar["scope"].as_str());
    assert_eq!(language["file-types"][0].as_str(), Some("flow"));
    assert_eq!(language["language-servers"][0].as_str(), Some("flowc"));
    let source = config["grammar"][0]["source"]["path"]
        .as_str()
        .unwrap_or_default();
    assert!(source.ends_with("editors/tree-sitter-flow"), "{source}");
    assert_eq!(config["grammar"][0]["name"].as_str(), grammar["name"].as_str());

    let neovim = readme_blocks("lua").join("\n");
    assert!(
        neovim.contains(r#"cmd = { "flowc", "lsp" }"#) && neovim.contains(r#"filetypes = { "flow" }"#),
        "{neovim}"
    );
    assert!(neovim.contains("extension = { flow = \"flow\" }"), "{neovim}");
    // The command the snippets start is a real subcommand.
    let out = run(&root(), env!("CARGO_BIN_EXE_flowc"), &["lsp", "--help"]);
    assert!(out.status.success(), "{}", text(&out));
}
