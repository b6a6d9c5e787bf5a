// The brain never outlives OpenCode: dispose, exit without dispose, a killed host, a brain that ignores SIGTERM.
// And the bootstrap path fails cleanly when the only Python is too old.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { cpSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import plugin from "../../plugin_shim/index.js";
import { DEFAULT_BUDGET_MS } from "../../plugin_shim/hooks.js";
import {
  REPO,
  SERVERS,
  alive,
  brainPids,
  chatMessagePayload,
  cleanup,
  fakeBrain,
  fakeClient,
  realBrain,
  stateDir,
  timed,
  waitFor,
} from "./helpers.mjs";

const LONG = { timeout: 40000 };
const HOST = join(REPO, "tests", "shim", "host_process.mjs");
const KILL_ESCALATION_MS = 2 * 1500; // stdin closed -> SIGTERM -> SIGKILL (brain_process.js EXIT_GRACE_MS)
const GONE_MS = KILL_ESCALATION_MS + 2000;

/** Start a host process (same runtime as this test: node or bun) that loads the plugin; resolves once ready. */
function startHost(how, options) {
  const child = spawn(process.execPath, [HOST, how, JSON.stringify(options)], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stderr.on("data", (d) => (err += d));
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  const ready = new Promise((resolve, reject) => {
    child.stdout.on("data", (d) => {
      out += d;
      if (out.includes("ready")) resolve();
    });
    exited.then(() => (out.includes("ready") ? resolve() : reject(new Error(`host exited early: ${err}`))));
  });
  return { child, ready, exited, stderr: () => err };
}

async function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function assertGone(dir, ms = GONE_MS) {
  const pids = brainPids(dir);
  assert.ok(pids.length > 0, "a brain was started");
  assert.ok(await waitFor(() => pids.every((pid) => !alive(pid)), ms), `brain pids still alive: ${pids.filter(alive)}`);
}

describe("dispose", () => {
  test("a well-behaved brain exits at once", LONG, async () => {
    const dir = stateDir();
    const hooks = await plugin.server({ client: fakeClient().client }, fakeBrain("ok", dir));
    try {
      await waitFor(() => brainPids(dir).length === 1, 5000);
      const [ms] = await timed(() => hooks.dispose());
      assert.ok(ms < 1000, `dispose took ${ms} ms`);
      await assertGone(dir, 1500);
    } finally {
      cleanup(dir);
    }
  });

  test("a brain that ignores end of input and SIGTERM is killed", LONG, async () => {
    const dir = stateDir();
    const hooks = await plugin.server({ client: fakeClient().client }, fakeBrain("hang-hard", dir));
    try {
      await waitFor(() => brainPids(dir).length === 1, 5000);
      await hooks.dispose();
      await assertGone(dir);
    } finally {
      cleanup(dir);
    }
  });

  test("the real brain exits", LONG, async () => {
    const dir = stateDir();
    const host = startHost("wait", realBrain());
    try {
      await withTimeout(host.ready, 15000, "host ready");
      // The real brain writes no pid file: find it as the host's child.
      const pid = await childPid(host.child.pid);
      assert.ok(pid, "brain found");
      writeFileSync(join(dir, `pid-${pid}`), "");
      host.child.kill("SIGKILL"); // the host dies hard: the brain sees end of input
      await assertGone(dir, 5000);
    } finally {
      host.child.kill("SIGKILL");
      cleanup(dir);
    }
  });
});

/** The pid of `parent`'s first child process (Linux /proc). */
async function childPid(parent) {
  const { readFileSync } = await import("node:fs");
  let found = null;
  await waitFor(() => {
    try {
      const children = readFileSync(`/proc/${parent}/task/${parent}/children`, "utf8").trim().split(/\s+/).filter(Boolean);
      found = children.length ? Number(children[0]) : null;
    } catch {}
    return found !== null;
  }, 5000);
  return found;
}

describe("the host goes away without dispose", () => {
  for (const [how, mode] of [
    ["exit", "ok"],
    ["exit", "hang-hard"],
    ["dispose-exit", "hang-hard"],
    ["natural", "ok"],
  ]) {
    test(`${how} with a brain in mode ${mode}: no orphan`, LONG, async () => {
      const dir = stateDir();
      const host = startHost(how, fakeBrain(mode, dir));
      try {
        await withTimeout(host.ready, 15000, "host ready");
        const exit = await withTimeout(host.exited, 8000, `host ${how}`);
        assert.equal(exit.code, 0, host.stderr());
        await assertGone(dir);
      } finally {
        host.child.kill("SIGKILL");
        for (const pid of brainPids(dir)) if (alive(pid)) process.kill(pid, "SIGKILL");
        cleanup(dir);
      }
    });
  }

  test("the host is killed with SIGKILL: the brain exits on end of input", LONG, async () => {
    const dir = stateDir();
    const host = startHost("wait", fakeBrain("ok", dir));
    try {
      await withTimeout(host.ready, 15000, "host ready");
      host.child.kill("SIGKILL");
      await assertGone(dir, 3000);
    } finally {
      cleanup(dir);
    }
  });
});

describe("bootstrap with a Python that is too old", () => {
  test("hooks pass through and one toast says what to install", LONG, async () => {
    // A copy of the package without `.venv`, an empty cache: the shim has to find a Python and build a venv.
    const pkg = mkdtempSync(join(tmpdir(), "kimchi-pkg-"));
    const cache = mkdtempSync(join(tmpdir(), "kimchi-cache-"));
    cpSync(join(REPO, "plugin_shim"), join(pkg, "plugin_shim"), { recursive: true });
    cpSync(join(REPO, "package.json"), join(pkg, "package.json"));
    const saved = { KIMCHI_PYTHON: process.env.KIMCHI_PYTHON, KIMCHI_CACHE_DIR: process.env.KIMCHI_CACHE_DIR };
    process.env.KIMCHI_PYTHON = join(SERVERS, "old_python.sh");
    process.env.KIMCHI_CACHE_DIR = cache;
    try {
      const copy = await import(pathToFileURL(join(pkg, "plugin_shim", "index.js")).href);
      const fake = fakeClient();
      const hooks = await copy.default.server({ client: fake.client }, {});
      // Before any handshake only the shim's own hooks exist: chat.message.
      const [input, output] = chatMessagePayload();
      const before = structuredClone(output);
      const [ms] = await timed(() => hooks["chat.message"](input, output));
      assert.deepEqual(output, before);
      assert.ok(ms < DEFAULT_BUDGET_MS + 700);
      assert.ok(await waitFor(() => fake.named("tui.showToast").length > 0, 5000), "the user is told");
      await hooks["chat.message"](input, output);
      await new Promise((resolve) => setTimeout(resolve, 100));
      const toasts = fake.named("tui.showToast");
      assert.equal(toasts.length, 1, JSON.stringify(toasts));
      assert.match(toasts[0].args.body.message, /Python >= 3\.10/);
      assert.match(toasts[0].args.body.message, /3\.9/);
      assert.match(toasts[0].args.body.message, /KIMCHI_PYTHON/);
      await hooks.dispose();
    } finally {
      for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k];
      else process.env[k] = v;
      cleanup(pkg);
      cleanup(cache);
    }
  });
});
