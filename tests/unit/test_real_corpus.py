"""The committed corpus of real users' turns: rebuilt from its sources and labels, split by repository."""

from __future__ import annotations

import json

import pytest

from kimchi_plugin.routing.tiers import PROFILE_TIER, Profile, Tier
from scripts.real_corpus import build

CORPUS = build.CORPUS


@pytest.fixture(scope="module")
def sessions() -> list[dict]:
    return [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]


def test_the_corpus_is_what_its_sources_and_labels_give() -> None:
    """Fails when a source file or a label file changed since corpus.jsonl was built: run
    scripts/real_corpus/build.py build."""
    assert build.corpus_text(build.corpus()[0]) == CORPUS.read_text(encoding="utf-8")


def test_a_repository_is_all_dev_or_all_test(sessions: list[dict]) -> None:
    splits: dict[str, set[str]] = {}
    for session in sessions:
        splits.setdefault(session["repo"].lower(), set()).add(session["split"])
    assert all(len(found) == 1 for found in splits.values())
    assert {split for found in splits.values() for split in found} == {"dev", "test"}


def test_every_label_names_a_profile_of_its_tier(sessions: list[dict]) -> None:
    labelled = [turn for session in sessions for turn in session["turns"] if turn["tier"] is not None]
    assert labelled
    for turn in labelled:
        assert PROFILE_TIER[Profile(turn["profile"])] is Tier(turn["tier"])
        assert isinstance(turn["sure"], bool)


def test_every_session_says_where_it_comes_from(sessions: list[dict]) -> None:
    for session in sessions:
        assert session["repo"].count("/") == 1 and session["path"] and session["turns"]
