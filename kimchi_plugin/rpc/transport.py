"""Newline-delimited JSON-RPC over a pair of byte streams (the brain's stdin/stdout).

A reader thread does blocking `readline` with a size cap (asyncio's stream reader has a 64 KiB line limit and no
portable stdin support); each frame is dispatched as its own task so a slow hook never holds up another; responses are
written whole, one per line, from the event-loop thread. End of input is the shutdown signal.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Awaitable, Callable
from typing import BinaryIO

import structlog

from kimchi_plugin.rpc.dispatch import INVALID_REQUEST, PARSE_ERROR, error_frame

log = structlog.get_logger("kimchi.transport")

DRAIN_TIMEOUT_S = 2.0  # at end of input, how long in-flight requests may still finish
_SNIFF_BYTES = 4096  # how much of an unparseable frame is searched for its id
# The request id as a top-level member among the envelope's first keys (the shim writes jsonrpc, id, method, params):
# an "id" nested inside params must never be echoed, it could belong to another pending call.
_ID_PREFIX = re.compile(
    rb'^\s*\{(?:\s*"(?:jsonrpc|method)"\s*:\s*"[^"\\]{0,64}"\s*,)*\s*"id"\s*:\s*(-?\d{1,15}|"[^"\\]{0,64}")'
)
MAX_IN_FLIGHT = 64  # frames read but not yet answered; beyond this the reader waits (memory stays bounded)


class _Oversized:
    """Marker for a line longer than the frame cap; keeps its head so the id can still be echoed."""

    __slots__ = ("head",)

    def __init__(self, head: bytes) -> None:
        self.head = head


def _read_frames(reader: BinaryIO, max_frame: int, post: Callable[[object], None], slots: threading.Semaphore) -> None:
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
            head = line[:_SNIFF_BYTES]
            while line and not line.endswith(b"\n"):  # skip the rest of the oversized frame
                line = reader.readline(1 << 20)
            post(_Oversized(head))
            continue
        post(line)


def _sniff_id(head: bytes) -> int | str | None:
    """The request id of a frame that cannot be parsed as a whole (oversized or not UTF-8), when it is visible."""
    found = _ID_PREFIX.match(head)
    if not found:
        return None
    raw = found.group(1).decode("utf-8", "replace")
    return raw.strip('"') if raw.startswith('"') else int(raw)


class FrameWriter:
    """Writes whole frames, one per line; used from the event-loop thread only."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream

    def __call__(self, frame: str) -> None:
        try:
            self._stream.write(frame.encode("ascii") + b"\n")
        except (OSError, ValueError):
            log.warning("stdout closed; dropping a frame")


async def serve(
    dispatch: Callable[[str], Awaitable[str]],
    reader: BinaryIO,
    write: Callable[[str], None],
    *,
    max_frame: int,
) -> None:
    """Serve frames from `reader` until end of input, then let in-flight requests finish briefly."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[object] = asyncio.Queue()
    in_flight: set[asyncio.Task[None]] = set()
    slots = threading.Semaphore(MAX_IN_FLIGHT)

    def post(item: object) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, item)

    async def handle(text: str) -> None:
        try:
            reply = await dispatch(text)
            if reply:
                write(reply)
        finally:
            slots.release()

    reader_thread = threading.Thread(
        target=_read_frames, args=(reader, max_frame, post, slots), name="kimchi-stdin", daemon=True
    )
    reader_thread.start()
    while True:
        item = await queue.get()
        if item is None:
            break
        if isinstance(item, _Oversized):
            slots.release()
            log.warning("oversized frame refused", limit=max_frame)
            write(error_frame(INVALID_REQUEST, f"frame exceeds {max_frame} bytes", _sniff_id(item.head)))
            continue
        assert isinstance(item, bytes)
        try:
            text = item.decode("utf-8").strip()
        except UnicodeDecodeError:
            slots.release()
            write(error_frame(PARSE_ERROR, "Parse error: frame is not valid UTF-8", _sniff_id(item[:_SNIFF_BYTES])))
            continue
        if not text:
            slots.release()
            continue
        task = loop.create_task(handle(text))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    if in_flight:
        await asyncio.wait(in_flight, timeout=DRAIN_TIMEOUT_S)
    log.info("end of input; exiting")
