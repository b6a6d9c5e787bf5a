"""The classifier's weight table: its file format, the one shipped copy, and its freshness against the routing data."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from kimchi_plugin.routing.classify import table as table_file
from kimchi_plugin.routing.classify.scoring import decide_features
from kimchi_plugin.routing.classify.table import WeightTable, data_fingerprint, decode, encode, header_of
from kimchi_plugin.routing.tiers import Profile

DATA = Path(__file__).resolve().parents[1] / "routing_data"
ZERO = (0.0,) * len(Profile)


def test_the_shipped_table_was_trained_on_the_routing_data_as_it_is() -> None:
    """Fails when a set changed since the table was trained: run scripts/train_classifier.py."""
    recorded = header_of(table_file.shipped_bytes())["data_fingerprint"]
    assert recorded == data_fingerprint(DATA)


def test_the_fingerprint_follows_every_set_file(tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "messages.jsonl").write_text('{"id": "x"}\n')
    before = data_fingerprint(tmp_path)
    (tmp_path / "b" / "sessions.jsonl").write_text('{"id": "s"}\n')
    assert data_fingerprint(tmp_path) != before


def test_the_fingerprint_follows_the_real_corpus(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "messages.jsonl").write_text('{"id": "x"}\n')
    before = data_fingerprint(tmp_path)
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "corpus.jsonl").write_text('{"id": "r"}\n')
    assert data_fingerprint(tmp_path) != before


def test_the_reasoning_miss_cost_is_kept_in_the_file_and_settles_near_ties() -> None:
    # "x" makes debugging (Reasoning) a little less likely than coding: 0.45 against 0.55.
    weights = {"x": (-9.0, 0.0, -9.0, 0.2, -9.0, -9.0)}
    even = WeightTable(weights, ZERO, 1.0, frozenset({"x"}), (1.0, 0.0), 1.0)
    wary = decode(encode(WeightTable(weights, ZERO, 1.0, frozenset({"x"}), (1.0, 0.0), 1.3), {"about": "test"}))
    assert wary.reasoning_cost == 1.3
    assert decide_features({"x"}, even).profile is Profile.CODER
    assert decide_features({"x"}, wary).profile is Profile.DEBUGGER


def test_a_table_survives_its_file_format() -> None:
    weights = {"debug:verb": (0.5, 1.25, -0.001, 0.0, 2.837, -1.958), "w 原因": (0.0, 0.0, 0.0, 0.0, 0.0, 0.01)}
    bias = (-1.214, -0.084, -1.281, 0.047, -1.166, 1.391)
    table = WeightTable(weights, bias, 1.15, frozenset({"debug:verb"}), (0.65, 0.1))
    data = encode(table, {"about": "test"})
    assert decode(data) == table
    assert header_of(data)["about"] == "test"
    assert encode(decode(data), {"about": "test"}) == data  # deterministic


@pytest.mark.parametrize("weight", [0.0005, 40.0])
def test_weights_that_the_format_cannot_hold_exactly_are_refused(weight: float) -> None:
    with pytest.raises(ValueError):
        encode(WeightTable({"x": (weight, *ZERO[1:])}, ZERO), {})


def test_other_bytes_are_not_a_table() -> None:
    with pytest.raises(ValueError):
        decode(b'{"weights": {}}')


def test_callers_arriving_during_the_load_wait_for_it(monkeypatch: pytest.MonkeyPatch) -> None:
    callers = 4
    release = threading.Event()
    reads = []
    real_decode = table_file.decode

    def slow_decode(data: bytes) -> WeightTable:
        reads.append(1)
        release.wait()
        return real_decode(data)

    monkeypatch.setattr(table_file, "_shipped", None)
    monkeypatch.setattr(table_file, "decode", slow_decode)
    results: list[WeightTable] = []
    threads = [threading.Thread(target=lambda: results.append(table_file.shipped_table())) for _ in range(callers)]
    for thread in threads:
        thread.start()
    release.set()
    for thread in threads:
        thread.join()
    assert len(reads) == 1
    assert len(results) == callers and all(result is results[0] for result in results)
