"""The real brain server, reporting on stderr whether the Brain, and which of the libraries only later calls need, were
imported when the `initialize` answer was made (`handshake.offer` makes it, on the early path and in the full server
alike)."""

from __future__ import annotations

import sys

from kimchi_plugin import app
from kimchi_plugin.opencode import handshake

_offer = handshake.offer
LATER = ("pydantic", "structlog", "asyncio", "jsonrpcserver", "kimchi_plugin.opencode.payloads")


def _reporting_offer(*args, **kwargs):
    sys.stderr.write(f"brain imported at initialize: {'kimchi_plugin.brain' in sys.modules}\n")
    sys.stderr.write(f"imported at initialize: {[name for name in LATER if name in sys.modules]}\n")
    return _offer(*args, **kwargs)


if __name__ == "__main__":
    handshake.offer = _reporting_offer
    raise SystemExit(app.run_server())
