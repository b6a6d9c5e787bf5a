// @ts-check
// The brain child process: spawn, newline-delimited JSON-RPC framing, calls multiplexed by id, per-call
// timeouts, crash handling with a restart budget, and a clean exit. Knows nothing about routing.
import { spawn } from "node:child_process";

export const MAX_FRAME_BYTES = 16 * 1024 * 1024; // same cap as the brain's
const STDERR_TAIL_LINES = 40; // kept for the crash message
const RESTART_LIMIT = 3; // restarts allowed ...
const RESTART_WINDOW_MS = 3 * 60 * 1000; // ... within this window; then pass-through for good
const RESTART_BACKOFF_MS = [0, 500, 2000]; // wait before the 1st, 2nd, 3rd restart
const EXIT_GRACE_MS = 1500; // stdin closed -> SIGTERM -> SIGKILL, this long apart

export class BrainGone extends Error {}

export class BrainProcess {
  /**
   * @param {() => Promise<{command: string, args: string[], env?: Record<string, string>}>} resolveCommand
   * @param {(msg: string) => void} warn  called for problems worth one log line
   * @param {number} handshakeTimeoutMs  how long `initialize` may take once the child runs
   */
  constructor(resolveCommand, warn, handshakeTimeoutMs) {
    this.resolveCommand = resolveCommand;
    this.warn = warn;
    this.handshakeTimeoutMs = handshakeTimeoutMs;
    /** @type {"idle" | "starting" | "ready" | "degraded" | "stopped"} */
    this.state = "idle";
    this.child = null;
    this.nextId = 1;
    /** @type {Map<number, {resolve: (v: any) => void, reject: (e: Error) => void, timer: any}>} */
    this.pending = new Map();
    this.stderrTail = [];
    this.junkWarned = false; // non-JSON stdout is reported once: a chatty brain must not flood OpenCode's log
    this.crashes = [];
    this.degradedReason = "";
    /** @type {Promise<any> | null} */
    this.ready = null;
    this.onReady = null; // (initializeResult) => void, set by the owner
    this.onDegraded = null; // (reason) => void
    this.onActions = null; // (actions) => void: client calls the brain asks for outside any hook
    this.initParams = null;
    this.command = null; // the executable last started
    this.everReady = false; // whether any start got through the handshake
  }

  /** Start the child and perform the handshake; resolves with the initialize result (or rejects). */
  start(initParams) {
    this.initParams = initParams;
    if (!this.ready) this.ready = this._spawn();
    return this.ready;
  }

