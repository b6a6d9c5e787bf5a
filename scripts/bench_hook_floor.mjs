// Hook round trip through the real shim: `chat.message` OpenCode → shim → Python brain → shim, for 100 B, 5 KB and
// 200 KB messages, against the floor measured in the same run: the same shim driving a child that only parses and
// answers each frame (scripts/echo_brain.py). Calls to the two alternate, so both see the same machine noise.
//
// Usage: node scripts/bench_hook_floor.mjs [-n 2000]      (also: node_modules/.bin/bun scripts/bench_hook_floor.mjs)
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const REPO = dirname(dirname(fileURLToPath(import.meta.url)));
const PYTHON = join(REPO, ".venv", "bin", "python");
const SIZES = [
  ["small 100 B", 100],
  ["medium 5 KB", 5 * 1024],
  ["large 200 KB", 200 * 1024],
];
const WARMUP = 200;
const GOAL_P99_MS = 2; // small and medium
const GOAL_FLOOR_RATIO = 3;
const SESSIONS = 16;
const MODELS = { "kimi-k2.5": { name: "Kimi K2.5" }, "minimax-m2.7": { name: "MiniMax M2.7" }, "glm-5": { name: "GLM 5" } };
const SENTENCES = [
  "Refactor the session store so eviction happens in one place and add tests for the TTL. ",
  "Why does the websocket handler drop messages after a reconnect? The log shows a stale cursor. ",
  "Where is the retry policy for the payment client configured? ",
  "Review this diff for security problems, especially the token handling in the login flow. ",
  "Implement pagination for the /orders endpoint with a cursor and a page size limit. ",
];

function parseArgs() {
  const i = process.argv.indexOf("-n");
  return { n: i > 0 ? Number(process.argv[i + 1]) : 2000 };
}

function text(bytes, seed) {
  let out = "";
  for (let i = seed; out.length < bytes; i++) out += SENTENCES[i % SENTENCES.length];
  return out.slice(0, bytes);
}

function quantile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function summary(ms) {
  const s = [...ms].sort((a, b) => a - b);
  return { p50: quantile(s, 0.5), p99: quantile(s, 0.99), max: s[s.length - 1] };
}

function fakeClient(counter) {
  return {
    app: { log: async () => counter.logs++ },
    tui: { showToast: async () => counter.toasts++ },
    session: { summarize: async () => {} },
  };
}

async function startShim(command, workdir, counter) {
  const { default: plugin } = await import(join(REPO, "plugin_shim", "index.js"));
  const options = { command, logFile: join(workdir, "brain.log"), llmClassifier: false };
  return plugin.server({ client: fakeClient(counter), directory: workdir, worktree: workdir }, options);
}

function config() {
  return { model: "kimchi/kimi-k2.5", provider: { kimchi: { options: { baseURL: "http://127.0.0.1:9/v1" }, models: { ...MODELS } } } };
}

function chatMessage(i, body) {
  const sessionID = `ses_bench_${i % SESSIONS}`;
  const model = { providerID: "kimchi", modelID: "kimi-k2.5" };
  return [
    { sessionID, agent: "build", model, messageID: `msg_${i}` },
    {
      message: { id: `msg_${i}`, sessionID, role: "user", agent: "build", model: { ...model } },
      parts: [{ id: `prt_${i}`, sessionID, messageID: `msg_${i}`, type: "text", text: body }],
    },
  ];
}

async function timeCall(hook, i, body) {
  const [input, output] = chatMessage(i, body);
  const start = process.hrtime.bigint();
  await hook(input, output);
  return { ms: Number(process.hrtime.bigint() - start) / 1e6, output };
}

async function main() {
  const { n } = parseArgs();
  const workdir = mkdtempSync(join(tmpdir(), "kimchi-rt-"));
  for (const key of ["KIMCHI_API_KEY", "CASTAI_API_KEY"]) delete process.env[key];
  process.env.XDG_CACHE_HOME = join(workdir, "cache");
  process.env.XDG_STATE_HOME = join(workdir, "state");
  process.chdir(REPO);
  const counter = { logs: 0, toasts: 0 };
  const brain = await startShim([PYTHON, "-m", "kimchi_plugin"], workdir, counter);
  const echo = await startShim([PYTHON, join(REPO, "scripts", "echo_brain.py")], workdir, counter);
  await brain.config(config());
  const runtime = typeof Bun !== "undefined" ? `bun ${Bun.version}` : `node ${process.version}`;
  console.log(`hook round trip, chat.message, ${runtime}; floor = same shim + echo child (${n} calls per size, p99 over all)`);
  console.log("size           | brain p50  p99    max     | echo p50  p99    max     | p99 ratio | goal");
  let routed = 0;
  let failed = false;
  for (const [label, bytes] of SIZES) {
    const calls = bytes > 100_000 ? Math.max(200, Math.floor(n / 5)) : n;
    const real = [];
    const floor = [];
    for (let i = 0; i < WARMUP + calls; i++) {
      const body = text(bytes, i);
      const a = await timeCall(brain["chat.message"], i, body);
      const b = await timeCall(echo["chat.message"], i, body);
      if (a.output.message.model.modelID !== "kimi-k2.5" || a.output.message.model.providerID !== "kimchi") routed++;
      if (i >= WARMUP) {
        real.push(a.ms);
        floor.push(b.ms);
      }
    }
    const r = summary(real);
    const f = summary(floor);
    const ratio = r.p99 / f.p99;
    const ok = ratio <= GOAL_FLOOR_RATIO && (bytes > 100_000 || r.p99 <= GOAL_P99_MS);
    failed ||= !ok;
    const fmt = (v) => v.toFixed(3).padStart(6);
    const goal = bytes > 100_000 ? `≤${GOAL_FLOOR_RATIO}× floor` : `≤${GOAL_P99_MS} ms, ≤${GOAL_FLOOR_RATIO}×`;
    console.log(
      `${label.padEnd(14)} | ${fmt(r.p50)} ${fmt(r.p99)} ${fmt(r.max)} | ${fmt(f.p50)} ${fmt(f.p99)} ${fmt(f.max)} | ` +
        `${ratio.toFixed(2).padStart(6)}×   | ${goal} ${ok ? "met" : "MISSED"}`,
    );
  }
  console.log(`(ms; decisions that changed the model: ${routed}; toasts requested: ${counter.toasts}; warnings: ${counter.logs})`);
  await brain.dispose();
  await echo.dispose();
  rmSync(workdir, { recursive: true, force: true });
  process.exit(failed ? 1 : 0);
}

main().catch((err) => {
  console.error(err);
  process.exit(2);
});
