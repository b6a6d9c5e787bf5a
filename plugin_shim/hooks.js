// @ts-check
// How hooks are forwarded: their time budgets, the client calls a brain answer may ask for, what is trimmed from an
// input before sending, and how a brain patch is applied. Which hooks are forwarded is the brain's business (its
// `initialize` answer lists them).

/** Time budget per hook (ms) where the default does not fit; override with the plugin option `timeouts`. */
export const BUDGETS = Object.freeze({
  config: 3000, // may wait for the model-metadata fetch, which has its own shorter budget
  "chat.message": 1500, // the routing decision, including an optional LLM classification
});
export const DEFAULT_BUDGET_MS = 300;
export const TOOL_TIMEOUT_MS = 5000;

/** The only client calls a brain answer may make (PROTOCOL.md, "actions"). */
export const ACTION_CALLS = Object.freeze([
  "tui.showToast",
  "app.log",
  "session.summarize",
  "session.abort",
  "session.promptAsync",
]);

/** The budget of `hook`, the user's override first. @param {string} hook  @param {Record<string, number>} overrides */
export function budgetOf(hook, overrides) {
  return overrides[hook] ?? /** @type {Record<string, number>} */ (BUDGETS)[hook] ?? DEFAULT_BUDGET_MS;
}

/** Drop what the brain never needs and that is costly to serialise (the provider's whole model catalogue). @param {any} input */
function slimProvider(input) {
  if (!input || typeof input !== "object" || !input.provider || typeof input.provider !== "object") return input;
  const p = input.provider;
  return { ...input, provider: { id: p.id ?? p.info?.id, source: p.source ?? p.info?.source } };
}

/** @type {Record<string, (input: any) => any>} */
export const INPUT_SHAPERS = {
  "chat.params": slimProvider,
  "chat.headers": slimProvider,
};

/**
 * Per hook, the input fields (dotted paths) and the values one must hold for a call to be forwarded, as a handshake
 * lists them; anything malformed is left out (that hook is then forwarded whole).
 * @typedef {Record<string, [string[], unknown[]][]>} Filters
 * @param {unknown} raw  @returns {Filters}
 */
export function readFilters(raw) {
  /** @type {Filters} */
  const filters = {};
  if (!isPlainObject(raw)) return filters;
  for (const [hook, fields] of Object.entries(raw)) {
    if (!isPlainObject(fields)) continue;
    const checks = Object.entries(fields).filter(([, values]) => Array.isArray(values));
    if (checks.length === Object.keys(fields).length) filters[hook] = checks.map(([path, values]) => [path.split("."), values]);
  }
  return filters;
}

/** Whether a call passes its hook's filter: each named input field holds one of the listed values (no filter: yes).
 * @param {[string[], unknown[]][] | undefined} filter  @param {any} input */
export function passesFilter(filter, input) {
  if (!filter) return true;
  for (const [path, values] of filter) if (!values.includes(valueAt(input, path))) return false;
  return true;
}

/** The value at a path of object keys (undefined where a step is not an object). @param {unknown} data  @param {string[]} path */
export function valueAt(data, path) {
  let found = data;
  for (const key of path) {
    if (!isPlainObject(found)) return undefined;
    found = found[key];
  }
  return found;
}

/** @param {unknown} v  @returns {v is Record<string, any>} */
export function isPlainObject(v) {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/**
 * Apply a brain patch to OpenCode's `output` in place. Objects merge recursively (so a patch carries only what it
 * adds or changes, and references OpenCode holds stay valid); arrays and scalars replace the value (arrays are refilled
 * in place).
 * @param {unknown} target  @param {unknown} patch
 */
export function applyPatch(target, patch) {
  if (!isPlainObject(target) || !isPlainObject(patch)) return;
  for (const [key, value] of Object.entries(patch)) {
    const current = target[key];
    if (Array.isArray(current) && Array.isArray(value)) {
      current.length = 0;
      for (const item of value) current.push(item);
    } else if (isPlainObject(current) && isPlainObject(value)) applyPatch(current, value);
    else target[key] = value;
  }
}
