// @ts-check
// The brain as a service: a child process (child.js) speaking JSON-RPC (rpc.js), started on demand, restarted after a
// crash within the restart policy (restart_policy.js), in pass-through for good after that. Knows nothing about
// routing. Every timing is a constructor option, so tests need not wait real seconds.
import { BrainChild } from "./child.js";
import { encodeFrame, MAX_FRAME_BYTES } from "./framing.js";
import { CallTable, classify } from "./rpc.js";
import { RestartPolicy } from "./restart_policy.js";

export const PROTOCOL_VERSION = 1;

export const BrainState = Object.freeze({
  IDLE: "idle", // no process; one is started by the next request (after the restart backoff)
  STARTING: "starting", // resolving the command, spawning, or in the handshake
  READY: "ready",
  DEGRADED: "degraded", // given up: every request fails at once
  STOPPED: "stopped", // disposed
});

/** @typedef {typeof BrainState[keyof typeof BrainState]} BrainStateValue */

class BrainGone extends Error {}

/**
 * @typedef {import("./child.js").Command} Command
 * @typedef {{
 *   resolveCommand: () => Promise<Command>,
 *   warn: (message: string) => void,
 *   handshakeTimeoutMs?: number,
 *   exitGraceMs?: number,
 *   stderrTailLines?: number,
 *   maxFrameBytes?: number,
 *   restart?: Partial<import("./restart_policy.js").RestartSettings>,
 *   timers?: Partial<import("./rpc.js").Timers>,
 * }} BrainSettings
 * @typedef {{ready: ((result: any) => void)[], degraded: ((reason: string) => void)[], actions: ((actions: unknown) => void)[]}} Listeners
 */

export class BrainProcess {
  /** @param {BrainSettings} settings */
  constructor({ resolveCommand, warn, handshakeTimeoutMs = 10000, exitGraceMs = 1500, stderrTailLines = 40, maxFrameBytes = MAX_FRAME_BYTES, restart, timers }) {
    this.resolveCommand = resolveCommand;
    this.warn = warn;
    this.handshakeTimeoutMs = handshakeTimeoutMs;
    this.childSettings = { exitGraceMs, stderrTailLines, maxFrameBytes };
    this.restarts = new RestartPolicy(restart);
    this.calls = new CallTable(timers);
    /** @type {BrainStateValue} */
    this.state = BrainState.IDLE;
    /** @type {BrainChild | null} */
    this.child = null;
    /** @type {Promise<any> | null} */
    this.ready = null;
    /** @type {unknown} */
    this.initParams = null;
    this.degradedReason = "";
    this.command = ""; // the executable last started
    this.everReady = false; // whether any start got through the handshake
    this.junkWarned = false; // non-JSON stdout is reported once: a chatty brain must not flood OpenCode's log
    /** @type {Listeners} */
    this.listeners = { ready: [], degraded: [], actions: [] };
  }

  /**
   * Subscribe: `ready` (initialize result, after every successful handshake), `degraded` (reason, once), `actions`
   * (client calls the brain asks for outside any hook).
   * @template {keyof Listeners} K  @param {K} event  @param {Listeners[K][number]} fn
   */
  on(event, fn) {
    /** @type {any[]} */ (this.listeners[event]).push(fn);
  }

  /** @param {keyof Listeners} event  @param {unknown} value */
  _emit(event, value) {
    for (const fn of this.listeners[event]) {
      try {
        /** @type {(v: any) => void} */ (fn)(value);
      } catch (err) {
        this.warn(`${event} listener failed: ${err instanceof Error ? err.message : err}`);
      }
    }
  }

  /** Start the child and perform the handshake; resolves with the initialize result (or rejects). @param {unknown} initParams */
  start(initParams) {
    this.initParams = initParams;
    if (!this.ready) this._launch();
    return /** @type {Promise<any>} */ (this.ready);
  }

  _launch() {
    this.ready = this._spawn();
    this.ready.catch(() => {});
  }

