"""Logging for a stdio server: structured JSON lines on stderr (and optionally a file), never on stdout.

stdout belongs to the JSON-RPC protocol. `claim_stdout` moves the real stdout to a private handle and points fd 1 and
`sys.stdout` at stderr, so a stray `print()` anywhere cannot corrupt a frame. Every log line passes through a redactor
that removes registered secrets (API keys) and bearer tokens.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from typing import Any, BinaryIO

import structlog

_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{6,}")
_secrets: set[str] = set()
REDACTED = "[redacted]"
LOG_ROTATE_BYTES = 5 * 1024 * 1024  # at start, a log file larger than this is moved to "<name>.1"


def register_secret(value: str | None) -> None:
    """Remember a secret so that it is scrubbed from every log line from now on."""
    if value and len(value) >= 6:
        _secrets.add(value)


def redact(text: str) -> str:
    """Remove registered secrets and bearer tokens from `text`."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return _BEARER.sub(r"\1" + REDACTED, text)


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redact_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redact_value(v) for v in value]
    return value


def _redact_processor(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    return {k: _redact_value(v) for k, v in event.items()}


def claim_stdout() -> BinaryIO:
    """Return a private binary handle on the real stdout; fd 1 and `sys.stdout` now write to stderr."""
    sys.stdout.flush()
    proto_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(proto_fd, "wb", buffering=0)


def level_from(verbose: bool) -> int:
    """`KIMCHI_LOG_LEVEL` wins; otherwise DEBUG when verbose, INFO when not."""
    name = os.environ.get("KIMCHI_LOG_LEVEL", "").strip().upper()
    if name and isinstance(getattr(logging, name, None), int):
        return getattr(logging, name)
    return logging.DEBUG if verbose else logging.INFO


class _Tee:
    """Write each rendered line to stderr and, when configured, to a log file."""

    def __init__(self, path: str | None) -> None:
        self._file = None
        if path:
            try:
                os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
                if os.path.exists(path) and os.path.getsize(path) > LOG_ROTATE_BYTES:
                    os.replace(path, path + ".1")
                self._file = open(path, "a", buffering=1, encoding="utf-8")
            except OSError as exc:
                sys.stderr.write(f'{{"event": "log file unavailable", "error": "{type(exc).__name__}"}}\n')

    def write(self, text: str) -> None:
        sys.stderr.write(text)
        if self._file is not None:
            self._file.write(text)

    def flush(self) -> None:
        sys.stderr.flush()
        if self._file is not None:
            self._file.flush()


def configure_logging(*, verbose: bool = False, log_file: str | None = None) -> None:
    """(Re)configure structlog and stdlib logging; safe to call again when `initialize` brings options."""
    level = level_from(verbose)
    stream = _Tee(log_file)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    # Tracebacks without frame locals: locals may hold prompts or keys.
    exceptions = structlog.processors.ExceptionRenderer(
        structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
    )
    structlog.configure(
        processors=[*shared, exceptions, _redact_processor, structlog.processors.JSONRenderer()],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.WriteLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(stream)  # type: ignore[arg-type]
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                exceptions,
                _redact_processor,
                structlog.processors.JSONRenderer(),
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
