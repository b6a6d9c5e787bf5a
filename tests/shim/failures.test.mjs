// Nothing the brain does may break a turn: crashes, hangs, garbage, slow starts and missing executables all leave
// OpenCode's output untouched, within the hook's budget, and no hook ever throws.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import plugin from "../../plugin_shim/index.js";
import { BUDGETS, DEFAULT_BUDGET_MS } from "../../plugin_shim/hooks.js";
import {
  SLACK_MS,
  alive,
  brainPids,
  chatMessagePayload,
  chatParamsPayload,
  cleanup,
  fakeBrain,
  fakeClient,
  receivedCalls,
  sleep,
  stateDir,
  timed,
  trigger,
  waitFor,
  FAKE_BRAIN_HOOKS,
} from "./helpers.mjs";

const LONG = { timeout: 30000 };
const PATCHED = { "chat.params": { output: { temperature: 0.3 } } };
const STARTUP_WAIT_MS = 2500; // how long plugin creation waits for the handshake (index.js)
// Where a test asserts that the brain answers (not how fast), a budget a loaded machine cannot miss.
const PATIENT = { timeouts: { "chat.params": 5000 } };

/** Start the plugin on a fake brain; `fn(hooks, fake, dir)`; always disposes and cleans up. */
async function withPlugin(mode, fn, extra = {}, patches = PATCHED) {
  const dir = stateDir();
  const fake = fakeClient();
  const hooks = await plugin.server({ client: fake.client }, fakeBrain(mode, dir, patches, extra));
  try {
    await fn(hooks, fake, dir);
  } finally {
    await hooks.dispose();
    cleanup(dir);
  }
}

async function assertPatched(hooks) {
  const [input, output] = chatParamsPayload();
  await hooks["chat.params"](input, output);
  assert.equal(output.temperature, 0.3, "the brain answers again");
}

/** A hook call leaves OpenCode's output untouched, within `budgetMs`. Before the handshake only the shim's own hooks
 * exist (chat.message): `hook` picks the one to call. */
async function assertUntouched(hooks, budgetMs, hook = "chat.params") {
  const [input, output] = hook === "chat.params" ? chatParamsPayload() : chatMessagePayload();
  const before = structuredClone(output);
  const [ms] = await timed(() => trigger(hooks, hook, input, output));
  assert.deepEqual(output, before);
  if (budgetMs !== undefined) assert.ok(ms < budgetMs + SLACK_MS, `returned after ${ms} ms`);
}

describe("a brain that dies mid-call", () => {
  test("the hook resolves at once, output untouched; the brain is restarted", LONG, async () => {
    await withPlugin("die-on-hook", async (hooks, fake, dir) => {
      const [input, output] = chatMessagePayload();
      const before = structuredClone(output);
      const [ms] = await timed(() => hooks["chat.message"](input, output));
      assert.deepEqual(output, before);
      assert.ok(ms < BUDGETS["chat.message"], `pending call failed fast (${ms} ms)`);
      const [first] = brainPids(dir);
      assert.ok(await waitFor(() => !alive(first), 2000));
      await assertPatched(hooks);
      const pids = brainPids(dir);
      assert.equal(pids.length, 2, "one restart");
      assert.ok(await waitFor(() => fake.calls.some((c) => c.name === "app.log" && /restart/.test(c.args.body.message)), 1000));
    }, PATIENT);
  });
});

