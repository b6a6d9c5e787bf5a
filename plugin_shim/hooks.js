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
 * Apply a brain patch to OpenCode's `output` in place. Objects merge recursively (so a patch carries only what it
 * adds or changes, and references OpenCode holds stay valid); arrays and scalars replace the value (arrays are refilled
 * in place).
 */
export function applyPatch(target, patch) {
  if (!isPlainObject(target) || !isPlainObject(patch)) return;
  for (const [key, value] of Object.entries(patch)) {
    const current = target[key];
    if (Array.isArray(current) && Array.isArray(value)) {
      current.length = 0;
      for (const item of value) current.push(item);
    }
    else if (isPlainObject(current) && isPlainObject(value)) applyPatch(current, value);
    else target[key] = value;
  }
}
