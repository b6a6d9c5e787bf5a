// @ts-check
// Finding a Python that can run the brain. OpenCode installs npm plugins with install scripts disabled, so on first
// start a virtualenv is built in the user cache (once per package version and Python version) with the Python package
// shipped inside this npm package. In the repository, `.venv` at the root is used as is.
//
// The build cannot wedge: it runs in a detached process (plugin_shim/build_env.py) that outlives a short-lived
// OpenCode command, in place (so the venv's scripts point at the venv itself), behind a lock that names its owner
// (pid and start time, checked for liveness); a ready marker is written last. A venv whose base interpreter is gone is
// rebuilt at once; leftovers and venvs of other versions are pruned; an unwritable cache directory is reported and
// another writable one used.
import { spawn } from "node:child_process";
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { homedir, tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { PACKAGE_ROOT, PACKAGE_VERSION } from "./package_info.js";

// The Python package shipped inside this npm package, with the OTLP types telemetry needs when a user turns it on.
const PACKAGE_SPEC = `${PACKAGE_ROOT}[telemetry]`;
const BUILDER = join(PACKAGE_ROOT, "plugin_shim", "build_env.py");
const MIN_PYTHON = [3, 10];
const SETUP_TIMEOUT_MS = 10 * 60 * 1000; // a cold pip install on a slow link
const OWNERLESS_LOCK_MS = 30 * 1000; // a lock without owner.json this old was left by a parent that died at once
const POLL_MS = 250;
const PRUNE_UNUSED_MS = 24 * 60 * 60 * 1000; // another version's venv unused this long is removed
const READY = ".kimchi-ready";
const USED = ".kimchi-used";

/** @typedef {import("./child.js").Command} Command */
/** @typedef {{stage: "cache-dir" | "building" | "waiting" | "built", message: string}} Progress */

/** Where the plugin keeps its environments and caches: KIMCHI_CACHE_DIR, else $XDG_CACHE_HOME/opencode-kimchi. */
function cacheRoot(env = process.env) {
  if (env.KIMCHI_CACHE_DIR) return env.KIMCHI_CACHE_DIR;
  return join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "opencode-kimchi");
}

/** @param {string} dir */
function writable(dir) {
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** The fallback when the cache directory cannot be written: a private directory under the system's tmp. */
function fallbackRoot() {
  return join(tmpdir(), `opencode-kimchi-${process.getuid?.() ?? "user"}`);
}

/** @type {{preferred: string, root: string, problem: string} | null} */
let chosen = null;

/** The cache root to use, checked once per location: `problem` says why it is not the usual one. */
export function usableCacheRoot() {
  const preferred = cacheRoot();
  if (chosen && chosen.preferred === preferred) return chosen;
  if (writable(preferred)) chosen = { preferred, root: preferred, problem: "" };
  else {
    const other = fallbackRoot();
    chosen = writable(other)
      ? { preferred, root: other, problem: `the cache directory ${preferred} is not writable; using ${other}` }
      : { preferred, root: preferred, problem: `neither ${preferred} nor ${other} is writable` };
  }
  return chosen;
}

/** @param {string} venv */
function venvPython(venv) {
  return process.platform === "win32" ? join(venv, "Scripts", "python.exe") : join(venv, "bin", "python");
}

/**
 * Run a command; resolves {code, out}; never rejects.
 * @param {string} command  @param {string[]} args  @param {number} timeoutMs  @returns {Promise<{code: number, out: string}>}
 */
export function run(command, args, timeoutMs) {
  return new Promise((resolve) => {
    let out = "";
    let child;
    try {
      child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], shell: false, windowsHide: true });
    } catch (err) {
      resolve({ code: -1, out: String(err) });
      return;
    }
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("error", (err) => {
      clearTimeout(timer);
      resolve({ code: -1, out: out + String(err) });
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, out });
    });
  });
}

/** @param {string} name */
function onPath(name) {
  for (const dir of (process.env.PATH || "").split(delimiter)) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return null;
}

/** The base interpreter: KIMCHI_PYTHON, else python3, else python; must be >= 3.10. */
export async function findBasePython() {
  const candidates = process.env.KIMCHI_PYTHON ? [process.env.KIMCHI_PYTHON] : ["python3", "python"];
  const problems = [];
  for (const candidate of candidates) {
    const probe = await run(candidate, ["-c", "import sys; print('%d.%d' % sys.version_info[:2])"], 15000);
    if (probe.code !== 0) {
      problems.push(`${candidate}: not runnable`);
      continue;
    }
    const version = probe.out.trim().split("\n").pop() || "";
    const [major, minor] = version.split(".").map(Number);
    if (major > MIN_PYTHON[0] || (major === MIN_PYTHON[0] && minor >= MIN_PYTHON[1])) return { python: candidate, version };
    problems.push(`${candidate} is Python ${version}`);
  }
  throw new Error(
    `opencode-kimchi needs Python >= ${MIN_PYTHON.join(".")} (${problems.join("; ")}); ` +
      "install it or set KIMCHI_PYTHON=/path/to/python3",
  );
}

