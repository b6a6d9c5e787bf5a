"""Proof that a change to the classifier left its features unchanged: the extractor of a git revision and the
current one, compared on every text of the routing data.

    python scripts/compare_features.py [--base REV]   # default REV: the last commit that touched the extractor

Texts: every "text" field under tests/routing_data/ (messages, their `prev` turns, session turns, any other corpus
there), each also upper-cased, and long messages made by joining consecutive texts up to 2, 5 and 20 KB (they reach
the bounded head-and-tail reading and the long-prose paths). Exit status 1 and the first differences when any
text's features differ.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path

from kimchi_plugin.routing.classifier import extract_features

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "routing_data"
BASE_PATH = "kimchi_plugin/routing/classifier.py"
DEFAULT_BASE = "37ef560"  # the extractor before it became data and small modules
LONG_SIZES = (2_000, 5_000, 20_000)
SHOWN_DIFFERENCES = 5

Extractor = Callable[[str], set[str]]


def base_extractor(rev: str) -> Extractor:
    """`extract_features` of the single-module classifier at `rev`, loaded from git without touching the tree."""
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{rev}:{BASE_PATH}"], capture_output=True, text=True, check=True
    ).stdout
    module = types.ModuleType("classifier_at_base")
    sys.modules[module.__name__] = module  # dataclasses look their module up while building the class
    exec(compile(source, f"{rev}:{BASE_PATH}", "exec"), module.__dict__)
    extract: Extractor = module.extract_features
    return extract


def _strings(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "text" and isinstance(value, str):
                yield value
            else:
                yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


def labelled_texts() -> list[str]:
    """Every text of the routing data, in file order."""
    texts = []
    for path in sorted(DATA.rglob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                texts.extend(_strings(json.loads(line)))
    return texts


def joined(texts: list[str], size: int) -> Iterator[str]:
    """Consecutive texts joined until each message reaches `size` characters."""
    parts: list[str] = []
    length = 0
    for text in texts:
        parts.append(text)
        length += len(text) + 2
        if length >= size:
            yield "\n\n".join(parts)
            parts, length = [], 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default=DEFAULT_BASE, help="git revision of the reference extractor")
    args = parser.parse_args(argv)
    old = base_extractor(args.base)
    texts = labelled_texts()
    cases = [*texts, *(t.upper() for t in texts), *(m for size in LONG_SIZES for m in joined(texts, size))]
    differing = 0
    for text in cases:
        before, after = old(text), extract_features(text)
        if before != after:
            differing += 1
            if differing <= SHOWN_DIFFERENCES:
                print(f"differs: {text[:80]!r}\n  only before: {sorted(before - after)[:10]}")
                print(f"  only after: {sorted(after - before)[:10]}")
    print(f"{len(cases)} texts ({len(texts)} labelled texts, their upper-case forms, long joins): {differing} differ")
    return 1 if differing else 0


if __name__ == "__main__":
    raise SystemExit(main())
