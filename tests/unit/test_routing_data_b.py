"""Schema, coverage and independence checks for the second labeled routing set (messages_b / sessions_b)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from kimchi_plugin.brain.tiers import PROFILE_TIER, Profile, Tier

DATA_DIR = Path(__file__).resolve().parents[1] / "routing_data"

MIN_MESSAGES = 600
MIN_SESSIONS = 40
MIN_TRAPS = 55
MIN_NON_ENGLISH = 35
MIN_FOLLOWUPS = 40
MIN_TURNS, MAX_TURNS = 3, 10
LONG_CHARS = 600

# Intended tier mix of the message set, as (low, high) shares.
TIER_SHARE_BANDS = {Tier.REASONING: (0.30, 0.40), Tier.CODING: (0.35, 0.45), Tier.QUICK: (0.20, 0.30)}

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


def _own_texts(messages: list[dict], sessions: list[dict]) -> list[tuple[str, str]]:
    """Every text of the second set with where it lives: messages, their prev turns and session turns."""
    texts = [(msg["id"], msg["text"]) for msg in messages]
    texts += [(f"{msg['id']}.prev", msg["prev"]["text"]) for msg in messages if "prev" in msg]
    texts += [(f"{s['id']}[{n}]", t["text"]) for s in sessions for n, t in enumerate(s["turns"])]
    return texts


@pytest.fixture(scope="module")
def messages() -> list[dict]:
    return _load("messages_b.jsonl")


@pytest.fixture(scope="module")
def sessions() -> list[dict]:
    return _load("sessions_b.jsonl")


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
        if len(msg["text"]) > LONG_CHARS:
            assert "long" in msg["tags"], f"{msg['id']}: over {LONG_CHARS} characters without the long tag"


def test_ids_unique_and_ordered(messages: list[dict], sessions: list[dict]) -> None:
    for items, prefix, width in ((messages, "b", 4), (sessions, "sb", 3)):
        ids = [item["id"] for item in items]
        expected = [f"{prefix}{n:0{width}d}" for n in range(1, len(items) + 1)]
        assert ids == expected


def test_no_duplicate_message_text(messages: list[dict]) -> None:
    counts = Counter(_normalized(msg["text"]) for msg in messages)
    assert [text for text, n in counts.items() if n > 1] == []


def test_no_duplicate_session_turn_text(sessions: list[dict]) -> None:
    counts = Counter(_normalized(turn["text"]) for sess in sessions for turn in sess["turns"])
    assert [text for text, n in counts.items() if n > 1] == []


def test_independent_of_first_set(messages: list[dict], sessions: list[dict]) -> None:
    """No text of this set repeats a message, prev turn or session turn of the first set."""
    first_messages = _load("messages.jsonl")
    first = {_normalized(m["text"]) for m in first_messages}
    first |= {_normalized(m["prev"]["text"]) for m in first_messages if "prev" in m}
    first |= {_normalized(t["text"]) for s in _load("sessions.jsonl") for t in s["turns"]}
    shared = [where for where, text in _own_texts(messages, sessions) if _normalized(text) in first]
    assert shared == []


def test_message_minimum_counts(messages: list[dict]) -> None:
    tags = Counter(tag for msg in messages for tag in msg["tags"])
    assert len(messages) >= MIN_MESSAGES
    assert tags["trap"] >= MIN_TRAPS
    assert tags["non-english"] >= MIN_NON_ENGLISH
    assert tags["followup"] >= MIN_FOLLOWUPS


def test_tier_mix(messages: list[dict]) -> None:
    counts = Counter(Tier(msg["tier"]) for msg in messages)
    for tier, (low, high) in TIER_SHARE_BANDS.items():
        share = counts[tier] / len(messages)
        assert low <= share <= high, f"{tier.value}: {share:.1%} outside {low:.0%}-{high:.0%}"


def test_every_profile_is_represented(messages: list[dict], sessions: list[dict]) -> None:
    assert {msg["profile"] for msg in messages} == {p.value for p in Profile}
    assert {t["profile"] for s in sessions for t in s["turns"]} == {p.value for p in Profile}


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
