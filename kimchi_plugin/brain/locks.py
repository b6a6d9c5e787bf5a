"""`/lock` outlives the process: each session's lock is kept in a small JSON file beside the usage data, so a
restarted OpenCode (`opencode run -c`, a serve restart) routes the session as the user left it.

Bounded (the newest MAX_LOCKS sessions), written atomically (a reader sees the old file or the new one), re-read
when another process changed it, and never a reason for a hook to fail: every I/O problem is logged and ignored.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path

import structlog

from kimchi_plugin.routing.tiers import Profile
from kimchi_plugin.settings import home

log = structlog.get_logger("kimchi.locks")

FILE_NAME = "locks.json"
FORMAT = 1
MAX_LOCKS = 500
MAX_FILE_BYTES = 256 * 1024


def default_locks_path(env: Mapping[str, str]) -> Path:
    """`$XDG_DATA_HOME/opencode-kimchi/locks.json` (`~/.local/share` when unset), beside the usage database."""
    data = env.get("XDG_DATA_HOME") or os.path.join(home(env), ".local", "share")
    return Path(data) / "opencode-kimchi" / FILE_NAME


class LockStore:
    def __init__(self, path: Path, clock: Callable[[], float]) -> None:
        self.path = path
        self._clock = clock
        self._locks: dict[str, tuple[str, float]] = {}  # session id → (profile, locked at)
        self._seen: tuple[int, int] | None = None  # (mtime ns, size) of the file last read

    def get(self, session_id: str) -> Profile | None:
        self._reload()
        entry = self._locks.get(session_id)
        if entry is None:
            return None
        try:
            return Profile(entry[0])
        except ValueError:
            return None

    def put(self, session_id: str, profile: Profile | None) -> None:
        """Remember (or with None, forget) a session's lock."""
        self._reload()
        if profile is None:
            if self._locks.pop(session_id, None) is None:
                return
        else:
            self._locks[session_id] = (profile.value, self._clock())
            if len(self._locks) > MAX_LOCKS:
                newest = sorted(self._locks.items(), key=lambda item: item[1][1])[-MAX_LOCKS:]
                self._locks = dict(newest)
        self._write()

    def _reload(self) -> None:
        try:
            stat = self.path.stat()
        except OSError:
            return
        seen = (stat.st_mtime_ns, stat.st_size)
        if seen == self._seen:
            return
        self._seen = seen
        if stat.st_size > MAX_FILE_BYTES:
            log.warning("lock file too large; ignored", path=str(self.path))
            return
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            log.warning("lock file unreadable; ignored", path=str(self.path), error=type(exc).__name__)
            return
        raw = document.get("locks") if isinstance(document, dict) and document.get("format") == FORMAT else None
        if not isinstance(raw, dict):
            return
        self._locks = {
            str(session): (entry[0], float(entry[1]))
            for session, entry in raw.items()
            if isinstance(entry, list)
            and len(entry) == 2
            and isinstance(entry[0], str)
            and isinstance(entry[1], (int, float))
        }

    def _write(self) -> None:
        import tempfile  # with shutil and random: only a lock or an unlock writes, never a start

        document = {"format": FORMAT, "locks": {session: list(entry) for session, entry in self._locks.items()}}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle, temp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{FILE_NAME}.", suffix=".tmp")
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as stream:
                    json.dump(document, stream, separators=(",", ":"))
                os.replace(temp, self.path)
            except BaseException:
                Path(temp).unlink(missing_ok=True)
                raise
            stat = self.path.stat()
            self._seen = (stat.st_mtime_ns, stat.st_size)
        except OSError as exc:
            log.warning("lock not persisted", path=str(self.path), error=type(exc).__name__)
