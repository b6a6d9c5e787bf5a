"""The scorer's packed integer sums: the very floats fsum gives, or None where they cannot be exact."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence

import pytest

from kimchi_plugin.routing.classify import exact_sums
from kimchi_plugin.routing.classify.exact_sums import PackedWeights
from kimchi_plugin.routing.classify.table import WeightTable, shipped_table


def _fsum(weights: Mapping[str, tuple[float, ...]], features: list[str], start: Sequence[float]) -> list[float]:
    return list(map(math.fsum, zip(start, *filter(None, map(weights.get, features)))))


@pytest.mark.usefixtures("any_length")
def test_sums_of_the_shipped_table_are_the_floats_fsum_gives() -> None:
    table = shipped_table()
    weights = dict(table.weights)
    names = sorted(weights)
    draw = random.Random(15)
    packed = PackedWeights(weights, table.bias)
    for round_ in range(3000):
        features = draw.sample(names, draw.randint(0, 400)) + [f"unweighed{draw.randint(0, 9)}"]
        # Starts as the scorer passes them: the bias, or the sums of a message before its context is added.
        start = table.bias if round_ % 2 else _fsum(weights, draw.sample(names, 30), list(table.bias))
        assert packed.sums(features, start) == _fsum(weights, features, start)


@pytest.fixture
def any_length(monkeypatch: pytest.MonkeyPatch) -> None:
    """Packed sums for feature sets of any length (short ones are left to fsum)."""
    monkeypatch.setattr(exact_sums, "PACKED_FROM", 0)


def test_a_short_feature_set_is_left_to_fsum() -> None:
    packed = PackedWeights({f"f{i}": (0.5,) for i in range(100)})
    assert packed.sums([f"f{i}" for i in range(exact_sums.PACKED_FROM - 1)], [0.0]) is None
    assert packed.weighed([f"f{i}" for i in range(exact_sums.PACKED_FROM - 1)]) is None
    assert packed.sums([f"f{i}" for i in range(exact_sums.PACKED_FROM)], [0.0]) == [exact_sums.PACKED_FROM * 0.5]


@pytest.mark.usefixtures("any_length")
def test_near_cancellation_rounds_as_fsum_does() -> None:
    weights = {"a": (0.001, 30.0), "b": (-0.002, -29.999), "c": (0.001, 0.003)}
    packed = PackedWeights(weights)
    for features in (["a", "b"], ["a", "b", "c"], ["c"] * 7, []):
        for start in ([0.1, -0.1], [1e-3, 2.0**-60]):
            assert packed.sums(features, start) == _fsum(weights, features, start)


@pytest.mark.usefixtures("any_length")
@pytest.mark.parametrize("weight", [1e-20, 0.1 * 2.0**-12, 64.0, -100.5, math.inf, math.nan])
def test_weights_that_do_not_pack_are_left_to_fsum(weight: float) -> None:
    packed = PackedWeights({"ok": (0.5, 0.25), "odd": (weight, 0.0)})
    assert packed.sums(["ok"], [0.0, 0.0]) == [0.5, 0.25]
    assert packed.sums(["ok", "odd"], [0.0, 0.0]) is None
    assert packed.sums(["ok"], [0.0, 0.0]) is None  # the table's sums stay with fsum from then on


@pytest.mark.usefixtures("any_length")
@pytest.mark.parametrize("bias", [(1e-30, 0.0), (0.0, 0.0)])
def test_a_start_that_does_not_pack_is_left_to_fsum(bias: tuple[float, float]) -> None:
    packed = PackedWeights({"ok": (0.5, 0.25)}, bias)
    assert packed.sums(["ok"], [1e-30, 0.0]) is None
    assert packed.sums(["ok"], bias) == (None if bias[0] else [0.5, 0.25])
    assert packed.sums(["ok"], [1.0, 0.0]) == [1.5, 0.25]


@pytest.mark.usefixtures("any_length")
def test_remembered_unweighed_features_stay_bounded_and_weighed_ones_stay(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exact_sums, "KEPT_UNWEIGHED", 10)
    packed = PackedWeights({"ok": (0.5,), "also": (0.25,)})
    for i in range(100):
        assert packed.sums(["ok", f"word{i}", f"other{i}"], [0.0]) == [0.5]
        assert len(packed._rows) <= 1 + 10 + 2
    assert packed.sums(["also", "ok"], [0.0]) == [0.75]
    assert {"also", "ok"} <= set(packed._rows)


def _shipped(seed: int) -> tuple[WeightTable, list[str], random.Random, PackedWeights]:
    """The shipped table, its feature names in order, a seeded draw and the table packed."""
    table = shipped_table()
    return table, sorted(table.weights), random.Random(seed), PackedWeights(table.weights, table.bias)


@pytest.mark.usefixtures("any_length")
def test_the_weighed_features_are_read_in_order_with_the_tables_rows() -> None:
    table, names, draw, packed = _shipped(16)
    for _ in range(500):
        features = [*draw.sample(names, draw.randint(0, 120)), "unweighed"]
        draw.shuffle(features)
        weighed = [f for f in features if f in table.weights]
        assert packed.weighed(features) == (weighed, [table.weights[f] for f in weighed])
    assert PackedWeights({"odd": (1e-20,)}).weighed(["odd"]) is None


def _heaviest(weights: Mapping[str, tuple[float, ...]], features: set[str], index: int) -> list[tuple[float, str]]:
    """The scorer's strongest signals read from every weighed feature: positive weights, heaviest first."""
    found = [(weights[f][index], f) for f in features if f in weights and weights[f][index] > 0.0]
    return sorted(found, reverse=True)[:4]


@pytest.mark.usefixtures("any_length")
def test_the_strongest_features_are_those_every_weighed_feature_gives() -> None:
    table, names, draw, packed = _shipped(17)
    told = 0
    for round_ in range(600):
        features = {*draw.sample(names, draw.randint(0, 600)), "unweighed"}
        if round_ % 3:
            packed.sums(features, table.bias)  # as the scorer reads them; otherwise read by strongest itself
        for index in range(len(table.bias)):
            found = packed.strongest(features, index, 4)
            if found is not None:
                told += 1
                assert found == _heaviest(table.weights, features, index)
    assert 500 < told < 600 * len(table.bias)


@pytest.mark.usefixtures("any_length")
def test_the_strongest_features_are_found_when_only_the_unread_ones_are_packed_first() -> None:
    table, names, draw, packed = _shipped(23)
    told = 0
    for _ in range(300):
        read = set(draw.sample(names, draw.randint(0, 600)))
        unread = {*draw.sample(names, draw.randint(0, 5)), "unweighed"} - read
        summed = packed.sums(read, table.bias)
        features = read | unread
        for index in range(len(table.bias)):
            found = packed.strongest(features, index, 4, unread if summed is not None else None)
            if found is not None:
                told += 1
                assert found == _heaviest(table.weights, features, index)
    assert told > 200


@pytest.mark.usefixtures("any_length")
def test_fewer_strong_features_than_asked_leave_the_choice_to_every_weighed_feature() -> None:
    weights = {"a": (0.9, 0.1), "b": (0.6, 0.2), "c": (0.5, 0.0), "d": (0.5, 0.3), "e": (0.2, 0.4)}
    packed = PackedWeights(weights)
    assert packed.strongest(set(weights), 0, 4) == [(0.9, "a"), (0.6, "b"), (0.5, "d"), (0.5, "c")]
    assert packed.strongest(set(weights), 0, 5) is None
    assert packed.strongest(set(weights), 1, 1) is None
