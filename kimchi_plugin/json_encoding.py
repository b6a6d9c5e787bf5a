"""A JSON encoder built once and called for every log line and frame. `json.JSONEncoder.encode` builds a new C encoder
(and a dict for its reference-cycle check) at every call: about half the cost of encoding a short object."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

try:
    from _json import make_encoder
except ImportError:  # an interpreter without the C accelerator: the standard encoder
    make_encoder = None  # type: ignore[assignment,misc]


def encoder(
    *,
    default: Callable[[Any], Any] | None = None,
    separators: tuple[str, str] = (", ", ": "),
    ensure_ascii: bool = True,
    allow_nan: bool = True,
) -> Callable[[Any], str]:
    """`json.JSONEncoder(...).encode` with these options: the same text for data without reference cycles (they are
    not checked for: a cycle exhausts the stack instead of raising ValueError; logs and frames carry plain trees)."""
    standard = json.JSONEncoder(
        default=default, separators=separators, ensure_ascii=ensure_ascii, allow_nan=allow_nan, check_circular=False
    )
    if make_encoder is None:
        return standard.encode
    item_separator, key_separator = separators
    string = json.encoder.encode_basestring_ascii if ensure_ascii else json.encoder.encode_basestring
    chunks = make_encoder(None, standard.default, string, None, key_separator, item_separator, False, False, allow_nan)

    def encode(value: Any) -> str:
        if isinstance(value, str):
            return string(value)
        return "".join(chunks(value, 0))

    return encode
