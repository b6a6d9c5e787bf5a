"""Features → a decision, over an injected weight table: profile scores are sums of feature weights plus the
table's bias, divided by its temperature; the winning tier's probability, mapped by the table's calibration, is the
confidence.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Set
from dataclasses import dataclass
from itertools import compress
from operator import itemgetter

from kimchi_plugin.routing.classify.table import PROFILES, Vector, WeightTable
from kimchi_plugin.routing.tiers import PROFILE_TIER, TIER_ORDER, Profile, Tier

# Without any evidence, the trained words alone must be at least this sure (as the table's calibration reports it, so
# that the bar does not move with the table's temperature) to beat the default.
MODEL_ALONE_MIN = 0.7
CONFIDENCE_FLOOR = 0.05
CONFIDENCE_CEIL = 0.97
# Confidence of the no-evidence defaults.
DEFAULT_CONFIDENCE = 0.2
EMPTY_CONFIDENCE = 0.5
# The signal of a no-evidence default names its kind after this prefix ("default:short").
DEFAULT_SIGNAL = "default:"
# How many of the strongest features a decision reports in `signals`; bare words are reported as "w:word".
MAX_SIGNALS = 4
WORD_PREFIX = "w:"

_TIER_OF = tuple(PROFILE_TIER[p] for p in PROFILES)
# The profiles of each tier (indexes in `Profile` order), tiers in TIER_ORDER; where Reasoning stands among them.
_TIER_PROFILES = tuple(tuple(i for i, t in enumerate(_TIER_OF) if t is tier) for tier in TIER_ORDER)
_REASONING_AT = TIER_ORDER.index(Tier.REASONING)


@dataclass(frozen=True, slots=True)
class Classification:
    """A routing guess: profile, how sure, and the evidence behind it."""

    profile: Profile
    confidence: float
    signals: tuple[str, ...]
    source: str = "heuristic"

    @property
    def tier(self) -> Tier:
        return PROFILE_TIER[self.profile]


EMPTY = Classification(Profile.ASSISTANT, EMPTY_CONFIDENCE, ("empty",))
_NONE: frozenset[str] = frozenset()


# The features of a set that the table weighs, and their weights, in the set's order.
Weighed = tuple[list[str], list[Vector]]


def _weighed(table: WeightTable, features: Iterable[str]) -> Weighed:
    found = list(map(table.weights.get, features))
    return list(compress(features, found)), list(filter(None, found))


def _sums(rows: list[Vector], start: Vector | list[float]) -> list[float]:
    """`start` plus the rows, per profile (in `Profile` order). Summed exactly (fsum): the rows come in a set's order,
    which changes with the process's string hash seed, and a plain sum's rounding with it."""
    return list(map(math.fsum, zip(start, *rows)))


def _summed(
    table: WeightTable, features: Collection[str], start: Vector | list[float]
) -> tuple[list[float], Weighed | None]:
    """`start` plus the weights of the features, per profile, exactly: from the table's packed rows (a long message),
    or by fsum over the weighed features, returned too (None: not looked up)."""
    exact = table.packed.sums(features, start)
    if exact is not None:
        return exact, None
    weighed = _weighed(table, features)
    return _sums(weighed[1], start), weighed


def score(features: Collection[str], table: WeightTable) -> list[float]:
    """Sum of feature weights per profile, plus the bias, divided by the calibration temperature."""
    return [s / table.temperature for s in _summed(table, features, table.bias)[0]]


def probabilities(scores: list[float]) -> list[float]:
    """Profile scores as probabilities (softmax)."""
    peak = max(scores)
    exps = [math.exp(x - peak) for x in scores]
    total = sum(exps)
    return [e / total for e in exps]


def _signal_name(feature: str) -> str:
    return feature if ":" in feature else WORD_PREFIX + feature


def _top_signals(weighed: Weighed, index: int) -> tuple[str, ...]:
    """The features that weigh most for the profile (positive weights only), strongest first."""
    names, rows = weighed
    weighted = [(w, f) for w, f in zip(map(itemgetter(index), rows), names) if w > 0.0]
    weighted.sort(reverse=True)
    return tuple(_signal_name(f) for _, f in weighted[:MAX_SIGNALS])


def _pick(table: WeightTable, sums: list[float], features: set[str]) -> tuple[int, float] | None:
    """The winning profile's index and its tier's probability, or None for the no-evidence default.

    The tier with the highest probability wins, with Reasoning's probability weighted up by the table's Reasoning
    miss cost (sending hard work to a weaker model costs more); the profile is the best one inside that tier.
    """
    probs = probabilities([s / table.temperature for s in sums])
    masses = []  # each tier's probability, summed in profile order
    for indexes in _TIER_PROFILES:
        mass = 0.0
        for i in indexes:
            mass += probs[i]
        masses.append(mass)
    weighed = masses.copy()
    weighed[_REASONING_AT] *= table.reasoning_cost
    at = weighed.index(max(weighed))  # the first of equals, in TIER_ORDER
    mass = masses[at]
    if features.isdisjoint(table.evidence) and calibrated(mass, table.calibration) < MODEL_ALONE_MIN:
        return None
    return max(_TIER_PROFILES[at], key=sums.__getitem__), mass


def _default(features: set[str]) -> Classification:
    short = "len:short" in features
    return Classification(
        Profile.ASSISTANT if short else Profile.CODER,
        DEFAULT_CONFIDENCE,
        (DEFAULT_SIGNAL + ("short" if short else "unspecific"),),
    )


def calibrated(p: float, calibration: tuple[float, float]) -> float:
    """A tier probability as the confidence that the decision is right: sigmoid(scale * logit(p) + shift), bounded."""
    scale, shift = calibration
    p = min(CONFIDENCE_CEIL, max(CONFIDENCE_FLOOR, p))
    odds: float = ((1.0 - p) / p) ** scale
    return min(CONFIDENCE_CEIL, max(CONFIDENCE_FLOOR, 1.0 / (1.0 + odds * math.exp(-shift))))


def _decision(
    table: WeightTable,
    picked: tuple[int, float] | None,
    features: set[str],
    weighed: Weighed | None,
    unpacked: Set[str] | None = None,
) -> Classification:
    """`unpacked`: the features the packed sums have not read (None: any of them), as `PackedWeights.strongest`."""
    if picked is None:
        return _default(features)
    index, p = picked
    confidence = round(calibrated(p, table.calibration), 3)
    if weighed is None:
        strongest = table.packed.strongest(features, index, MAX_SIGNALS, unpacked)
        if strongest is not None:
            return Classification(PROFILES[index], confidence, tuple(_signal_name(f) for _, f in strongest))
        weighed = table.packed.weighed(features) or _weighed(table, features)
    return Classification(PROFILES[index], confidence, _top_signals(weighed, index))


def decide_features(features: set[str], table: WeightTable) -> Classification:
    """Classification from a feature set."""
    sums, weighed = _summed(table, features, table.bias)
    return _decision(table, _pick(table, sums, features), features, weighed, _NONE if weighed is None else None)


def decide_in_context(features: set[str], context: set[str], table: WeightTable) -> tuple[Classification, Profile]:
    """Classification from a message's features plus its conversation's (`prev:*`, `phase:*`), and the
    profile the message's own features would have chosen (so the caller can tell what the context did)."""
    own_sums, own = _summed(table, features, table.bias)
    alone = _pick(table, own_sums, features)
    own_profile = PROFILES[alone[0]] if alone is not None else _default(features).profile
    added = _weighed(table, context)
    both = features | context
    # Context features (`prev:*`, `phase:*`) never come from a message's words: the two sets are disjoint.
    weighed = (own[0] + added[0], own[1] + added[1]) if own is not None and features.isdisjoint(context) else None
    # Packed sums (own is None) read every feature of the message: of the two, only the context's may be unread.
    unread = context if own is None else None
    return _decision(table, _pick(table, _sums(added[1], own_sums), both), both, weighed, unread), own_profile
