"""Per-profile sums of feature weights, exact, in one pass over a message's features.

Every float of magnitude 2**-10 or more (0.001, the shipped table's smallest weight, is) is an integer multiple of
2**-SCALE_BITS, and so is any exact sum of such floats: summed as integers, and divided as integers (Python's integer
true division rounds correctly), they give the correctly rounded sum, the very float `math.fsum` gives, at a fraction
of its cost. A weight row is packed into one integer (a count, then one field per profile, each offset to stay
positive), so a message's rows are summed by one `sum` of integers. A table whose weights are not such multiples, or
too large for a field, is left to fsum (`sums` answers None).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

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
# Features the table does not weigh are remembered too (as 0), up to this many beyond the table's size.
UNWEIGHED_KEPT = 16384


def scaled(x: float) -> int | None:
    """x * SCALE as an integer, or None when x is not an integer multiple of 2**-SCALE_BITS."""
    numerator, denominator = x.as_integer_ratio()
    return None if SCALE % denominator else numerator * (SCALE // denominator)


class PackedWeights:
    """A weight table's rows packed as integers, each packed when a message first holds its feature."""

    __slots__ = ("_bias", "_bias_scaled", "_exact", "_packed", "_weights")

    def __init__(self, weights: Mapping[str, Sequence[float]], bias: Sequence[float] = ()) -> None:
        self._weights = weights
        self._packed: dict[str, int] = {}
        self._exact = True
        # The usual start of a sum, scaled once.
        self._bias = bias
        self._bias_scaled = list(map(scaled, bias))

    def _pack(self, row: Sequence[float] | None) -> int:
        if row is None:
            return 0
        packed = 1
        shift = COUNT_BITS
        for weight in row:
            value = scaled(weight)
            if value is None or abs(value) >= OFFSET:
                self._exact = False
                return 0
            packed += (value + OFFSET) << shift
            shift += FIELD_BITS
        return packed

    def sums(self, features: Collection[str], start: Sequence[float]) -> list[float] | None:
        """`start` plus the rows of the features the table weighs, per profile (correctly rounded), or None when this
        table's sums are left to fsum."""
        if len(features) >= MAX_ROWS:
            return None
        packed = self._packed
        try:
            total = sum(map(packed.__getitem__, features))
        except KeyError:
            if len(packed) >= len(self._weights) + UNWEIGHED_KEPT:
                packed.clear()
            values = []
            for feature in features:
                value = packed.get(feature)
                if value is None:
                    value = packed[feature] = self._pack(self._weights.get(feature))
                values.append(value)
            total = sum(values)
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
