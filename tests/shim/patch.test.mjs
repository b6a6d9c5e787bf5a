// Patches from the brain land in OpenCode's output objects: objects merge, arrays and scalars replace, `config`
// patches the config object itself; actions reach the client; tools are registered and executed.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import plugin from "../../plugin_shim/index.js";
import { FIRST_START } from "../../plugin_shim/first_start.js";
import { applyPatch } from "../../plugin_shim/hooks.js";
import {
  REPO,
  chatMessagePayload,
  chatParamsPayload,
  cleanup,
  fakeBrain,
  fakeClient,
  realBrain,
  receivedCalls,
  stateDir,
  waitFor,
} from "./helpers.mjs";

const LONG = { timeout: 30000 };
const fixture = (name) => JSON.parse(readFileSync(join(REPO, "tests", "fixtures", "hooks", `${name}.json`), "utf8")).params;

describe("applyPatch", () => {
  test("objects merge recursively, scalars replace", () => {
    const target = { a: 1, nested: { keep: true, change: 1 }, other: "x" };
    applyPatch(target, { a: 2, nested: { change: 2, add: 3 } });
    assert.deepEqual(target, { a: 2, nested: { keep: true, change: 2, add: 3 }, other: "x" });
  });

  test("arrays replace their content in place", () => {
    const system = ["opencode prompt"];
    const target = { system };
    applyPatch(target, { system: ["opencode prompt", "routing prompt"] });
    assert.equal(target.system, system, "the array OpenCode holds is the one refilled");
    assert.deepEqual(system, ["opencode prompt", "routing prompt"]);
  });

  test("an object replaces an array and the other way round; null replaces", () => {
    const target = { a: [1], b: { x: 1 }, c: { y: 1 } };
    applyPatch(target, { a: { z: 1 }, b: [2], c: null });
    assert.deepEqual(target, { a: { z: 1 }, b: [2], c: null });
  });

  test("an empty patch or a non-object changes nothing", () => {
    const target = { a: 1 };
    for (const patch of [{}, null, undefined, [1], "x", 3]) applyPatch(target, patch);
    assert.deepEqual(target, { a: 1 });
  });
});

