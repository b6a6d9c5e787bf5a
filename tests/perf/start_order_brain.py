"""The real brain server, reporting on stderr whether the Brain was imported when `initialize` was answered."""

from __future__ import annotations

import sys

from kimchi_plugin import app
from kimchi_plugin.opencode import lifecycle

_handshake = lifecycle.handshake


def _reporting_handshake(*args, **kwargs):
    sys.stderr.write(f"brain imported at initialize: {'kimchi_plugin.brain' in sys.modules}\n")
    return _handshake(*args, **kwargs)


if __name__ == "__main__":
    lifecycle.handshake = _reporting_handshake
    raise SystemExit(app.run_server())