describe("a hung brain", () => {
  test("the hook returns within its budget, output untouched", LONG, async () => {
    await withPlugin(
      "hang-on-hook",
      async (hooks) => {
        const [input, output] = chatMessagePayload();
        const before = structuredClone(output);
        const [ms] = await timed(() => hooks["chat.message"](input, output));
        assert.deepEqual(output, before);
        // The lower bound only tells waiting out the budget from failing fast: timers may fire a little early.
        assert.ok(ms >= 400 * 0.75 && ms < 400 + SLACK_MS, `returned after ${ms} ms (budget 400)`);
        await assertPatched(hooks); // a timeout is not a crash: the same brain keeps serving
      },
      { timeouts: { "chat.message": 400, "chat.params": 5000 } },
    );
  });

  test("the default chat.message budget holds", LONG, async () => {
    await withPlugin("hang-on-hook", async (hooks) => {
      const [input, output] = chatMessagePayload();
      const [ms] = await timed(() => hooks["chat.message"](input, output));
      assert.ok(ms < BUDGETS["chat.message"] + SLACK_MS, `returned after ${ms} ms`);
    });
  });

  test("one warning per hook, not one per call", LONG, async () => {
    await withPlugin(
      "hang-on-hook",
      async (hooks, fake) => {
        for (let i = 0; i < 3; i++) await hooks["chat.message"](...chatMessagePayload());
        await sleep(50);
        const warnings = fake.named("app.log").filter((c) => c.args.body.message.startsWith("chat.message"));
        assert.equal(warnings.length, 1);
        assert.equal(warnings[0].args.body.level, "warn");
      },
      { timeouts: { "chat.message": 100 } },
    );
  });
});

describe("a brain that keeps crashing", () => {
  test("restarts within the budget, then pass-through with exactly one toast", LONG, async () => {
    await withPlugin("crash-at-start", async (hooks, fake, dir) => {
      // Restarts back off 0 / 500 / 2000 ms; keep calling until the fourth crash switches to pass-through.
      const degraded = () => fake.named("tui.showToast").some((c) => c.args.body.variant === "warning");
      const deadline = Date.now() + 10000;
      while (!degraded() && Date.now() < deadline) {
        await assertUntouched(hooks, DEFAULT_BUDGET_MS, "chat.message");
        await sleep(100);
      }
      assert.ok(degraded(), "pass-through announced");
      assert.equal(brainPids(dir).length, 4, "first start + three restarts");
      for (let i = 0; i < 5; i++) await assertUntouched(hooks, 50, "chat.message");
      await sleep(100);
      assert.equal(brainPids(dir).length, 4, "no restart in pass-through");
      const toasts = fake.named("tui.showToast");
      assert.equal(toasts.length, 1, JSON.stringify(toasts));
      assert.match(toasts[0].args.body.message, /Routing is off/);
      assert.match(toasts[0].args.body.message, /log/);
      const passThrough = fake.named("app.log").find((c) => /pass-through/.test(c.args.body.message));
      assert.match(passThrough.args.body.message, /cannot import the routing brain/, "stderr tail in the message");
    });
  });
});

describe("a brain that talks nonsense", () => {
  test("garbage instead of an answer: budget, untouched", LONG, async () => {
    await withPlugin("garbage", async (hooks) => assertUntouched(hooks, DEFAULT_BUDGET_MS));
  });

  test("an answer with the wrong id: budget, untouched", LONG, async () => {
    await withPlugin("wrong-id", async (hooks) => assertUntouched(hooks, DEFAULT_BUDGET_MS));
  });

  test("junk lines and stray frames around the right answer: the right answer wins", LONG, async () => {
    await withPlugin("junk", async (hooks, fake) => {
      for (let i = 0; i < 3; i++) await assertPatched(hooks);
      await sleep(50);
      const junkWarnings = fake.named("app.log").filter((c) => /non-JSON/.test(c.args.body.message));
      assert.ok(junkWarnings.length <= 1, `junk is logged once, not per line (${junkWarnings.length})`);
    }, PATIENT);
  });
});

describe("a brain slow to start", () => {
  test("plugin creation waits a bounded time; hooks pass through until ready, then work", LONG, async () => {
    const dir = stateDir();
    const fake = fakeClient();
    const [ms, hooks] = await timed(() => plugin.server({ client: fake.client }, fakeBrain("slow-start", dir, PATCHED)));
    try {
      assert.ok(ms < STARTUP_WAIT_MS + SLACK_MS, `server() returned after ${ms} ms`);
      await assertUntouched(hooks, DEFAULT_BUDGET_MS);
      await assertUntouched(hooks, BUDGETS["chat.message"], "chat.message");
      const patchedOnce = async () => {
        const [input, output] = chatParamsPayload();
        await trigger(hooks, "chat.params", input, output);
        return output.temperature === 0.3;
      };
      assert.ok(await waitFor(patchedOnce, 6000, 200), "hooks work once the brain is ready");
      const early = receivedCalls(dir).findIndex((c) => c.method === "chat.params");
      assert.ok(early > receivedCalls(dir).findIndex((c) => c.method === "initialize"), "nothing is sent before the handshake");
      assert.equal(brainPids(dir).length, 1, "a slow start is not a crash");
    } finally {
      await hooks.dispose();
      cleanup(dir);
    }
  });
});

