"""Noticing a stuck turn: the same tool call failing again and again, the same file edited back and forth, the same
error coming back. A stuck turn is moved to the Reasoning tier (option `stallEscalation`).

Pure: every observation carries its time (the injected clock's), and only observations of the current turn within
WINDOW_S count.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SAME_CALL_FAILURES = 3  # the same tool with the same arguments failing this often
SAME_ERROR = 3  # the same error line (numbers aside) from this many failed calls
REVERSALS = 2  # edits that undo an earlier edit of the same file
WINDOW_S = 20 * 60.0
MAX_EVENTS = 64  # observations kept per turn
ERROR_CHARS = 160
_NUMBERS = re.compile(r"\d+")
_SPACE = re.compile(r"\s+")


def _digest(value: object) -> str:
    text = json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.blake2b(text.encode("utf-8", "replace"), digest_size=8).hexdigest()


def error_key(output: object) -> str:
    """The first non-empty line of a failure, numbers and spacing aside (line numbers, timings, ids change)."""
    text = output if isinstance(output, str) else ""
    first = next((line for line in text.splitlines() if line.strip()), "")
    return _SPACE.sub(" ", _NUMBERS.sub("#", first)).strip()[:ERROR_CHARS]


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One finished tool call, reduced to what stall detection compares (digests, never contents)."""

    at: float
    tool: str
    call: str  # digest of tool and arguments (of a failed call; "" otherwise)
    failed: bool
    error: str  # error_key of a failed call's output
    path: str | None
    change: tuple[str, str] | None  # (digest before, digest after) of an edit


def tool_call(
    at: float, tool: str, args: Mapping[str, Any], output: object, failed: bool, path: str | None
) -> ToolCall:
    old, new = args.get("oldString"), args.get("newString")
    change = (_digest(old), _digest(new)) if isinstance(old, str) and isinstance(new, str) else None
    if not failed:  # only failed calls are compared by their arguments
        return ToolCall(at, tool, "", False, "", path, change)
    return ToolCall(at, tool, _digest([tool, dict(args)]), True, error_key(output), path, change)


@dataclass(slots=True)
class StallWatch:
    """The current turn's tool calls; says once per turn that it is stuck, and why."""

    calls: deque[ToolCall] = field(default_factory=lambda: deque(maxlen=MAX_EVENTS))
    stuck: str | None = None  # why the turn is stuck (set once per turn)
    pending: str | None = None  # a stuck turn's reason, until the next message escalates

    def new_turn(self) -> str | None:
        """A user message starts a turn; returns the reason a previous stuck turn left for this one."""
        pending, self.pending, self.stuck = self.pending, None, None
        self.calls.clear()
        return pending

    def observe(self, call: ToolCall) -> str | None:
        """Record a call; the reason the turn is stuck, the first time it is."""
        self.calls.append(call)
        if self.stuck is not None or not (call.failed or call.change is not None):
            return None  # a call that neither failed nor edited cannot make the turn stuck
        recent = [c for c in self.calls if call.at - c.at <= WINDOW_S]
        reason = _same_call(call, recent) or _same_error(call, recent) or _back_and_forth(call, recent)
        if reason is not None:
            self.stuck = self.pending = reason
        return reason


def _same_call(call: ToolCall, recent: list[ToolCall]) -> str | None:
    if not call.failed:
        return None
    count = sum(1 for c in recent if c.failed and c.call == call.call)
    return f"the same {call.tool} call failed {count} times" if count >= SAME_CALL_FAILURES else None


def _same_error(call: ToolCall, recent: list[ToolCall]) -> str | None:
    if not call.failed or not call.error:
        return None
    count = sum(1 for c in recent if c.failed and c.error == call.error)
    return f"the same error came back {count} times" if count >= SAME_ERROR else None


def _back_and_forth(call: ToolCall, recent: list[ToolCall]) -> str | None:
    if call.change is None or call.path is None:
        return None
    edits = [c.change for c in recent if c.path == call.path and c.change is not None]
    reversals = sum(1 for i, (old, new) in enumerate(edits) if (new, old) in edits[:i])
    return f"{call.path} was edited back and forth" if reversals >= REVERSALS else None