/** Whether a venv is finished and its interpreter still runs from disk (its base Python may have been removed). @param {string} venv */
function healthy(venv) {
  return existsSync(join(venv, READY)) && existsSync(venvPython(venv)); // existsSync follows the symlink to the base
}

const VENV_NAME = /^venv-(.+)-py\d+\.\d+$/;
/** A venv directory of this package version (any Python). @param {string} name */
const ourVenvName = (name) => VENV_NAME.exec(name)?.[1] === PACKAGE_VERSION;

/** A finished, healthy venv for this package version, found without starting any interpreter (the warm path). @param {string} root */
function existingVenv(root) {
  if (process.env.KIMCHI_PYTHON || !existsSync(root)) return null; // a chosen Python names its own venv
  for (const name of safeList(root)) {
    if (!ourVenvName(name)) continue;
    const venv = join(root, name);
    if (healthy(venv)) return venv;
    // Finished but its base interpreter is gone: rebuild at once instead of failing to spawn it.
    if (existsSync(join(venv, READY)) && !lockOwnerAlive(`${venv}.lock`)) rmSync(venv, { recursive: true, force: true });
  }
  return null;
}

/** @param {string} dir */
function safeList(dir) {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/**
 * Whether the plugin can start its brain without building anything first (decided without starting a process).
 * @param {string[] | null} command  the plugin option `command`
 */
export function environmentReady(command) {
  if (command) return true;
  if (existsSync(venvPython(join(PACKAGE_ROOT, ".venv")))) return true;
  const root = usableCacheRoot().root;
  if (!process.env.KIMCHI_PYTHON) return existingVenv(root) !== null;
  return safeList(root).some((name) => ourVenvName(name) && healthy(join(root, name)));
}

/** A process's state letter and start time as the kernel reports them (Linux), or null elsewhere. @param {number} pid */
function procStat(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { state: fields[0], start: fields[19] ?? null };
  } catch {
    return null;
  }
}

/** The start time of a process, to tell a live owner from a reused pid. @param {number} pid */
const startTime = (pid) => procStat(pid)?.start ?? null;

/** Whether `pid` runs (a zombie does not: a killed builder whose reaper has not collected it). @param {number} pid */
function pidAlive(pid) {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if (/** @type {NodeJS.ErrnoException} */ (err).code !== "EPERM") return false;
  }
  return procStat(pid)?.state !== "Z";
}

/** Whether the process that holds `lock` is still at work. @param {string} lock */
export function lockOwnerAlive(lock) {
  let owner;
  try {
    owner = JSON.parse(readFileSync(join(lock, "owner.json"), "utf8"));
  } catch {
    // No owner yet: its parent is between creating the lock and naming the builder, unless that was long ago.
    try {
      return Date.now() - statSync(lock).mtimeMs < OWNERLESS_LOCK_MS;
    } catch {
      return false;
    }
  }
  if (!owner || typeof owner.pid !== "number" || !pidAlive(owner.pid)) return false;
  const start = startTime(owner.pid);
  if (owner.start && start && owner.start !== start) return false; // the pid now belongs to another process
  return Date.now() - Number(owner.since || 0) < SETUP_TIMEOUT_MS;
}

/**
 * Forget the cached virtualenv that `command` runs from (its ready marker), so the next start rebuilds it: used when
 * the brain cannot even start from it. A development `.venv` or a user's own `command` is never touched.
 * @param {unknown} command  @param {string} [root]
 */
export function forgetCachedVenv(command, root = usableCacheRoot().root) {
  if (typeof command !== "string" || !command.startsWith(root)) return false;
  const venv = dirname(dirname(command));
  try {
    rmSync(join(venv, READY), { force: true });
    return true;
  } catch {
    return false;
  }
}

/**
 * Start the detached builder for `venv` unless a live one holds its lock. Returns whether this call started it.
 * @param {string} venv  @param {{python: string}} base
 */
