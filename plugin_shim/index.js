// @ts-check
// opencode-kimchi: the OpenCode plugin. Forwards hooks to the Python brain over stdio JSON-RPC and applies its
// answers. Every hook catches everything and fails open: on any error or timeout OpenCode's output stays untouched.
import { ACTION_CALLS, DEFAULT_TIMEOUTS, INPUT_SHAPERS, TOOL_TIMEOUT_MS, applyPatch } from "./hooks.js";
import { BrainProcess } from "./brain_process.js";
import { forgetCachedVenv, resolveBrainCommand } from "./python_env.js";
import { answerKey, readAnswer, writeAnswer } from "./answer_cache.js";

const SHIM_VERSION = "0.1.0";
const HANDSHAKE_TIMEOUT_MS = 10000;
const WARN_INTERVAL_MS = 60000; // at most one warning per hook and minute

const live = new Set();
let exitHookInstalled = false;

function installExitHook() {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // OpenCode does not always call dispose (e.g. `serve` on SIGTERM): never leave a brain behind.
  process.on("exit", () => {
    for (const brain of live) brain.killNow();
  });
}

/** @param {any} input  PluginInput  @param {Record<string, any>} [options] */
async function server(input, options) {
  const opts = options && typeof options === "object" ? options : {};
  const client = input?.client;
  const timeouts = { ...DEFAULT_TIMEOUTS, ...(opts.timeouts || {}) };
  const lastWarn = new Map();

  const log = (level, message) => {
    try {
      Promise.resolve(client?.app?.log?.({ body: { service: "opencode-kimchi", level, message } })).catch(() => {});
    } catch {}
  };
  const toast = (message, variant) => {
    try {
      Promise.resolve(
        client?.tui?.showToast?.({ body: { title: "opencode-kimchi", message, variant, duration: 8000 } }),
      ).catch(() => {});
    } catch {}
  };
  const warn = (message) => log("warn", message);
  const warnHook = (hook, err) => {
    const now = Date.now();
    if (now - (lastWarn.get(hook) || 0) < WARN_INTERVAL_MS) return;
    lastWarn.set(hook, now);
    warn(`${hook}: left unchanged (${err instanceof Error ? err.message : String(err)})`);
  };

  const brain = new BrainProcess(
    () =>
      resolveBrainCommand(opts, (msg) => {
        log("info", msg);
        toast(msg, "info");
      }),
    warn,
    HANDSHAKE_TIMEOUT_MS,
  );
  live.add(brain);
  installExitHook();
  brain.onDegraded = (reason) => {
    // A brain that never got through its handshake from a cached environment: the environment is likely broken.
    const rebuild = !brain.everReady && forgetCachedVenv(brain.command);
    const next = rebuild ? " Its Python environment will be rebuilt at the next start." : "";
    toast(`Routing is off for this session: ${reason}.${next} Details in the OpenCode log and the brain log.`, "warning");
  };

  /** @type {Set<string> | null} */
  let handled = null;
  /** @type {Set<string>} */
  let events = new Set();
  // OpenCode reads the plugin's tool map at its first model request, not when the factory returns: the factory
  // returns at once (no wait for the brain) and the brain's tools are filled in when its handshake arrives.
  /** @type {Record<string, any>} */
  const tools = {};
  brain.onReady = (result) => {
    handled = new Set(Array.isArray(result.hooks) ? result.hooks : []);
    events = new Set(Array.isArray(result.events) ? result.events : []);
    for (const spec of Array.isArray(result.tools) ? result.tools : []) {
      if (spec && typeof spec.name === "string") tools[spec.name] = toolFor(spec);
    }
  };

  const runActions = (actions) => {
    if (!Array.isArray(actions)) return;
    for (const action of actions) {
      if (!action || !ACTION_CALLS.includes(action.call)) continue;
      const [ns, fn] = action.call.split(".");
      setTimeout(() => {
        try {
          Promise.resolve(client?.[ns]?.[fn]?.(action.args)).catch(() => {});
        } catch {}
      }, 0);
    }
  };

  // Set before the start: the brain may push actions right after its handshake reply, in the same chunk.
  brain.onActions = runActions;

  const started = brain.start({
    protocolVersion: 1,
    shimVersion: SHIM_VERSION,
    options: opts,
    directory: input?.directory ?? "",
    worktree: input?.worktree ?? "",
  });
  started.catch(() => {});

  function toolFor(spec) {
    return {
      description: String(spec.description || ""),
      args: (spec.args && spec.args.properties) || {},
      execute: async (args, ctx) => {
        try {
          const context = { sessionID: ctx?.sessionID, messageID: ctx?.messageID, agent: ctx?.agent };
          const result = await brain.request("tool.execute", { name: spec.name, args, context }, TOOL_TIMEOUT_MS);
          if (result) runActions(result.actions);
          return String(result?.output ?? "");
        } catch (err) {
          return `opencode-kimchi is unavailable right now (${err instanceof Error ? err.message : err}).`;
        }
      },
    };
  }

  const forward = (hook) => async (hookInput, hookOutput) => {
    try {
      if (handled && !handled.has(hook)) return;
      const shape = INPUT_SHAPERS[hook];
      const params = { input: shape ? shape(hookInput) : hookInput, output: hookOutput };
      const result = await brain.request(hook, params, timeouts[hook] ?? 300);
      if (result && result.output) applyPatch(hookOutput, result.output);
      if (result) runActions(result.actions);
    } catch (err) {
      warnHook(hook, err);
    }
  };

  /** @type {Record<string, any>} */
  const hooks = {};
  for (const hook of Object.keys(DEFAULT_TIMEOUTS)) if (hook !== "config") hooks[hook] = forward(hook);

  // config: the brain builds its model registry from it, so every (re)started brain is sent the latest copy.
  let lastConfig = null;
  let configKey = "";
  let configInFlight = false;
  const sendConfig = () =>
    brain.request("config", { input: null, output: lastConfig }, timeouts.config).then((result) => {
      if (result && result.cacheable && result.output) writeAnswer(configKey, result.output);
      return result;
    });
  const previousOnReady = brain.onReady;
  brain.onReady = (result) => {
    previousOnReady(result);
    if (lastConfig && !configInFlight) sendConfig().catch(() => {});
  };
  hooks.config = async (cfg) => {
    try {
      if (handled && !handled.has("config")) return;
      lastConfig = JSON.parse(JSON.stringify(cfg));
      const { command, timeouts: _budgets, ...brainOptions } = opts; // how the brain is run does not change its answer
      configKey = answerKey(SHIM_VERSION, brainOptions, lastConfig);
      const cached = brain.state === "ready" ? null : readAnswer(configKey);
      configInFlight = true;
      const asked = sendConfig().finally(() => (configInFlight = false));
      if (cached) {
        asked.catch(() => {}); // the brain still learns the config; start-up does not wait for it
        applyPatch(cfg, cached);
        return;
      }
      const result = await asked;
      if (result && result.output) applyPatch(cfg, result.output);
      if (result) runActions(result.actions);
    } catch (err) {
      warnHook("config", err);
    }
  };
  hooks.event = async (arg) => {
    try {
      const event = arg?.event;
      if (event && events.has(event.type)) brain.notify("event", { event });
    } catch {}
  };
  hooks.dispose = async () => {
    try {
      // Stays in `live` until stopped: a host that exits right after calling dispose still takes the brain along.
      await brain.request("shutdown", {}, 500).catch(() => {});
      brain.stop();
      live.delete(brain);
    } catch {}
  };

  hooks.tool = tools;
  return hooks;
}

export default { id: "opencode-kimchi", server };
