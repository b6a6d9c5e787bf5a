"""Per-session routing state, bounded: least-recently-used sessions are evicted and idle ones expire.

One session's state never leaks into another's: every piece of memory hangs off its SessionState, and the store is
per brain process (= per OpenCode instance). An unknown session id is normal (after a restart) and starts empty.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kimchi_plugin.lru import Lru
from kimchi_plugin.opencode.vocabulary import EDIT_TOOLS, READ_TOOLS
from kimchi_plugin.routing.budget import SessionBudget
from kimchi_plugin.routing.cache_policy import CacheState
from kimchi_plugin.routing.conversation import ConversationState
from kimchi_plugin.routing.stall import StallWatch
from kimchi_plugin.routing.tiers import Profile, Tier

MAX_SESSIONS = 1000  # live sessions kept; the least recently used beyond this are forgotten
SESSION_IDLE_TTL_S = 12 * 3600  # a session untouched this long is forgotten
HISTORY_LEN = 20  # routing decisions kept per session (for compaction context and explanations)
MAX_TRACKED_FILES = 50
MAX_TRACKED_ERRORS = 10
ERROR_SNIPPET_CHARS = 200
PATH_ARGS = ("filePath", "path", "file")
FAILED_PREFIXES = ("error", "failed")


@dataclass(frozen=True, slots=True)
class RoutedTurn:
    """The outcome of one routing decision, as remembered by the session."""

    model_id: str
    tier: Tier
    profile: Profile
    source: str
    reason: str


@dataclass(slots=True)
class SessionState:
    session_id: str
    touched_at: float = 0.0
    agent: str | None = None
    lock: Profile | None = None  # from `/lock`, until `/auto`
    suggestion: Tier | None = None  # from a suggest_*_mode tool call, consumed by the next message
    conversation: ConversationState = field(default_factory=ConversationState)
    last: RoutedTurn | None = None
    history: deque[RoutedTurn] = field(default_factory=lambda: deque(maxlen=HISTORY_LEN))
    toast_key: str | None = None
    # Fallback: models that failed recently in this session, with the time until which they are avoided.
    failed_until: dict[str, float] = field(default_factory=dict)
    fallback_note: str | None = None  # why the next turn avoids a model (shown once in the toast)
    overflowed: bool = False  # the last failure was a context-length error
    # Context: tokens of the transcript as last counted, and the size of the last request OpenCode reported.
    transcript_tokens: int = 0
    reported_tokens: int = 0
    compaction_requested_at: float | None = None
    # Activity, for delegation reminders and the compaction context.
    direct_calls: int = 0
    delegations: int = 0
    direct_since_reminder: int = 0
    reminders: int = 0
    edits: int = 0
    reads: int = 0
    errors: int = 0
    files_modified: Lru[str, bool] = field(default_factory=lambda: Lru(MAX_TRACKED_FILES))  # newest last
    files_read: Lru[str, bool] = field(default_factory=lambda: Lru(MAX_TRACKED_FILES))
    recent_errors: deque[str] = field(default_factory=lambda: deque(maxlen=MAX_TRACKED_ERRORS))
    # Economics: the warm prompt cache, the session's spend limits, the current turn's tool calls (stall watch).
    cache: CacheState = field(default_factory=CacheState)
    budget: SessionBudget = field(default_factory=SessionBudget)
    stall: StallWatch = field(default_factory=StallWatch)

    def remember(self, turn: RoutedTurn) -> None:
        self.last = turn
        self.history.append(turn)

    def note_tool(self, tool: str, args: Mapping[str, Any], output: object, metadata: Mapping[str, Any]) -> bool:
        """Count a finished tool call (edits, reads, failures, files touched) for routing and the compaction
        context. Returns whether it failed."""
        failed = tool_failed(tool, output, metadata)
        self.conversation.note_tool(tool, failed)
        path = next((v for k in PATH_ARGS if isinstance(v := args.get(k), str) and v), None)
        if tool in EDIT_TOOLS:
            self.edits += 1
            if path:
                self.files_modified.put(path, True)
        elif tool in READ_TOOLS:
            self.reads += 1
            if path and tool == "read":
                self.files_read.put(path, True)
        if failed:
            self.errors += 1
            first_line = str(output or "").strip().splitlines()[:1]
            self.recent_errors.append((first_line[0] if first_line else tool)[:ERROR_SNIPPET_CHARS])
        return failed


def tool_failed(tool: str, output: object, metadata: Mapping[str, Any]) -> bool:
    """A non-zero exit code, or output that opens with an error (read tools show file text, never judged by it)."""
    exit_code = metadata.get("exit")
    if isinstance(exit_code, int) and exit_code != 0:
        return True
    return (
        tool not in READ_TOOLS and isinstance(output, str) and output.lstrip()[:6].lower().startswith(FAILED_PREFIXES)
    )


class SessionStore:
    """Sessions by id with LRU eviction and an idle TTL; time is passed in, never read."""

    def __init__(self, max_sessions: int = MAX_SESSIONS, idle_ttl_s: float = SESSION_IDLE_TTL_S) -> None:
        self._sessions: OrderedDict[str, SessionState] = OrderedDict()
        self._max = max_sessions
        self._ttl = idle_ttl_s

    def get(self, session_id: str, now: float) -> SessionState:
        """The session's state, created on first sight; marks it as just used."""
        state = self._sessions.get(session_id)
        if state is None or now - state.touched_at > self._ttl:
            state = SessionState(session_id=session_id)
            self._sessions[session_id] = state
        state.touched_at = now
        self._sessions.move_to_end(session_id)
        self._evict(now)
        return state

    def peek(self, session_id: str) -> SessionState | None:
        """The session's state if it is known, without creating or refreshing it."""
        return self._sessions.get(session_id)

    def drop(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)

    def __len__(self) -> int:
        return len(self._sessions)

    def _evict(self, now: float) -> None:
        while len(self._sessions) > self._max:
            self._sessions.popitem(last=False)
        while self._sessions:
            oldest_id, oldest = next(iter(self._sessions.items()))
            if now - oldest.touched_at <= self._ttl:
                break
            del self._sessions[oldest_id]
