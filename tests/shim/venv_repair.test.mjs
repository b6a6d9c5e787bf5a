// A cached Python environment that is broken: the plugin passes through, says so once, and forgets the environment
// so that the next start rebuilds it (instead of failing the same way forever).
import assert from "node:assert/strict";
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { pathToFileURL } from "node:url";
import { REPO, cleanup, fakeClient, sleep, stateDir } from "./helpers.mjs";

test("a broken cached venv: pass-through, one toast, and the venv is marked for rebuild", { timeout: 30000 }, async () => {
  const root = stateDir();
  const before = process.env.KIMCHI_CACHE_DIR;
  try {
    // A package without the repository's .venv, so the plugin looks in its cache.
    const pkg = join(root, "pkg");
    cpSync(join(REPO, "plugin_shim"), join(pkg, "plugin_shim"), { recursive: true });
    cpSync(join(REPO, "package.json"), join(pkg, "package.json"));
    const version = JSON.parse(readFileSync(join(pkg, "package.json"), "utf8")).version;
    const cache = join(root, "cache");
    const venv = join(cache, `venv-${version}-py3.11`);
    mkdirSync(join(venv, "bin"), { recursive: true });
    const python = join(venv, "bin", "python");
    writeFileSync(python, "#!/bin/sh\necho 'ModuleNotFoundError: No module named kimchi_plugin' >&2\nexit 1\n");
    chmodSync(python, 0o755);
    writeFileSync(join(venv, ".kimchi-ready"), "x");
    process.env.KIMCHI_CACHE_DIR = cache;

    const { default: plugin } = await import(pathToFileURL(join(pkg, "plugin_shim", "index.js")).href);
    const fake = fakeClient();
    const hooks = await plugin.server({ client: fake.client, directory: root }, {});
    const output = { message: { sessionID: "s", agent: "build", model: { providerID: "kimchi", modelID: "kimi-k2.5" } }, parts: [] };
    const before = structuredClone(output);
    const deadline = Date.now() + 20000;
    while (fake.named("tui.showToast").length === 0 && Date.now() < deadline) {
      await hooks["chat.message"]({ sessionID: "s" }, output); // before any handshake only the shim's own hooks exist
      await sleep(200);
    }
    const toasts = fake.named("tui.showToast");
    assert.equal(toasts.length, 1);
    assert.match(toasts[0].args.body.message, /rebuilt at the next start/);
    assert.deepEqual(output, before);
    assert.equal(existsSync(join(venv, ".kimchi-ready")), false);
    await hooks.dispose();
  } finally {
    if (before === undefined) delete process.env.KIMCHI_CACHE_DIR;
    else process.env.KIMCHI_CACHE_DIR = before;
    cleanup(root);
  }
});
