// Loads the plugin from a package directory and reports, as one JSON line, how long it took until the brain's
// handshake arrived (the brain's tools appear) and what the client was told. Usage: bootstrap_probe.mjs <pkg dir>
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const started = performance.now();
const { default: plugin } = await import(pathToFileURL(join(process.argv[2], "plugin_shim", "index.js")).href);
const notices = [];
const record = (name) => async (args) => notices.push({ name, message: args?.body?.message });
const client = { app: { log: record("app.log") }, tui: { showToast: record("tui.showToast") } };
const hooks = await plugin.server({ client, directory: process.cwd(), worktree: process.cwd() }, {});
const deadline = Date.now() + 15 * 60 * 1000;
while (Object.keys(hooks.tool || {}).length === 0 && Date.now() < deadline) {
  await new Promise((resolve) => setTimeout(resolve, 20));
}
const readyMs = performance.now() - started;
const tools = Object.keys(hooks.tool || {});
await hooks.dispose();
process.stdout.write(JSON.stringify({ readyMs: Math.round(readyMs), tools, notices }) + "\n");
process.exit(0);
