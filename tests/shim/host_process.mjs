// A stand-in for the OpenCode process: loads the plugin, waits for the brain, then leaves the way argv says.
// Usage: host_process.mjs <how> <plugin options JSON>; prints "ready" once a hook has been answered.
//   exit          process.exit(0) without dispose
//   dispose-exit  dispose(), not awaited, then process.exit(0) at once (OpenCode's shutdown)
//   natural       nothing: the event loop is left to drain
//   wait          stay alive until killed
import plugin from "../../plugin_shim/index.js";

const [how, optionsJson] = process.argv.slice(2);
const hooks = await plugin.server({ client: {}, directory: process.cwd(), worktree: process.cwd() }, JSON.parse(optionsJson));
const deadline = Date.now() + 10000;
while (Date.now() < deadline) {
  if (hooks.tool && Object.keys(hooks.tool).length > 0) break;
  await new Promise((resolve) => setTimeout(resolve, 50));
}
process.stdout.write("ready\n");
if (how === "exit") process.exit(0);
if (how === "dispose-exit") {
  hooks.dispose();
  process.exit(0);
}
if (how === "wait") setInterval(() => {}, 1000);