  async _spawn() {
    this.state = BrainState.STARTING;
    let resolved;
    try {
      resolved = await this.resolveCommand();
    } catch (err) {
      this._degrade(`cannot start the brain: ${err instanceof Error ? err.message : err}`);
      throw new BrainGone(this.degradedReason);
    }
    if (this.state !== BrainState.STARTING) throw new BrainGone(this.state);
    this.command = resolved.command;
    /** @type {BrainChild} */
    const child = new BrainChild(resolved, {
      ...this.childSettings,
      onLine: (line) => this._onLine(line),
      onExit: (why) => this._onExit(child, why),
      onOversize: () => this.warn("brain sent an oversized frame; dropped"),
    });
    this.child = child;
    let result;
    try {
      result = await this._call("initialize", this.initParams, this.handshakeTimeoutMs);
    } catch (err) {
      // A brain that cannot finish the handshake counts as a crash (and is restarted within the budget).
      if (this.child === child) child.killNow();
      throw err;
    }
    if (!result || result.protocolVersion !== PROTOCOL_VERSION) {
      this._degrade(`protocol version mismatch (brain speaks ${result && result.protocolVersion})`);
      throw new BrainGone(this.degradedReason);
    }
    this.state = BrainState.READY;
    this.everReady = true;
    this._emit("ready", result);
    return result;
  }

  /** @param {string} line */
  _onLine(line) {
    const msg = classify(line);
    if (msg.kind === "reply") this.calls.settle(msg);
    else if (msg.kind === "notification") {
      if (msg.method === "client.actions") this._emit("actions", msg.params && msg.params.actions);
    } else {
      if (!this.junkWarned) this.warn("brain wrote a non-JSON line to stdout; ignored (logged once)");
      this.junkWarned = true;
    }
  }

  /** @param {BrainChild} child  @param {string} why */
  _onExit(child, why) {
    if (child !== this.child) return;
    this.child = null;
    this.ready = null;
    const tail = child.stderrTail();
    this.calls.failAll(() => new BrainGone(`brain ${why}`));
    if (this.state === BrainState.STOPPED || this.state === BrainState.DEGRADED) return;
    const { giveUp, count } = this.restarts.recordCrash();
    if (giveUp) {
      this._degrade(`brain ${why} ${count} times in ${this.restarts.describeWindow()}; last output: ${tail}`);
      return;
    }
    this.warn(`brain ${why}; will restart. last output: ${tail}`);
    this.state = BrainState.IDLE;
  }

  /** @param {string} reason */
  _degrade(reason) {
    this.state = BrainState.DEGRADED;
    this.degradedReason = reason;
    this.warn(`pass-through from now on: ${reason}`);
    this.child?.terminate(); // its exit then fails the calls still waiting
    this._emit("degraded", reason);
  }

  /** @param {string} method  @param {unknown} params  @param {number} timeoutMs  @returns {Promise<any>} */
  _call(method, params, timeoutMs) {
    const child = this.child;
    if (!child || !child.running) return Promise.reject(new BrainGone("brain not running"));
    const { id, reply } = this.calls.open(method, timeoutMs);
    try {
      if (!child.write(encodeFrame({ jsonrpc: "2.0", id, method, params }))) this.calls.fail(id, new BrainGone("brain not running"));
    } catch (err) {
      this.calls.fail(id, err instanceof Error ? err : new Error(String(err))); // params that cannot be serialised
    }
    return reply;
  }

  /** Make sure a brain is running (restarting within budget); false when it cannot be had by `deadline`. @param {number} deadline */
  async _ensure(deadline) {
    if (this.state === BrainState.READY) return true;
    if (this.state === BrainState.DEGRADED || this.state === BrainState.STOPPED) return false;
    if (this.state === BrainState.IDLE) {
      if (!this.restarts.mayStart()) return false;
      this._launch();
    }
    const left = deadline - Date.now();
    if (left <= 0 || !this.ready) return false;
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

  /**
   * A request within `timeoutMs` overall (including any wait for start-up); rejects on any failure.
   * @param {string} method  @param {unknown} params  @param {number} timeoutMs  @returns {Promise<any>}
   */
  async request(method, params, timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    if (!(await this._ensure(deadline))) throw new BrainGone(`brain not ready (${this.state})`);
    return this._call(method, params, Math.max(1, deadline - Date.now()));
  }

  /** A notification: fire and forget, dropped when the brain is not ready. @param {string} method  @param {unknown} params */
  notify(method, params) {
    if (this.state !== BrainState.READY || !this.child) return;
    this.child.write(encodeFrame({ jsonrpc: "2.0", method, params }));
  }

  /** Close stdin (the brain exits on end of input), then SIGTERM, then SIGKILL. */
  stop() {
    this.state = BrainState.STOPPED;
    const child = this.child;
    this.child = null;
    if (child) child.terminate();
  }

  /** Synchronous last resort when the host process exits without calling dispose. */
  killNow() {
    this.child?.killNow();
  }
}
