"""Demo: the real OpenCode, headless, with opencode-kimchi loaded, against a local stand-in model server.

A short scripted session is sent to `kimchi/auto`; for each message the demo prints the model the server was asked
for and the brain's reason. Everything runs on 127.0.0.1 in a throw-away sandbox. Run it with `npm run demo`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fake_model_server import FakeModelServer  # beside this script
from opencode_sandbox import OpencodeSandbox, shim_plugin

REPO = Path(__file__).resolve().parents[1]

# Stand-in catalogue: one model per tier, so the served model shows the tier.
MODELS = {
    "claude-opus-4-6": {"name": "Claude Opus 4.6"},
    "claude-sonnet-4-5": {"name": "Claude Sonnet 4.5"},
    "minimax-m2.7": {"name": "MiniMax M2.7"},
}
SCRIPT = [
    ("kimchi/auto", "Plan the architecture for adding OAuth login to our Flask app"),
    ("kimchi/auto", "Now implement the auth module"),
    ("kimchi/auto", "Debug the TypeError in the login handler: 'NoneType' object is not subscriptable"),
    ("kimchi/auto", "Fix it"),
    ("kimchi/auto", "where is the session cookie configured?"),
    ("kimchi/auto", "/review check the new auth code for security problems"),
    ("kimchi/auto", "/lock quick"),
    ("kimchi/auto", "what does OAuth PKCE stand for?"),
    ("kimchi/auto", "/auto refactor the token helpers into their own module"),
    ("kimchi/minimax-m2.7", "summarise what we did today"),
]


def _decisions(log_path: Path) -> list[dict]:
    if not log_path.exists():
        return []
    found = []
    for line in log_path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("event") == "decision":
            found.append(record)
    return found


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="kimchi-demo-") as tmp, FakeModelServer() as server:
        root = Path(tmp)
        log_path = root / "brain.log"
        sandbox = OpencodeSandbox(root / "sandbox", server.api_base)
        sandbox.configure(
            models=MODELS,
            model="auto",
            small_model=None,
            plugins=[shim_plugin({"verbose": True, "logFile": str(log_path), "llmClassifier": False})],
        )
        print("opencode-kimchi demo: real opencode serve + the plugin + a stand-in model server on 127.0.0.1\n")
        print(f"{'message':<62} {'asked for':<22} {'served by':<18} why")
        print("-" * 140)
        with sandbox.serve() as client:
            session = client.create_session("demo")
            for model, text in SCRIPT:
                seen = len(server.chat_requests(with_tools=True))
                client.send(session, text, model=model)
                requests = server.chat_requests(with_tools=True)[seen:]
                served = requests[0]["model"] if requests else "?"
                decisions = _decisions(log_path)
                why = ""
                if decisions:
                    last = decisions[-1]
                    why = f"{last.get('tier')}/{last.get('profile')} via {last.get('source')}"
                    if last.get("signals"):
                        why += f" ({', '.join(last['signals'][:3])})"
                shown = text if len(text) <= 60 else text[:57] + "..."
                print(f"{shown:<62} {model:<22} {served:<18} {why}")
        print(f"\n{len(server.requests)} model requests in total. Brain log: {log_path}")
        _print_stats(Path(sandbox.env["XDG_DATA_HOME"]) / "opencode-kimchi" / "usage.db")
    return 0


def _print_stats(db: Path) -> None:
    """What `kimchi-plugin stats` says about the session (rows are written when the brain shuts down)."""
    deadline = time.monotonic() + 10
    while not db.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(0.5)
    print("\n$ kimchi-plugin stats   (prices of the stand-in models, token counts of the stand-in server)")
    subprocess.run([sys.executable, "-m", "kimchi_plugin", "stats", "--db", str(db)], check=False)


if __name__ == "__main__":
    raise SystemExit(main())
