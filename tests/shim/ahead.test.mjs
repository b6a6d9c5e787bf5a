// Answers ahead (PROTOCOL.md): entries a reply carries answer the session's matching read-only calls without a round
// trip, exactly as sent; a stale entry is never used (a later request, a late reply, a config, a brain notification,
// a new brain); a malformed entry is ignored; the handshake's input filters keep other calls local.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import plugin from "../../plugin_shim/index.js";
import { AheadAnswers, MAX_SESSIONS, readEntry, sessionOf } from "../../plugin_shim/ahead.js";
import { BrainProcess, PROTOCOL_VERSION } from "../../plugin_shim/brain_process.js";
import { applyPatch, passesFilter, readFilters } from "../../plugin_shim/hooks.js";
import {
  REPO,
  brainPids,
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
const PARAMS = "chat.params";
const SYSTEM = "experimental.chat.system.transform";
const MARKER = "You are a title generator";
const turn = { sessionID: "ses_1", "model.providerID": "kimchi", "model.id": "kimi-k2.5" };
const ENTRIES = [
  { hook: PARAMS, when: { ...turn, agent: "build" }, output: { temperature: 0.3 } },
  { hook: SYSTEM, when: turn, append: { system: ["routing addition"] }, unless: { system: [MARKER] } },
];
const paramsInput = (agent = "build", id = "kimi-k2.5", sessionID = "ses_1") => ({ sessionID, agent, model: { id, providerID: "kimchi" } });
const systemInput = (id = "kimi-k2.5") => ({ sessionID: "ses_1", model: { id, providerID: "kimchi" } });

/** A store holding `entries` for ses_1, as after a reply to its latest request. */
function holding(entries = ENTRIES) {
  const ahead = new AheadAnswers();
  ahead.answered("ses_1", ahead.sent("ses_1"), entries);
  return ahead;
}

describe("AheadAnswers", () => {
  test("a matching call is answered from its entry: the patch merged, items appended to the array OpenCode holds", () => {
    const ahead = holding();
    const output = { temperature: 0.7, topP: 1 };
    assert.equal(ahead.answer(PARAMS, paramsInput(), output), true);
    assert.deepEqual(output, { temperature: 0.3, topP: 1 });
    const system = ["OpenCode prompt"];
    const out = { system };
    assert.equal(ahead.answer(SYSTEM, systemInput(), out), true);
    assert.equal(out.system, system, "pushed onto the same array");
    assert.deepEqual(system, ["OpenCode prompt", "routing addition"]);
  });

  test("calls no entry matches go by request: another agent, model or session, a marker, no array to append to", () => {
    const ahead = holding();
    assert.equal(ahead.answer(PARAMS, paramsInput("title"), {}), false);
    assert.equal(ahead.answer(PARAMS, paramsInput("build", "minimax-m2.7"), {}), false);
    assert.equal(ahead.answer(PARAMS, paramsInput("build", "kimi-k2.5", "ses_2"), {}), false);
    assert.equal(ahead.answer(PARAMS, { sessionID: "ses_1", agent: "build" }, {}), false, "a missing field matches nothing");
    assert.equal(ahead.answer(SYSTEM, systemInput(), { system: ["intro", `${MARKER}. Output a title.`] }), false);
    assert.equal(ahead.answer(SYSTEM, systemInput(), { system: `${MARKER}` }), false);
    assert.equal(ahead.answer(SYSTEM, systemInput(), { system: "one string" }), false, "append needs an array");
    assert.equal(ahead.answer(SYSTEM, systemInput(), {}), false);
    assert.equal(ahead.answer("tool.definition", { sessionID: "ses_1" }, {}), false);
  });

  test("an opening condition: the string, or the array's first string, starts with one of the strings", () => {
    const ahead = holding([{ hook: SYSTEM, when: { sessionID: "ses_1" }, opening: { system: [MARKER, "Other"] }, output: {} }]);
    for (const system of [[`${MARKER}. Output a title.`, "rules"], ["Other prompt"], `${MARKER}.`]) {
      const output = { system: structuredClone(system) };
      assert.equal(ahead.answer(SYSTEM, systemInput(), output), true, JSON.stringify(system));
      assert.deepEqual(output.system, system, "answered unchanged");
    }
    for (const system of [["intro", `${MARKER}.`], [` ${MARKER}`], [], [1, MARKER], 7]) {
      assert.equal(ahead.answer(SYSTEM, systemInput(), { system }), false, JSON.stringify(system));
    }
    assert.equal(ahead.answer(SYSTEM, systemInput(), {}), false, "no value there");
  });

  test("standing entries answer calls without a session, after the session's own; a clear keeps them, a reset not", () => {
    const GUIDE = "Delegate well.";
    const standing = [
      { hook: "tool.definition", when: { toolID: "task" }, unless: { description: [GUIDE] }, prefix: { description: `${GUIDE}\n\n` } },
      { hook: "tool.definition", when: { toolID: "task" }, output: {} },
      { hook: PARAMS, when: { agent: "build" }, output: { temperature: 0.5 } },
    ];
    const ahead = holding();
    ahead.reset(standing);
    ahead.answered("ses_1", ahead.sent("ses_1"), ENTRIES);
    const task = { description: "Launch an agent.", parameters: {} };
    assert.equal(ahead.answer("tool.definition", { toolID: "task" }, task), true);
    assert.deepEqual(task, { description: `${GUIDE}\n\nLaunch an agent.`, parameters: {} });
    assert.equal(ahead.answer("tool.definition", { toolID: "task" }, task), true, "the guide once: unchanged");
    assert.equal(task.description, `${GUIDE}\n\nLaunch an agent.`);
    const bare = {};
    assert.equal(ahead.answer("tool.definition", { toolID: "task" }, bare), true);
    assert.deepEqual(bare, { description: `${GUIDE}\n\n` }, "a missing description counts as empty");
    assert.equal(ahead.answer("tool.definition", { toolID: "read" }, {}), false);
    const own = {};
    assert.equal(ahead.answer(PARAMS, paramsInput(), own), true);
    assert.equal(own.temperature, 0.3, "the session's entry first");
    ahead.clear();
    const after = {};
    assert.equal(ahead.answer(PARAMS, paramsInput(), after), true);
    assert.equal(after.temperature, 0.5, "standing after a clear");
    ahead.reset();
    assert.equal(ahead.answer("tool.definition", { toolID: "task" }, {}), false, "dropped with its brain");
  });

  test("an empty answer spares the round trip and changes nothing", () => {
    const ahead = holding([{ hook: PARAMS, when: { sessionID: "ses_1" }, output: {} }]);
    const output = { temperature: 0.7 };
    assert.equal(ahead.answer(PARAMS, paramsInput("anyone", "any-model"), output), true);
    assert.deepEqual(output, { temperature: 0.7 });
  });

  test("entries are copied into each answer: OpenCode changing one output leaves the next answer intact", () => {
    const ahead = holding([{ hook: PARAMS, when: { sessionID: "ses_1" }, output: { options: { effort: ["high"] } } }]);
    const first = {};
    ahead.answer(PARAMS, paramsInput(), first);
    first.options.effort.push("changed");
    const second = {};
    ahead.answer(PARAMS, paramsInput(), second);
    assert.deepEqual(second, { options: { effort: ["high"] } });
  });

  test("any request for the session drops its entries; other sessions keep theirs", () => {
    const ahead = holding();
    ahead.answered("ses_2", ahead.sent("ses_2"), [{ hook: PARAMS, when: { sessionID: "ses_2" }, output: {} }]);
    ahead.sent("ses_1");
    assert.equal(ahead.answer(PARAMS, paramsInput(), {}), false);
    assert.equal(ahead.answer(PARAMS, paramsInput("build", "x", "ses_2"), {}), true);
  });

  test("a reply installs its entries only while its request is the session's latest", () => {
    const ahead = new AheadAnswers();
    const first = ahead.sent("ses_1");
    const second = ahead.sent("ses_1");
    ahead.answered("ses_1", first, ENTRIES); // the earlier request's reply, computed before the later one's change
    assert.equal(ahead.answer(PARAMS, paramsInput(), {}), false);
    ahead.answered("ses_1", second, ENTRIES);
    assert.equal(ahead.answer(PARAMS, paramsInput(), {}), true);
    ahead.answered("ses_1", first, [{ hook: PARAMS, when: { sessionID: "ses_1" }, output: { temperature: 9 } }]);
    const output = {};
    ahead.answer(PARAMS, paramsInput(), output);
    assert.deepEqual(output, { temperature: 0.3 }, "a late reply replaces nothing");
  });

  test("after a clear (config, notification, new brain) a reply still in flight installs nothing", () => {
    const ahead = new AheadAnswers();
    const ticket = ahead.sent("ses_1");
    ahead.clear();
    ahead.answered("ses_1", ticket, ENTRIES);
    assert.equal(ahead.answer(PARAMS, paramsInput(), {}), false);
    const held = holding();
    held.clear();
    assert.equal(held.answer(PARAMS, paramsInput(), {}), false);
  });

  test("memory is bounded: the least recently used sessions are dropped, and their late replies install nothing", () => {
    const ahead = new AheadAnswers();
    const oldest = ahead.sent("ses_0");
    for (let i = 1; i <= MAX_SESSIONS; i++) ahead.answered(`ses_${i}`, ahead.sent(`ses_${i}`), [{ hook: PARAMS, when: { sessionID: `ses_${i}` }, output: {} }]);
    assert.equal(ahead.size, MAX_SESSIONS);
    ahead.answered("ses_0", oldest, [{ hook: PARAMS, when: { sessionID: "ses_0" }, output: {} }]);
    assert.equal(ahead.answer(PARAMS, paramsInput("build", "x", "ses_0"), {}), false);
    assert.equal(ahead.answer(PARAMS, paramsInput("build", "x", `ses_${MAX_SESSIONS}`), {}), true);
    const many = Array.from({ length: 100 }, () => ({ hook: PARAMS, when: { sessionID: "ses_1" }, output: {} }));
    ahead.answered("ses_1", ahead.sent("ses_1"), many);
    assert.ok(ahead.sessions.get("ses_1").entries.length <= 16);
  });

  test("malformed entries are ignored, the well-formed ones of the same reply kept", () => {
    for (const bad of [
      null,
      [],
      "entry",
      { when: { sessionID: "ses_1" }, output: {} },
      { hook: PARAMS, output: {} },
      { hook: PARAMS, when: { sessionID: { id: "ses_1" } }, output: {} },
      { hook: PARAMS, when: { sessionID: "ses_1" } },
      { hook: PARAMS, when: { sessionID: "ses_1" }, output: [1] },
      { hook: PARAMS, when: { sessionID: "ses_1" }, append: { system: "x" } },
      { hook: PARAMS, when: { sessionID: "ses_1" }, output: {}, unless: { system: [1] } },
      { hook: PARAMS, when: { sessionID: "ses_1" }, output: {}, unless: ["x"] },
      { hook: SYSTEM, when: { sessionID: "ses_1" }, output: {}, opening: { system: "x" } },
      { hook: SYSTEM, when: { sessionID: "ses_1" }, output: {}, opening: [MARKER] },
      { hook: SYSTEM, when: { sessionID: "ses_1" }, prefix: { description: 3 } },
      { hook: SYSTEM, when: { sessionID: "ses_1" }, prefix: ["x"] },
    ]) {
      assert.equal(readEntry(bad), null, JSON.stringify(bad));
    }
    const ahead = holding([{ hook: PARAMS, when: { sessionID: { id: 1 } }, output: { temperature: 9 } }, ...ENTRIES]);
    const output = {};
    assert.equal(ahead.answer(PARAMS, paramsInput(), output), true);
    assert.deepEqual(output, { temperature: 0.3 });
    const none = new AheadAnswers();
    none.answered("ses_1", none.sent("ses_1"), "not a list");
    assert.equal(none.answer(PARAMS, paramsInput(), {}), false);
  });

  test("the session of a call: the input's, else the output message's", () => {
    assert.equal(sessionOf({ sessionID: "a" }, { message: { sessionID: "b" } }), "a");
    assert.equal(sessionOf({}, { message: { sessionID: "b" } }), "b");
    assert.equal(sessionOf(null, null), null);
    assert.equal(sessionOf({ sessionID: "" }, {}), null);
  });
});

describe("input filters", () => {
  test("a call passes when each named field holds a listed value; a malformed filter forwards everything", () => {
    const filters = readFilters({ "tool.definition": { toolID: ["task"] }, bad: { toolID: "task" }, worse: 3 });
    assert.deepEqual(Object.keys(filters), ["tool.definition"]);
    assert.equal(passesFilter(filters["tool.definition"], { toolID: "task" }), true);
    assert.equal(passesFilter(filters["tool.definition"], { toolID: "read" }), false);
    assert.equal(passesFilter(filters["tool.definition"], null), false);
    assert.equal(passesFilter(undefined, { toolID: "read" }), true);
    assert.deepEqual(readFilters(null), {});
  });
});

describe("through the plugin", () => {
  const handshake = { readOnly: [PARAMS, SYSTEM], filters: { "tool.definition": { toolID: ["task"] } } };
  const withEntries = (entries) => ({ initialize: handshake, "chat.message": { output: {}, ahead: entries }, [PARAMS]: { output: { temperature: 0.9 } } });
  const sent = (dir, method) => receivedCalls(dir).filter((c) => c.method === method).length;
  /** Whether the session's chat.params call was answered without a request. */
  const answeredAhead = async (hooks, dir) => {
    const before = sent(dir, PARAMS);
    await hooks[PARAMS](chatParamsPayload()[0], {});
    return sent(dir, PARAMS) === before;
  };

  /** A plugin on the fake brain, its handshake read. */
  async function started(dir, patches, mode = "ok") {
    const fake = fakeClient();
    const hooks = await plugin.server({ client: fake.client }, fakeBrain(mode, dir, patches));
    assert.ok(await waitFor(() => hooks.tool?.fake_tool, 5000), "the handshake was read");
    return { hooks, fake };
  }

  test("after chat.message, the turn's calls are answered ahead (no request); a title call still asks", LONG, async () => {
    const dir = stateDir();
    const { hooks } = await started(dir, withEntries(ENTRIES));
    try {
      await hooks["chat.message"](...chatMessagePayload());
      const [input, output] = chatParamsPayload();
      await hooks[PARAMS](input, output);
      assert.equal(output.temperature, 0.3);
      const system = { system: ["OpenCode prompt"] };
      await hooks[SYSTEM](systemInput(), system);
      assert.deepEqual(system.system, ["OpenCode prompt", "routing addition"]);
      assert.equal(sent(dir, PARAMS) + sent(dir, SYSTEM), 0, "answered without a round trip");
      const title = {};
      await hooks[PARAMS]({ ...input, agent: "title" }, title);
      assert.equal(title.temperature, 0.9, "the brain's answer");
      assert.equal(sent(dir, PARAMS), 1);
      await hooks[PARAMS](input, {});
      assert.equal(sent(dir, PARAMS), 1, "a read-only request leaves the entries in place");
    } finally {
      await hooks.dispose();
      cleanup(dir);
    }
  });

  test("a config drops the entries", LONG, async () => {
    const dir = stateDir();
    const { hooks } = await started(dir, withEntries(ENTRIES));
    try {
      await hooks["chat.message"](...chatMessagePayload());
      assert.equal(await answeredAhead(hooks, dir), true);
      await hooks.config({ provider: {} });
      assert.equal(await answeredAhead(hooks, dir), false, "config dropped them");
      await hooks["chat.message"](...chatMessagePayload());
      assert.equal(await answeredAhead(hooks, dir), true);
    } finally {
      await hooks.dispose();
      cleanup(dir);
    }
  });

  test("nothing a lost brain answered ahead is used: not while it is gone, nor by the next one", LONG, async () => {
    const dir = stateDir();
    const { hooks } = await started(dir, { initialize: handshake, "tool.execute.after": { output: {}, ahead: ENTRIES } }, "die-on-hook");
    /** One chat.params call of ses_1: whether the entry's answer (0.3) was applied, and whether a brain was asked. A
     * call made while the restarted brain is still starting asks nobody within its budget: it must not use the entry. */
    const probe = async () => {
      const before = sent(dir, PARAMS);
      const output = {};
      await hooks[PARAMS](chatParamsPayload()[0], output);
      return { fromEntry: output.temperature === 0.3, asked: sent(dir, PARAMS) > before };
    };
    try {
      await hooks["tool.execute.after"]({ tool: "read", sessionID: "ses_1", callID: "c1", args: {} }, { output: "ok" });
      assert.deepEqual(await probe(), { fromEntry: true, asked: false });
      const [input, output] = chatMessagePayload();
      input.sessionID = output.message.sessionID = "ses_2";
      await hooks["chat.message"](input, output); // the brain dies on it (another session's request)
      const untilAsked = async () => {
        const { fromEntry, asked } = await probe();
        assert.equal(fromEntry, false, "not while the brain is gone or restarting");
        return asked;
      };
      assert.ok(await waitFor(untilAsked, 10000), "asked: the brain is restarted");
      assert.equal(brainPids(dir).length, 2, "a second brain answered");
      assert.deepEqual(await probe(), { fromEntry: false, asked: true }, "the first brain's entries are gone");
    } finally {
      await hooks.dispose();
      cleanup(dir);
    }
  });

  test("a pushed client.actions notification drops the entries", LONG, async () => {
    const dir = stateDir();
    const compacting = "experimental.session.compacting";
    const { hooks } = await started(dir, { ...withEntries(ENTRIES), pushBefore: compacting });
    try {
      await hooks["chat.message"](...chatMessagePayload());
      const [input] = chatParamsPayload();
      await hooks[PARAMS](input, {});
      assert.equal(sent(dir, PARAMS), 0);
      await hooks[compacting]({ sessionID: "ses_2" }, { context: [] }); // another session's request: the push comes first
      await hooks[PARAMS](input, {});
      assert.equal(sent(dir, PARAMS), 1);
    } finally {
      await hooks.dispose();
      cleanup(dir);
    }
  });

  test("malformed entries never break the chat: the call goes by request", LONG, async () => {
    const dir = stateDir();
    const { hooks, fake } = await started(dir, withEntries([{ hook: PARAMS, when: "ses_1", output: 7 }, 42, null]));
    try {
      await hooks["chat.message"](...chatMessagePayload());
      const [input, output] = chatParamsPayload();
      await hooks[PARAMS](input, output);
      assert.equal(output.temperature, 0.9);
      assert.equal(sent(dir, PARAMS), 1);
      assert.equal(fake.named("app.log").length, 0, "no warning");
    } finally {
      await hooks.dispose();
      cleanup(dir);
    }
  });

  test("the handshake's standing entries answer the task tool's definition, through configs, until the brain goes", LONG, async () => {
    const dir = stateDir();
    const standing = [{ hook: "tool.definition", when: { toolID: "task" }, prefix: { description: "Guide. " } }];
    const initialize = { ...handshake, readOnly: [...handshake.readOnly, "tool.definition"], ahead: standing };
    const { hooks } = await started(dir, { initialize, "tool.definition": { output: { description: "asked" } } });
    try {
      const task = { description: "Launch an agent." };
      await hooks["tool.definition"]({ toolID: "task" }, task);
      assert.equal(task.description, "Guide. Launch an agent.");
      await hooks.config({ provider: {} });
      const again = { description: "Launch an agent." };
      await hooks["tool.definition"]({ toolID: "task" }, again);
      assert.equal(again.description, "Guide. Launch an agent.");
      assert.equal(sent(dir, "tool.definition"), 0, "answered without a round trip");
    } finally {
      await hooks.dispose();
      cleanup(dir);
    }
  });

  test("tool.definition is forwarded only for the tools the filter names", LONG, async () => {
    const dir = stateDir();
    const { hooks } = await started(dir, { initialize: handshake, "tool.definition": { output: { description: "guided" } } });
    try {
      const read = { description: "Read a file." };
      await hooks["tool.definition"]({ toolID: "read" }, read);
      assert.deepEqual(read, { description: "Read a file." });
      const task = { description: "Launch an agent." };
      await hooks["tool.definition"]({ toolID: "task" }, task);
      assert.equal(task.description, "guided");
      assert.deepEqual(
        receivedCalls(dir).filter((c) => c.method === "tool.definition").map((c) => c.params.input.toolID),
        ["task"],
      );
    } finally {
      await hooks.dispose();
      cleanup(dir);
    }
  });
});

describe("with the real brain", () => {
  const fixture = (name) => JSON.parse(readFileSync(join(REPO, "tests", "fixtures", "hooks", `${name}.json`), "utf8")).params;
  const TITLE = "You are a title generator. You output ONLY a thread title.";

  /** The per-step calls of a turn on `model`, its agent's and a title call's. */
  const probes = (model, agent) => {
    const spec = { id: model, providerID: "kimchi" };
    const params = (who) => ({ sessionID: "ses_1", agent: who, model: spec, provider: { id: "kimchi", source: "config" } });
    return [
      [PARAMS, params(agent), { temperature: 0.7, topP: 1, options: {} }],
      [PARAMS, params("title"), { temperature: 0.7, options: {} }],
      [SYSTEM, { sessionID: "ses_1", model: spec }, { system: ["You are OpenCode.", "Project rules."] }],
      [SYSTEM, { sessionID: "ses_1", model: spec }, { system: [TITLE] }],
    ];
  };

  test("an answer ahead equals the brain's answer to the same call by request, step after step", LONG, async () => {
    const [command, ...args] = realBrain().command;
    const brain = new BrainProcess({ resolveCommand: async () => ({ command, args }), warn: () => {} });
    let compared = 0;
    try {
      const handshake = await brain.start({ protocolVersion: PROTOCOL_VERSION, options: {}, directory: "/tmp/p", worktree: "/" });
      await brain.request("config", { input: null, output: fixture("config").output }, 10000);
      const turns = [
        ["Plan the migration of the billing service", "build"],
        ["implement the parser and add tests", "kimchi-auto"],
        ["what does this function return?", "kimchi-auto"],
      ];
      for (const [turn, [text, agent]] of turns.entries()) {
        const [input, output] = chatMessagePayload(text);
        output.message.agent = agent;
        const routed = await brain.request("chat.message", { input, output }, 5000);
        const model = routed.output.message?.model?.modelID ?? "auto";
        let entries = routed.ahead;
        for (let step = 0; step < 6; step++) {
          for (const [hook, hookInput, hookOutput] of probes(model, agent)) {
            const ahead = new AheadAnswers();
            ahead.reset(handshake.ahead);
            ahead.answered("ses_1", ahead.sent("ses_1"), entries);
            const fromEntry = structuredClone(hookOutput);
            if (!ahead.answer(hook, hookInput, fromEntry)) continue;
            const reply = await brain.request(hook, { input: hookInput, output: structuredClone(hookOutput) }, 5000);
            const asked = structuredClone(hookOutput);
            applyPatch(asked, reply.output);
            assert.deepEqual(fromEntry, asked, `${hook} ${JSON.stringify(hookInput.agent)} turn ${turn} step ${step}`);
            compared++;
          }
          const call = { tool: "edit", sessionID: "ses_1", callID: `c${turn}.${step}`, args: { filePath: `f${step}.py` } };
          entries = (await brain.request("tool.execute.after", { input: call, output: { title: "edit", output: "ok", metadata: {} } }, 5000)).ahead;
        }
      }
      assert.ok(compared >= 72, `${compared} calls compared`); // all four calls of every step, the title's included
    } finally {
      await brain.request("shutdown", {}, 2000).catch(() => {});
      brain.stop();
    }
  });
});
