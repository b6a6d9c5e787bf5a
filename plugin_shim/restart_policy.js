// @ts-check
// When a crashed brain may be started again: a backoff per crash, and a give-up count within a sliding window.
// Pure: the clock is injected.

/** @typedef {{limit: number, windowMs: number, backoffMs: number[], now: () => number}} RestartSettings */

const DEFAULT_RESTART = Object.freeze({
  limit: 3, // restarts allowed ...
  windowMs: 3 * 60 * 1000, // ... within this window; then pass-through for good
  backoffMs: [0, 500, 2000], // wait before the 1st, 2nd, 3rd restart
});

export class RestartPolicy {
  /** @param {Partial<RestartSettings>} [settings] */
  constructor(settings = {}) {
    const { limit, windowMs, backoffMs, now } = { ...DEFAULT_RESTART, now: Date.now, ...settings };
    this.limit = limit;
    this.windowMs = windowMs;
    this.backoffMs = backoffMs;
    this.now = now;
    /** @type {number[]} */
    this.crashes = [];
    this.retryAt = 0;
  }

  /** Count a crash; `giveUp` when it is one too many for the window. */
  recordCrash() {
    const now = this.now();
    this.crashes = this.crashes.filter((t) => now - t < this.windowMs);
    this.crashes.push(now);
    const count = this.crashes.length;
    const giveUp = count > this.limit;
    if (!giveUp) this.retryAt = now + this.backoffMs[Math.min(count - 1, this.backoffMs.length - 1)];
    return { giveUp, count };
  }

  /** Whether the backoff after the last crash is over. */
  mayStart() {
    return this.now() >= this.retryAt;
  }

  /** The window in words, for the message that announces giving up. */
  describeWindow() {
    const minutes = this.windowMs / 60000;
    return Number.isInteger(minutes) ? `${minutes} minutes` : `${Math.round(this.windowMs / 1000)} s`;
  }
}
