// @ts-check
// The plugin options the shim itself reads (how to run the brain, hook budgets), validated: a bad value is ignored
// with one warning naming the option, never half-used (a budget given as the string "2000" would otherwise make a
// hook time out at once). Every other option goes to the brain as is; it validates its own.

const MIN_BUDGET_MS = 1;
export const MAX_BUDGET_MS = 10 * 60 * 1000;

/**
 * @typedef {{command: string[] | null, timeouts: Record<string, number>, brainOptions: Record<string, unknown>}} ShimOptions
 */

/**
 * @param {unknown} raw  the second element of the plugin tuple
 * @returns {{options: ShimOptions, warnings: string[]}}
 */
export function readOptions(raw) {
  /** @type {string[]} */
  const warnings = [];
  if (raw !== undefined && raw !== null && (typeof raw !== "object" || Array.isArray(raw))) {
    warnings.push(`plugin options must be an object, got ${describe(raw)}; ignored`);
  }
  const all = raw && typeof raw === "object" && !Array.isArray(raw) ? /** @type {Record<string, unknown>} */ (raw) : {};
  return { options: { command: readCommand(all.command, warnings), timeouts: readTimeouts(all.timeouts, warnings), brainOptions: all }, warnings };
}

/** @param {unknown} value  @param {string[]} warnings */
function readCommand(value, warnings) {
  if (value === undefined) return null;
  if (Array.isArray(value) && value.length > 0 && value.every((part) => typeof part === "string" && part !== "")) return value;
  warnings.push(`option "command" must be a non-empty array of strings (e.g. ["/usr/bin/python3", "-m", "kimchi_plugin"]), got ${describe(value)}; ignored`);
  return null;
}

/** @param {unknown} value  @param {string[]} warnings */
function readTimeouts(value, warnings) {
  /** @type {Record<string, number>} */
  const budgets = {};
  if (value === undefined) return budgets;
  if (!value || typeof value !== "object" || Array.isArray(value)) {
    warnings.push(`option "timeouts" must be an object of milliseconds per hook, got ${describe(value)}; ignored`);
    return budgets;
  }
  for (const [hook, ms] of Object.entries(value)) {
    if (typeof ms === "number" && Number.isFinite(ms) && ms >= MIN_BUDGET_MS && ms <= MAX_BUDGET_MS) budgets[hook] = ms;
    else warnings.push(`option "timeouts.${hook}" must be a number of milliseconds from ${MIN_BUDGET_MS} to ${MAX_BUDGET_MS}, got ${describe(ms)}; the default budget is used`);
  }
  return budgets;
}

/** A short, safe description of a bad value (its type and, for short scalars, the value). @param {unknown} value */
function describe(value) {
  if (typeof value === "string") return value.length <= 40 ? `the string ${JSON.stringify(value)}` : "a long string";
  if (typeof value === "number" || typeof value === "boolean" || value === null) return String(value);
  return Array.isArray(value) ? "an array" : typeof value;
}
