"""Logging for a stdio server: structured JSON lines on stderr (and optionally a file), never on stdout.

stdout belongs to the JSON-RPC protocol (`rpc.stdio.claim_stdout` moves it to a private handle and points fd 1 and
`sys.stdout` at stderr, so a stray `print()` anywhere cannot corrupt a frame). Every log line passes through a redactor
that removes registered secrets (API keys) and bearer tokens.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import stat
import sys
import time
from typing import Any, TextIO, cast

import structlog

from kimchi_plugin import json_encoding

try:
    import fcntl
except ImportError:  # Windows: rotation without the lock
    fcntl = None  # type: ignore[assignment]

_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{6,}")
_secrets: set[str] = set()
REDACTED = "[redacted]"
LOG_ROTATE_BYTES = 5 * 1024 * 1024  # a log file growing past this is moved to "<name>.1" (at most ~2x on disk)


# A rendered line holds JSON-escaped text: whitespace after "Bearer" may be an escaped newline or tab.
_BEARER_RENDERED = re.compile(r"(?i)(bearer(?:\s|\\[nrt])+)[A-Za-z0-9._~+/=-]{6,}")


def register_secret(value: str | None) -> None:
    """Remember a secret so that it is scrubbed from every log line from now on (also as JSON-escaped text)."""
    if value and len(value) >= 6:
        _secrets.add(value)
        _secrets.add(json.dumps(value)[1:-1])


def redact(text: str) -> str:
    """Remove registered secrets and bearer tokens from `text`."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return _BEARER.sub(r"\1" + REDACTED, text)


def _redact_line(_logger: Any, _name: str, rendered: Any) -> str:
    """The last step: the rendered line is scrubbed once (cheaper than every value of the event, keys included); the
    bearer pattern runs only on a line that holds the word (a case-blind regex scan costs more than lowering it)."""
    line = str(rendered)
    for secret in _secrets:
        if secret in line:
            line = line.replace(secret, REDACTED)
    return _BEARER_RENDERED.sub(r"\1" + REDACTED, line) if "bearer" in line.lower() else line


def _json_fallback(value: Any) -> Any:
    """A value JSON has no type for: its `__structlog__()` rendering, else its repr (as structlog's renderer does)."""
    render = getattr(value, "__structlog__", None)
    return render() if callable(render) else repr(value)


# One encoder for every line: `json.dumps` with any option builds a new encoder per call.
_encode = json_encoding.encoder(default=_json_fallback)


def _render_json(_logger: Any, _name: str, event_dict: Any) -> str:
    """The event as one JSON object, in structlog's JSONRenderer's format (the default separators)."""
    return _encode(event_dict)


class _UtcStamp:
    """`timestamp` as ISO 8601 in UTC (`2026-01-02T03:04:05.678901Z`, the fraction left off at whole seconds, as
    `datetime.isoformat` writes it); the date and time part is formatted once per second."""

    __slots__ = ("_prefix", "_second")

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def __call__(self, _logger: Any, _name: str, event_dict: Any) -> Any:
        now = time.time()
        second = int(now)
        micro = round((now - second) * 1_000_000)  # rounded as `datetime` rounds a timestamp
        if micro == 1_000_000:
            second, micro = second + 1, 0
        if second != self._second:
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        event_dict["timestamp"] = f"{self._prefix}.{micro:06d}Z" if micro else f"{self._prefix}Z"
        return event_dict


class BoundOnce:
    """A structlog logger bound once per configuration. structlog's own proxy binds a new logger at every call
    (its cache is off because `initialize` reconfigures logging); this one binds again only when the configuration
    it was bound under has been replaced (`configure_logging`, or a test capturing logs)."""

    __slots__ = ("_bound", "_factory", "_name", "_processors", "_wrapper")

    def __init__(self, name: str) -> None:
        self._name = name
        self._bound: Any = None
        self._processors: Any = None
        self._factory: Any = None
        self._wrapper: Any = None

    def _logger(self) -> Any:
        config = structlog.get_config()
        if (
            config["processors"] is not self._processors
            or config["logger_factory"] is not self._factory
            or config["wrapper_class"] is not self._wrapper
        ):
            self._bound = structlog.get_logger(self._name).bind()
            self._processors, self._factory = config["processors"], config["logger_factory"]
            self._wrapper = config["wrapper_class"]
        return self._bound

    def __getattr__(self, method: str) -> Any:
        return getattr(self._logger(), method)

    def is_enabled_for(self, level: int) -> bool:
        """Asked on every message, so a method of its own: `__getattr__` is reached only after a failed lookup,
        whose exception costs more than the answer."""
        return bool(self._logger().is_enabled_for(level))


