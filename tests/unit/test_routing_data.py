"""Schema and coverage checks for the labeled routing evaluation set in tests/routing_data/."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from kimchi_plugin.brain.tiers import PROFILE_TIER, Profile, Tier

DATA_DIR = Path(__file__).resolve().parents[1] / "routing_data"

MIN_MESSAGES = 650
MIN_SESSIONS = 45
MIN_TRAPS = 60
MIN_NON_ENGLISH = 20
MIN_FOLLOWUPS = 40
MIN_TURNS, MAX_TURNS = 3, 10

ALLOWED_TAGS = {"followup", "trace", "diff", "code", "non-english", "trap", "long", "terse", "typo"}
ALLOWED_TOOLS = {"read", "edit", "write", "bash", "grep", "glob", "task", "webfetch", "todowrite"}
ALLOWED_AGENTS = {"build", "plan", "kimchi-auto", "explore", "general"}
FAILED_CALL_SUFFIX = "!"


def _load(name: str) -> list[dict]:
    lines = (DATA_DIR / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _normalized(text: str) -> str:
    return " ".join(text.split()).casefold()


def _assert_label(item: dict, where: str) -> None:
    tier = Tier(item["tier"])
    profile = Profile(item["profile"])
    assert PROFILE_TIER[profile] is tier, f"{where}: profile {profile.value} is not in tier {tier.value}"
    assert isinstance(item["text"], str) and item["text"].strip(), f"{where}: empty text"


@pytest.fixture(scope="module")
def messages() -> list[dict]:
    return _load("messages.jsonl")


@pytest.fixture(scope="module")
def sessions() -> list[dict]:
    return _load("sessions.jsonl")


def test_message_schema(messages: list[dict]) -> None:
    for msg in messages:
        assert set(msg) <= {"id", "text", "tier", "profile", "tags", "prev"}, msg["id"]
        _assert_label(msg, msg["id"])
        assert set(msg["tags"]) <= ALLOWED_TAGS, f"{msg['id']}: unknown tags {set(msg['tags']) - ALLOWED_TAGS}"
        assert len(msg["tags"]) == len(set(msg["tags"])), f"{msg['id']}: repeated tag"
        if "prev" in msg:
            assert set(msg["prev"]) == {"text", "tier", "profile"}, msg["id"]
            _assert_label(msg["prev"], f"{msg['id']}.prev")
        assert ("prev" in msg) == ("followup" in msg["tags"]), f"{msg['id']}: followup tag and prev must go together"


def test_ids_unique_and_ordered(messages: list[dict], sessions: list[dict]) -> None:
    for items, prefix in ((messages, "m"), (sessions, "s")):
        ids = [item["id"] for item in items]
        assert len(ids) == len(set(ids))
        assert all(i.startswith(prefix) and i[1:].isdigit() for i in ids)


def test_no_duplicate_message_text(messages: list[dict]) -> None:
    counts = Counter(_normalized(msg["text"]) for msg in messages)
    assert [text for text, n in counts.items() if n > 1] == []


def test_no_duplicate_session_turn_text(sessions: list[dict]) -> None:
    counts = Counter(_normalized(turn["text"]) for sess in sessions for turn in sess["turns"])
    assert [text for text, n in counts.items() if n > 1] == []


def test_message_minimum_counts(messages: list[dict]) -> None:
    tags = Counter(tag for msg in messages for tag in msg["tags"])
    assert len(messages) >= MIN_MESSAGES
    assert tags["trap"] >= MIN_TRAPS
    assert tags["non-english"] >= MIN_NON_ENGLISH
    assert tags["followup"] >= MIN_FOLLOWUPS


def test_every_profile_is_represented(messages: list[dict]) -> None:
    seen = {msg["profile"] for msg in messages}
    assert seen == {p.value for p in Profile}


def test_session_schema(sessions: list[dict]) -> None:
    assert len(sessions) >= MIN_SESSIONS
    for sess in sessions:
        assert set(sess) == {"id", "agent", "turns"}, sess["id"]
        assert sess["agent"] in ALLOWED_AGENTS, sess["id"]
        assert MIN_TURNS <= len(sess["turns"]) <= MAX_TURNS, sess["id"]
        for n, turn in enumerate(sess["turns"]):
            where = f"{sess['id']}[{n}]"
            assert set(turn) <= {"text", "tier", "profile", "tools"}, where
            _assert_label(turn, where)
            for call in turn.get("tools", []):
                assert call.removesuffix(FAILED_CALL_SUFFIX) in ALLOWED_TOOLS, f"{where}: unknown tool {call}"
