// Request/response matching and the restart policy, pure: time is driven by hand.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { CallTable, CallTimeout, RemoteError, classify } from "../../plugin_shim/rpc.js";
import { RestartPolicy } from "../../plugin_shim/restart_policy.js";

/** Timers that fire only when the test says so. */
function manualTimers() {
  const timers = new Map();
  let next = 1;
  return {
    setTimer: (fn, ms) => {
      timers.set(next, { fn, ms });
      return next++;
    },
    clearTimer: (handle) => timers.delete(handle),
    fireAll: () => {
      const due = [...timers.values()];
      timers.clear();
      for (const t of due) t.fn();
    },
    count: () => timers.size,
  };
}

describe("classify", () => {
  test("replies, notifications and junk", () => {
    assert.deepEqual(classify('{"jsonrpc":"2.0","id":3,"result":{"a":1}}'), { kind: "reply", id: 3, result: { a: 1 }, error: undefined });
    assert.equal(classify('{"jsonrpc":"2.0","id":4,"error":{"code":-32601,"message":"x"}}').kind, "reply");
    assert.deepEqual(classify('{"jsonrpc":"2.0","method":"client.actions","params":{"actions":[]}}'), {
      kind: "notification",
      method: "client.actions",
      params: { actions: [] },
    });
    for (const junk of ["", "Loading...", "[1,2,3]", "null", "42", '{"id":1}', '{"method":5}']) assert.equal(classify(junk).kind, "junk", junk);
  });
});

describe("CallTable", () => {
  test("ids are unique and replies settle the call with the same id", async () => {
    const timers = manualTimers();
    const table = new CallTable(timers);
    const a = table.open("a", 100);
    const b = table.open("b", 100);
    assert.notEqual(a.id, b.id);
    assert.equal(table.settle({ id: b.id, result: "B" }), true);
    assert.equal(table.settle({ id: a.id, result: "A" }), true);
    assert.equal(await a.reply, "A");
    assert.equal(await b.reply, "B");
    assert.equal(timers.count(), 0, "deadlines cleared");
  });

  test("an error reply rejects with the code", async () => {
    const table = new CallTable(manualTimers());
    const call = table.open("x", 100);
    table.settle({ id: call.id, error: { code: -32603, message: "Internal error" } });
    await assert.rejects(call.reply, (err) => err instanceof RemoteError && err.code === -32603);
  });

  test("the deadline rejects; a late reply is dropped", async () => {
    const timers = manualTimers();
    const table = new CallTable(timers);
    const call = table.open("chat.message", 1500);
    timers.fireAll();
    await assert.rejects(call.reply, (err) => err instanceof CallTimeout && /chat.message timed out after 1500 ms/.test(err.message));
    assert.equal(table.settle({ id: call.id, result: {} }), false);
    assert.equal(table.size, 0);
  });

  test("unknown and duplicate replies are dropped", async () => {
    const table = new CallTable(manualTimers());
    const call = table.open("x", 100);
    assert.equal(table.settle({ id: 987654, result: {} }), false);
    assert.equal(table.settle({ id: null, result: {} }), false);
    assert.equal(table.settle({ id: call.id, result: 1 }), true);
    assert.equal(table.settle({ id: call.id, result: 2 }), false);
    assert.equal(await call.reply, 1);
  });

  test("failAll rejects every waiting call and clears the deadlines", async () => {
    const timers = manualTimers();
    const table = new CallTable(timers);
    const calls = [table.open("a", 10), table.open("b", 10)];
    table.failAll(() => new Error("gone"));
    for (const c of calls) await assert.rejects(c.reply, /gone/);
    assert.equal(timers.count(), 0);
  });
});

describe("RestartPolicy", () => {
  test("backoff per crash, give up after the limit within the window", () => {
    let now = 1000;
    const policy = new RestartPolicy({ limit: 3, windowMs: 60000, backoffMs: [0, 500, 2000], now: () => now });
    assert.deepEqual(policy.recordCrash(), { giveUp: false, count: 1 });
    assert.equal(policy.mayStart(), true, "no wait before the first restart");
    assert.deepEqual(policy.recordCrash(), { giveUp: false, count: 2 });
    assert.equal(policy.mayStart(), false);
    now += 500;
    assert.equal(policy.mayStart(), true);
    assert.deepEqual(policy.recordCrash(), { giveUp: false, count: 3 });
    now += 1999;
    assert.equal(policy.mayStart(), false);
    now += 1;
    assert.equal(policy.mayStart(), true);
    assert.equal(policy.recordCrash().giveUp, true, "the fourth crash in the window");
  });

  test("crashes older than the window are forgotten", () => {
    let now = 0;
    const policy = new RestartPolicy({ limit: 1, windowMs: 1000, backoffMs: [0], now: () => now });
    assert.equal(policy.recordCrash().giveUp, false);
    now += 1000;
    assert.equal(policy.recordCrash().giveUp, false);
    assert.equal(policy.recordCrash().giveUp, true);
    assert.equal(policy.describeWindow(), "1 s");
    assert.equal(new RestartPolicy().describeWindow(), "3 minutes");
  });
});
