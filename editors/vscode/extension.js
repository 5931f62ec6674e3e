// The VS Code side of flowc: starts `flowc lsp` (diagnostics as you type, hover, go to
// definition, references, completion, rename, outline, formatting, quick fixes) through
// vscode-languageclient. With "flowc.lsp.enable" off, it only formats with `flowc fmt -`.
// Highlighting needs no code: the TextMate grammar is declared in package.json.
"use strict";

const { spawn } = require("child_process");
const path = require("path");

/**
 * Runs `flowc fmt -` on `text`. Resolves to the formatted text, or to `null` when flowc could
 * not format it (syntax errors, or flowc not found), with the reason in `onProblem`.
 */
function formatText(command, text, cwd, onProblem) {
  return new Promise((resolve) => {
    let child;
    try {
      child = spawn(command, ["fmt", "-"], { cwd, env: { ...process.env, NO_COLOR: "1" } });
    } catch (error) {
      onProblem(`flowc could not be started (${error.message}): set "flowc.path"`);
      resolve(null);
      return;
    }
    let out = "";
    let err = "";
    // A missing program reports "error" and then "close": answer once.
    let done = false;
    const finish = (result, problem) => {
      if (done) return;
      done = true;
      if (problem) onProblem(problem);
      resolve(result);
    };
    child.stdout.on("data", (chunk) => (out += chunk));
    child.stderr.on("data", (chunk) => (err += chunk));
    child.stdin.on("error", () => {}); // the "error" or "close" handler reports it
    child.on("error", (error) => {
      finish(null, `flowc could not be started (${error.message}): set "flowc.path"`);
    });
    child.on("close", (code) => {
      if (code === 0) {
        finish(out);
      } else {
        finish(null, `flowc fmt: fix the errors in this file first\n${err}`);
      }
    });
    child.stdin.end(text);
  });
}

function activate(context) {
  const vscode = require("vscode");
  const output = vscode.window.createOutputChannel("flowc");
  context.subscriptions.push(output);
  const settings = vscode.workspace.getConfiguration("flowc");
  const command = settings.get("path") || "flowc";
  if (settings.get("lsp.enable") !== false) {
    const { LanguageClient } = require("vscode-languageclient/node");
    const server = { command, args: ["lsp"], options: { env: { ...process.env, NO_COLOR: "1" } } };
    client = new LanguageClient(
      "flowc",
      "flowc language server",
      { run: server, debug: server },
      { documentSelector: [{ scheme: "file", language: "flow" }], outputChannel: output },
    );
    client.start().catch((error) => {
      output.appendLine(`flowc lsp could not start (${error.message}): set "flowc.path"`);
    });
    return;
  }
  const provider = {
    async provideDocumentFormattingEdits(document) {
      const text = document.getText();
      const cwd = document.uri.scheme === "file" ? path.dirname(document.uri.fsPath) : undefined;
      const formatted = await formatText(command, text, cwd, (problem) => {
        output.appendLine(problem);
        vscode.window.setStatusBarMessage("flowc fmt: see the flowc output panel", 5000);
      });
      if (formatted === null || formatted === text) {
        return [];
      }
      const whole = new vscode.Range(document.positionAt(0), document.positionAt(text.length));
      return [vscode.TextEdit.replace(whole, formatted)];
    },
  };
  context.subscriptions.push(vscode.languages.registerDocumentFormattingEditProvider("flow", provider));
}

/** The running language client, stopped when VS Code unloads the extension. */
let client;

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate, formatText };
