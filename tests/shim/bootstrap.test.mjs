// The Python environment's bootstrap cannot wedge: the build outlives a short-lived host, a killed build is noticed by
// its lock's owner check and redone at once, a venv whose base interpreter is gone is rebuilt, leftovers are pruned, an
// unwritable cache directory is reported and another used. A stand-in interpreter (fake_python.sh) makes builds take a
// moment; the real build from PyPI is covered by tests/newuser.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { pathToFileURL } from "node:url";
import { PYTHON, REPO, alive, cleanup, waitFor } from "./helpers.mjs";

const LONG = { timeout: 60000 };
const FAKE_PYTHON = join(REPO, "tests", "shim", "fake_python.sh");
const VERSION = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")).version;

/** A copy of the package without `.venv` (so the cache is used), its python_env module, and a fresh cache dir. */
async function installed() {
  const root = mkdtempSync(join(tmpdir(), "kimchi-boot-"));
  cpSync(join(REPO, "plugin_shim"), join(root, "pkg", "plugin_shim"), { recursive: true });
  cpSync(join(REPO, "package.json"), join(root, "pkg", "package.json"));
  const env = await import(pathToFileURL(join(root, "pkg", "plugin_shim", "python_env.js")).href);
  return { root, cache: join(root, "cache"), venv: join(root, "cache", `venv-${VERSION}-py3.11`), env };
}

async function withEnv(vars, fn) {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
}

const fakeEnv = (cache, build) => ({ KIMCHI_PYTHON: FAKE_PYTHON, KIMCHI_CACHE_DIR: cache, FAKE_BUILD: build, FAKE_VENV_TARGET: PYTHON });

