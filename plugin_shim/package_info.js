// @ts-check
// This npm package: where it is installed and its version, read from package.json (the one source of the version).
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const PACKAGE_ROOT = dirname(dirname(fileURLToPath(import.meta.url)));

function readVersion() {
  try {
    const version = JSON.parse(readFileSync(join(PACKAGE_ROOT, "package.json"), "utf8")).version;
    return typeof version === "string" && version ? version : "0";
  } catch {
    return "0";
  }
}

export const PACKAGE_VERSION = readVersion();