TRACE = 5  # below DEBUG: every per-step hook call (KIMCHI_LOG_LEVEL=trace)
_tracing = False


def tracing() -> bool:
    """Whether per-step hook calls are logged (`KIMCHI_LOG_LEVEL=trace`); they are written at debug level."""
    return _tracing


def level_from(verbose: bool) -> int:
    """`KIMCHI_LOG_LEVEL` wins (`trace` is TRACE); otherwise DEBUG when verbose, INFO when not."""
    name = os.environ.get("KIMCHI_LOG_LEVEL", "").strip().upper()
    if name == "TRACE":
        return TRACE
    if name and isinstance(getattr(logging, name, None), int):
        return int(getattr(logging, name))
    return logging.DEBUG if verbose else logging.INFO


_HEAD_BYTES = 64 * 1024


def _is_our_log(head: bytes) -> bool:
    """A file this plugin wrote: empty, or starting with a JSON line as the renderer writes them (timestamped)."""
    first = head.split(b"\n", 1)[0]
    return not head or (first.startswith(b'{"') and b'"timestamp": "' in first)


class LogFile:
    """Append-only, size-bounded log file that is safe with several writers (several brains share the default file).

    Each line is one `write` on an O_APPEND descriptor, so lines of different processes never interleave. Past
    `max_bytes` the file is moved to `<name>.1` under an exclusive lock on it; a writer whose file was moved by another
    reopens the path. Only a file the plugin created (or an empty one) is ever rotated or appended to; a device or pipe
    is appended to, never rotated. The first failed write turns file logging off for good with one warning on stderr:
    a full disk must never fail a hook.
    """

    def __init__(self, path: str, max_bytes: int = LOG_ROTATE_BYTES) -> None:
        self.path = path
        self._max = max_bytes
        self._fd: int | None = None
        self._regular = False
        try:
            self._open(existing_checked=False)
        except OSError as exc:
            self._give_up("log file unavailable", exc)

    @property
    def active(self) -> bool:
        return self._fd is not None

    def _open(self, *, existing_checked: bool) -> None:
        directory = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(directory):
            os.makedirs(directory, mode=0o700, exist_ok=True)
        if not existing_checked and os.path.exists(self.path):
            info = os.stat(self.path)
            if stat.S_ISREG(info.st_mode):
                with open(self.path, "rb") as existing:
                    if not _is_our_log(existing.read(_HEAD_BYTES)):
                        raise FileExistsError(errno.EEXIST, "not a log file this plugin wrote")
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._regular = stat.S_ISREG(os.fstat(fd).st_mode)
        if self._regular:
            os.fchmod(fd, 0o600)
        self._fd = fd

    def write(self, text: str) -> None:
        fd = self._fd
        if fd is None:
            return
        try:
            os.write(fd, text.encode("utf-8", "backslashreplace"))
            # An appending write leaves the offset at the file's end: its size, other writers' lines included.
            if self._regular and os.lseek(fd, 0, os.SEEK_CUR) > self._max:
                self._rotate(fd)
        except OSError as exc:
            self._give_up("log file write failed; file logging is off", exc)

    def _rotate(self, fd: int) -> None:
        with open(self.path, "rb") as current:  # the file now at the path: lock it, check it is still the big one
            if fcntl is not None:
                fcntl.flock(current.fileno(), fcntl.LOCK_EX)
            info = os.fstat(current.fileno())
            if info.st_ino == os.fstat(fd).st_ino and info.st_size > self._max:
                os.replace(self.path, self.path + ".1")
        os.close(fd)
        self._fd = None
        self._open(existing_checked=True)

    def _give_up(self, event: str, exc: OSError) -> None:
        if self._fd is not None:
            try:
                os.close(self._fd)
            except OSError:
                pass
        self._fd = None
        _stderr_write(
            json.dumps({"event": event, "path": self.path, "error": exc.strerror or type(exc).__name__}) + "\n"
        )

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _stderr_write(text: str) -> None:
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except (OSError, ValueError):
        pass  # nowhere left to report to


