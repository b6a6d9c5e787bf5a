// @ts-check
// The brain's tools as OpenCode tools. OpenCode reads a plugin's tool map at its first model request, not when the
// factory returns, so the map is handed over empty and filled when the brain's handshake lists its tools.
import { TOOL_TIMEOUT_MS } from "./hooks.js";

/**
 * @param {import("./brain_process.js").BrainProcess} brain  @param {import("./notify.js").Notifier} notifier
 * @param {(sessionID: string) => void} [onSessionRequest]  told before a call concerning a session goes to the brain
 */
export function createTools(brain, notifier, onSessionRequest = () => {}) {
  /** @type {Record<string, any>} */
  const tools = {};
  /** @param {{name: string, description?: unknown, args?: any}} spec */
  const toolFor = (spec) => ({
    description: String(spec.description || ""),
    args: (spec.args && spec.args.properties) || {}, // plain JSON-Schema properties: OpenCode accepts them as is
    execute: async (/** @type {any} */ args, /** @type {any} */ ctx) => {
      try {
        const context = { sessionID: ctx?.sessionID, messageID: ctx?.messageID, agent: ctx?.agent };
        if (typeof context.sessionID === "string" && context.sessionID) onSessionRequest(context.sessionID);
        const result = await brain.request("tool.execute", { name: spec.name, args, context }, TOOL_TIMEOUT_MS);
        if (result) notifier.runActions(result.actions);
        return String(result?.output ?? "");
      } catch (err) {
        return `opencode-kimchi is unavailable right now (${err instanceof Error ? err.message : err}).`;
      }
    },
  });
  return {
    tools,
    /** @param {unknown} specs  the `tools` of the brain's handshake */
    register(specs) {
      for (const spec of Array.isArray(specs) ? specs : []) {
        if (spec && typeof spec.name === "string") tools[spec.name] = toolFor(spec);
      }
    },
  };
}
