"""A decision does not depend on the order in which a message's features are summed (a set's order changes with the
process's string hash seed)."""

from __future__ import annotations

import itertools
import random

from kimchi_plugin.routing.classifier import load_weights
from kimchi_plugin.routing.classify.features import extract_features
from kimchi_plugin.routing.classify.scoring import score

MESSAGES = (
    "refactor the auth module to use dependency injection and write tests for the token refresh path",
    "why does the login test fail with a KeyError after the migration? plan a fix and review the diff",
)


def test_scores_are_the_same_bits_in_every_feature_order() -> None:
    table = load_weights()
    shuffle = random.Random(7).shuffle
    for text in MESSAGES:
        features = sorted(f for f in extract_features(text) if f in table.weights)
        assert len(features) >= 8  # enough terms for rounding to depend on their order
        expected = score(features, table)
        orders = [list(reversed(features)), *(list(p) for p in itertools.islice(itertools.permutations(features), 50))]
        for order in orders:
            assert score(order, table) == expected
        for _ in range(200):
            shuffle(features)
            assert score(features, table) == expected
