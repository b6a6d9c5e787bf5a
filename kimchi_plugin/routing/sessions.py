"""Per-session routing state, bounded: least-recently-used sessions are evicted and idle ones expire.

One session's state never leaks into another's: every piece of memory hangs off its SessionState, and the store is
per brain process (= per OpenCode instance). An unknown session id is normal (after a restart) and starts empty.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field

from kimchi_plugin.routing.conversation import ConversationState
from kimchi_plugin.routing.tiers import Profile, Tier

MAX_SESSIONS = 1000  # live sessions kept; the least recently used beyond this are forgotten
SESSION_IDLE_TTL_S = 12 * 3600  # a session untouched this long is forgotten
HISTORY_LEN = 20  # routing decisions kept per session (for compaction context and explanations)
MAX_TRACKED_FILES = 50
MAX_TRACKED_ERRORS = 10


@dataclass(frozen=True, slots=True)
class RoutedTurn:
    """The outcome of one routing decision, as remembered by the session."""

    model_id: str
    tier: Tier
    profile: Profile
    source: str
    reason: str


class BoundedSet:
    """Insertion-ordered set that keeps only the newest `limit` items."""

    __slots__ = ("_items", "_limit")

    def __init__(self, limit: int) -> None:
        self._items: OrderedDict[str, None] = OrderedDict()
        self._limit = limit

    def add(self, item: str) -> None:
        self._items[item] = None
        self._items.move_to_end(item)
        while len(self._items) > self._limit:
            self._items.popitem(last=False)

    def __contains__(self, item: object) -> bool:
        return item in self._items

    def __iter__(self):
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


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
    files_modified: BoundedSet = field(default_factory=lambda: BoundedSet(MAX_TRACKED_FILES))
    files_read: BoundedSet = field(default_factory=lambda: BoundedSet(MAX_TRACKED_FILES))
    recent_errors: deque[str] = field(default_factory=lambda: deque(maxlen=MAX_TRACKED_ERRORS))

    def remember(self, turn: RoutedTurn) -> None:
        self.last = turn
        self.history.append(turn)


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
