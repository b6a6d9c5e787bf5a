"""The trainer: the real-users shift learnt from the real turns alone and folded into the shipped weights; the learning
curve's shares of the real repositories."""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType

import pytest

from kimchi_plugin.routing.tiers import Profile

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
CODER, ASSISTANT = list(Profile).index(Profile.CODER), list(Profile).index(Profile.ASSISTANT)


@pytest.fixture(scope="module")
def trainer() -> ModuleType:
    sys.path.insert(0, str(SCRIPTS))  # the trainer imports its sibling scripts by name
    try:
        import train_classifier
    finally:
        sys.path.remove(str(SCRIPTS))
    return train_classifier


def _data(trainer: ModuleType, shift: bool) -> list[tuple[set[str], int, float]]:
    """Written turns read "deploy" as coding; real users, who mean a one-liner, as a quick answer."""
    written = [({"deploy", "now"}, CODER, 1.0)] * 20
    real = [({"deploy"}, ASSISTANT, 2.0)] * 6
    if shift:
        real = [(f | {trainer.SHIFT_PREFIX + x for x in f} | {trainer.SHIFT_BIAS}, y, w) for f, y, w in real]
    return written + real


def test_the_real_users_shift_is_folded_into_the_shared_weights(trainer: ModuleType) -> None:
    sigmas = (0.5, 1.0, 1.0, 0.5)
    weights, bias = trainer.train(_data(trainer, shift=True), sigmas)
    plain, plain_bias = trainer.train(_data(trainer, shift=False), (*sigmas[:3], 0.0))
    assert not any(name.startswith(trainer.SHIFT_PREFIX) for name in weights)
    lean = weights["deploy"].get("assistant", 0.0) - weights["deploy"].get("coder", 0.0)
    plain_lean = plain["deploy"].get("assistant", 0.0) - plain["deploy"].get("coder", 0.0)
    assert lean > plain_lean  # the real turns' reading counts for more
    assert bias != plain_bias


def test_training_is_deterministic(trainer: ModuleType) -> None:
    data = _data(trainer, shift=True)
    assert trainer.train(data, (0.5, 1.0, 1.0, 0.5)) == trainer.train(data, (0.5, 1.0, 1.0, 0.5))


def test_a_learning_curves_shares_nest_and_grow(trainer: ModuleType) -> None:
    repositories = [f"owner{i}/repo{i}" for i in range(400)]
    kept = [{r for r in repositories if trainer._in_share(r, share)} for share in trainer.CURVE_SHARES]
    assert all(smaller < larger for smaller, larger in zip(kept, kept[1:]))
    assert kept[-1] == set(repositories)
    assert 60 <= len(kept[0]) <= 140  # about a quarter
    assert trainer._in_share("Owner0/Repo0", 0.25) is trainer._in_share("owner0/repo0", 0.25)
