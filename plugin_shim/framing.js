// @ts-check
// Newline-delimited framing of the wire protocol (PROTOCOL.md): bytes in, whole lines out. Pure, no I/O. Lines are
// decoded only once complete, so a multi-byte character split across chunks arrives intact.

export const MAX_FRAME_BYTES = 16 * 1024 * 1024; // same cap as the brain's
const NEWLINE = 0x0a;

export class LineDecoder {
  /**
   * @param {{onFrame: (line: string) => void, onOversize?: () => void, maxBytes?: number}} sinks
   *   `onOversize` is called once per line longer than `maxBytes`; the whole line is dropped.
   */
  constructor({ onFrame, onOversize = () => {}, maxBytes = MAX_FRAME_BYTES }) {
    this.onFrame = onFrame;
    this.onOversize = onOversize;
    this.maxBytes = maxBytes;
    /** @type {Buffer[]} */
    this.parts = [];
    this.size = 0;
    this.discarding = false; // inside an oversized line: skip up to its newline
  }

  /** @param {Buffer} chunk */
  push(chunk) {
    let start = 0;
    let nl;
    while ((nl = chunk.indexOf(NEWLINE, start)) !== -1) {
      const piece = chunk.subarray(start, nl);
      start = nl + 1;
      if (this.discarding) {
        this.discarding = false;
        continue;
      }
      if (this.size + piece.length > this.maxBytes) {
        this._reset();
        this.onOversize();
        continue;
      }
      const line = this.parts.length === 0 ? piece : Buffer.concat([...this.parts, piece]);
      this._reset();
      this.onFrame(line.toString("utf8"));
    }
    if (start >= chunk.length || this.discarding) return;
    const rest = chunk.subarray(start);
    if (this.size + rest.length > this.maxBytes) {
      this._reset();
      this.discarding = true;
      this.onOversize();
      return;
    }
    // Copied: the stream may reuse the chunk's memory.
    this.parts.push(Buffer.from(rest));
    this.size += rest.length;
  }

  _reset() {
    this.parts = [];
    this.size = 0;
  }
}

/** One frame: compact JSON and its newline. @param {unknown} message */
export function encodeFrame(message) {
  return JSON.stringify(message) + "\n";
}
