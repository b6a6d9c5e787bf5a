"""The stdin frame splitter: whole lines out of arbitrary reads, the same whether a read holds exactly whole lines
(the fast path) or splits them anywhere, and a line over the cap refused with its head kept for the id."""

from __future__ import annotations

import random

from kimchi_plugin.rpc.dispatch import SNIFF_BYTES
from kimchi_plugin.rpc.transport import FrameSplitter, _Oversized

CAP = 5000


def _expected(lines: list[bytes]) -> list[object]:
    return [("over", line[:SNIFF_BYTES]) if len(line) > CAP else line for line in lines]


def _seen(items: list[bytes | _Oversized]) -> list[object]:
    return [("over", item.head) if isinstance(item, _Oversized) else item for item in items]


def _stream(rng: random.Random) -> list[bytes]:
    sizes = [0, 1, 40, 700, CAP - 1, CAP, CAP + 1, 3 * CAP]
    return [bytes(rng.choice(b"abc{}:,") for _ in range(rng.choice(sizes))) for _ in range(rng.randint(1, 12))]


def test_lines_come_out_whole_however_the_reads_split_them() -> None:
    rng = random.Random(15)
    for _ in range(300):
        lines = _stream(rng)
        data = b"".join(line + b"\n" for line in lines)
        splitter = FrameSplitter(CAP)
        out: list[bytes | _Oversized] = []
        at = 0
        while at < len(data):
            step = rng.choice([1, 7, 100, CAP, 2 * CAP, len(data)])
            out += splitter.feed(data[at : at + step])
            at += step
        out += splitter.end()
        assert _seen(out) == _expected(lines)


def test_reads_of_whole_lines_are_split_as_they_come() -> None:
    splitter = FrameSplitter(CAP)
    assert splitter.feed(b'{"id":1}\n') == [b'{"id":1}']
    assert splitter.feed(b'{"id":2}\n\n{"id":3}\n') == [b'{"id":2}', b"", b'{"id":3}']
    assert splitter.feed(b'{"id":4') == []
    assert splitter.feed(b'}\n{"id":5}\n') == [b'{"id":4}', b'{"id":5}']
    assert splitter.end() == []
