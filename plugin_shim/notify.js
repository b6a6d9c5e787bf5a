// @ts-check
// What the plugin tells the user and OpenCode's log, through OpenCode's SDK client. Never throws, never waits: a
// failing client must not break a hook.
import { ACTION_CALLS } from "./hooks.js";

const SERVICE = "opencode-kimchi";
const WARN_INTERVAL_MS = 60000; // at most one warning per hook and minute

/** @param {any} client  OpenCode's SDK client (may be missing or odd) */
export function makeNotifier(client) {
  /** @type {Map<string, number>} */
  const lastWarn = new Map();
  /** @param {string} path  @param {unknown} args */
  const call = (path, args) => {
    const [ns, fn] = path.split(".");
    try {
      Promise.resolve(client?.[ns]?.[fn]?.(args)).catch(() => {});
    } catch {}
  };
  /** @param {"debug" | "info" | "warn" | "error"} level  @param {string} message */
  const log = (level, message) => call("app.log", { body: { service: SERVICE, level, message } });
  /** @param {string} message  @param {"info" | "success" | "warning" | "error"} variant */
  const toast = (message, variant) => call("tui.showToast", { body: { title: SERVICE, message, variant, duration: 8000 } });
  /** @param {string} message */
  const warn = (message) => log("warn", message);
  return {
    log,
    toast,
    warn,
    /** One warning per hook and minute: a hook failing on every call must not flood the log. @param {string} hook  @param {unknown} err */
    warnHook(hook, err) {
      const now = Date.now();
      if (now - (lastWarn.get(hook) || 0) < WARN_INTERVAL_MS) return;
      lastWarn.set(hook, now);
      warn(`${hook}: left unchanged (${err instanceof Error ? err.message : String(err)})`);
    },
    /** Run the whitelisted client calls of a brain answer, after the hook has returned. @param {unknown} actions */
    runActions(actions) {
      if (!Array.isArray(actions)) return;
      for (const action of actions) {
        if (!action || !ACTION_CALLS.includes(action.call)) continue;
        setTimeout(() => call(action.call, action.args), 0);
      }
    },
  };
}

/** @typedef {ReturnType<typeof makeNotifier>} Notifier */
