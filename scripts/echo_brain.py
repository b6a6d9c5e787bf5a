"""The floor for round-trip benchmarks: a child that speaks the brain's framing (one JSON-RPC frame per line on
stdin/stdout) and does nothing else — it parses each request and answers with an empty hook patch.

Run with the same interpreter as the real brain, so the difference between the two is the brain's own work.
"""

from __future__ import annotations

import json
import sys

PROTOCOL_VERSION = 1
HOOKS = ["chat.message"]


def _reply(request: dict) -> dict:
    if request.get("method") == "initialize":
        result = {
            "protocolVersion": PROTOCOL_VERSION,
            "serverVersion": "echo",
            "tools": [],
            "hooks": HOOKS,
            "events": [],
        }
    else:
        result = {"output": {}, "actions": []}
    return {"jsonrpc": "2.0", "id": request.get("id"), "result": result}


def main() -> int:
    out = sys.stdout.buffer
    for line in sys.stdin.buffer:
        request = json.loads(line)
        if "id" in request:
            out.write(json.dumps(_reply(request), separators=(",", ":")).encode() + b"\n")
            out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