describe("patches through a brain", () => {
  const dir = stateDir();
  const patches = {
    "chat.params": { output: { temperature: 0.3, options: { reasoningEffort: "high" } } },
    "experimental.chat.system.transform": { output: { system: ["base", "routing addition"] } },
    "chat.message": {
      output: { message: { model: { modelID: "minimax-m2.7" } }, parts: [{ type: "text", text: "rest" }] },
      actions: [
        { call: "tui.showToast", args: { body: { message: "routed" } } },
        { call: "session.delete", args: { path: { id: "ses_1" } } },
      ],
    },
    config: { output: { provider: { kimchi: { models: { auto: { name: "Auto" } } } }, default_agent: "kimchi-auto" } },
  };
  const fake = fakeClient();
  let hooks;
  after(async () => {
    await hooks?.dispose();
    cleanup(dir);
  });

  test("plugin starts and registers the brain's tools", LONG, async () => {
    hooks = await plugin.server({ client: fake.client, directory: "/tmp/p", worktree: "/tmp/p" }, fakeBrain("ok", dir, patches));
    assert.equal(typeof hooks["chat.message"], "function");
    assert.ok(await waitFor(() => hooks.tool?.fake_tool, 5000), "tool from initialize is registered");
    const init = receivedCalls(dir).find((c) => c.method === "initialize");
    assert.equal(init.params.protocolVersion, 1);
    assert.equal(init.params.directory, "/tmp/p");
    assert.deepEqual(init.params.options.command.slice(-3, -2), ["ok"]);
  });

  test("chat.params: objects merge, scalars set", LONG, async () => {
    const [input, output] = chatParamsPayload();
    await hooks["chat.params"](input, output);
    assert.deepEqual(output, { topP: 0.95, maxOutputTokens: 32000, temperature: 0.3, options: { keep: 1, reasoningEffort: "high" } });
    const sent = receivedCalls(dir).findLast((c) => c.method === "chat.params");
    assert.deepEqual(sent.params.input.provider, { id: "kimchi", source: "config" }, "the provider is slimmed before sending");
  });

  test("system transform: the array is refilled in place", LONG, async () => {
    const system = ["base"];
    const output = { system };
    await hooks["experimental.chat.system.transform"]({ sessionID: "ses_1", model: {} }, output);
    assert.equal(output.system, system);
    assert.deepEqual(system, ["base", "routing addition"]);
  });

  test("chat.message: nested model merges, parts replace, only whitelisted actions run", LONG, async () => {
    const [input, output] = chatMessagePayload();
    const message = output.message;
    await hooks["chat.message"](input, output);
    assert.equal(output.message, message, "OpenCode's message object is kept");
    assert.deepEqual(output.message.model, { providerID: "kimchi", modelID: "minimax-m2.7" });
    assert.equal(output.message.agent, "build");
    assert.deepEqual(output.parts, [{ type: "text", text: "rest" }]);
    assert.ok(await waitFor(() => fake.named("tui.showToast").length === 1, 2000));
    assert.deepEqual(fake.named("tui.showToast")[0].args, { body: { message: "routed" } });
    assert.equal(fake.named("session.delete").length, 0, "calls off the whitelist are dropped");
  });

  test("config: the patch merges into the config object", LONG, async () => {
    const config = { model: "kimchi/auto", provider: { kimchi: { options: { apiKey: "k" }, models: { m: {} } } } };
    await hooks.config(config);
    assert.deepEqual(config, {
      model: "kimchi/auto",
      default_agent: "kimchi-auto",
      provider: { kimchi: { options: { apiKey: "k" }, models: { m: {}, auto: { name: "Auto" } } } },
    });
  });

  test("an empty patch changes nothing", LONG, async () => {
    const output = { args: { command: "ls" } };
    await hooks["tool.execute.before"]({ tool: "bash", sessionID: "ses_1", callID: "c" }, output);
    assert.deepEqual(output, { args: { command: "ls" } });
  });

  test("events of the types the brain asked for are forwarded as notifications", LONG, async () => {
    await hooks.event({ event: { type: "session.idle", properties: { sessionID: "ses_1" } } });
    await hooks.event({ event: { type: "message.part.updated", properties: {} } });
    assert.ok(await waitFor(() => receivedCalls(dir).some((c) => c.method === "event"), 2000));
    const events = receivedCalls(dir).filter((c) => c.method === "event");
    assert.deepEqual(events.map((e) => e.params.event.type), ["session.idle"]);
    assert.equal(events[0].id, undefined, "a notification carries no id");
  });

  test("tool.execute returns the brain's output", LONG, async () => {
    const out = await hooks.tool.fake_tool.execute({ reason: "x" }, { sessionID: "ses_1", messageID: "m", agent: "build" });
    assert.equal(out, "ran fake_tool");
  });
});