class _Tee:
    """Write each rendered line to stderr and, when configured, to the log file; never raises."""

    def __init__(self, log_file: LogFile | None) -> None:
        self._file = log_file

    def write(self, text: str) -> None:
        _stderr_write(text)
        if self._file is not None:
            self._file.write(text)

    def flush(self) -> None:
        pass  # both writes above are unbuffered


_current: LogFile | None = None


class _Direct:
    """The configuration `configure_logging` installed, as `info_line` needs it: what tells that it is still in force
    (`capture_logs` refills the same processor list, so its contents are checked too), its level, timestamp and
    stream."""

    __slots__ = ("factory", "level", "processors", "size", "stamp", "stream", "wrapper")

    def __init__(self, config: dict[str, Any], level: int, stamp: _UtcStamp, stream: _Tee) -> None:
        self.processors, self.factory, self.wrapper = (
            config["processors"],
            config["logger_factory"],
            config["wrapper_class"],
        )
        self.size = len(self.processors)
        self.level, self.stamp, self.stream = level, stamp, stream

    def in_force(self, config: dict[str, Any]) -> bool:
        processors = config["processors"]
        return (
            processors is self.processors
            and len(processors) == self.size
            and processors[1] is self.stamp
            and processors[-1] is _redact_line
            and config["logger_factory"] is self.factory
            and config["wrapper_class"] is self.wrapper
        )


_direct: _Direct | None = None


def info_line(logger: BoundOnce, event: str, fields: dict[str, Any]) -> None:
    """`logger.info(event, **fields)` for a line written on every message: the very text structlog writes (the
    fields in order, then event, level and timestamp, rendered and scrubbed), without its per-call plumbing (context
    copy, processor chain, exception check, a lock and a flush), while the configuration `configure_logging`
    installed is in force; through `logger` when it is not (a test capturing logs). `fields` becomes the line."""
    direct = _direct
    if direct is None or not direct.in_force(structlog.get_config()):
        logger.info(event, **fields)
        return
    if direct.level > logging.INFO:
        return
    fields["event"] = event
    fields["level"] = "info"
    direct.stamp(None, "info", fields)
    direct.stream.write(_redact_line(None, "info", _encode(fields)) + "\n")


def configure_logging(*, verbose: bool = False, log_file: str | None = None) -> None:
    """(Re)configure structlog and stdlib logging; safe to call again when `initialize` brings options."""
    global _current, _direct, _tracing
    level = level_from(verbose)
    _tracing = level <= TRACE
    level = max(level, logging.DEBUG)
    if _current is not None and (log_file is None or os.path.abspath(log_file) != os.path.abspath(_current.path)):
        _current.close()
        _current = None
    if log_file and _current is None:
        _current = LogFile(log_file)
    tee = _Tee(_current if _current is not None and _current.active else None)
    stream = cast(TextIO, tee)
    stamp = _UtcStamp()
    shared: list[Any] = [structlog.processors.add_log_level, stamp]
    # Tracebacks without frame locals: locals may hold prompts or keys.
    exceptions = structlog.processors.ExceptionRenderer(
        structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
    )
    processors = [*shared, exceptions, _render_json, _redact_line]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.WriteLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
    _direct = _Direct(structlog.get_config(), level, stamp, tee)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                exceptions,
                _render_json,
                _redact_line,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpcore", "httpx", "asyncio"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    # jsonrpcserver logs method exceptions with their message; ours are handled before it sees them.
    logging.getLogger("jsonrpcserver").setLevel(logging.CRITICAL)
