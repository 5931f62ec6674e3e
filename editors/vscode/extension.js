// Formats `.flow` files with `flowc fmt -`, so VS Code ("Format Document", format on save)
// gives exactly the layout of the command line. Highlighting needs no code: see package.json.
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
  const provider = {
    async provideDocumentFormattingEdits(document) {
      const command = vscode.workspace.getConfiguration("flowc").get("path") || "flowc";
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
  context.subscriptions.push(
    output,
    vscode.languages.registerDocumentFormattingEditProvider("flow", provider),
  );
}

function deactivate() {}

module.exports = { activate, deactivate, formatText };
