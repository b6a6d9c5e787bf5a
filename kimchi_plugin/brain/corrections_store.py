"""The user's routing corrections, kept in a small SQLite database beside the usage data so that what one session
taught the router holds in the next (scoped: a project directory, or "global"); beside them, each recent session's
`/why` answer for its last routed message, so that a later process (`opencode run -c`) can still give it. Every I/O
problem is logged and ignored: learning is never a reason for a hook to fail."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path

import structlog

from kimchi_plugin.routing.corrections import ACCEPTED, Correction
from kimchi_plugin.routing.tiers import Profile
from kimchi_plugin.settings import home

log = structlog.get_logger("kimchi.learning")

FILE_NAME = "corrections.db"
MAX_PER_SCOPE = 500  # per scope, of corrections and of accepted decisions each: the newest describe the user best
GLOBAL_SCOPE = "global"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS corrections (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    scope TEXT NOT NULL,
    at REAL NOT NULL,
    excerpt TEXT NOT NULL,
    features TEXT NOT NULL,
    detected TEXT NOT NULL,
    automatic TEXT NOT NULL,
    target TEXT NOT NULL,
    kind TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS corrections_scope ON corrections(scope, at);
CREATE TABLE IF NOT EXISTS answers (session TEXT PRIMARY KEY, at REAL NOT NULL, answer TEXT NOT NULL);
"""
MAX_ANSWERS = 500  # sessions whose last `/why` answer is kept for a later process (`opencode run -c`)
PRUNE_EVERY = 64  # answers written between two trims to MAX_ANSWERS (a trim costs more than the write)


def default_corrections_path(env: Mapping[str, str]) -> Path:
    """`$XDG_DATA_HOME/opencode-kimchi/corrections.db` (`~/.local/share` when unset), beside the usage database."""
    data = env.get("XDG_DATA_HOME") or os.path.join(home(env), ".local", "share")
    return Path(data) / "opencode-kimchi" / FILE_NAME


