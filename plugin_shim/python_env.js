// @ts-check
// Finding a Python that can run the brain. OpenCode installs npm plugins with install scripts disabled, so on first
// start we build a virtualenv in the user cache (once per package version and Python version) and install the Python
// package shipped inside this npm package. In the repository, `.venv` at the root is used as is.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { PACKAGE_ROOT, PACKAGE_VERSION } from "./package_info.js";
// The Python package shipped inside this npm package, with the OTLP types telemetry needs when a user turns it on.
const PACKAGE_SPEC = `${PACKAGE_ROOT}[telemetry]`;
const MIN_PYTHON = [3, 10];
const SETUP_TIMEOUT_MS = 10 * 60 * 1000; // a cold pip install on a slow link
const LOCK_STALE_MS = 15 * 60 * 1000; // a lock older than this belongs to a dead setup

export function cacheRoot(env = process.env) {
  if (env.KIMCHI_CACHE_DIR) return env.KIMCHI_CACHE_DIR;
  return join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "opencode-kimchi");
}

/** @param {string} venv */
function venvPython(venv) {
  return process.platform === "win32" ? join(venv, "Scripts", "python.exe") : join(venv, "bin", "python");
}

/**
 * Run a command; resolves {code, out}; never rejects.
 * @param {string} command  @param {string[]} args  @param {number} timeoutMs  @returns {Promise<{code: number, out: string}>}
 */
function run(command, args, timeoutMs) {
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
async function findBasePython() {
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

/** @param {string} venv */
function readyMarker(venv) {
  return join(venv, ".kimchi-ready");
}

/** A finished venv for this package version, found without starting any interpreter (the warm path). */
/** @param {string} root  @param {string} version */
function existingVenv(root, version) {
  if (!existsSync(root)) return null;
  const wanted = process.env.KIMCHI_PYTHON ? null : `venv-${version}-py`;
  for (const name of readdirSync(root)) {
    const venv = join(root, name);
    if (wanted && name.startsWith(wanted) && !name.includes(".tmp") && existsSync(readyMarker(venv)) && existsSync(venvPython(venv))) {
      return venv;
    }
  }
  return null;
}

/**
 * Forget the cached virtualenv that `command` runs from (its ready marker), so the next start rebuilds it: used when
 * the brain cannot even start from it. A development `.venv` or a user's own `command` is never touched.
 */
/** @param {unknown} command  @param {string} [root] */
export function forgetCachedVenv(command, root = cacheRoot()) {
  if (typeof command !== "string" || !command.startsWith(root)) return false;
  const venv = dirname(dirname(command));
  try {
    rmSync(readyMarker(venv), { force: true });
    return true;
  } catch {
    return false;
  }
}

/** @param {string} lockDir */
async function acquireLock(lockDir) {
  const deadline = Date.now() + SETUP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    try {
      mkdirSync(lockDir);
      return;
    } catch {
      try {
        const since = Date.now() - Number(readFileSync(join(lockDir, "since"), "utf8"));
        if (since > LOCK_STALE_MS) rmSync(lockDir, { recursive: true, force: true });
      } catch {}
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  throw new Error(`timed out waiting for another opencode-kimchi setup (${lockDir})`);
}

/** @param {string} venv  @param {{python: string, version: string}} base  @param {(msg: string) => void} notify */
async function buildVenv(venv, base, notify) {
  const tmp = `${venv}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  const uv = onPath("uv");
  notify(`opencode-kimchi: first start, setting up its Python environment with ${uv ? "uv" : "pip"} (one time)...`);
  /** @type {[string, string[]][]} */
  const steps = uv
    ? [
        [uv, ["venv", "--quiet", "--python", base.python, tmp]],
        [uv, ["pip", "install", "--quiet", "--compile-bytecode", "--python", venvPython(tmp), PACKAGE_SPEC]],
      ]
    : [
        [base.python, ["-m", "venv", tmp]],
        [venvPython(tmp), ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", PACKAGE_SPEC]],
      ];
  for (const [command, args] of steps) {
    const result = await run(command, args, SETUP_TIMEOUT_MS);
    if (result.code !== 0) {
      rmSync(tmp, { recursive: true, force: true });
      const hint = /ensurepip|venv/.test(result.out) ? " (on Debian/Ubuntu: apt install python3-venv)" : "";
      throw new Error(`Python setup failed: ${command} ${args[0]}${hint}: ${result.out.trim().slice(-400)}`);
    }
  }
  writeFileSync(readyMarker(tmp), new Date().toISOString());
  rmSync(venv, { recursive: true, force: true });
  renameSync(tmp, venv);
}

/**
 * The command that starts the brain.
 * @param {string[] | null} command  the plugin option `command` (replaces everything, for tests and custom setups)
 * @param {(msg: string) => void} notify  user-visible progress (toast + log)
 */
export async function resolveBrainCommand(command, notify) {
  if (command) return { command: command[0], args: command.slice(1) };
  const devPython = venvPython(join(PACKAGE_ROOT, ".venv"));
  if (existsSync(devPython)) return { command: devPython, args: ["-m", "kimchi_plugin"] };

  const root = cacheRoot();
  const version = PACKAGE_VERSION;
  const found = existingVenv(root, version);
  if (found) return { command: venvPython(found), args: ["-m", "kimchi_plugin"] };

  const base = await findBasePython();
  const venv = join(root, `venv-${version}-py${base.version}`);
  if (!existsSync(readyMarker(venv))) {
    mkdirSync(root, { recursive: true });
    const lock = `${venv}.lock`;
    await acquireLock(lock);
    try {
      writeFileSync(join(lock, "since"), String(Date.now()));
      if (!existsSync(readyMarker(venv))) await buildVenv(venv, base, notify);
    } finally {
      rmSync(lock, { recursive: true, force: true });
    }
  }
  return { command: venvPython(venv), args: ["-m", "kimchi_plugin"] };
}
