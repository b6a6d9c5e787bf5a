// Kimchi from the first message, before and without the brain: the answer shipped in the package is what the brain of
// this checkout answers today; it fits the user's config without overriding it; a virtual model is served by the model
// it stands for; and the shim forwards only the hooks the running brain lists.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { pathToFileURL } from "node:url";
import plugin from "../../plugin_shim/index.js";
import { FIRST_START, configHasModel, fillMissing, firstStartPatch, standInModel } from "../../plugin_shim/first_start.js";
import { PYTHON, REPO, chatMessagePayload, chatParamsPayload, cleanup, fakeBrain, fakeClient, receivedCalls, stateDir, timed, waitFor } from "./helpers.mjs";

const LONG = { timeout: 60000 };

test("first_start_answer.json equals the brain's answer (regenerate: scripts/build_first_start_answer.py)", LONG, () => {
  const done = spawnSync(PYTHON, [join(REPO, "scripts", "build_first_start_answer.py"), "--check"], { cwd: REPO, encoding: "utf8" });
  assert.equal(done.status, 0, done.stderr);
});

describe("the shipped answer", () => {
  const models = () => FIRST_START.config.kimchiMain.provider.kimchi.models;

  test("a new user gets the provider, its models, the virtual models and kimchi/auto; every model it names exists", () => {
    const patch = firstStartPatch({}, {}, null);
    assert.equal(patch.model, "kimchi/auto");
    for (const id of ["auto", "reasoning", "coding", "quick"]) assert.ok(patch.provider.kimchi.models[id], id);
    const named = [patch.model, patch.small_model, ...Object.values(patch.agent).map((a) => a.model)].filter(Boolean);
    for (const ref of named) assert.ok(patch.provider.kimchi.models[ref.split("/")[1]], `${ref} is a model of the provider`);
    assert.equal(patch.provider.kimchi.options.apiKey, undefined);
  });

  test("a key found outside the config and llmBaseUrl reach the provider it creates; not one the user wrote", () => {
    const patch = firstStartPatch({}, { llmBaseUrl: "http://127.0.0.1:9/v1" }, "sk-test");
    assert.deepEqual(patch.provider.kimchi.options, { baseURL: "http://127.0.0.1:9/v1", apiKey: "sk-test" });
    const mine = { provider: { kimchi: { options: { baseURL: "http://mine/v1" } } } };
    const patched = structuredClone(mine);
    fillMissing(patched, firstStartPatch(mine, {}, "sk-test"));
    assert.deepEqual(patched.provider.kimchi.options, { baseURL: "http://mine/v1" });
  });

  test("another main provider: only the provider and commands, the user's model and agents untouched", () => {
    const cfg = { model: "anthropic/claude-sonnet-4", agent: { build: { model: "anthropic/claude-sonnet-4" } } };
    fillMissing(cfg, firstStartPatch(cfg, {}, null));
    assert.equal(cfg.model, "anthropic/claude-sonnet-4");
    assert.deepEqual(Object.keys(cfg.agent), ["build"]);
    assert.equal(cfg.default_agent, undefined);
    assert.ok(cfg.provider.kimchi.models["kimi-k2.5"]);
  });

  test("never replaces what the user set; another provider id is not served", () => {
    const cfg = { model: "kimchi/kimi-k2.5", small_model: "kimchi/minimax-m2.7", agent: { explore: { model: "kimchi/kimi-k2.5" } } };
    fillMissing(cfg, firstStartPatch(cfg, {}, null));
    assert.equal(cfg.model, "kimchi/kimi-k2.5");
    assert.equal(cfg.small_model, "kimchi/minimax-m2.7");
    assert.equal(cfg.agent.explore.model, "kimchi/kimi-k2.5");
    assert.equal(firstStartPatch({}, { provider: "other" }, null), null);
  });

  test("a virtual model stands for a concrete one; unknown models are reported missing", () => {
    const cfg = { provider: { kimchi: { models: structuredClone(models()) } } };
    assert.equal(standInModel(cfg, { providerID: "kimchi", modelID: "auto" }), "kimi-k2.5");
    assert.equal(standInModel(cfg, { providerID: "kimchi", modelID: "kimi-k2.5" }), null);
    assert.equal(standInModel(null, { providerID: "kimchi", modelID: "auto" }), null);
    assert.equal(configHasModel(cfg, { providerID: "kimchi", modelID: "glm-5" }), false);
    assert.equal(configHasModel(cfg, { providerID: "kimchi", modelID: "minimax-m2.7" }), true);
    assert.equal(configHasModel(cfg, { providerID: "anthropic", modelID: "x" }), true, "a provider OpenCode knows itself");
  });
});

