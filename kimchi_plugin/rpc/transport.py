"""Newline-delimited JSON-RPC over a pair of byte streams (the brain's stdin/stdout).

On POSIX, when stdin is a pipe, socket or terminal, the event loop reads it directly (non-blocking, no thread hand-off);
otherwise (a regular file, Windows, a stream without a descriptor) a reader thread does blocking `readline`. Either way
frames are capped in size, each is dispatched as soon as it is read, a handler that finishes without waiting is
answered at once and one that waits becomes a task, so a slow hook never holds up another. Responses are written whole,
one per line, from the event-loop thread. End of input is the shutdown signal.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Awaitable, Callable
from typing import BinaryIO, cast

import structlog

from kimchi_plugin.rpc.dispatch import INVALID_REQUEST, PARSE_ERROR, SNIFF_BYTES, Dispatcher, error_frame, sniff_id
from kimchi_plugin.rpc.stdio import READ_BYTES, pollable

log = structlog.get_logger("kimchi.transport")

DRAIN_TIMEOUT_S = 2.0  # at end of input, how long in-flight requests may still finish
MAX_IN_FLIGHT = 64  # requests waiting for their handler; beyond this reading pauses (memory stays bounded)

Start = Callable[[str], "str | Awaitable[str]"]


class _Oversized:
    """Marker for a line longer than the frame cap; keeps its head so the id can still be echoed."""

    __slots__ = ("head",)

    def __init__(self, head: bytes) -> None:
        self.head = head


class FrameSplitter:
    """Bytes in, whole lines out; a line longer than `max_frame` comes out as `_Oversized` and its rest is skipped."""

    def __init__(self, max_frame: int) -> None:
        self._max = max_frame
        self._buffer = bytearray()
        self._scanned = 0  # no newline before this offset of the buffer
        self._skipping = False

    def feed(self, chunk: bytes) -> list[bytes | _Oversized]:
        if not self._buffer and not self._skipping and chunk.endswith(b"\n") and len(chunk) <= self._max:
            lines = chunk.split(b"\n")  # whole lines, none over the cap: the common read of one frame
            lines.pop()  # the empty rest after the last newline
            return cast("list[bytes | _Oversized]", lines)
        if self._skipping:
            newline = chunk.find(b"\n")
            if newline < 0:
                return []
            self._skipping = False
            chunk = chunk[newline + 1 :]
        buffer = self._buffer
        buffer += chunk
        out: list[bytes | _Oversized] = []
        start = 0
        while (newline := buffer.find(b"\n", max(start, self._scanned))) >= 0:
            out.append(
                _Oversized(bytes(buffer[start : start + SNIFF_BYTES]))
                if newline - start > self._max
                else bytes(buffer[start:newline])
            )
            start = newline + 1
        del buffer[:start]
        self._scanned = len(buffer)
        if len(buffer) > self._max:
            out.append(_Oversized(bytes(buffer[:SNIFF_BYTES])))
            buffer.clear()
            self._scanned = 0
            self._skipping = True
        return out

    def end(self) -> list[bytes | _Oversized]:
        """A last line without its newline, at end of input."""
        rest = bytes(self._buffer)
        self._buffer.clear()
        return [rest] if rest and not self._skipping else []


def _read_lines(reader: BinaryIO, max_frame: int, post: Callable[[object], None], slots: threading.Semaphore) -> None:
    """The reader thread (when the loop cannot watch the stream)."""
    while True:
        try:
            line = reader.readline(max_frame + 1)
        except (OSError, ValueError):
            line = b""
        if not line:
            post(None)
            return
        slots.acquire()  # released once the frame is answered
        if len(line) > max_frame and not line.endswith(b"\n"):
            head = line[:SNIFF_BYTES]
            while line and not line.endswith(b"\n"):  # skip the rest of the oversized frame
                line = reader.readline(1 << 20)
            post(_Oversized(head))
            continue
        post(line)


async def serve(
    dispatch: Dispatcher | Callable[[str], Awaitable[str]],
    reader: BinaryIO,
    write: Callable[[str], None],
    *,
    max_frame: int,
    pending: bytes = b"",
) -> None:
    """Serve frames from `reader` until end of input, then let in-flight requests finish briefly. `pending`: bytes
    already read from a pollable `reader` (stdio.answer_first_frame), served first."""
    loop = asyncio.get_running_loop()
    start: Start = dispatch.start if isinstance(dispatch, Dispatcher) else dispatch
    after_reply: Callable[[], None] = dispatch.run_deferred if isinstance(dispatch, Dispatcher) else lambda: None
    ended: asyncio.Future[None] = loop.create_future()
    in_flight: set[asyncio.Future[str]] = set()
    fd = pollable(reader)
    slots = threading.Semaphore(MAX_IN_FLIGHT)  # the thread reader's bound
    paused = False

    def resume_reading() -> None:
        nonlocal paused
        if paused and len(in_flight) < MAX_IN_FLIGHT and not ended.done():
            paused = False
            loop.add_reader(fd, on_readable)  # type: ignore[arg-type]

    def answered(task: asyncio.Future[str]) -> None:
        in_flight.discard(task)
        if fd is None:
            slots.release()
        else:
            resume_reading()
        if task.cancelled():
            return
        if task.exception() is not None:
            log.error("reply failed", error=type(task.exception()).__name__)
        elif task.result():
            write(task.result())
        after_reply()

    def on_frame(item: bytes | _Oversized) -> None:
        reply: str | Awaitable[str]
        if isinstance(item, _Oversized):
            log.warning("oversized frame refused", limit=max_frame)
            head = item.head.decode("utf-8", "replace")
            reply = error_frame(INVALID_REQUEST, f"frame exceeds {max_frame} bytes", sniff_id(head))
        else:
            try:
                text = item.decode("utf-8").strip()
            except UnicodeDecodeError:
                head = item[:SNIFF_BYTES].decode("utf-8", "replace")
                text, reply = "", error_frame(PARSE_ERROR, "Parse error: frame is not valid UTF-8", sniff_id(head))
            else:
                reply = start(text) if text else ""
        if isinstance(reply, str):
            if reply:
                write(reply)
            after_reply()
            if fd is None:
                slots.release()
            return
        task = asyncio.ensure_future(reply)
        in_flight.add(task)
        task.add_done_callback(answered)

    def on_readable() -> None:
        nonlocal paused
        try:
            chunk = os.read(fd, READ_BYTES)  # type: ignore[arg-type]
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        if not chunk:
            loop.remove_reader(fd)  # type: ignore[arg-type]
            for item in splitter.end():
                on_frame(item)
            ended.set_result(None)
            return
        for item in splitter.feed(chunk):
            on_frame(item)
        if len(in_flight) >= MAX_IN_FLIGHT and not paused:
            paused = True
            loop.remove_reader(fd)  # type: ignore[arg-type]

    def on_line(item: object) -> None:
        if item is None:
            ended.set_result(None)
        else:
            on_frame(item)  # type: ignore[arg-type]

    splitter = FrameSplitter(max_frame)
    for item in splitter.feed(pending):
        on_frame(item)
    was_blocking = True
    if fd is not None:
        try:
            was_blocking = os.get_blocking(fd)
            os.set_blocking(fd, False)
            loop.add_reader(fd, on_readable)
        except (NotImplementedError, OSError, ValueError):
            os.set_blocking(fd, was_blocking)
            fd = None
    if fd is None:
        thread = threading.Thread(
            target=_read_lines,
            args=(reader, max_frame, lambda item: loop.call_soon_threadsafe(on_line, item), slots),
            name="kimchi-stdin",
            daemon=True,
        )
        thread.start()
    try:
        await ended
    finally:
        if fd is not None:
            loop.remove_reader(fd)
            os.set_blocking(fd, was_blocking)
    if in_flight:
        await asyncio.wait(in_flight, timeout=DRAIN_TIMEOUT_S)
    log.info("end of input; exiting")
