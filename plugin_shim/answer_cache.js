// @ts-check
// The brain's last answer to the `config` hook, kept on disk: when OpenCode's config is unchanged, start-up applies
// it at once instead of waiting for the brain to start. Only answers the brain marks `cacheable` are kept.
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { usableCacheRoot } from "./python_env.js";

const FILE = "config-answer.json";

/** A stable key for the inputs an answer depends on. @param {...unknown} parts */
export function answerKey(...parts) {
  return createHash("sha256").update(JSON.stringify(parts)).digest("hex");
}

/** The saved patch for `key`, or null. @param {string} key  @returns {Record<string, unknown> | null} */
export function readAnswer(key, root = usableCacheRoot().root) {
  try {
    const saved = JSON.parse(readFileSync(join(root, FILE), "utf8"));
    return saved && saved.key === key && saved.patch && typeof saved.patch === "object" ? saved.patch : null;
  } catch {
    return null;
  }
}

/** @param {string} key  @param {unknown} patch */
export function writeAnswer(key, patch, root = usableCacheRoot().root) {
  try {
    mkdirSync(root, { recursive: true });
    const tmp = join(root, `${FILE}.${process.pid}.tmp`);
    writeFileSync(tmp, JSON.stringify({ key, patch }), { mode: 0o600 });
    renameSync(tmp, join(root, FILE));
  } catch {}
}
