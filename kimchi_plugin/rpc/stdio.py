"""The brain's stdio beneath the event loop, standard library only so that it is usable before anything heavy is
imported: stdout claimed for frames, frames written whole, which stdin the loop can watch, and the first frame
answered at once. OpenCode waits for the `initialize` answer; the brain's own modules, pydantic, structlog and asyncio
take several times longer to import than that answer takes to make.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Callable
from typing import Any, BinaryIO

from kimchi_plugin import json_encoding

PROTOCOL_VERSION = 1
MAX_FRAME_BYTES = 16 * 1024 * 1024  # one JSON-RPC frame (= one line); larger lines are refused, not parsed
READ_BYTES = 64 * 1024  # a pipe holds 64 KiB; a larger buffer would be mmap-allocated on every read
REQUEST_KEYS = frozenset({"jsonrpc", "method", "params", "id"})

serialize = json_encoding.encoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)  # built once
# (method, params) → the result, or None when the request is left to the server.
EarlyAnswer = Callable[[str, dict[str, Any]], "dict[str, Any] | None"]


def claim_stdout() -> BinaryIO:
    """Return a private binary handle on the real stdout; fd 1 and `sys.stdout` now write to stderr."""
    sys.stdout.flush()
    proto_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(proto_fd, "wb", buffering=0)


class FrameWriter:
    """Writes whole frames, one per line; used from one thread only."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream

    def __call__(self, frame: str) -> None:
        # A lone surrogate can only sit inside a JSON string: written as its \\uXXXX escape it stays valid JSON.
        data = frame.encode("utf-8", "backslashreplace") + b"\n"
        try:
            self._stream.write(data)
        except (OSError, ValueError):
            import structlog  # only on this rare path: the early answer runs before structlog is imported

            structlog.get_logger("kimchi.transport").warning("stdout closed; dropping a frame")


def pollable(reader: BinaryIO) -> int | None:
    """The descriptor an event loop can watch, when that works: POSIX pipes, sockets and terminals."""
    if os.name != "posix":
        return None
    try:
        fd = reader.fileno()
        mode = os.fstat(fd).st_mode
    except (AttributeError, OSError, ValueError):
        return None
    return fd if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode) else None


def _request(line: bytes) -> tuple[Any, str, dict[str, Any]] | None:
    """(id, method, params) of a well-formed request with an integer or string id and object params, else None."""
    try:
        request = json.loads(line.decode("utf-8"))
    except (ValueError, RecursionError):
        return None
    if not isinstance(request, dict) or request.get("jsonrpc") != "2.0" or not REQUEST_KEYS.issuperset(request):
        return None
    rpc_id, method, params = request.get("id"), request.get("method"), request.get("params")
    if isinstance(rpc_id, bool) or not isinstance(rpc_id, (int, str)) or not isinstance(method, str):
        return None
    return (rpc_id, method, params) if isinstance(params, dict) else None


def answer_first_frame(
    fd: int, write: Callable[[str], None], answer: EarlyAnswer
) -> tuple[bytes, dict[str, Any] | None]:
    """Read `fd` (blocking) to the end of its first frame; when `answer` has a result for that request, write the
    reply. Returns the bytes read and not answered (the server starts with them) and the answered request's params
    (None when not answered: then the whole frame is among the bytes returned, and the server answers it)."""
    data = b""
    while b"\n" not in data and len(data) < READ_BYTES:
        try:
            chunk = os.read(fd, READ_BYTES)
        except InterruptedError:
            continue
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    line, newline, rest = data.partition(b"\n")
    request = _request(line) if newline else None
    try:
        result = answer(request[1], request[2]) if request is not None else None
    except Exception:  # the server answers the frame instead, and logs what fails there
        result = None
    if request is None or result is None:
        return data, None
    write(serialize({"jsonrpc": "2.0", "result": result, "id": request[0]}))
    return rest, request[2]
