// @ts-check
// What the brain of this package version answers before it has started: generated from the real brain by
// scripts/build_first_start_answer.mjs and shipped in the package, so the plugin can act at once on a first start
// (and on one where Python is missing) instead of waiting for the brain.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { PACKAGE_ROOT } from "./package_info.js";

export const FIRST_START_FILE = join(PACKAGE_ROOT, "plugin_shim", "first_start_answer.json");

/** @typedef {{initialize: {hooks: string[]}}} FirstStart */

/** @returns {FirstStart} */
function load() {
  try {
    const saved = JSON.parse(readFileSync(FIRST_START_FILE, "utf8"));
    const hooks = saved?.initialize?.hooks;
    if (Array.isArray(hooks) && hooks.every((h) => typeof h === "string")) return saved;
  } catch {}
  return { initialize: { hooks: [] } };
}

export const FIRST_START = load();
