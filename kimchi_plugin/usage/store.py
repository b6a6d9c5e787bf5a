"""Local record of every routed assistant message in SQLite, for `kimchi-plugin stats` and the in-OpenCode summary.

Writes happen on a writer thread fed by a bounded queue, so a hook never waits on the disk. WAL mode and a busy
timeout let several OpenCode processes write to the same file; old rows are pruned so the file stays small.
"""

from __future__ import annotations

import os
import queue
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import astuple, dataclass, fields
from typing import Any

import structlog

log = structlog.get_logger("kimchi.usage_store")

DB_SUBDIR = "opencode-kimchi"
DB_NAME = "usage.db"
SCHEMA_VERSION = 2  # 2: cache_saved_usd
BUSY_TIMEOUT_MS = 5000
QUEUE_SIZE = 2048  # rows waiting for the writer; beyond this a row is dropped (and counted)
BATCH_ROWS = 256  # rows written per transaction at most
MAX_AGE_DAYS = 180
MAX_ROWS = 200_000
PRUNE_EVERY_ROWS = 1000  # prune after this many rows written (and once at start)
CLOSE_TIMEOUT_S = 3.0
MS_PER_DAY = 86_400_000
SQLITE_MAX_INTEGER = 2**63 - 1
REPEAT_NOTE = "counted, not logged again for this cause"
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # not encodable as UTF-8: SQLite refuses the whole statement


@dataclass(frozen=True, slots=True)
class TurnRow:
    """One assistant message of a routed turn. Costs in USD; the two baselines price the message on the top Reasoning
    and top Coding models as if that model had served the whole session, with its own prompt cache, at the prices of
    when the row was written (None: price unknown). `cache_saved_usd`: what the routing decision this message
    answers saved by keeping a warm cache (carried by the decision's first reply only)."""

    message_id: str
    session_id: str
    parent_session_id: str | None
    agent: str | None
    tier: str
    profile: str
    route_source: str
    provider: str
    model: str
    input_tokens: int
    output_tokens: int
    reasoning_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_usd: float
    reasoning_model: str | None
    reasoning_cost_usd: float | None
    coding_model: str | None
    coding_cost_usd: float | None
    created_ms: int | None
    completed_ms: int | None
    recorded_ms: int
    cache_saved_usd: float = 0.0


COLUMNS = tuple(f.name for f in fields(TurnRow))
_SCHEMA = """
CREATE TABLE IF NOT EXISTS turns (
    message_id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    parent_session_id TEXT,
    agent TEXT,
    tier TEXT NOT NULL,
    profile TEXT NOT NULL,
    route_source TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    reasoning_tokens INTEGER NOT NULL,
    cache_read_tokens INTEGER NOT NULL,
    cache_write_tokens INTEGER NOT NULL,
    cost_usd REAL NOT NULL,
    reasoning_model TEXT,
    reasoning_cost_usd REAL,
    coding_model TEXT,
    coding_cost_usd REAL,
    created_ms INTEGER,
    completed_ms INTEGER,
    recorded_ms INTEGER NOT NULL,
    cache_saved_usd REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS turns_recorded ON turns(recorded_ms);
CREATE INDEX IF NOT EXISTS turns_session ON turns(session_id);
CREATE INDEX IF NOT EXISTS turns_parent ON turns(parent_session_id);
"""
_UPSERT = (
    f"INSERT INTO turns ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)}) "
    f"ON CONFLICT(message_id) DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in COLUMNS if c != "message_id")
)


# `WITH` clause naming a session and, recursively, its child sessions (`tree(id)`); one parameter: the session id.
SESSION_TREE = """
WITH RECURSIVE tree(id) AS (
    SELECT ? UNION SELECT t.session_id FROM turns t JOIN tree ON t.parent_session_id = tree.id
)
"""


def default_db_path(env: Mapping[str, str] = os.environ) -> str:
    """`$XDG_DATA_HOME/opencode-kimchi/usage.db`, with `~/.local/share` when XDG_DATA_HOME is unset."""
    data = env.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(data, DB_SUBDIR, DB_NAME)


def connect(path: str, *, readonly: bool = False) -> sqlite3.Connection:
    """A connection with WAL and a busy timeout; the read-only form never creates the file."""
    if readonly:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
    else:
        os.makedirs(os.path.dirname(os.path.abspath(path)), mode=0o700, exist_ok=True)
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    return conn


