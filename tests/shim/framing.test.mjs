// Line framing, pure: bytes in, frames out. No process, no timer.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { LineDecoder, encodeFrame } from "../../plugin_shim/framing.js";

function decoder(maxBytes = 1024) {
  const frames = [];
  let oversize = 0;
  const d = new LineDecoder({ onFrame: (line) => frames.push(line), onOversize: () => oversize++, maxBytes });
  return { push: (/** @type {string | Buffer} */ data) => d.push(Buffer.isBuffer(data) ? data : Buffer.from(data)), frames, oversize: () => oversize };
}

describe("LineDecoder", () => {
  test("one chunk, several frames; the partial tail waits for its newline", () => {
    const d = decoder();
    d.push('{"a":1}\n{"b":2}\n{"c"');
    assert.deepEqual(d.frames, ['{"a":1}', '{"b":2}']);
    d.push(":3}\n");
    assert.deepEqual(d.frames, ['{"a":1}', '{"b":2}', '{"c":3}']);
  });

  test("a frame split over many chunks, byte by byte", () => {
    const d = decoder();
    for (const byte of Buffer.from('{"text":"hello"}\n')) d.push(Buffer.from([byte]));
    assert.deepEqual(d.frames, ['{"text":"hello"}']);
  });

  test("multi-byte UTF-8 characters split across chunks arrive intact", () => {
    const text = '{"t":"日本語 ✓ 🥬"}\n';
    const bytes = Buffer.from(text);
    for (let cut = 1; cut < bytes.length - 1; cut++) {
      const d = decoder();
      d.push(bytes.subarray(0, cut));
      d.push(bytes.subarray(cut));
      assert.deepEqual(d.frames, [text.slice(0, -1)], `cut at byte ${cut}`);
    }
  });

  test("empty lines are frames too (the reader decides what they mean)", () => {
    const d = decoder();
    d.push("\n\n");
    assert.deepEqual(d.frames, ["", ""]);
  });

  test("an oversized line is dropped whole, reported once, and the next frame is intact", () => {
    const d = decoder(16);
    d.push("x".repeat(10));
    d.push("y".repeat(10)); // now over the cap, no newline yet
    d.push("z".repeat(10) + '\n{"ok":1}\n');
    assert.equal(d.oversize(), 1);
    assert.deepEqual(d.frames, ['{"ok":1}']);
  });

  test("an oversized line inside one chunk is dropped; its neighbours are kept", () => {
    const d = decoder(16);
    d.push(`{"a":1}\n${"x".repeat(40)}\n{"b":2}\n`);
    assert.equal(d.oversize(), 1);
    assert.deepEqual(d.frames, ['{"a":1}', '{"b":2}']);
  });

  test("a line exactly at the cap is kept", () => {
    const d = decoder(16);
    d.push("a".repeat(16) + "\n");
    assert.deepEqual(d.frames, ["a".repeat(16)]);
    assert.equal(d.oversize(), 0);
  });

  test("a chunk the caller reuses does not corrupt a pending partial frame", () => {
    const d = decoder();
    const chunk = Buffer.from('{"a":');
    d.push(chunk);
    chunk.fill(0x20);
    d.push(Buffer.from("1}\n"));
    assert.deepEqual(d.frames, ['{"a":1}']);
  });
});

test("encodeFrame: compact JSON, one newline, no raw newline inside", () => {
  const frame = encodeFrame({ text: "two\nlines", n: 1 });
  assert.equal(frame, '{"text":"two\\nlines","n":1}\n');
  assert.equal(frame.indexOf("\n"), frame.length - 1);
});
