// Bridge latency seen from the host: spawn → ready of the repository's brain (plugin load until the handshake's tools
// arrive) and hook round trips through the shim, p50/p99. Usage: node scripts/bench_roundtrip.mjs [calls] [starts]
import { readFileSync } from "node:fs";
import { join } from "node:path";
import plugin from "../plugin_shim/index.js";

const CALLS = Number(process.argv[2] || 2000);
const STARTS = Number(process.argv[3] || 5);
const FIXTURES = join(import.meta.dirname ?? new URL(".", import.meta.url).pathname, "..", "tests", "fixtures", "hooks");
const fixture = (name) => JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), "utf8")).params;
const client = { app: { log: async () => {} }, tui: { showToast: async () => {} } };
const BUDGETS = { timeouts: { config: 10000, "chat.message": 10000, "chat.params": 10000, "tool.execute.after": 10000 } };

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const fmt = (ms) => `${ms.toFixed(2)} ms`;

async function ready() {
  const started = performance.now();
  const hooks = await plugin.server({ client, directory: process.cwd(), worktree: process.cwd() }, BUDGETS);
  while (Object.keys(hooks.tool || {}).length === 0) await new Promise((resolve) => setTimeout(resolve, 2));
  return [performance.now() - started, hooks];
}

const starts = [];
for (let i = 0; i < STARTS; i++) {
  const [ms, hooks] = await ready();
  starts.push(ms);
  await hooks.dispose();
}
starts.sort((a, b) => a - b);
console.log(`spawn → ready (warm, ${STARTS} starts): median ${fmt(pct(starts, 50))}, max ${fmt(starts.at(-1))}`);

const [, hooks] = await ready();
await hooks.config(fixture("config").output);
const cases = {
  "tool.execute.after": () => {
    const { input, output } = fixture("tool.execute.after");
    return hooks["tool.execute.after"](input, output);
  },
  "chat.params": () => {
    const { input, output } = fixture("chat.params");
    return hooks["chat.params"](input, output);
  },
  "chat.message": () => {
    const { input, output } = fixture("chat.message--auto");
    return hooks["chat.message"](input, output);
  },
};
for (const [name, call] of Object.entries(cases)) {
  for (let i = 0; i < 50; i++) await call(); // warm-up
  const times = [];
  for (let i = 0; i < CALLS; i++) {
    const t = performance.now();
    await call();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  console.log(`${name} round trip (${CALLS} calls): p50 ${fmt(pct(times, 50))}, p99 ${fmt(pct(times, 99))}`);
}
await hooks.dispose();
process.exit(0);
