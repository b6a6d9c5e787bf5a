// The options the shim reads are validated: a bad value is ignored with one warning naming the option, under Node and
// under Bun alike (this file runs under both).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import plugin from "../../plugin_shim/index.js";
import { MAX_BUDGET_MS, readOptions } from "../../plugin_shim/options.js";
import { chatMessagePayload, cleanup, fakeBrain, fakeClient, stateDir, waitFor } from "./helpers.mjs";

describe("readOptions", () => {
  test("good values are kept; every other option goes to the brain untouched", () => {
    const raw = { command: ["/usr/bin/python3", "-m", "kimchi_plugin"], timeouts: { "chat.message": 2000, config: 5000.5 }, verbose: true };
    const { options, warnings } = readOptions(raw);
    assert.deepEqual(warnings, []);
    assert.deepEqual(options.command, raw.command);
    assert.deepEqual(options.timeouts, { "chat.message": 2000, config: 5000.5 });
    assert.equal(options.brainOptions, raw);
  });

  test("bad budgets are ignored one by one, each named once", () => {
    const bad = { a: "2000", b: 0, c: -5, d: Infinity, e: NaN, f: MAX_BUDGET_MS + 1, g: null, h: [100], i: true };
    const { options, warnings } = readOptions({ timeouts: { ...bad, ok: 250 } });
    assert.deepEqual(options.timeouts, { ok: 250 });
    assert.equal(warnings.length, Object.keys(bad).length);
    for (const name of Object.keys(bad)) assert.equal(warnings.filter((w) => w.includes(`"timeouts.${name}"`)).length, 1, name);
    assert.match(warnings[0], /the string "2000"/);
  });

  test("a bad command or timeouts object is ignored with a warning", () => {
    for (const command of ["python", [], [""], [1, 2], {}]) {
      const { options, warnings } = readOptions({ command });
      assert.equal(options.command, null);
      assert.equal(warnings.length, 1);
      assert.match(warnings[0], /option "command"/);
    }
    for (const timeouts of ["abc", null, [1], 5]) {
      const { options, warnings } = readOptions({ timeouts });
      assert.deepEqual(options.timeouts, {});
      assert.match(warnings[0], /option "timeouts"/);
    }
  });

  test("options that are not an object", () => {
    for (const raw of [undefined, null]) assert.deepEqual(readOptions(raw).warnings, []);
    for (const raw of ["x", 42, [1]]) {
      const { options, warnings } = readOptions(raw);
      assert.equal(warnings.length, 1);
      assert.deepEqual(options.brainOptions, {});
    }
  });
});

test("a budget given as a string: chat.message keeps its default budget (routed, not dropped in 2 ms), one warning", { timeout: 30000 }, async () => {
  const dir = stateDir();
  const fake = fakeClient();
  const routed = { "chat.message": { output: { message: { model: { modelID: "kimi-k2.5" } } } } };
  const hooks = await plugin.server({ client: fake.client }, fakeBrain("ok", dir, routed, { timeouts: { "chat.message": "2000" } }));
  try {
    const [input, output] = chatMessagePayload();
    await hooks["chat.message"](input, output);
    assert.equal(output.message.model.modelID, "kimi-k2.5");
    assert.ok(await waitFor(() => fake.named("app.log").length > 0, 1000));
    const warnings = fake.named("app.log").filter((c) => /timeouts\.chat\.message/.test(c.args.body.message));
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0].args.body.level, "warn");
  } finally {
    await hooks.dispose();
    cleanup(dir);
  }
});
