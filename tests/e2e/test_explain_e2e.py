"""A router users can question and teach, through the real opencode binary: `/why` and `kimchi-plugin explain` agree
with each other and with the model actually called; a recorded session replays with no difference and a changed rule
shows its differences; corrections move later decisions in the session and `learn --reset` undoes it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from scripts.fake_model_server import FakeModelServer
from scripts.opencode_sandbox import REPO_ROOT, OpencodeSandbox, shim_plugin

MODELS = {
    "claude-opus-4-6": {"name": "Claude Opus 4.6"},  # reasoning
    "claude-sonnet-4": {"name": "Claude Sonnet 4"},  # coding
    "minimax-m2.7": {"name": "MiniMax M2.7"},  # quick
}
REASONING, CODING, QUICK = "claude-opus-4-6", "claude-sonnet-4", "minimax-m2.7"
PYTHON = REPO_ROOT / ".venv" / "bin" / "python"
PLAN = "Plan the architecture for the auth service"
QUESTION = "what does git rebase do?"  # Quick work: a primary agent is floored to Coding
REFACTORS = (
    "refactor the auth module to use dependency injection",
    "refactor the billing service into smaller classes",
    "refactor the parser module to remove the global state",
    "refactor the user repository to use the new query builder",
)
COST_HEADER = "Cost of this turn by tier"


def _configure(sandbox: OpencodeSandbox, tmp_path: Path, **options: object) -> None:
    base = {"logFile": str(tmp_path / "brain.log"), "llmClassifier": False, **options}
    sandbox.configure(models=MODELS, model="auto", small_model=None, plugins=[shim_plugin(base)])


def _cli(sandbox: OpencodeSandbox, *args: str) -> subprocess.CompletedProcess[str]:
    python = str(PYTHON if PYTHON.exists() else Path(sys.executable))
    env = {**sandbox.env, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run(
        [python, "-m", "kimchi_plugin", *args],
        cwd=sandbox.project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _send(client, session: str, server: FakeModelServer, text: str) -> dict:
    before = len(server.chat_requests(with_tools=True))
    reply = client.send(session, text, model="kimchi/auto")
    assert reply["info"].get("error") is None, reply["info"]
    new = server.chat_requests(with_tools=True)[before:]
    assert new, f"no model request for {text!r}"
    return new[0]


def _answer(request: dict) -> str:
    """The `/why` answer the model was asked to repeat."""
    text = request["last_user"]
    assert "<<<" in text and ">>>" in text, text[:400]
    return text.split("<<<\n", 1)[1].rsplit("\n>>>", 1)[0]


def _head(answer: str) -> list[str]:
    """The answer without the cost table (its token estimate depends on the session's size)."""
    return answer.split(COST_HEADER, 1)[0].strip().splitlines()


def test_why_and_explain_agree_with_the_decision_made(
    sandbox: OpencodeSandbox, fake_server: FakeModelServer, tmp_path: Path
) -> None:
    _configure(sandbox, tmp_path)
    with sandbox.serve() as client:
        session = client.create_session()
        served = _send(client, session, fake_server, PLAN)["model"]
        why_request = _send(client, session, fake_server, "/why")
    answer = _answer(why_request)
    assert served == REASONING and why_request["model"] == QUICK  # the answer costs one Quick turn
    assert f"model {served}" in answer and "Deciding step: the classifier" in answer
    explained = _cli(sandbox, "explain", PLAN)
    assert explained.returncode == 0, explained.stderr
    assert _head(explained.stdout) == _head(answer)
    assert COST_HEADER in explained.stdout and COST_HEADER in answer


def test_a_recorded_session_replays_without_differences_and_a_changed_rule_shows_them(
    sandbox: OpencodeSandbox, fake_server: FakeModelServer, tmp_path: Path
) -> None:
    recording = tmp_path / "session.jsonl"
    _configure(sandbox, tmp_path, record=str(recording))
    with sandbox.serve() as client:
        session = client.create_session()
        served = [_send(client, session, fake_server, text)["model"] for text in (PLAN, QUESTION, "Fix it")]
    assert served[1] == CODING  # floored
    frames = [json.loads(line) for line in recording.read_text().splitlines()]
    decisions = [f["decision"] for f in frames if f.get("method") == "chat.message"]
    assert [d["model"] for d in decisions] == served
    same = _cli(sandbox, "replay", str(recording))
    assert same.returncode == 0 and "3 message(s) replayed, 0 difference(s)" in same.stdout, same.stdout + same.stderr
    changed = _cli(sandbox, "replay", str(recording), "--set", "primaryFloor=false")
    assert changed.returncode == 1, changed.stdout + changed.stderr
    assert f'"{QUESTION}"' in changed.stdout and f"on {QUICK} (heuristic)" in changed.stdout
    listed = _cli(sandbox, "record")
    assert listed.returncode == 0
    out = tmp_path / "bug-report.jsonl"
    written = _cli(sandbox, "record", "--session", session, "--out", str(out))
    if written.returncode == 0:  # found only under the default recordings folder; the explicit path is replayed above
        assert out.stat().st_mode & 0o077 == 0


def test_corrections_adapt_routing_and_the_reset_undoes_it(
    sandbox: OpencodeSandbox, fake_server: FakeModelServer, tmp_path: Path
) -> None:
    _configure(sandbox, tmp_path)
    with sandbox.serve() as client:
        session = client.create_session()
        for text in REFACTORS[:2]:
            assert _send(client, session, fake_server, text)["model"] == CODING
            assert _send(client, session, fake_server, f"/plan {text}")["model"] == REASONING
        assert _send(client, session, fake_server, REFACTORS[2])["model"] == REASONING  # learned
        why = _answer(_send(client, session, fake_server, "/why"))
        assert "Deciding step: your earlier correction" in why and "Moved by your correction: 2 like" in why
        assert _send(client, session, fake_server, "Write a unit test for the date parser")["model"] == CODING
        listed = _cli(sandbox, "learn")
        assert listed.returncode == 0 and "2 correction(s)" in listed.stdout, listed.stdout + listed.stderr
        reset = _cli(sandbox, "learn", "--reset")
        forgot = re.search(r"forgot (\d+)", reset.stdout)  # the corrections and the decisions kept as evidence
        assert reset.returncode == 0 and forgot and int(forgot.group(1)) >= 2, reset.stdout + reset.stderr
        assert _send(client, session, fake_server, REFACTORS[3])["model"] == CODING


def test_why_as_a_registered_command_in_opencode_run(
    sandbox: OpencodeSandbox, fake_server: FakeModelServer, tmp_path: Path
) -> None:
    """`opencode run --command why` (the TUI's path: the registered command's template) answers for the last message
    of the continued session, in one Quick turn."""
    _configure(sandbox, tmp_path)
    first = sandbox.run(*PLAN.split())
    why = sandbox.run("--command", "why", continue_=True)
    assert first.rc == 0 and why.rc == 0, why.stderr[-1500:]
    served, asked = fake_server.chat_requests(with_tools=True)[-2:]
    assert served["model"] == REASONING and asked["model"] == QUICK
    assert f"Routed to: reasoning tier, planning mode, model {REASONING}" in _answer(asked)