function startBuilder(venv, base) {
  const lock = `${venv}.lock`;
  if (existsSync(lock) && lockOwnerAlive(lock)) return false;
  rmSync(lock, { recursive: true, force: true }); // its owner is gone
  try {
    mkdirSync(lock);
  } catch {
    return false; // another start won the race
  }
  const log = openSync(`${venv}.build.log`, "w");
  const child = spawn(base.python, [BUILDER, venv, PACKAGE_SPEC, lock, onPath("uv") || ""], {
    detached: true, // its own session: it survives the OpenCode command that loaded the plugin
    stdio: ["ignore", log, log],
    windowsHide: true,
  });
  child.on("error", () => rmSync(lock, { recursive: true, force: true }));
  child.unref();
  try {
    if (child.pid) writeFileSync(join(lock, "owner.json"), JSON.stringify({ pid: child.pid, start: startTime(child.pid), since: Date.now() }));
  } catch {} // a build that already finished has removed its lock
  return true;
}

/** Wait for `venv` to be built by whoever holds its lock; throws what the builder reported on failure. @param {string} venv */
async function waitForBuild(venv) {
  const deadline = Date.now() + SETUP_TIMEOUT_MS;
  const lock = `${venv}.lock`;
  while (Date.now() < deadline) {
    if (healthy(venv)) return;
    if (!existsSync(lock) || !lockOwnerAlive(lock)) {
      if (healthy(venv)) return;
      let why = "the setup process ended without finishing";
      try {
        why = readFileSync(`${venv}.failed`, "utf8");
      } catch {}
      throw new Error(`Python setup failed: ${why}`);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  throw new Error(`Python setup did not finish within ${SETUP_TIMEOUT_MS / 60000} minutes (${venv}.build.log)`);
}

/** Remove what earlier versions and interrupted builds left behind; never a venv in use or being built. @param {string} root  @param {string} keep */
function prune(root, keep) {
  for (const name of safeList(root)) {
    const path = join(root, name);
    try {
      if (/\.tmp-\d+$/.test(name)) rmSync(path, { recursive: true, force: true }); // the old build-and-rename scheme
      else if (name.endsWith(".lock") && !lockOwnerAlive(path)) rmSync(path, { recursive: true, force: true });
      else if (VENV_NAME.test(name) && path !== keep && !lockOwnerAlive(`${path}.lock`)) {
        const used = existsSync(join(path, USED)) ? statSync(join(path, USED)).mtimeMs : statSync(path).mtimeMs;
        if (Date.now() - used > PRUNE_UNUSED_MS || !existsSync(join(path, READY))) rmSync(path, { recursive: true, force: true });
      }
    } catch {}
  }
}

/** Mark a venv as used now (pruning spares recently used ones: another OpenCode may run an older version). @param {string} venv */
function touchUsed(venv) {
  try {
    const stamp = join(venv, USED);
    if (!existsSync(stamp)) writeFileSync(stamp, "");
    const now = new Date();
    utimesSync(stamp, now, now);
  } catch {}
}

/**
 * The environment variables the brain needs when the cache had to move.
 * @param {{root: string, problem: string}} where  @returns {Record<string, string>}
 */
function brainEnv(where) {
  return where.problem && where.root !== cacheRoot() ? { XDG_CACHE_HOME: join(where.root, "xdg-cache") } : {};
}

/**
 * The command that starts the brain, building its environment first when needed.
 * @param {string[] | null} command  the plugin option `command` (replaces everything, for tests and custom setups)
 * @param {(progress: Progress) => void} onProgress  user-visible progress
 * @returns {Promise<Command>}
 */
export async function resolveBrainCommand(command, onProgress) {
  if (command) return { command: command[0], args: command.slice(1) };
  const devPython = venvPython(join(PACKAGE_ROOT, ".venv"));
  if (existsSync(devPython)) return { command: devPython, args: ["-m", "kimchi_plugin"] };

  const where = usableCacheRoot();
  if (where.problem) onProgress({ stage: "cache-dir", message: `opencode-kimchi: ${where.problem}.` });
  const env = brainEnv(where);
  const found = existingVenv(where.root);
  if (found) {
    touchUsed(found);
    return { command: venvPython(found), args: ["-m", "kimchi_plugin"], env };
  }

  const base = await findBasePython();
  const venv = join(where.root, `venv-${PACKAGE_VERSION}-py${base.version}`);
  if (!healthy(venv)) {
    mkdirSync(where.root, { recursive: true });
    const started = startBuilder(venv, base);
    onProgress({
      stage: started ? "building" : "waiting",
      message: started
        ? `opencode-kimchi: first start, setting up its Python environment with ${onPath("uv") ? "uv" : "pip"} (one time, about a minute)...`
        : "opencode-kimchi: waiting for its Python environment being set up by another OpenCode process...",
    });
    await waitForBuild(venv);
    onProgress({ stage: "built", message: "opencode-kimchi: Python environment ready." });
  }
  touchUsed(venv);
  prune(where.root, venv);
  return { command: venvPython(venv), args: ["-m", "kimchi_plugin"], env };
}
