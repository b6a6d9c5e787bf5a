// @ts-check
// The brain's operating-system process: spawn, stdout split into frames, a tail of stderr for crash messages, exit,
// and an escalating stop (end of input, then SIGTERM, then SIGKILL). Knows nothing about JSON-RPC.
import { spawn } from "node:child_process";
import { LineDecoder, MAX_FRAME_BYTES } from "./framing.js";

/**
 * @typedef {{command: string, args: string[], env?: Record<string, string>}} Command
 * @typedef {{
 *   onLine: (line: string) => void,
 *   onExit: (why: string) => void,
 *   onOversize?: () => void,
 *   exitGraceMs?: number,
 *   stderrTailLines?: number,
 *   maxFrameBytes?: number,
 * }} ChildSettings
 */

export class BrainChild {
  /** @param {Command} cmd  @param {ChildSettings} settings */
  constructor({ command, args, env }, { onLine, onExit, onOversize, exitGraceMs = 1500, stderrTailLines = 40, maxFrameBytes = MAX_FRAME_BYTES }) {
    this.exitGraceMs = exitGraceMs;
    this.stderrTailLines = stderrTailLines;
    /** @type {string[]} */
    this.stderrLines = [];
    this.exited = false;
    const proc = spawn(command, args, {
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, ...(env || {}) },
      shell: false,
      windowsHide: true,
    });
    this.proc = proc;
    // An idle brain must not keep the host alive (a host may end by letting its event loop drain); the host's exit
    // hook then kills it. Calls in flight keep the host open through their own timers.
    proc.unref();
    for (const stream of [proc.stdin, proc.stdout, proc.stderr]) /** @type {any} */ (stream)?.unref?.();
    const decoder = new LineDecoder({ onFrame: onLine, onOversize, maxBytes: maxFrameBytes });
    proc.stdout.on("data", (chunk) => decoder.push(chunk));
    proc.stderr.on("data", (chunk) => this._keepStderr(chunk));
    // A dead pipe must never surface as an unhandled error inside OpenCode.
    proc.stdin.on("error", () => {});
    proc.stdout.on("error", () => {});
    proc.stderr.on("error", () => {});
    let reported = false;
    /** @param {string} why */
    const exit = (why) => {
      this.exited = true;
      if (reported) return;
      reported = true;
      onExit(why);
    };
    proc.on("error", (err) => exit(`spawn failed: ${err.message}`));
    proc.on("exit", (code, signal) => exit(`exited (code ${code}, signal ${signal})`));
  }

  /** @param {Buffer} chunk */
  _keepStderr(chunk) {
    const lines = chunk.toString("utf8").split("\n").filter((l) => l.trim());
    this.stderrLines.push(...lines);
    if (this.stderrLines.length > this.stderrTailLines) this.stderrLines.splice(0, this.stderrLines.length - this.stderrTailLines);
  }

  /** The last lines the brain wrote to stderr, joined for a message. */
  stderrTail(lines = 5) {
    return this.stderrLines.slice(-lines).join(" | ");
  }

  /** Write one frame; false when the pipe is closed. @param {string} frame */
  write(frame) {
    if (this.exited || !this.proc.stdin.writable) return false;
    this.proc.stdin.write(frame);
    return true;
  }

  get running() {
    return !this.exited && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Close stdin (the brain exits on end of input), then SIGTERM, then SIGKILL, `exitGraceMs` apart. */
  terminate() {
    const proc = this.proc;
    try {
      proc.stdin.end();
    } catch {}
    if (!this.running) return;
    // The grace timers below do not hold the host open: if it exits first, the child goes with it.
    const onHostExit = () => this.killNow();
    process.once("exit", onHostExit);
    proc.once("exit", () => process.removeListener("exit", onHostExit));
    const term = setTimeout(() => {
      if (this.running) proc.kill("SIGTERM");
      const kill = setTimeout(() => this.killNow(), this.exitGraceMs);
      kill.unref?.();
    }, this.exitGraceMs);
    term.unref?.();
  }

  /** Synchronous last resort (the host is exiting, or the handshake failed). */
  killNow() {
    if (!this.running) return;
    try {
      this.proc.kill("SIGKILL");
    } catch {}
  }
}
