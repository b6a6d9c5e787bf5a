// @ts-check
// JSON-RPC request/response matching: ids, a deadline per request, late or unknown replies dropped. Pure: the timer
// functions are injected, so tests drive time by hand.

export class CallTimeout extends Error {}

export class RemoteError extends Error {
  /** @param {number} code  @param {string} message */
  constructor(code, message) {
    super(`brain error ${code}: ${message}`);
    this.code = code;
  }
}

/**
 * What one decoded line is.
 * @typedef {{kind: "reply", id: unknown, result?: any, error?: {code: number, message: string}}
 *   | {kind: "notification", method: string, params: any}
 *   | {kind: "junk"}} Incoming
 */

/** @param {string} line  @returns {Incoming} */
export function classify(line) {
  let msg;
  try {
    msg = JSON.parse(line);
  } catch {
    return { kind: "junk" };
  }
  if (!msg || typeof msg !== "object" || Array.isArray(msg)) return { kind: "junk" };
  if (typeof msg.method === "string" && msg.id === undefined) return { kind: "notification", method: msg.method, params: msg.params };
  if ("id" in msg && ("result" in msg || "error" in msg)) return { kind: "reply", id: msg.id, result: msg.result, error: msg.error };
  return { kind: "junk" };
}

/**
 * @typedef {{setTimer: (fn: () => void, ms: number) => any, clearTimer: (handle: any) => void}} Timers
 * @typedef {{resolve: (value: any) => void, reject: (error: Error) => void, timer: any}} Pending
 */

export class CallTable {
  /** @param {Partial<Timers>} [timers] */
  constructor({ setTimer = setTimeout, clearTimer = clearTimeout } = {}) {
    this.setTimer = setTimer;
    this.clearTimer = clearTimer;
    this.nextId = 1;
    /** @type {Map<number, Pending>} */
    this.pending = new Map();
  }

  /**
   * A new call: its id (to put in the request) and the promise of its result, rejected after `timeoutMs`.
   * @param {string} method  @param {number} timeoutMs
   * @returns {{id: number, reply: Promise<any>}}
   */
  open(method, timeoutMs) {
    const id = this.nextId++;
    const reply = new Promise((resolve, reject) => {
      // Kept referenced: an in-flight call holds the host open for at most its budget.
      const timer = this.setTimer(() => {
        this.pending.delete(id);
        reject(new CallTimeout(`${method} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
    });
    return { id, reply };
  }

  /**
   * Settle the call a reply answers; false when no call waits for it (late, unknown or duplicate id).
   * @param {{id: unknown, result?: any, error?: {code: number, message: string}}} reply
   */
  settle(reply) {
    const id = /** @type {number} */ (reply.id);
    const entry = this.pending.get(id);
    if (!entry) return false;
    this.pending.delete(id);
    this.clearTimer(entry.timer);
    if (reply.error) entry.reject(new RemoteError(Number(reply.error.code), String(reply.error.message)));
    else entry.resolve(reply.result);
    return true;
  }

  /** Reject every waiting call (the process is gone). @param {() => Error} makeError */
  failAll(makeError) {
    for (const entry of this.pending.values()) {
      this.clearTimer(entry.timer);
      entry.reject(makeError());
    }
    this.pending.clear();
  }

  /** Forget a call whose request could not be sent. @param {number} id  @param {Error} error */
  fail(id, error) {
    const entry = this.pending.get(id);
    if (!entry) return;
    this.pending.delete(id);
    this.clearTimer(entry.timer);
    entry.reject(error);
  }

  get size() {
    return this.pending.size;
  }
}
