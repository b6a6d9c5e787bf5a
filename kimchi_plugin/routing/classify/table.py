"""The weight table the scorer reads: its type, its file format, and the one shipped copy, loaded once.

File format (`data/classifier_weights.bin`, written by `scripts/train_classifier.py` alone, byte for byte the
same for the same training data): a magic line; a JSON header line (profiles, bias, temperature, the Reasoning miss
cost, the confidence calibration, the features that count as evidence, the fingerprint of the training data, counts
and sizes); the feature names, UTF-8, one per line; the weights as little-endian int16 thousandths, one row per
feature in profile order. Loading it costs a quarter of parsing the same table as JSON, and equal weights share one
float object.
"""

from __future__ import annotations

import array
import hashlib
import json
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kimchi_plugin.routing.classify.exact_sums import PackedWeights
from kimchi_plugin.routing.tiers import Profile

WEIGHTS_FILE = "classifier_weights.bin"
# The package's data folder, read as files (importlib.resources would import its zip readers first).
DATA_DIR = Path(__file__).resolve().parents[2] / "data"
# The labelled corpus of real users' turns, under the routing data (scripts/real_corpus/build.py writes it).
REAL_CORPUS = "real/corpus.jsonl"
MAGIC = b"kimchi classifier weights 1\n"
# Weights are stored as integers in thousandths: the trainer rounds them to three decimals.
SCALE = 1000
INT16_MAX = 32767
PROFILES: tuple[Profile, ...] = tuple(Profile)

Vector = tuple[float, ...]


@dataclass(frozen=True, slots=True)
class WeightTable:
    """Per-feature weights (in `Profile` order), bias, temperature, the features that are evidence about a message's
    need (rule features with weight in the trainer's prior, and the conversation's), the confidence calibration (the
    winning tier's probability p is reported as sigmoid(scale * logit(p) + shift), fitted on held-out real turns: the
    probabilities of a table trained on written sets are too sure at the top and too shy in the middle), and the
    Reasoning miss cost: how many times a Reasoning probability counts when tiers are compared, since sending hard
    work to a weaker model costs more than the opposite mistake (fitted with the temperature: the two together set
    how often near ties go to Reasoning)."""

    weights: Mapping[str, Vector]
    bias: Vector
    temperature: float = 1.0
    evidence: frozenset[str] = frozenset()
    calibration: tuple[float, float] = (1.0, 0.0)
    reasoning_cost: float = 1.3
    # The weights packed for the scorer's exact one-pass sums (each row when first scored).
    packed: PackedWeights = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "packed", PackedWeights(self.weights, self.bias))


def encode(table: WeightTable, header: Mapping[str, Any]) -> bytes:
    """The file bytes of a table; `header` adds provenance (about, prior widths, data fingerprint)."""
    names = sorted(table.weights)
    if any("\n" in name for name in names):
        raise ValueError("a feature name holds a line break")
    values = array.array("h")
    for name in names:
        for weight in table.weights[name]:
            scaled = round(weight * SCALE)
            if abs(scaled) > INT16_MAX or abs(scaled - weight * SCALE) > 1e-6:
                raise ValueError(f"{name}: weight {weight} is not a thousandth within ±{INT16_MAX / SCALE}")
            values.append(scaled)
    if sys.byteorder == "big":
        values.byteswap()
    blob = "\n".join(names).encode()
    meta = {
        **header,
        "profiles": [p.value for p in PROFILES],
        "bias": list(table.bias),
        "temperature": table.temperature,
        "reasoning_cost": table.reasoning_cost,
        "calibration": list(table.calibration),
        "evidence": sorted(table.evidence),
        "features": len(names),
        "names_bytes": len(blob),
        "scale": SCALE,
    }
    return MAGIC + json.dumps(meta, ensure_ascii=False, sort_keys=True).encode() + b"\n" + blob + values.tobytes()


def header_of(data: bytes) -> dict[str, Any]:
    """The JSON header of a table file; ValueError when the bytes are not one."""
    if not data.startswith(MAGIC):
        raise ValueError("not a classifier weight table")
    end = data.index(b"\n", len(MAGIC))
    header: dict[str, Any] = json.loads(data[len(MAGIC) : end])
    if header.get("profiles") != [p.value for p in PROFILES]:
        raise ValueError(f"profiles {header.get('profiles')} differ from {[p.value for p in PROFILES]}")
    return header


def decode(data: bytes) -> WeightTable:
    """A table from its file bytes."""
    header = header_of(data)
    start = data.index(b"\n", len(MAGIC)) + 1
    names_end = start + int(header["names_bytes"])
    names = data[start:names_end].decode().split("\n")
    values = array.array("h")
    values.frombytes(data[names_end:])
    if sys.byteorder == "big":
        values.byteswap()
    width = len(PROFILES)
    if len(values) != len(names) * width:
        raise ValueError("weight table truncated")
    rows = iter(map(_Thousandths().__getitem__, values))
    weights: dict[str, Vector] = dict(zip(names, zip(*([rows] * width))))
    scale, shift = (float(x) for x in header["calibration"])
    return WeightTable(
        weights,
        tuple(header["bias"]),
        float(header["temperature"]),
        frozenset(header["evidence"]),
        (scale, shift),
        float(header["reasoning_cost"]),
    )


class _Thousandths(dict[int, float]):
    """A stored weight → its float, each made once (equal weights share one float object), when first met: cheaper
    than collecting the distinct values first (a set of 200,000 values)."""

    __slots__ = ()

    def __missing__(self, stored: int) -> float:
        weight = self[stored] = stored / SCALE
        return weight


def shipped_bytes() -> bytes:
    return (DATA_DIR / WEIGHTS_FILE).read_bytes()


_shipped: WeightTable | None = None
_loading = threading.Lock()


def shipped_table() -> WeightTable:
    """The table shipped with the package, read on first use (start-up need not pay for it). Single-flight: a
    caller that arrives while another thread reads it waits for that read instead of starting its own."""
    global _shipped
    table = _shipped
    if table is None:
        with _loading:
            table = _shipped
            if table is None:
                table = _shipped = decode(shipped_bytes())
    return table


def labelled_sets(root: Path) -> dict[str, Path]:
    """The labelled routing sets under `root` by name ("A", "B", …): every folder holding a `messages.jsonl`."""
    return {folder.name.upper(): folder for folder in sorted(path.parent for path in root.glob("*/messages.jsonl"))}


def data_fingerprint(root: Path) -> str:
    """sha256 over the labelled sets' messages and sessions and the real corpus (relative path and bytes of each
    file, in path order): the data a table was trained on."""
    digest = hashlib.sha256()
    paths = [folder / f"{kind}.jsonl" for folder in labelled_sets(root).values() for kind in ("messages", "sessions")]
    for path in (*paths, root / REAL_CORPUS):
        if path.exists():
            digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()
