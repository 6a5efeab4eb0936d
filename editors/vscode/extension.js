// The VS Code client of `storyboard lsp`: it starts the server over stdio for .story files.
// Everything else (diagnostics, completion, hover, rename, formatting, code lenses) is the server's.
"use strict";

const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function serverOptions() {
  const config = vscode.workspace.getConfiguration("storyboard");
  const command = config.get("command") || "storyboard";
  const provider = config.get("provider");
  const args = ["lsp"].concat(provider ? ["--provider", provider] : []);
  return { command, args, transport: TransportKind.stdio };
}

async function start() {
  client = new LanguageClient("storyboard", "Storyboard", serverOptions(), {
    documentSelector: [{ scheme: "file", language: "story" }],
  });
  await client.start();
}

async function activate(context) {
  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (event.affectsConfiguration("storyboard") && client) {
        await client.stop();
        await start();
      }
    }),
  );
  try {
    await start();
  } catch (err) {
    vscode.window.showErrorMessage(
      `Storyboard: could not start \`${serverOptions().command} lsp\` (${err.message}). ` +
        "Set storyboard.command to the storyboard executable, e.g. /path/to/project/.venv/bin/storyboard.",
    );
  }
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
