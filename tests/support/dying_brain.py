"""The real brain, except that it dies (exit code 1, no reply) the moment a ``chat.message`` request arrives.

Used as the shim's ``command`` option to prove a turn completes when the brain crashes mid-turn. It wraps stdin so
the brain's own transport reads every frame through a check; nothing else differs from ``python -m kimchi_plugin``.
"""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

import structlog

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

DEADLY_METHOD = "chat.message"
EXIT_CODE = 1
log = structlog.get_logger("kimchi.test")


class _DyingStdin(io.BufferedReader):
    """Reads stdin like the real one, but exits the process on a frame calling ``DEADLY_METHOD``."""

    def readline(self, size: int | None = -1) -> bytes:
        line = super().readline(-1 if size is None else size)
        if DEADLY_METHOD.encode() in line and _method_of(line) == DEADLY_METHOD:
            log.warning("dying on purpose", method=DEADLY_METHOD)
            sys.stderr.flush()
            os._exit(EXIT_CODE)
        return line


def _method_of(line: bytes) -> str | None:
    try:
        frame = json.loads(line)
    except ValueError:
        return None
    return frame.get("method") if isinstance(frame, dict) else None


def main() -> int:
    sys.stdin = io.TextIOWrapper(_DyingStdin(io.FileIO(0, closefd=False)))
    from kimchi_plugin.cli import main as brain_main

    return brain_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
