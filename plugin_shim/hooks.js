// @ts-check
// The OpenCode hooks we forward, their time budgets, and how a brain patch is applied. Data and plumbing only:
// what a hook means is the brain's business.

/** Default time budget per hook (ms); override with the plugin option `timeouts: {"<hook>": ms}`. */
export const DEFAULT_TIMEOUTS = {
  config: 3000, // may wait for the model-metadata fetch, which has its own shorter budget
  "chat.message": 1500, // the routing decision, including an optional LLM classification
  "chat.params": 300,
  "experimental.chat.system.transform": 300,
  "experimental.chat.messages.transform": 300,
  "tool.execute.before": 300,
  "tool.execute.after": 300,
  "tool.definition": 300,
  "experimental.session.compacting": 300,
};
export const TOOL_TIMEOUT_MS = 5000;
export const ACTION_CALLS = ["tui.showToast", "app.log", "session.summarize"];

/** Drop what the brain never needs and that is costly to serialise (the provider's whole model catalogue). */
function slimProvider(input) {
  if (!input || typeof input !== "object" || !input.provider || typeof input.provider !== "object") return input;
  const p = input.provider;
  return { ...input, provider: { id: p.id ?? p.info?.id, source: p.source ?? p.info?.source } };
}

export const INPUT_SHAPERS = {
  "chat.params": slimProvider,
  "chat.headers": slimProvider,
};

function isPlainObject(v) {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/**
 * Apply a brain patch to OpenCode's `output` in place: each top-level key of `patch` replaces that key's value.
 * Objects and arrays that already exist are refilled rather than swapped, so references OpenCode holds stay valid.
 */
export function applyPatch(output, patch) {
  if (!isPlainObject(output) || !isPlainObject(patch)) return;
  for (const [key, value] of Object.entries(patch)) {
    const current = output[key];
    if (Array.isArray(current) && Array.isArray(value)) {
      current.splice(0, current.length, ...value);
    } else if (isPlainObject(current) && isPlainObject(value)) {
      for (const k of Object.keys(current)) if (!(k in value)) delete current[k];
      Object.assign(current, value);
    } else {
      output[key] = value;
    }
  }
}
