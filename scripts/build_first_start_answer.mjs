#!/usr/bin/env node
// @ts-check
// Writes plugin_shim/first_start_answer.json: what the real brain of this checkout answers, asked over JSON-RPC the
// way the plugin asks it. Run after changing the brain's handshake; `--check` exits 1 when the shipped file differs
// (the shim tests check the same). Usage: node scripts/build_first_start_answer.mjs [--check]
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BrainProcess, PROTOCOL_VERSION } from "../plugin_shim/brain_process.js";
import { FIRST_START_FILE } from "../plugin_shim/first_start.js";
import { PACKAGE_ROOT, PACKAGE_VERSION } from "../plugin_shim/package_info.js";

const PYTHON = join(PACKAGE_ROOT, ".venv", "bin", "python");

/** Ask the brain of this checkout. @returns {Promise<{initialize: {hooks: string[]}}>} */
export async function produceFirstStartAnswer() {
  const brain = new BrainProcess({
    resolveCommand: async () => ({ command: PYTHON, args: ["-m", "kimchi_plugin"] }),
    warn: (message) => process.stderr.write(`${message}\n`),
  });
  try {
    const init = await brain.start({ protocolVersion: PROTOCOL_VERSION, shimVersion: PACKAGE_VERSION, options: {}, directory: "", worktree: "" });
    return { initialize: { hooks: init.hooks } };
  } finally {
    await brain.request("shutdown", {}, 2000).catch(() => {});
    brain.stop();
  }
}

/** The file's text for an answer. @param {unknown} answer */
export function render(answer) {
  return JSON.stringify(answer, null, 2) + "\n";
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const text = render(await produceFirstStartAnswer());
  if (process.argv.includes("--check")) {
    const same = readFileSync(FIRST_START_FILE, "utf8") === text;
    process.stderr.write(same ? "first_start_answer.json is up to date\n" : "first_start_answer.json is stale: run node scripts/build_first_start_answer.mjs\n");
    process.exit(same ? 0 : 1);
  }
  writeFileSync(FIRST_START_FILE, text);
  process.stderr.write(`wrote ${FIRST_START_FILE}\n`);
}