# Columns added after version 1, with their definitions: a database written by an older version gains them.
_ADDED_COLUMNS = {"cache_saved_usd": "REAL NOT NULL DEFAULT 0"}


def ensure_schema(conn: sqlite3.Connection) -> None:
    """Create or upgrade the table in one transaction, so concurrent first writers never trip on each other."""
    if conn.execute("PRAGMA user_version").fetchone()[0] >= SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        if conn.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
            for statement in filter(str.strip, _SCHEMA.split(";")):
                conn.execute(statement)
            present = table_columns(conn)
            for name, definition in _ADDED_COLUMNS.items():
                if name not in present:
                    conn.execute(f"ALTER TABLE turns ADD COLUMN {name} {definition}")
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def table_columns(conn: sqlite3.Connection) -> set[str]:
    """Columns of the table; empty when it does not exist yet."""
    return {row[1] for row in conn.execute("PRAGMA table_info(turns)")}


def readable(column: str, present: set[str]) -> str:
    """A column for a SELECT, or its default when an older writer's table lacks it."""
    return column if column in present or column not in _ADDED_COLUMNS else f"0 AS {column}"


def prune(conn: sqlite3.Connection, *, now_ms: int, max_age_days: int, max_rows: int) -> int:
    """Delete rows older than `max_age_days` and the oldest beyond `max_rows`; return how many went."""
    cur = conn.execute("DELETE FROM turns WHERE recorded_ms < ?", (now_ms - max_age_days * MS_PER_DAY,))
    removed = cur.rowcount
    cur = conn.execute(
        "DELETE FROM turns WHERE message_id IN "
        "(SELECT message_id FROM turns ORDER BY recorded_ms DESC, message_id DESC LIMIT -1 OFFSET ?)",
        (max_rows,),
    )
    return removed + cur.rowcount


def sanitised(row: TurnRow) -> tuple[Any, ...]:
    """A row's values as SQLite accepts them: lone surrogates (from a malformed event) become U+FFFD and counts are
    kept within SQLite's 64-bit integers, so one odd field never costs the row."""
    return tuple(_sanitised_value(value) for value in astuple(row))


def _sanitised_value(value: Any) -> Any:
    if isinstance(value, str):
        return value if value.isascii() else _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, int) and not -SQLITE_MAX_INTEGER <= value <= SQLITE_MAX_INTEGER:
        return SQLITE_MAX_INTEGER if value > 0 else -SQLITE_MAX_INTEGER
    return value


def session_rows(path: str, session_id: str) -> list[TurnRow]:
    """Stored rows of a session and its child sessions; empty when the database or its table does not exist yet."""
    if not os.path.exists(path):
        return []
    conn = connect(path, readonly=True)
    try:
        present = table_columns(conn)
        if not present:
            return []
        select = ", ".join(readable(column, present) for column in COLUMNS)
        sql = f"{SESSION_TREE} SELECT {select} FROM turns WHERE session_id IN (SELECT id FROM tree)"
        return [TurnRow(*row) for row in conn.execute(sql, (session_id,))]
    finally:
        conn.close()


class _Flush:
    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = threading.Event()


class _Stop:
    """Queue marker: write what came before, then end the writer."""

    __slots__ = ()


_STOP = _Stop()


