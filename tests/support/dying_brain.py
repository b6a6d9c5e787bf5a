"""The real brain, except that it dies (exit code 1, no reply) the moment a ``chat.message`` request arrives.

Used as the shim's ``command`` option to prove a turn completes when the brain crashes mid-turn. It swaps the
``chat.message`` entry of the method table (whatever the transport reads stdin with); nothing else differs from
``python -m kimchi_plugin``.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import structlog

from kimchi_plugin.opencode import routes
from kimchi_plugin.opencode import vocabulary as v

DEADLY_METHOD = v.CHAT_MESSAGE_HOOK
EXIT_CODE = 1
log = structlog.get_logger("kimchi.test")


async def _die(*_args: Any) -> None:
    log.warning("dying on purpose", method=DEADLY_METHOD)
    sys.stderr.flush()
    os._exit(EXIT_CODE)


def main() -> int:
    routes.HOOK_HANDLERS[DEADLY_METHOD] = _die
    from kimchi_plugin.cli import main as brain_main

    return brain_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
