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
    const secret = { output: { model: "kimchi/auto" }, cacheable: false };
    const hooks = await plugin.server({ client: fakeClient().client }, fakeBrain("ok", dir, { config: secret }));
    await hooks.config(userConfig());
    await hooks.dispose();
    const slowDir = stateDir();
    const slow = await plugin.server({ client: fakeClient().client }, fakeBrain("slow-start", slowDir, { config: secret }));
    const cfg = userConfig();
    await slow.config(cfg);
    assert.equal(cfg.model, undefined);
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
