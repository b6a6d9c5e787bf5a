"""Recordings (`record` option, `kimchi-plugin record`/`replay`) as routing regression data: every fixture under
tests/fixtures/recordings replays through the current brain with the decisions it recorded, a changed rule shows
exactly the messages it moves, and nothing secret survives the scrubber."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from kimchi_plugin.cli.replay import Replay, load, only_session
from kimchi_plugin.opencode.recording import scrub, session_of

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "recordings"
RECORDINGS = sorted(FIXTURES.glob("*.jsonl"))
REASONING, CODING, QUICK = "claude-opus-4-6", "claude-sonnet-4", "minimax-m2.7"


def _replay(path: Path, **overrides: object) -> list:
    replay = Replay(load(path))

    async def go() -> list:
        try:
            return await replay.run(overrides)
        finally:
            await replay.close()

    return asyncio.run(go())


@pytest.mark.parametrize("path", RECORDINGS, ids=lambda p: p.stem)
def test_recorded_sessions_replay_with_their_recorded_decisions(path: Path) -> None:
    assert _replay(path) == []


def test_the_auto_session_routes_each_message_to_its_tier() -> None:
    """The scenario of tests/e2e/test_routing_e2e.py, recorded from the real binary, plus the floor and /why."""
    frames = load(FIXTURES / "auto_session.jsonl").frames
    decisions = [f["decision"] for f in frames if f.get("method") == "chat.message"]
    assert [d["model"] if d else None for d in decisions] == [REASONING, CODING, REASONING, CODING, CODING, None]
    assert decisions[4]["step"] == "floor"


def test_a_changed_rule_shows_the_messages_it_moves() -> None:
    moved = _replay(FIXTURES / "auto_session.jsonl", primaryFloor=False)
    assert [d.text for d in moved] == ["what does git rebase do?"]
    assert moved[0].recorded["model"] == CODING and moved[0].replayed["model"] == QUICK


def test_one_session_keeps_the_frames_that_belong_to_none() -> None:
    loaded = load(FIXTURES / "auto_session.jsonl")
    session = loaded.session
    assert session is not None
    kept = only_session(loaded, "another-session").frames
    assert {f["kind"] for f in kept} >= {"header", "catalog"} and not any(session_of(f) == session for f in kept)


def test_scrub_removes_keys_by_name_and_by_shape() -> None:
    frame = {
        "provider": {"kimchi": {"options": {"apiKey": "anything", "baseURL": "http://x"}}},
        "headers": {"Authorization": "Bearer abcdef123456"},
        "text": "my key is sk-live-0123456789abcdef, bearer abcdefghijkl",
        "count": 3,
    }
    clean = scrub(frame)
    text = str(clean)
    assert "anything" not in text and "0123456789abcdef" not in text and "abcdefghijkl" not in text
    assert clean["provider"]["kimchi"]["options"]["baseURL"] == "http://x" and clean["count"] == 3