describe("bootstrap", () => {
  test("a build outlives the host that started it; killed, it is redone at once by the next start", LONG, async () => {
    const { root, cache, venv } = await installed();
    try {
      // A short-lived host (like `opencode models`): starts the setup, exits a moment later.
      const script = `import(${JSON.stringify(pathToFileURL(join(root, "pkg", "plugin_shim", "python_env.js")).href)}).then((m) => m.resolveBrainCommand(null, () => {})); setTimeout(() => process.exit(0), 1000);`;
      const host = spawn(process.execPath, ["--input-type=module", "-e", script], { env: { ...process.env, ...fakeEnv(cache, "hang") }, stdio: "ignore" });
      await new Promise((resolve) => host.on("exit", resolve));
      const ownerFile = join(`${venv}.lock`, "owner.json");
      assert.ok(existsSync(ownerFile), "the lock names its owner");
      const owner = JSON.parse(readFileSync(ownerFile, "utf8"));
      assert.ok(alive(owner.pid), "the builder runs on after its host exited");
      process.kill(owner.pid, "SIGKILL"); // the build dies halfway
      assert.ok(await waitFor(() => !alive(owner.pid), 5000));

      await withEnv(fakeEnv(cache, "ok"), async () => {
        const { env } = { env: await import(pathToFileURL(join(root, "pkg", "plugin_shim", "python_env.js")).href) };
        const stages = [];
        const started = Date.now();
        const cmd = await env.resolveBrainCommand(null, (p) => stages.push(p.stage));
        assert.ok(Date.now() - started < 10000, "not kept waiting on a dead lock");
        assert.equal(cmd.command, join(venv, "bin", "python"));
        assert.deepEqual(stages, ["building", "built"]);
        // The builder writes its ready marker, then releases its lock: the start may see the first before the second.
        assert.ok(await waitFor(() => !existsSync(`${venv}.lock`), 5000), "lock released");
        assert.ok(existsSync(join(venv, ".kimchi-ready")));
      });
    } finally {
      cleanup(root);
    }
  });

  test("a live builder's lock is waited on, not broken; an ownerless old lock is stale", LONG, async () => {
    const { root, cache, venv, env } = await installed();
    try {
      mkdirSync(`${venv}.lock`, { recursive: true });
      writeFileSync(join(`${venv}.lock`, "owner.json"), JSON.stringify({ pid: process.pid, start: null, since: Date.now() }));
      assert.equal(env.lockOwnerAlive(`${venv}.lock`), true);
      writeFileSync(join(`${venv}.lock`, "owner.json"), JSON.stringify({ pid: 2 ** 22 + 12345, start: null, since: Date.now() }));
      assert.equal(env.lockOwnerAlive(`${venv}.lock`), false, "a dead pid");
      // A live pid whose start time is not the owner's: the pid was reused.
      writeFileSync(join(`${venv}.lock`, "owner.json"), JSON.stringify({ pid: process.pid, start: "not-the-owner's", since: Date.now() }));
      assert.equal(env.lockOwnerAlive(`${venv}.lock`), !existsSync("/proc"), "a reused pid (start time differs)");
      const ownerless = join(cache, "other.lock");
      mkdirSync(ownerless);
      assert.equal(env.lockOwnerAlive(ownerless), true, "just created, owner not named yet");
      const old = new Date(Date.now() - 60000);
      utimesSync(ownerless, old, old);
      assert.equal(env.lockOwnerAlive(ownerless), false);
    } finally {
      cleanup(root);
    }
  });

  test("a venv whose base interpreter is gone is rebuilt at once; leftovers and unused old venvs are pruned", LONG, async () => {
    const { root, cache, venv, env } = await installed();
    try {
      mkdirSync(join(venv, "bin"), { recursive: true });
      symlinkSync("/nonexistent/python3.11", join(venv, "bin", "python"));
      writeFileSync(join(venv, ".kimchi-ready"), "x");
      const tmpLeft = join(cache, `venv-${VERSION}-py3.11.tmp-4242`);
      const oldUnused = join(cache, "venv-0.0.1-py3.11");
      const oldRecent = join(cache, "venv-0.0.2-py3.11");
      for (const dir of [tmpLeft, oldUnused, oldRecent]) mkdirSync(dir, { recursive: true });
      for (const dir of [oldUnused, oldRecent]) writeFileSync(join(dir, ".kimchi-ready"), "x");
      const longAgo = new Date(Date.now() - 3 * 24 * 3600 * 1000);
      utimesSync(oldUnused, longAgo, longAgo);
      await withEnv(fakeEnv(cache, "ok"), async () => {
        delete process.env.KIMCHI_PYTHON; // the warm path (no chosen interpreter) is the one that checks health first
        assert.equal(env.environmentReady(null), false, "a dangling venv is not ready");
        assert.ok(!existsSync(venv), "and is removed at once");
        process.env.KIMCHI_PYTHON = FAKE_PYTHON;
        const cmd = await env.resolveBrainCommand(null, () => {});
        assert.equal(cmd.command, join(venv, "bin", "python"));
      });
      assert.ok(!existsSync(tmpLeft), "tmp leftover removed");
      assert.ok(!existsSync(oldUnused), "old unused venv removed");
      assert.ok(existsSync(oldRecent), "another version used recently is kept (another OpenCode may run it)");
    } finally {
      cleanup(root);
    }
  });

  test("a failed build is reported with its reason, and the next start tries again", LONG, async () => {
    const { root, cache, env } = await installed();
    try {
      await withEnv(fakeEnv(cache, "fail"), async () => {
        await assert.rejects(env.resolveBrainCommand(null, () => {}), /fake build failed on purpose/);
        process.env.FAKE_BUILD = "ok";
        assert.ok(await env.resolveBrainCommand(null, () => {}));
      });
    } finally {
      cleanup(root);
    }
  });

  test("an unwritable cache directory is reported at once and another writable one is used", LONG, async () => {
    const { root, env } = await installed();
    try {
      writeFileSync(join(root, "a-file"), "");
      const unwritable = join(root, "a-file", "cache"); // below a regular file: no one can create it, root included
      await withEnv({ KIMCHI_CACHE_DIR: unwritable }, async () => {
        const where = env.usableCacheRoot();
        assert.notEqual(where.root, unwritable);
        assert.match(where.problem, /not writable/);
        assert.match(where.problem, new RegExp(unwritable.replace(/[/.]/g, "\\$&")));
      });
    } finally {
      cleanup(root);
    }
  });
});

test("progress is visible: a toast when setup starts and one when routing is active; Kimchi is configured meanwhile", LONG, async () => {
  const { root, cache } = await installed();
  try {
    await withEnv({ ...fakeEnv(cache, "ok"), KIMCHI_API_KEY: "sk-test" }, async () => {
      const { default: copy } = await import(pathToFileURL(join(root, "pkg", "plugin_shim", "index.js")).href);
      const toasts = [];
      const client = { tui: { showToast: async (a) => toasts.push(a.body) }, app: { log: async () => {} } };
      const hooks = await copy.server({ client }, {});
      try {
        const cfg = {};
        await hooks.config(cfg);
        assert.equal(cfg.model, "kimchi/auto", "configured before the environment exists");
        assert.equal(cfg.provider.kimchi.options.apiKey, "sk-test", "with the key from the environment");
        assert.ok(await waitFor(() => toasts.some((t) => t.variant === "success"), 30000), JSON.stringify(toasts));
        const messages = toasts.map((t) => t.message);
        assert.ok(messages.some((m) => /setting up its Python environment/.test(m)));
        assert.ok(messages.some((m) => /routing is active/.test(m)));
        assert.ok(messages.findIndex((m) => /setting up/.test(m)) < messages.findIndex((m) => /routing is active/.test(m)));
      } finally {
        await hooks.dispose();
      }
    });
  } finally {
    cleanup(root);
  }
});
