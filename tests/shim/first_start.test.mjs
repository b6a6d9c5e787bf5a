// The answer shipped in the package is what the brain of this checkout answers today, and the shim forwards only
// the hooks the running brain lists.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import plugin from "../../plugin_shim/index.js";
import { FIRST_START, FIRST_START_FILE } from "../../plugin_shim/first_start.js";
import { produceFirstStartAnswer, render } from "../../scripts/build_first_start_answer.mjs";
import { chatParamsPayload, cleanup, fakeBrain, fakeClient, receivedCalls, stateDir, waitFor } from "./helpers.mjs";

test("first_start_answer.json equals the brain's answer (regenerate: node scripts/build_first_start_answer.mjs)", { timeout: 30000 }, async () => {
  assert.equal(readFileSync(FIRST_START_FILE, "utf8"), render(await produceFirstStartAnswer()));
});

test("hooks the running brain does not list are not forwarded", { timeout: 30000 }, async () => {
  const dir = stateDir();
  const listed = FIRST_START.initialize.hooks.filter((h) => h !== "chat.params");
  const hooks = await plugin.server({ client: fakeClient().client }, fakeBrain("ok", dir, { initialize: { hooks: listed }, "chat.params": { output: { temperature: 0.3 } } }));
  try {
    assert.ok(await waitFor(() => Object.keys(hooks.tool).length > 0, 5000), "handshake");
    const [input, output] = chatParamsPayload();
    await hooks["chat.params"]?.(input, output);
    assert.equal(output.temperature, undefined);
    assert.equal(receivedCalls(dir).filter((c) => c.method === "chat.params").length, 0);
  } finally {
    await hooks.dispose();
    cleanup(dir);
  }
});
