// Shared pieces of the shim tests: a recording fake OpenCode client, fake-brain commands, process checks, waits.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
export const SERVERS = join(REPO, "tests", "support");
export const FAKE_BRAIN = join(SERVERS, "fake_brain.py");
const VENV_PYTHON = join(REPO, ".venv", "bin", "python");
export const PYTHON = existsSync(VENV_PYTHON) ? VENV_PYTHON : "python3";
export const SLACK_MS = 700; // scheduling slack on a loaded machine, on top of a budget

/** A stand-in for OpenCode's SDK client that records the calls the plugin makes. */
export function fakeClient() {
  const calls = [];
  const record = (name) => async (args) => {
    calls.push({ name, args });
    return { data: true };
  };
  return {
    calls,
    client: {
      app: { log: record("app.log") },
      tui: { showToast: record("tui.showToast") },
      session: { summarize: record("session.summarize"), delete: record("session.delete") },
    },
    named: (name) => calls.filter((c) => c.name === name),
  };
}

/** A fresh directory for one fake brain's pid files and call log. */
export function stateDir() {
  return mkdtempSync(join(tmpdir(), "kimchi-shim-"));
}

export function cleanup(dir) {
  rmSync(dir, { recursive: true, force: true });
}

/** The hooks the fake brain lists in its handshake (tests/support/fake_brain.py). */
export const FAKE_BRAIN_HOOKS = [
  "config",
  "chat.message",
  "chat.params",
  "experimental.chat.system.transform",
  "experimental.chat.messages.transform",
  "tool.execute.before",
  "tool.execute.after",
  "tool.definition",
  "experimental.session.compacting",
];

/** Plugin options that start the fake brain in `mode`. */
export function fakeBrain(mode, dir, patches = {}, extra = {}) {
  return { command: [PYTHON, FAKE_BRAIN, mode, dir, JSON.stringify(patches)], ...extra };
}

/** Plugin options that start the real brain from the repository's sources. */
export function realBrain(extra = {}) {
  return { command: [PYTHON, "-m", "kimchi_plugin"], ...extra };
}

export function brainPids(dir) {
  return readdirSync(dir)
    .filter((name) => name.startsWith("pid-"))
    .map((name) => Number(name.slice(4)));
}

export function receivedCalls(dir) {
  const path = join(dir, "calls.jsonl");
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line));
}

export function alive(pid) {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie still answers signal 0: read its state where /proc exists.
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return true;
  }
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Poll `check` until it returns true or `ms` pass; returns the last value. */
export async function waitFor(check, ms, every = 25) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(every);
  }
  return Boolean(await check());
}

/** Call a hook the way OpenCode does: looked up when it fires, skipped when the plugin has none (yet). */
export async function trigger(hooks, name, input, output) {
  const fn = hooks[name];
  if (typeof fn === "function") await fn(input, output);
}

/** Run `fn`, returning [elapsed ms, result]. */
export async function timed(fn) {
  const started = performance.now();
  const result = await fn();
  return [performance.now() - started, result];
}

/** Typical payloads, shaped like OpenCode's (see tests/fixtures/hooks). */
export function chatParamsPayload() {
  return [
    { sessionID: "ses_1", agent: "build", model: { id: "kimi-k2.5", providerID: "kimchi" }, provider: { id: "kimchi", source: "config", models: { big: {} } } },
    { topP: 0.95, maxOutputTokens: 32000, options: { keep: 1 } },
  ];
}

export function chatMessagePayload(text = "Plan the migration of the billing service") {
  const message = { id: "msg_1", role: "user", sessionID: "ses_1", agent: "build", model: { providerID: "kimchi", modelID: "auto" } };
  return [
    { sessionID: "ses_1", model: { providerID: "kimchi", modelID: "auto" } },
    { message, parts: [{ id: "prt_1", type: "text", text, sessionID: "ses_1", messageID: "msg_1" }] },
  ];
}

// No API key and private XDG directories: the real brain never reaches the network or the developer's files.
const isolated = mkdtempSync(join(tmpdir(), "kimchi-shim-home-"));
for (const name of ["KIMCHI_API_KEY", "CASTAI_API_KEY", "KIMCHI_LOG_LEVEL"]) delete process.env[name];
for (const name of ["XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME"]) process.env[name] = join(isolated, name.toLowerCase());
process.on("exit", () => cleanup(isolated));
