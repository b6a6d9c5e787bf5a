// The config answer cache: an unchanged config is patched at start-up without waiting for the brain, and every
// (re)started brain still receives the config.
import assert from "node:assert/strict";
import { test } from "node:test";
import plugin from "../../plugin_shim/index.js";
import { cleanup, fakeBrain, fakeClient, receivedCalls, stateDir, timed, waitFor } from "./helpers.mjs";

const PATCH = { output: { model: "kimchi/auto", provider: { kimchi: { models: { auto: { name: "Kimchi Auto" } } } } }, cacheable: true };

function userConfig() {
  return { provider: { kimchi: { options: { baseURL: "http://127.0.0.1:9/v1" }, models: { "kimi-k2.5": {} } } } };
}

async function withCache(fn) {
  const cache = stateDir();
  const before = process.env.KIMCHI_CACHE_DIR;
  process.env.KIMCHI_CACHE_DIR = cache;
  try {
    await fn(cache);
  } finally {
    if (before === undefined) delete process.env.KIMCHI_CACHE_DIR;
    else process.env.KIMCHI_CACHE_DIR = before;
    cleanup(cache);
  }
}

test("an unchanged config is patched from the cache while a slow brain starts, and the brain still gets it", async () => {
  await withCache(async () => {
    const first = stateDir();
    const hooks = await plugin.server({ client: fakeClient().client }, fakeBrain("ok", first, { config: PATCH }));
    const cfg = userConfig();
    await hooks.config(cfg);
    assert.equal(cfg.model, "kimchi/auto");
    await hooks.dispose();

    const second = stateDir();
    const slow = await plugin.server({ client: fakeClient().client }, fakeBrain("slow-start", second, { config: PATCH }));
    const again = userConfig();
    const [ms] = await timed(() => slow.config(again));
    assert.ok(ms < 500, `config waited ${ms} ms for a brain that takes 3 s to start`);
    assert.deepEqual(again.provider.kimchi.models.auto, { name: "Kimchi Auto" });
    assert.ok(await waitFor(() => receivedCalls(second).some((c) => c.method === "config"), 8000));
    await slow.dispose();
    cleanup(first);
    cleanup(second);
  });
});

test("an answer the brain marks as not cacheable (it holds a key) is never replayed", async () => {
  await withCache(async () => {
    const dir = stateDir();
    const secret = { output: { model: "kimchi/from-the-brain" }, cacheable: false };
    const hooks = await plugin.server({ client: fakeClient().client }, fakeBrain("ok", dir, { config: secret }));
    await hooks.config(userConfig());
    await hooks.dispose();
    const slowDir = stateDir();
    const slow = await plugin.server({ client: fakeClient().client }, fakeBrain("slow-start", slowDir, { config: secret }));
    const cfg = userConfig();
    await slow.config(cfg);
    assert.notEqual(cfg.model, "kimchi/from-the-brain");
    await slow.dispose();
    cleanup(dir);
    cleanup(slowDir);
  });
});

test("a brain restarted after a crash is sent the config again", async () => {
  await withCache(async () => {
    const dir = stateDir();
    const hooks = await plugin.server({ client: fakeClient().client }, fakeBrain("die-on-hook", dir, { config: PATCH }));
    await hooks.config(userConfig());
    await hooks["chat.message"]({ sessionID: "s" }, { message: {}, parts: [] }); // kills this brain
    // The next hook restarts it; its handshake is followed by the config.
    await waitFor(async () => {
      await hooks["chat.params"]({ sessionID: "s" }, {});
      return receivedCalls(dir).filter((c) => c.method === "config").length >= 2;
    }, 8000);
    assert.ok(receivedCalls(dir).filter((c) => c.method === "config").length >= 2);
    await hooks.dispose();
    cleanup(dir);
  });
});

/** Two starts with the same config: the first asks a quick brain (answer `first`), the second a brain too slow for the
 * config budget, so only a replayed answer or the shipped one can patch; returns the second config. */
async function secondStart(first, env = {}) {
  const dir = stateDir();
  const hooks = await plugin.server({ client: fakeClient().client }, fakeBrain("ok", dir, { config: first }));
  await hooks.config(userConfig());
  await hooks.dispose();
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  const slowDir = stateDir();
  try {
    const slow = await plugin.server({ client: fakeClient().client }, fakeBrain("slow-start", slowDir, { config: first }, { timeouts: { config: 300 } }));
    const cfg = userConfig();
    await slow.config(cfg);
    await slow.dispose();
    return cfg;
  } finally {
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k];
    else process.env[k] = v;
    cleanup(dir);
    cleanup(slowDir);
  }
}

test("an answer cached at a start without a key is not replayed once a key exists", async () => {
  await withCache(async () => {
    const marked = { output: { small_model: "kimchi/cached-marker", provider: { kimchi: { models: { auto: { name: "Kimchi Auto" } } } } }, cacheable: true };
    assert.equal((await secondStart(marked)).small_model, "kimchi/cached-marker", "replayed while nothing changed");
    const withKey = await secondStart(marked, { KIMCHI_API_KEY: "sk-now-there-is-one" });
    assert.notEqual(withKey.small_model, "kimchi/cached-marker");
    assert.ok(withKey.provider.kimchi.models.auto, "the shipped answer filled in meanwhile");
  });
});

test("an answer that adds no models (catalogue unreachable) is not cached", async () => {
  await withCache(async () => {
    const modelless = { output: { small_model: "kimchi/cached-marker" }, cacheable: true };
    const cfg = await secondStart(modelless);
    assert.notEqual(cfg.small_model, "kimchi/cached-marker");
    assert.ok(cfg.provider.kimchi.models.auto, "the shipped answer filled in");
  });
});
