"""Schema, coverage and independence checks for the labeled routing sets in tests/routing_data/<set>/ (A to U)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from kimchi_plugin.routing.classify.table import labelled_sets
from kimchi_plugin.routing.tiers import PROFILE_TIER, Profile, Tier

DATA_DIR = Path(__file__).resolve().parents[1] / "routing_data"

ALLOWED_TAGS = {"followup", "trace", "diff", "code", "non-english", "trap", "long", "terse", "typo"}
ALLOWED_TOOLS = {"read", "edit", "write", "bash", "grep", "glob", "task", "webfetch", "todowrite"}
ALLOWED_AGENTS = {"build", "plan", "kimchi-auto", "explore", "general"}
FAILED_CALL_SUFFIX = "!"
MIN_TURNS, MAX_TURNS = 3, 10
LONG_CHARS = 600
# Intended tier mix of each message set, as (low, high) shares.
TIER_SHARE_BANDS = {Tier.REASONING: (0.30, 0.40), Tier.CODING: (0.35, 0.45), Tier.QUICK: (0.20, 0.30)}


@dataclass(frozen=True)
class DataSet:
    message_prefix: str
    session_prefix: str
    min_messages: int
    min_sessions: int
    min_traps: int
    min_non_english: int
    min_followups: int = 40


SETS = {
    "A": DataSet("m", "s", 650, 45, 60, 20),
    "B": DataSet("b", "sb", 600, 40, 55, 35),
    "C": DataSet("c", "sc", 450, 45, 40, 30, min_followups=20),
    "D": DataSet("d", "sd", 440, 40, 55, 45, min_followups=30),
    "E": DataSet("e", "se", 460, 40, 45, 45, min_followups=30),
    "F": DataSet("f", "sf", 445, 42, 50, 190, min_followups=30),
    "G": DataSet("g", "sg", 438, 44, 70, 35, min_followups=30),
    "H": DataSet("h", "sh", 240, 60, 30, 20, min_followups=20),
    "I": DataSet("i", "si", 240, 60, 30, 20, min_followups=20),
    "J": DataSet("j", "sj", 240, 60, 30, 20, min_followups=20),
    "K": DataSet("k", "sk", 240, 60, 30, 20, min_followups=20),
    "L": DataSet("l", "sl", 200, 70, 25, 20, min_followups=20),
    "M": DataSet("mm", "sm", 200, 70, 25, 20, min_followups=20),
    "N": DataSet("n", "sn", 200, 70, 25, 20, min_followups=20),
    "O": DataSet("o", "so", 200, 70, 25, 20, min_followups=20),
    "P": DataSet("p", "sp", 150, 80, 20, 15, min_followups=15),
    "Q": DataSet("q", "sq", 150, 80, 20, 15, min_followups=15),
    "R": DataSet("r", "sr", 150, 80, 20, 15, min_followups=15),
    "S": DataSet("s", "ss", 150, 80, 20, 15, min_followups=15),
    "T": DataSet("t", "st", 150, 80, 20, 15, min_followups=15),
    "U": DataSet("u", "su", 150, 80, 20, 60, min_followups=15),
}


FOUND = labelled_sets(DATA_DIR)


def _load(name: str, kind: str = "messages") -> list[dict]:
    """A set's messages or sessions (none when the set has no such file)."""
    path = FOUND[name] / f"{kind}.jsonl"
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _normalized(text: str) -> str:
    return " ".join(text.split()).casefold()


def _texts(messages: list[dict], sessions: list[dict]) -> list[tuple[str, str]]:
    """Every text of a set with where it lives: messages, their prev turns and session turns."""
    texts = [(msg["id"], msg["text"]) for msg in messages]
    texts += [(f"{msg['id']}.prev", msg["prev"]["text"]) for msg in messages if "prev" in msg]
    texts += [(f"{s['id']}[{n}]", t["text"]) for s in sessions for n, t in enumerate(s["turns"])]
    return texts


def _assert_label(item: dict, where: str) -> None:
    tier = Tier(item["tier"])
    profile = Profile(item["profile"])
    assert PROFILE_TIER[profile] is tier, f"{where}: profile {profile.value} is not in tier {tier.value}"
    assert isinstance(item["text"], str) and item["text"].strip(), f"{where}: empty text"


def test_every_set_folder_has_its_expectations() -> None:
    assert set(FOUND) == set(SETS)


@pytest.fixture(scope="module", params=sorted(SETS))
def data(request: pytest.FixtureRequest) -> tuple[DataSet, list[dict], list[dict]]:
    return SETS[request.param], _load(request.param), _load(request.param, "sessions")


def test_message_schema(data) -> None:
    _, messages, _ = data
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


def test_ids_are_numbered_in_order_with_the_set_prefix(data) -> None:
    spec, messages, sessions = data
    for items, prefix, width in ((messages, spec.message_prefix, 4), (sessions, spec.session_prefix, 3)):
        assert [item["id"] for item in items] == [f"{prefix}{n:0{width}d}" for n in range(1, len(items) + 1)]


def test_no_duplicate_text_within_a_set(data) -> None:
    _, messages, sessions = data
    for texts in ([m["text"] for m in messages], [t["text"] for s in sessions for t in s["turns"]]):
        counts = Counter(_normalized(text) for text in texts)
        assert [text for text, n in counts.items() if n > 1] == []


def test_the_sets_share_no_text() -> None:
    seen: dict[str, str] = {}
    shared = []
    for name in SETS:
        for where, text in _texts(_load(name), _load(name, "sessions")):
            owner = seen.setdefault(_normalized(text), name)
            if owner != name:
                shared.append(f"{name}:{where} repeats set {owner}")
    assert shared == []


def test_ids_are_unique_across_sets() -> None:
    ids = Counter(item["id"] for name in SETS for item in [*_load(name), *_load(name, "sessions")])
    assert [i for i, n in ids.items() if n > 1] == []


def test_message_minimum_counts(data) -> None:
    spec, messages, _ = data
    tags = Counter(tag for msg in messages for tag in msg["tags"])
    assert len(messages) >= spec.min_messages
    assert tags["trap"] >= spec.min_traps
    assert tags["non-english"] >= spec.min_non_english
    assert tags["followup"] >= spec.min_followups


def test_tier_mix(data) -> None:
    _, messages, _ = data
    counts = Counter(Tier(msg["tier"]) for msg in messages)
    for tier, (low, high) in TIER_SHARE_BANDS.items():
        share = counts[tier] / len(messages)
        assert low <= share <= high, f"{tier.value}: {share:.1%} outside {low:.0%}-{high:.0%}"


def test_every_profile_is_represented(data) -> None:
    _, messages, sessions = data
    assert {msg["profile"] for msg in messages} == {p.value for p in Profile}
    if sessions:
        assert {t["profile"] for s in sessions for t in s["turns"]} == {p.value for p in Profile}


def test_session_schema(data) -> None:
    spec, _, sessions = data
    assert len(sessions) >= spec.min_sessions
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


def test_agreement_annotations_name_labelled_items() -> None:
    """The blind relabelling sample (scripts/label_agreement.py) refers to items that exist, with valid profiles."""
    ids = {m["id"] for name in SETS for m in _load(name)}
    ids |= {f"{s['id']}#{n}" for name in SETS for s in _load(name, "sessions") for n in range(len(s["turns"]))}
    for path in sorted((DATA_DIR / "agreement").glob("annotator_*.jsonl")):
        for row in map(json.loads, filter(str.strip, path.read_text(encoding="utf-8").splitlines())):
            assert row["id"] in ids, f"{path.name}: unknown id {row['id']}"
            Profile(row["profile"])