describe("a command that cannot run", () => {
  test("missing executable: hooks pass through, at most one toast", LONG, async () => {
    const fake = fakeClient();
    const [ms, hooks] = await timed(() => plugin.server({ client: fake.client }, { command: ["/nonexistent/kimchi-python", "-m", "kimchi_plugin"] }));
    try {
      assert.ok(ms < STARTUP_WAIT_MS + SLACK_MS);
      const deadline = Date.now() + 8000;
      while (Date.now() < deadline && fake.named("tui.showToast").length === 0) {
        await assertUntouched(hooks, DEFAULT_BUDGET_MS, "chat.message");
        await sleep(100);
      }
      for (let i = 0; i < 3; i++) await assertUntouched(hooks, 50, "chat.message");
      assert.equal(fake.named("tui.showToast").length, 1);
      assert.match(fake.named("tui.showToast")[0].args.body.message, /ENOENT|not found|spawn/);
    } finally {
      await hooks.dispose();
    }
  });
});

describe("no hook ever throws", () => {
  const weird = [undefined, null, {}, "x", 42, [], { event: null }, { event: { type: 5 } }];
  const cyclic = {};
  cyclic.self = cyclic;

  const outputs = [undefined, null, {}, cyclic, { big: 10n }];

  /** Every hook with every odd argument (`full`), or each hook once with odd arguments paired up (quicker). */
  async function assertNeverThrows(hooks, full = true) {
    const names = Object.keys(hooks).filter((n) => n !== "dispose" && typeof hooks[n] === "function");
    assert.ok(["config", "chat.message", "event"].every((n) => names.includes(n)), "the shim's own hooks are registered");
    for (const name of names) {
      for (const [i, input] of [...weird, cyclic].entries()) {
        for (const output of full ? outputs : [outputs[i % outputs.length]]) {
          await assert.doesNotReject(async () => hooks[name](input, output), `${name}(${String(input)})`);
        }
      }
    }
    for (const spec of Object.values(hooks.tool || {})) {
      for (const args of weird) {
        const out = await spec.execute(args, args);
        assert.equal(typeof out, "string");
      }
    }
    await assert.doesNotReject(async () => hooks.dispose());
    await assert.doesNotReject(async () => hooks.dispose(), "a second dispose is harmless");
    for (const name of names) await assert.doesNotReject(async () => hooks[name]({}, {}), `${name} after dispose`);
  }

  const shortBudgets = { timeouts: Object.fromEntries(FAKE_BRAIN_HOOKS.map((k) => [k, 20])) };
  for (const mode of ["ok", "die-on-hook", "garbage", "crash-at-start"]) {
    test(`with a brain in mode ${mode}`, LONG, async () => {
      const dir = stateDir();
      const hooks = await plugin.server({ client: fakeClient().client }, fakeBrain(mode, dir, {}, shortBudgets));
      try {
        if (mode !== "crash-at-start") {
          assert.ok(await waitFor(() => FAKE_BRAIN_HOOKS.every((n) => typeof hooks[n] === "function"), 5000), "every hook the brain lists is registered");
        }
        await assertNeverThrows(hooks);
      } finally {
        await hooks.dispose();
        cleanup(dir);
      }
    });
  }

  test("with no client at all and odd plugin input", LONG, async () => {
    for (const input of [undefined, null, {}, { client: { app: { log: () => { throw new Error("boom"); } }, tui: { showToast: null } } }]) {
      const hooks = await plugin.server(input, { command: ["/nonexistent/python"] });
      await assertNeverThrows(hooks);
    }
  });

  test("with odd plugin options (the repository's brain)", LONG, async () => {
    for (const options of [undefined, null, "x", { command: [] }, { command: "python" }, { timeouts: null }, { timeouts: "abc" }]) {
      const hooks = await plugin.server({}, options);
      await assertNeverThrows(hooks, false);
    }
  });
});