/** A copy of the package without `.venv` and an empty cache: the plugin as a user gets it. */
function installedCopy() {
  const root = mkdtempSync(join(tmpdir(), "kimchi-installed-"));
  cpSync(join(REPO, "plugin_shim"), join(root, "pkg", "plugin_shim"), { recursive: true });
  cpSync(join(REPO, "package.json"), join(root, "pkg", "package.json"));
  return root;
}

/** Run `fn` with environment variables set, restoring them after. */
async function withEnv(vars, fn) {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(vars)) if (v === undefined) delete process.env[k];
  else process.env[k] = v;
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
}

describe("without Python", () => {
  test("config gets Kimchi at once, kimchi/auto is served by its stand-in, the user is told why and how to set a key", LONG, async () => {
    const root = installedCopy();
    await withEnv({ KIMCHI_PYTHON: "/bin/false", KIMCHI_CACHE_DIR: join(root, "cache"), KIMCHI_API_KEY: undefined }, async () => {
      const { default: copy } = await import(pathToFileURL(join(root, "pkg", "plugin_shim", "index.js")).href);
      const fake = fakeClient();
      const hooks = await copy.server({ client: fake.client }, {});
      try {
        const cfg = {};
        const [ms] = await timed(() => hooks.config(cfg));
        assert.ok(ms < 1000, `config took ${ms} ms`);
        assert.equal(cfg.model, "kimchi/auto");
        assert.ok(cfg.provider.kimchi.models["kimi-k2.5"]);
        const [input, output] = chatMessagePayload();
        await hooks["chat.message"](input, output);
        assert.deepEqual(output.message.model, { providerID: "kimchi", modelID: "kimi-k2.5" });
        assert.ok(await waitFor(() => fake.named("tui.showToast").length >= 3, 5000));
        const toasts = fake.named("tui.showToast").map((c) => c.args.body.message);
        assert.ok(toasts.some((m) => /Python >= 3\.10/.test(m)), toasts.join("\n"));
        assert.ok(toasts.some((m) => /routing is not active yet/.test(m)));
        const key = toasts.filter((m) => /no Kimchi API key/.test(m));
        assert.equal(key.length, 1);
        for (const way of ["KIMCHI_API_KEY", "CASTAI_API_KEY", '"apiKey"', "provider.kimchi.options.apiKey", "config.json", "opencode auth login"]) assert.ok(key[0].includes(way), way);
      } finally {
        await hooks.dispose();
        cleanup(root);
      }
    });
  });
});

describe("with a brain", () => {
  test("a routed model OpenCode does not have is never sent; the stand-in is", LONG, async () => {
    const dir = stateDir();
    const patches = { "chat.message": { output: { message: { model: { modelID: "not-in-the-config" } } } } };
    const hooks = await plugin.server({ client: fakeClient().client }, fakeBrain("ok", dir, patches));
    try {
      const cfg = { model: "kimchi/auto", provider: { kimchi: { models: structuredClone(FIRST_START.config.kimchiMain.provider.kimchi.models) } } };
      await hooks.config(cfg);
      const [input, output] = chatMessagePayload();
      await hooks["chat.message"](input, output);
      assert.deepEqual(output.message.model, { providerID: "kimchi", modelID: "kimi-k2.5" });
    } finally {
      await hooks.dispose();
      cleanup(dir);
    }
  });

  test("hooks the running brain does not list are not forwarded", LONG, async () => {
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
});