  async _spawn() {
    this.state = "starting";
    let resolved;
    try {
      resolved = await this.resolveCommand();
    } catch (err) {
      this._degrade(`cannot start the brain: ${err instanceof Error ? err.message : err}`);
      throw new BrainGone(this.degradedReason);
    }
    if (this.state !== "starting") throw new BrainGone(this.state);
    const { command, args, env } = resolved;
    this.command = command;
    const child = spawn(command, args, {
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, ...(env || {}) },
      shell: false,
      windowsHide: true,
    });
    this.child = child;
    // An idle brain must not keep the host alive (a host may end by letting its event loop drain); the `exit` hook
    // then kills it. Calls in flight keep the host open through their own timers.
    child.unref();
    for (const stream of [child.stdin, child.stdout, child.stderr]) stream?.unref?.();
    let buffered = [];
    let size = 0;
    child.stdout.on("data", (chunk) => {
      let start = 0;
      let nl;
      while ((nl = chunk.indexOf(0x0a, start)) !== -1) {
        buffered.push(chunk.subarray(start, nl));
        const line = buffered.length === 1 ? buffered[0] : Buffer.concat(buffered);
        buffered = [];
        size = 0;
        start = nl + 1;
        this._onLine(line);
      }
      if (start < chunk.length) {
        size += chunk.length - start;
        if (size > MAX_FRAME_BYTES) {
          buffered = [];
          size = 0;
          this.warn("brain sent an oversized frame; dropped");
        } else buffered.push(chunk.subarray(start));
      }
    });
    child.stderr.on("data", (chunk) => {
      const lines = chunk.toString("utf8").split("\n").filter((l) => l.trim());
      this.stderrTail.push(...lines);
      if (this.stderrTail.length > STDERR_TAIL_LINES) this.stderrTail.splice(0, this.stderrTail.length - STDERR_TAIL_LINES);
    });
    // A dead pipe must never surface as an unhandled error inside OpenCode.
    child.stdin.on("error", () => {});
    child.stdout.on("error", () => {});
    child.stderr.on("error", () => {});
    child.on("error", (err) => this._onExit(child, `spawn failed: ${err.message}`));
    child.on("exit", (code, signal) => this._onExit(child, `exited (code ${code}, signal ${signal})`));
    let result;
    try {
      result = await this._call("initialize", this.initParams, this.handshakeTimeoutMs);
    } catch (err) {
      // A brain that cannot finish the handshake counts as a crash (and is restarted within the budget).
      if (this.child === child) child.kill("SIGKILL");
      throw err;
    }
    if (!result || result.protocolVersion !== 1) {
      this._degrade(`protocol version mismatch (brain speaks ${result && result.protocolVersion})`);
      throw new BrainGone(this.degradedReason);
    }
    this.state = "ready";
    this.everReady = true;
    if (this.onReady) this.onReady(result);
    return result;
  }

  _onLine(line) {
    let msg;
    try {
      msg = JSON.parse(line.toString("utf8"));
    } catch {
      if (!this.junkWarned) this.warn("brain wrote a non-JSON line to stdout; ignored (logged once)");
      this.junkWarned = true;
      return;
    }
    if (msg && msg.method === "client.actions" && msg.id === undefined) {
      if (this.onActions) this.onActions(msg.params && msg.params.actions);
      return;
    }
    if (!msg || typeof msg !== "object" || !this.pending.has(msg.id)) return; // late or unknown reply
    const entry = this.pending.get(msg.id);
    this.pending.delete(msg.id);
    clearTimeout(entry.timer);
    if (msg.error) entry.reject(new Error(`brain error ${msg.error.code}: ${msg.error.message}`));
    else entry.resolve(msg.result);
  }

  _onExit(child, why) {
    if (child !== this.child) return;
    this.child = null;
    this.ready = null;
    const tail = this.stderrTail.slice(-5).join(" | ");
    for (const [, entry] of this.pending) {
      clearTimeout(entry.timer);
      entry.reject(new BrainGone(`brain ${why}`));
    }
    this.pending.clear();
    if (this.state === "stopped" || this.state === "degraded") return;
    const now = Date.now();
    this.crashes = this.crashes.filter((t) => now - t < RESTART_WINDOW_MS);
    this.crashes.push(now);
    if (this.crashes.length > RESTART_LIMIT) {
      this._degrade(`brain ${why} ${this.crashes.length} times in 3 minutes; last output: ${tail}`);
      return;
    }
    this.warn(`brain ${why}; will restart. last output: ${tail}`);
    this.state = "idle";
    this.restartAt = now + RESTART_BACKOFF_MS[Math.min(this.crashes.length - 1, RESTART_BACKOFF_MS.length - 1)];
  }

  _degrade(reason) {
    this.state = "degraded";
    this.degradedReason = reason;
    this.warn(`pass-through from now on: ${reason}`);
    if (this.child) this._terminate(this.child);
    if (this.onDegraded) this.onDegraded(reason);
  }

  _call(method, params, timeoutMs) {
    const child = this.child;
    if (!child || !child.stdin.writable) return Promise.reject(new BrainGone("brain not running"));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${method} timed out after ${timeoutMs} ms`));
      }, timeoutMs); // kept referenced: an in-flight call holds the host open for at most its budget
      this.pending.set(id, { resolve, reject, timer });
      child.stdin.write(JSON.stringify({ jsonrpc: "2.0", id, method, params }) + "\n");
    });
  }

  /** Make sure a brain is running (restarting within budget); resolves false when it cannot be had in time. */
  async _ensure(deadline) {
    if (this.state === "ready") return true;
    if (this.state === "degraded" || this.state === "stopped") return false;
    if (this.state === "idle") {
      if (this.restartAt && Date.now() < this.restartAt) return false;
      this.ready = this._spawn();
      this.ready.catch(() => {});
    }
    const left = deadline - Date.now();
    if (left <= 0) return false;
    let timer;
    const timeout = new Promise((resolve) => {
      timer = setTimeout(() => resolve(false), left);
    });
    try {
      return await Promise.race([this.ready.then(() => true, () => false), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** A request within `timeoutMs` overall (including any wait for start-up); rejects on any failure. */
  async request(method, params, timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    if (!(await this._ensure(deadline))) throw new BrainGone(`brain not ready (${this.state})`);
    return this._call(method, params, Math.max(1, deadline - Date.now()));
  }

  /** A notification: fire and forget, dropped when the brain is not ready. */
  notify(method, params) {
    const child = this.child;
    if (this.state !== "ready" || !child || !child.stdin.writable) return;
    child.stdin.write(JSON.stringify({ jsonrpc: "2.0", method, params }) + "\n");
  }

  /** Close stdin (the brain exits on end of input), then SIGTERM, then SIGKILL. */
  stop() {
    this.state = "stopped";
    const child = this.child;
    this.child = null;
    if (child) this._terminate(child);
  }

  _terminate(child) {
    try {
      child.stdin.end();
    } catch {}
    if (child.exitCode === null && child.signalCode === null) {
      // The grace timers below do not hold the host open: if it exits first, the child goes with it.
      const onHostExit = () => {
        try {
          child.kill("SIGKILL");
        } catch {}
      };
      process.once("exit", onHostExit);
      child.once("exit", () => process.removeListener("exit", onHostExit));
    }
    const term = setTimeout(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const kill = setTimeout(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      }, EXIT_GRACE_MS);
      if (kill.unref) kill.unref();
    }, EXIT_GRACE_MS);
    if (term.unref) term.unref();
  }

  /** Synchronous last resort when the host process exits without calling dispose. */
  killNow() {
    const child = this.child;
    if (child && child.exitCode === null) {
      try {
        child.kill("SIGKILL");
      } catch {}
    }
  }
}
