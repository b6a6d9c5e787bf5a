"""Per-profile sums of feature weights, exact, in one pass over a message's features.

Every float of magnitude 2**-10 or more (0.001, the shipped table's smallest weight, is) is an integer multiple of
2**-SCALE_BITS, and so is any exact sum of such floats: summed as integers, and divided as integers (Python's integer
true division rounds correctly), they give the correctly rounded sum, the very float `math.fsum` gives, at a fraction
of its cost. A weight row is packed into one integer (a count, then one field per profile, each offset to stay
positive), so a message's rows are summed by one `sum` of integers. A short message, or a table whose weights are
not such multiples or too large for a field, is left to fsum (`sums` answers None).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence, Set
from itertools import compress

# A weight row: one weight per profile.
Row = tuple[float, ...]
SCALE_BITS = 62
SCALE = 1 << SCALE_BITS
# A packed row: COUNT_BITS for the number of rows summed, then FIELD_BITS per profile holding weight * SCALE + OFFSET.
# Weights below 2**6 in magnitude fit under OFFSET; a sum of fewer than MAX_ROWS rows fits its field.
COUNT_BITS = 32
FIELD_BITS = 96
OFFSET = 1 << (SCALE_BITS + 6)
MAX_ROWS = 1 << (FIELD_BITS - SCALE_BITS - 8)
COUNT_MASK = (1 << COUNT_BITS) - 1
FIELD_MASK = (1 << FIELD_BITS) - 1
# Fewer features than this are left to fsum: packing a feature met for the first time costs more than fsum saves on a
# short message (both are exact, so either gives the same floats).
PACKED_FROM = 64
# Distinct weights whose packed form is remembered (a table's weights share a few thousand values), and features the
# table does not weigh remembered as such (forgotten all at once past this many; those it weighs stay).
KEPT_WEIGHTS = 65536
KEPT_UNWEIGHED = 16384
# A packed feature weighing at least STRONG_WEIGHT for a profile is noted as strong for it: a long message holds a
# dozen or so strong features for the profile it is decided for, and its strongest features are among them.
STRONG_WEIGHT = 0.5


def scaled(x: float) -> int | None:
    """x * SCALE as an integer, or None when x is not an integer multiple of 2**-SCALE_BITS."""
    if not math.isfinite(x):
        return None
    numerator, denominator = x.as_integer_ratio()
    return None if SCALE % denominator else numerator * (SCALE // denominator)


def _offset(weight: float) -> int:
    """A weight's field value (weight * SCALE + OFFSET), or -1 when it does not fit a field."""
    value = scaled(weight)
    return -1 if value is None or abs(value) >= OFFSET else value + OFFSET


class _Rows(dict[str, int]):
    """Feature → its packed row (0: the table does not weigh it), packed when first read."""

    __slots__ = ("_owner",)

    def __init__(self, owner: PackedWeights) -> None:
        super().__init__()
        self._owner = owner

    def __missing__(self, feature: str) -> int:
        return self._owner._pack(feature)


class PackedWeights:
    """A weight table's rows packed as integers, each packed when a message first holds its feature."""

    __slots__ = (
        "_bias",
        "_bias_scaled",
        "_exact",
        "_offsets",
        "_rows",
        "_strong",
        "_table_rows",
        "_unweighed",
        "_weights",
    )

    def __init__(self, weights: Mapping[str, Row], bias: Sequence[float] = ()) -> None:
        self._weights = weights
        self._rows = _Rows(self)
        # The table's own rows of the packed features it weighs.
        self._table_rows: dict[str, Row] = {}
        # Profile index → the packed features strong for it.
        self._strong: dict[int, set[str]] = {}
        self._offsets: dict[float, int] = {}
        self._unweighed = 0
        self._exact = True
        # The usual start of a sum, scaled once.
        self._bias = bias
        self._bias_scaled = list(map(scaled, bias))

    def _pack(self, feature: str) -> int:
        row = self._weights.get(feature)
        rows = self._rows
        if row is None:
            if self._unweighed >= KEPT_UNWEIGHED:
                for unweighed in [name for name, value in rows.items() if not value]:
                    del rows[unweighed]
                self._unweighed = 0
            self._unweighed += 1
            rows[feature] = 0
            return 0
        offsets = self._offsets
        packed = 1
        shift = COUNT_BITS
        for weight in row:
            value = offsets.get(weight)
            if value is None:
                value = _offset(weight)
                if len(offsets) < KEPT_WEIGHTS:
                    offsets[weight] = value
            if value < 0:
                self._exact = False
                return 0
            packed += value << shift
            shift += FIELD_BITS
        self._table_rows[feature] = row
        for index, weight in enumerate(row):
            if weight >= STRONG_WEIGHT:
                self._strong.setdefault(index, set()).add(feature)
        rows[feature] = packed
        return packed

    def weighed(self, features: Collection[str]) -> tuple[list[str], list[Row]] | None:
        """The features the table weighs and their rows, in the features' order, or None when the sums are left to
        fsum. Read from what the sums have just read, not from the table (a second large structure to bring into the
        cache)."""
        if len(features) < PACKED_FROM:
            return None
        values = list(map(self._rows.__getitem__, features))
        if not self._exact:
            return None
        names = list(compress(features, values))
        return names, list(map(self._table_rows.__getitem__, names))

    def strongest(
        self, features: Set[str], index: int, count: int, unpacked: Set[str] | None = None
    ) -> list[tuple[float, str]] | None:
        """The `count` features of the set that weigh most for profile `index`, as (weight, feature), heaviest first
        and ties by name, descending (the order of sorting the pairs in reverse); or None when the set holds fewer
        than `count` strong features for the profile (or fewer than PACKED_FROM features, or the table does not pack).
        Any feature outside the strong ones weighs less than each of them, so only those are sorted. `unpacked`: the
        features of the set that `sums` has not just read (None: any of them); every other one that the table weighs
        is packed and its strength noted already."""
        if len(features) < PACKED_FROM or not self._exact:
            return None
        rows = self._rows
        unread = features if unpacked is None else unpacked
        if not rows.keys() >= unread:
            for feature in unread:
                if feature not in rows:
                    self._pack(feature)  # noted if strong
            if not self._exact:
                return None
        strong = self._strong.get(index)
        if strong is None:
            return None
        found = strong.intersection(features)
        if len(found) < count:
            return None
        table_rows = self._table_rows
        heaviest = sorted([(table_rows[feature][index], feature) for feature in found], reverse=True)
        return heaviest[:count]

    def sums(self, features: Collection[str], start: Sequence[float]) -> list[float] | None:
        """`start` plus the rows of the features the table weighs, per profile (correctly rounded), or None when the
        sum is left to fsum (fewer than PACKED_FROM features, or a table that does not pack)."""
        if not PACKED_FROM <= len(features) < MAX_ROWS:
            return None
        total = sum(map(self._rows.__getitem__, features))
        if not self._exact:
            return None
        rows = total & COUNT_MASK
        total >>= COUNT_BITS
        sums = []
        for value in self._bias_scaled if start is self._bias else map(scaled, start):
            if value is None:
                return None
            sums.append(((total & FIELD_MASK) - rows * OFFSET + value) / SCALE)
            total >>= FIELD_BITS
        return sums