describe("hooks the brain only observes", () => {
  /** `chat.params`, asked by request of a brain that does not answer, waits out its budget and is reported once; the
   * observed hook called before it was never waited for, so nothing is reported of it. */
  async function assertOnlyTheRequestWaitedOut(hooks, fake, observed) {
    await hooks["chat.params"](...chatParamsPayload());
    const warned = fake.named("app.log").map((c) => c.args.body.message);
    assert.equal(warned.filter((m) => m.includes("chat.params")).length, 1, JSON.stringify(warned));
    assert.equal(warned.filter((m) => m.includes(observed)).length, 0, JSON.stringify(warned));
  }

  test("are sent as notifications: OpenCode does not wait, even for a brain that answers no hook", LONG, async () => {
    const dir = stateDir();
    const fake = fakeClient();
    const observed = "experimental.chat.messages.transform";
    const hooks = await plugin.server({ client: fake.client }, fakeBrain("silent-hooks", dir, { initialize: { observed: [observed] } }));
    try {
      assert.ok(await waitFor(() => hooks.tool?.fake_tool, 5000), "the handshake was read");
      const output = { messages: [{ info: { sessionID: "ses_1", role: "user" }, parts: [] }] };
      await hooks[observed]({}, output);
      assert.ok(await waitFor(() => receivedCalls(dir).some((c) => c.method === observed), 2000));
      const sent = receivedCalls(dir).find((c) => c.method === observed);
      assert.equal(sent.id, undefined, "a notification carries no id");
      assert.deepEqual(sent.params, { input: {}, output });
      await assertOnlyTheRequestWaitedOut(hooks, fake, observed);
    } finally {
      await hooks.dispose();
      cleanup(dir);
    }
  });

  test("while the brain starts, the list shipped with the package applies: the transcript is not awaited", LONG, async () => {
    const dir = stateDir();
    const fake = fakeClient();
    const observed = "experimental.chat.messages.transform";
    assert.ok(FIRST_START.initialize.observed.includes(observed), "the shipped handshake lists it");
    const hooks = await plugin.server({ client: fake.client }, fakeBrain("slow-start", dir));
    try {
      await hooks[observed]({}, { messages: [] });
      await assertOnlyTheRequestWaitedOut(hooks, fake, observed);
    } finally {
      await hooks.dispose();
      cleanup(dir);
    }
  });
});

describe("actions pushed by the brain outside any hook", () => {
  test("client.actions notifications reach the client (whitelist only)", LONG, async () => {
    const dir = stateDir();
    const fake = fakeClient();
    const hooks = await plugin.server({ client: fake.client }, fakeBrain("push", dir));
    try {
      assert.ok(await waitFor(() => fake.calls.some((c) => c.name === "app.log" && c.args.body.message === "pushed"), 3000));
      assert.equal(fake.named("session.delete").length, 0);
    } finally {
      await hooks.dispose();
      cleanup(dir);
    }
  });
});

describe("the real brain", () => {
  test("config and chat.message patches from recorded payloads", LONG, async () => {
    const fake = fakeClient();
    const hooks = await plugin.server({ client: fake.client, directory: "/tmp/p", worktree: "/" }, realBrain({ timeouts: { config: 10000, "chat.message": 5000 } }));
    try {
      const config = fixture("config").output;
      const userProvider = structuredClone(config.provider.kimchi);
      await hooks.config(config);
      assert.ok(config.provider.kimchi.models.auto, "virtual models added");
      assert.deepEqual(config.provider.kimchi.options, userProvider.options, "user's provider options kept");
      for (const [id, entry] of Object.entries(userProvider.models)) assert.equal(config.provider.kimchi.models[id].name, entry.name);
      assert.equal(config.default_agent, "kimchi-auto");

      const { input, output } = fixture("chat.message--slash");
      await hooks["chat.message"](input, output);
      assert.ok(["kimi-k2.5", "minimax-m2.7", "claude-sonnet-4"].includes(output.message.model.modelID));
      assert.ok(!output.parts[0].text.startsWith("/debug"), "the command word is stripped");
      assert.ok(await waitFor(() => fake.named("tui.showToast").length > 0, 2000), "routing toast shown");
    } finally {
      await hooks.dispose();
    }
  });

  test("a slash command before a huge non-ASCII paste is stripped and routed", LONG, async () => {
    // 2.9 M CJK characters (8.7 MB of UTF-8): escaped as \uXXXX the echoed parts would pass the 16 MiB frame limit.
    const fake = fakeClient();
    const hooks = await plugin.server({ client: fake.client, directory: "/tmp/p", worktree: "/" }, realBrain({ timeouts: { config: 10000, "chat.message": 20000 } }));
    try {
      await hooks.config(fixture("config").output);
      const [input, output] = chatMessagePayload("/plan " + "迁移计划".repeat(725000));
      await hooks["chat.message"](input, output);
      assert.notEqual(output.message.model.modelID, "auto", "routed to a concrete model");
      assert.ok(output.parts[0].text.startsWith("迁移计划"), "the command word is stripped");
      assert.equal(output.parts[0].text.length, 2900000, "the paste itself is untouched");
    } finally {
      await hooks.dispose();
    }
  });
});
