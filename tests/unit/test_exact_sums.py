"""The scorer's packed integer sums: the very floats fsum gives, or None where they cannot be exact."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence

import pytest

from kimchi_plugin.routing.classify import exact_sums
from kimchi_plugin.routing.classify.exact_sums import PackedWeights
from kimchi_plugin.routing.classify.table import shipped_table


def _fsum(weights: Mapping[str, tuple[float, ...]], features: list[str], start: Sequence[float]) -> list[float]:
    return list(map(math.fsum, zip(start, *filter(None, map(weights.get, features)))))


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


def test_near_cancellation_rounds_as_fsum_does() -> None:
    weights = {"a": (0.001, 30.0), "b": (-0.002, -29.999), "c": (0.001, 0.003)}
    packed = PackedWeights(weights)
    for features in (["a", "b"], ["a", "b", "c"], ["c"] * 7, []):
        for start in ([0.1, -0.1], [1e-3, 2.0**-60]):
            assert packed.sums(features, start) == _fsum(weights, features, start)


@pytest.mark.parametrize("weight", [1e-20, 0.1 * 2.0**-12, 64.0, -100.5])
def test_weights_that_do_not_pack_are_left_to_fsum(weight: float) -> None:
    packed = PackedWeights({"ok": (0.5, 0.25), "odd": (weight, 0.0)})
    assert packed.sums(["ok"], [0.0, 0.0]) == [0.5, 0.25]
    assert packed.sums(["ok", "odd"], [0.0, 0.0]) is None
    assert packed.sums(["ok"], [0.0, 0.0]) is None  # the table's sums stay with fsum from then on


@pytest.mark.parametrize("bias", [(1e-30, 0.0), (0.0, 0.0)])
def test_a_start_that_does_not_pack_is_left_to_fsum(bias: tuple[float, float]) -> None:
    packed = PackedWeights({"ok": (0.5, 0.25)}, bias)
    assert packed.sums(["ok"], [1e-30, 0.0]) is None
    assert packed.sums(["ok"], bias) == (None if bias[0] else [0.5, 0.25])
    assert packed.sums(["ok"], [1.0, 0.0]) == [1.5, 0.25]


def test_remembered_unweighed_features_stay_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exact_sums, "UNWEIGHED_KEPT", 10)
    packed = PackedWeights({"ok": (0.5,)})
    for i in range(100):
        assert packed.sums(["ok", f"word{i}", f"other{i}"], [0.0]) == [0.5]
        assert len(packed._packed) <= 1 + 10 + 2