class CorrectionStore:
    def __init__(self, path: Path, *, create: bool = True, keep_answers: bool = True) -> None:
        self.path = path
        self._create = create
        self._keep_answers = keep_answers  # off for commands: `explain` must not overwrite a session's answer
        self._answers_kept = 0
        self._conn: sqlite3.Connection | None = None
        self._opening = threading.Lock()  # one connection, whichever thread opens it first (see `open`)

    def _connection(self) -> sqlite3.Connection | None:
        if self._conn is not None:
            return self._conn
        with self._opening:
            if self._conn is None:
                if not self._create and not self.path.exists():
                    return None
                try:
                    self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                except OSError as exc:  # the database's own failure to the callers, which log it and go on
                    raise sqlite3.OperationalError(f"cannot create {self.path.parent}: {exc.strerror}") from exc
                conn = sqlite3.connect(self.path, timeout=1.0, isolation_level=None, check_same_thread=False)
                try:
                    conn.execute("PRAGMA journal_mode=WAL")
                    conn.execute("PRAGMA synchronous=NORMAL")
                    conn.executescript(_SCHEMA)
                finally:  # kept even when its set-up fails (as ever); seen by other threads once set up
                    self._conn = conn
        return self._conn

    def open(self) -> None:
        """Open (a first start: create) the database ahead of the first read, on a thread at start-up: creating it
        waits 20-30 ms on the disk's syncs, which the first routed message would otherwise wait for."""
        try:
            self._connection()
        except (sqlite3.Error, OSError, ValueError):
            pass  # the first read meets the same problem and reports it

    def version(self) -> int:
        """Changes when another process wrote (PRAGMA data_version), so a reader reloads only then."""
        try:
            conn = self._connection()
            return int(conn.execute("PRAGMA data_version").fetchone()[0]) if conn is not None else 0
        except (sqlite3.Error, ValueError):
            return 0

    def load(self, scope: str) -> list[Correction]:
        try:
            conn = self._connection()
            if conn is None:
                return []
            rows = conn.execute(
                "SELECT at, excerpt, features, detected, automatic, target, kind FROM corrections WHERE scope = ? "
                "ORDER BY at DESC LIMIT ?",
                (_text(scope), 2 * MAX_PER_SCOPE),
            ).fetchall()
        except (sqlite3.Error, ValueError) as exc:
            log.warning("corrections unreadable", error=str(exc))
            return []
        found = []
        for at, text, features, detected, automatic, target, kind in reversed(rows):
            try:
                profiles = Profile(detected), Profile(automatic), Profile(target)
                found.append(Correction(at, text, frozenset(json.loads(features)), *profiles, kind))
            except (ValueError, TypeError):
                continue
        return found

    def add(self, scope: str, correction: Correction) -> None:
        try:
            conn = self._connection()
            if conn is None:
                return
            conn.execute(
                "INSERT INTO corrections (scope, at, excerpt, features, detected, automatic, target, kind) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    _text(scope),
                    correction.at,
                    _text(correction.excerpt),
                    json.dumps(sorted(correction.features)),
                    correction.detected.value,
                    correction.automatic.value,
                    correction.target.value,
                    correction.kind,
                ),
            )
            same_kind = "kind = 'accepted'" if correction.kind == ACCEPTED else "kind != 'accepted'"
            conn.execute(
                f"DELETE FROM corrections WHERE scope = ? AND {same_kind} AND id NOT IN "
                f"(SELECT id FROM corrections WHERE scope = ? AND {same_kind} ORDER BY at DESC LIMIT ?)",
                (_text(scope), _text(scope), MAX_PER_SCOPE),
            )
        except (sqlite3.Error, ValueError) as exc:
            log.warning("correction not saved", error=str(exc))

    def keep_answers(self, answers: Iterable[tuple[str, float, str]]) -> None:
        """Keep (session, at, answer) rows, one transaction for all of them."""
        if not self._keep_answers:
            return
        try:
            conn = self._connection()
            if conn is None:
                return
            rows = [(_text(session), at, _text(answer)) for session, at, answer in answers]
            with conn:  # the `with` only commits or rolls back: in autocommit mode, BEGIN opens the transaction
                conn.execute("BEGIN")
                conn.executemany("INSERT OR REPLACE INTO answers (session, at, answer) VALUES (?, ?, ?)", rows)
            before, self._answers_kept = self._answers_kept, self._answers_kept + len(rows)
            if before // PRUNE_EVERY == self._answers_kept // PRUNE_EVERY:
                return
            conn.execute(
                "DELETE FROM answers WHERE session NOT IN (SELECT session FROM answers ORDER BY at DESC LIMIT ?)",
                (MAX_ANSWERS,),
            )
        except (sqlite3.Error, ValueError) as exc:
            log.warning("why answers not saved", error=str(exc))

    def answer(self, session: str) -> str | None:
        try:
            conn = self._connection()
            query = "SELECT answer FROM answers WHERE session = ?"
            row = conn.execute(query, (_text(session),)).fetchone() if conn else None
        except (sqlite3.Error, ValueError):
            return None
        return str(row[0]) if row else None

    def reset(self, scope: str | None = None) -> int:
        """Forget the corrections of `scope` (every scope when None); returns how many were forgotten."""
        try:
            conn = self._connection()
            if conn is None:
                return 0
            if scope is None:
                return conn.execute("DELETE FROM corrections").rowcount
            return conn.execute("DELETE FROM corrections WHERE scope = ?", (_text(scope),)).rowcount
        except (sqlite3.Error, ValueError) as exc:
            log.warning("corrections not reset", error=str(exc))
            return 0

    def scopes(self) -> dict[str, int]:
        try:
            conn = self._connection()
            if conn is None:
                return {}
            rows = conn.execute("SELECT scope, COUNT(*) FROM corrections WHERE kind != 'accepted' GROUP BY scope")
            return dict(rows.fetchall())
        except (sqlite3.Error, ValueError):
            return {}

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _text(value: str) -> str:
    """`value` as SQLite can store it: lone surrogates (possible in JSON input) replaced."""
    return value.encode("utf-8", "replace").decode("utf-8")
