"""Stage 1 of routing: a fast classifier over the user's own words.

Text becomes named features (`classify.features`, over the lexicon in `data/lexicon.json`); a linear weight table
(`classify.table`: hand-set rules refined by logistic regression on labelled messages and session turns, which also
weighs the conversation stage's context features) scores the six profiles (`classify.scoring`). Every function takes
the table to score with; without one, the table shipped with the package (read once, on first use).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from kimchi_plugin.routing.classify import scoring
from kimchi_plugin.routing.classify.scoring import DEFAULT_CONFIDENCE, EMPTY, Classification, probabilities
from kimchi_plugin.routing.classify.table import WeightTable, shipped_table
from kimchi_plugin.routing.tiers import Profile

# Context features the conversation stage adds: "prev:coder", and the previous tier crossed with the message's form
# ("prev:coding+question").
PREV_PREFIX = "prev:"
CONTEXT_FORMS = ("question", "order")

__all__ = [
    "CONTEXT_FORMS",
    "DEFAULT_CONFIDENCE",
    "PREV_PREFIX",
    "Classification",
    "WeightTable",
    "classify",
    "decide_features",
    "decide_in_context",
    "extract_features",
    "load_weights",
    "probabilities",
    "score",
    "warm_up",
]


def load_weights() -> WeightTable:
    """The shipped weight table, read once (callers may warm it in the background after start-up)."""
    return shipped_table()


def warm_up() -> None:
    """Load what the first decision needs, each part once: the feature extractor and the weight table (callers may
    warm them on a thread after start-up)."""
    _extractor()
    shipped_table()


def extract_features(text: str) -> set[str]:
    """The named features of `text` (`classify.features`)."""
    return _extractor()(text)


@cache
def _extractor() -> Callable[[str], set[str]]:
    """`classify.features` is imported on first use: compiling its patterns and reading the lexicon take ~20 ms that
    start-up need not pay (the import system makes a second thread wait for the first's import)."""
    from kimchi_plugin.routing.classify.features import extract_features as extract

    return extract


def classify(text: str, table: WeightTable | None = None) -> Classification:
    """Profile for one user message, from its own words alone."""
    if not text or text.isspace():
        return EMPTY
    return scoring.decide_features(extract_features(text), table or shipped_table())


def decide_features(features: set[str], table: WeightTable | None = None) -> Classification:
    """Classification from a feature set."""
    return scoring.decide_features(features, table or shipped_table())


def decide_in_context(
    features: set[str], context: set[str], table: WeightTable | None = None
) -> tuple[Classification, Profile]:
    """Classification from a message's features plus its conversation's, and the profile the message's own features
    would have chosen."""
    return scoring.decide_in_context(features, context, table or shipped_table())


def score(features: set[str], table: WeightTable | None = None) -> list[float]:
    """Calibrated profile scores of a feature set (in `Profile` order)."""
    return scoring.score(features, table or shipped_table())
