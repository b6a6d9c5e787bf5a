#!/usr/bin/env node
// @ts-check
// The user's command (`npx @kimchi-dev/opencode-kimchi <command>`): finds or builds the plugin's Python environment with
// the plugin's own code, then runs the brain's command line in it. `doctor` first checks what is visible from here.
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { findApiKey, noKeyMessage, openCodeLogin } from "./credentials.js";
import { PACKAGE_VERSION } from "./package_info.js";
import { environmentReady, findBasePython, lockOwnerAlive, resolveBrainCommand, run, usableCacheRoot } from "./python_env.js";

const USAGE = `opencode-kimchi ${PACKAGE_VERSION}: the routing plugin's commands
  stats [--session ID] [--since 7d] [--json]   spend by tier and model, and savings
  route "message" [--agent build] [--jsonl]    the routing decision for a message
  doctor                                       check Python, the environment, the key, the catalogue and logs
Any other arguments go to the brain's command line (python -m kimchi_plugin).`;

/** @param {string} line */
const say = (line) => process.stderr.write(`${line}\n`);

/** The brain's command line in the plugin's environment, built first when needed. @param {string[]} args */
async function brainCli(args) {
  const cmd = await resolveBrainCommand(null, ({ message }) => say(message));
  return { command: cmd.command, args: [...cmd.args, ...args], env: { ...process.env, ...(cmd.env || {}) } };
}

/** Run the brain's command with the terminal attached; resolves its exit code. @param {string[]} args */
async function passThrough(args) {
  const { command, args: argv, env } = await brainCli(args);
  return new Promise((resolve) => {
    const child = spawn(command, argv, { stdio: "inherit", env });
    child.on("error", (err) => {
      say(`opencode-kimchi: cannot run ${command}: ${err.message}`);
      resolve(1);
    });
    child.on("exit", (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

/** @param {NodeJS.ProcessEnv} env */
function logLocations(env = process.env) {
  const data = env.XDG_DATA_HOME || join(homedir(), ".local", "share");
  const state = env.XDG_STATE_HOME || join(homedir(), ".local", "state");
  return { opencode: join(data, "opencode", "log"), brain: join(state, "opencode-kimchi", "brain.log") };
}

/** Check what the plugin needs, print each finding with its fix; 1 when something is wrong. */
async function doctor() {
  let problems = 0;
  /** @param {boolean} ok  @param {string} what  @param {string} [fix] */
  const report = (ok, what, fix) => {
    if (!ok) problems++;
    process.stdout.write(`[${ok ? "ok  " : "FAIL"}] ${what}${!ok && fix ? `\n       fix: ${fix}` : ""}\n`);
  };
  report(true, `plugin: opencode-kimchi ${PACKAGE_VERSION}`);

  let base = null;
  try {
    base = await findBasePython();
    report(true, `base python: ${base.python} (Python ${base.version})`);
  } catch (err) {
    report(false, `base python: ${err instanceof Error ? err.message : String(err)}`, "install Python >= 3.10, or set KIMCHI_PYTHON=/path/to/python3");
  }

  const where = usableCacheRoot();
  report(!where.problem, `plugin cache: ${where.problem || `${where.root} (writable)`}`, "make it writable, or set KIMCHI_CACHE_DIR to a writable directory");
  const ready = environmentReady(null);
  if (base && !ready) {
    const venv = join(where.root, `venv-${PACKAGE_VERSION}-py${base.version}`);
    const lock = `${venv}.lock`;
    if (existsSync(lock) && lockOwnerAlive(lock)) report(true, `python environment: being set up by another process; its output: ${venv}.build.log`);
    else if (existsSync(`${venv}.failed`)) {
      report(false, `python environment: the last setup failed: ${readFileSync(`${venv}.failed`, "utf8").trim()}`, `see ${venv}.build.log; the next start (or this command's stats/route) tries again`);
    } else report(true, `python environment: not built yet (${venv}); the plugin's next start builds it, as do this command's stats and route`);
  }
  report(true, `opencode log: ${logLocations().opencode}`);

  // The brain's own checks (key, catalogue, the config the plugin would produce, its files), when it can run.
  if (ready) {
    const { command, args, env } = await brainCli([]);
    const help = await run(command, [...args, "--help"], 30000);
    if (/\bdoctor\b/.test(help.out)) {
      const code = await new Promise((resolve) => {
        const child = spawn(command, [...args, "doctor"], { stdio: "inherit", env });
        child.on("error", () => resolve(1));
        child.on("exit", (c) => resolve(c ?? 1));
      });
      return problems === 0 && code === 0 ? 0 : 1;
    }
  }
  const key = findApiKey({}, null, "kimchi");
  const login = openCodeLogin("kimchi");
  report(Boolean(key || login), `api key: ${key ? `from ${key.source}` : login ? "OpenCode's stored login for kimchi" : "none found"}`, noKeyMessage("kimchi"));
  report(true, `brain log: ${logLocations().brain}`);
  return problems === 0 ? 0 : 1;
}

async function main() {
  const [command, ...rest] = process.argv.slice(2);
  if (!command || command === "-h" || command === "--help" || command === "help") {
    say(USAGE);
    return command ? 0 : 2;
  }
  if (command === "doctor") return doctor();
  return passThrough([command, ...rest]);
}

main().then(
  (code) => process.exit(code),
  (err) => {
    say(`opencode-kimchi: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
