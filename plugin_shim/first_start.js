// @ts-check
// What the brain of this package version answers before it runs: generated from the real brain by
// scripts/build_first_start_answer.py (with the catalogue snapshot shipped beside it, no key, default options) and
// shipped in the package. The plugin registers the hooks it lists at once, and applies its config answer when the
// brain cannot answer in time (first start while Python is set up, Python missing, a brain that fails), so Kimchi and
// its models exist from the first message.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { isPlainObject, readFilters } from "./hooks.js";
import { PACKAGE_ROOT } from "./package_info.js";

const FIRST_START_FILE = join(PACKAGE_ROOT, "plugin_shim", "first_start_answer.json");

/**
 * @typedef {{
 *   baseURL: string,
 *   initialize: {hooks: string[], observed: string[], readOnly: string[], filters: import("./hooks.js").Filters},
 *   config: {kimchiMain: Record<string, any>, otherMain: Record<string, any>} | null,
 * }} FirstStart
 */

/** @returns {FirstStart} */
function load() {
  try {
    const saved = JSON.parse(readFileSync(FIRST_START_FILE, "utf8"));
    const hooks = saved?.initialize?.hooks;
    if (isStrings(hooks)) {
      const config = isPlainObject(saved.config?.kimchiMain) && isPlainObject(saved.config?.otherMain) ? saved.config : null;
      const strings = (/** @type {unknown} */ list) => (isStrings(list) ? list : []);
      const { observed, readOnly, filters } = saved.initialize;
      const initialize = { hooks, observed: strings(observed), readOnly: strings(readOnly), filters: readFilters(filters) };
      return { baseURL: String(saved.baseURL || ""), initialize, config };
    }
  } catch {}
  return { baseURL: "", initialize: { hooks: [], observed: [], readOnly: [], filters: {} }, config: null };
}

/** @param {unknown} v  @returns {v is string[]} */
function isStrings(v) {
  return Array.isArray(v) && v.every((h) => typeof h === "string");
}

export const FIRST_START = load();

/** The provider the shipped answer configures (the brain's default provider id). */
export function shippedProviderId(first = FIRST_START) {
  const providers = first.config?.kimchiMain?.provider;
  return isPlainObject(providers) ? Object.keys(providers)[0] ?? null : null;
}

/**
 * The shipped config answer that fits this user's config, adjusted to the options that decide where requests go, or
 * null when it does not fit (the plugin routes another provider). Of the two answers the brain gives, the one for
 * "another provider is the main one" adds only the provider and commands.
 * @param {any} config  OpenCode's config  @param {Record<string, unknown>} options  plugin options
 * @param {string | null} apiKey  a key found outside OpenCode's config, given to a provider this answer creates
 */
export function firstStartPatch(config, options, apiKey, first = FIRST_START) {
  const pid = shippedProviderId(first);
  if (!first.config || !pid || (options.provider !== undefined && options.provider !== pid)) return null;
  const main = config?.model;
  const fits = typeof main !== "string" || main.startsWith(`${pid}/`);
  const patch = structuredClone(fits ? first.config.kimchiMain : first.config.otherMain);
  const created = !isPlainObject(config?.provider?.[pid]);
  const providerOptions = patch.provider?.[pid]?.options;
  if (created && isPlainObject(providerOptions)) {
    if (typeof options.llmBaseUrl === "string" && options.llmBaseUrl) providerOptions.baseURL = options.llmBaseUrl;
    if (apiKey) providerOptions.apiKey = apiKey; // only in OpenCode's live config, never on disk
  }
  return patch;
}

/**
 * Add what `patch` holds and `target` lacks; never replace a value the user set (the brain's rule for the config).
 * @param {Record<string, any>} target  @param {Record<string, any>} patch
 */
export function fillMissing(target, patch) {
  for (const [key, value] of Object.entries(patch)) {
    if (target[key] === undefined) target[key] = value;
    else if (isPlainObject(target[key]) && isPlainObject(value)) fillMissing(target[key], value);
  }
}

/**
 * The concrete model a virtual one stands for, from the config OpenCode settled: a provider model entry whose `id`
 * names another model of the same provider (the brain writes it for `auto` and each tier). Null when there is none.
 * @param {any} config  @param {{providerID?: unknown, modelID?: unknown} | undefined} model
 */
export function standInModel(config, model) {
  const models = config?.provider?.[String(model?.providerID)]?.models;
  if (!isPlainObject(models) || typeof model?.modelID !== "string") return null;
  const target = models[model.modelID]?.id;
  return typeof target === "string" && target !== model.modelID && isPlainObject(models[target]) ? target : null;
}

/**
 * Whether the config OpenCode settled has the model: a request for one it lacks fails ("Model not found"). True when
 * the config is not known, or the provider is not one configured there (OpenCode's own catalogue knows it).
 * @param {any} config  @param {any} model
 */
export function configHasModel(config, model) {
  const provider = config?.provider?.[String(model?.providerID)];
  if (!isPlainObject(config) || !isPlainObject(provider)) return true;
  return typeof model?.modelID === "string" && isPlainObject(provider.models) && isPlainObject(provider.models[model.modelID]);
}