class UsageStore:
    """Upserts rows by message id from a writer thread. `record` never blocks; a full queue drops and counts."""

    def __init__(
        self,
        path: str,
        *,
        max_age_days: int = MAX_AGE_DAYS,
        max_rows: int = MAX_ROWS,
        queue_size: int = QUEUE_SIZE,
        clock: Callable[[], float] = time.time,
        connect: Callable[[str], sqlite3.Connection] = connect,
    ) -> None:
        self.path = path
        self._connect = connect
        self.max_age_days = max_age_days
        self.max_rows = max_rows
        self._clock = clock
        self._queue: queue.Queue[TurnRow | _Flush | _Stop] = queue.Queue(maxsize=queue_size)
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._closed = False
        self.dropped = 0
        self.written = 0
        self.problems: dict[str, int] = {}  # rows not written, by cause; each cause is logged once
        self.failed = False  # the database could not be opened; rows are dropped

    def open(self) -> None:
        """Start the writer ahead of the first row: it opens the database, creates or upgrades the table and prunes
        while the session goes on, so that a row recorded as OpenCode winds down (a one-turn `opencode run` records
        its only reply right before `dispose`) waits for one commit at `close`, not for all of that."""
        if not (self._closed or self.failed):
            self._ensure_thread()

    def record(self, row: TurnRow) -> bool:
        """Queue a row for writing; False when it was dropped (queue full, store closed or broken)."""
        if self._closed or self.failed:
            self.dropped += 1
            return False
        self._ensure_thread()
        try:
            self._queue.put_nowait(row)
        except queue.Full:
            self.dropped += 1
            return False
        if self.failed:  # the writer gave up while this row was being queued
            self._drain_as_dropped()
            return False
        return True

    def flush(self, timeout: float = CLOSE_TIMEOUT_S) -> bool:
        """Wait until every row queued so far is written; False on timeout."""
        if self._thread is None or not self._thread.is_alive():
            if self.failed:
                self._drain_as_dropped()
            return self._queue.empty()
        marker = _Flush()
        try:
            self._queue.put(marker, timeout=timeout)
        except queue.Full:
            return False
        return marker.done.wait(timeout)

    def close(self, timeout: float = CLOSE_TIMEOUT_S) -> None:
        """Write what is queued (within `timeout`) and stop the writer."""
        self._closed = True
        thread = self._thread
        if thread is None:
            return
        deadline = time.monotonic() + timeout
        try:
            self._queue.put(_STOP, timeout=timeout)
        except queue.Full:
            pass
        thread.join(max(deadline - time.monotonic(), 0.0))

    def _ensure_thread(self) -> None:
        if self._thread is not None:
            return
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="kimchi-usage-store", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        try:
            conn = self._connect(self.path)
            ensure_schema(conn)
            self._prune(conn)
        except (sqlite3.Error, OSError) as exc:
            self.failed = True
            log.warning("usage database unavailable; stats are not recorded", path=self.path, error=type(exc).__name__)
            self._drain_as_dropped()
            return
        since_prune = 0
        try:
            while True:
                item = self._queue.get()
                batch: list[TurnRow] = []
                markers: list[_Flush] = []
                stop = False
                while True:
                    if isinstance(item, _Stop):
                        stop = True
                    elif isinstance(item, _Flush):
                        markers.append(item)
                    else:
                        batch.append(item)
                    if len(batch) >= BATCH_ROWS:
                        break
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                if batch:
                    self._write(conn, batch)
                    since_prune += len(batch)
                    if since_prune >= PRUNE_EVERY_ROWS:
                        self._prune(conn)
                        since_prune = 0
                for marker in markers:
                    marker.done.set()
                if stop:
                    return
        finally:
            conn.close()

    def _write(self, conn: sqlite3.Connection, batch: list[TurnRow]) -> None:
        """One transaction for the batch; when it fails, row by row, so one bad row costs only itself."""
        values = [sanitised(row) for row in batch]
        if self._commit(conn, values) is None:
            self.written += len(batch)
            return
        for one in values:
            cause = self._commit(conn, [one])
            if cause is None:
                self.written += 1
            else:
                self._not_written(cause)

    def _commit(self, conn: sqlite3.Connection, values: list[tuple[Any, ...]]) -> str | None:
        """Upsert in one transaction; the cause of the failure, or None once committed."""
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(_UPSERT, values)
            conn.execute("COMMIT")
            return None
        except Exception as exc:  # sqlite3.Error, or a value SQLite cannot bind: never the writer's end
            try:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            return str(exc) if isinstance(exc, sqlite3.Error) else type(exc).__name__

    def _not_written(self, cause: str) -> None:
        self.dropped += 1
        count = self.problems[cause] = self.problems.get(cause, 0) + 1
        if count == 1:
            log.warning("usage rows not written", cause=cause, note=REPEAT_NOTE)

    def _prune(self, conn: sqlite3.Connection) -> None:
        try:
            conn.execute("BEGIN IMMEDIATE")
            prune(conn, now_ms=int(self._clock() * 1000), max_age_days=self.max_age_days, max_rows=self.max_rows)
            conn.execute("COMMIT")
        except sqlite3.Error:
            if conn.in_transaction:
                conn.execute("ROLLBACK")

    def _drain_as_dropped(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, _Flush):
                item.done.set()
            elif isinstance(item, TurnRow):
                self.dropped += 1
