"""The encoder built once writes what `json.JSONEncoder(...).encode` writes, with the options logs and frames use."""

from __future__ import annotations

import enum
import json
import math

import pytest

from kimchi_plugin import json_encoding


class _Level(enum.IntEnum):
    HIGH = 3


class _Odd:
    def __repr__(self) -> str:
        return "<odd>"


VALUES = [
    {"jsonrpc": "2.0", "result": {"output": {"message": {"model": {"modelID": "kimi-k2.5"}}}, "actions": []}, "id": 7},
    {"text": 'é 中 😀 \u2028 \\ " \n \t \x00 \ud800', "n": [0, -1, 2**70, 0.1, 1e300, -0.0, 1.5e-7], "ok": True},
    {"nested": [[{"a": None}], (1, 2), {}], 3: "int key", 2.5: "float key", None: "none key", True: "bool key"},
    {"level": _Level.HIGH, "odd": _Odd(), "set": {1}},
    "a plain string é \u2028",
    [1, "two", None, False],
    0.333,
    None,
]
OPTIONS = [
    {"default": repr},
    {"default": repr, "separators": (",", ":"), "ensure_ascii": False},
    {"default": repr, "separators": (",", ":"), "ensure_ascii": False, "allow_nan": False},
]


@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize("c_encoder", [True, False])
def test_the_same_text_as_the_standard_encoder(options: dict, c_encoder: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if not c_encoder:
        monkeypatch.setattr(json_encoding, "make_encoder", None)
    encode = json_encoding.encoder(**options)
    standard = json.JSONEncoder(**options).encode
    for value in VALUES:
        assert encode(value) == standard(value)
        assert encode(value) == encode(value)  # the encoder keeps no state between calls


def test_what_the_standard_encoder_refuses_is_refused() -> None:
    strict = json_encoding.encoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    with pytest.raises(ValueError):
        strict({"x": math.nan})
    with pytest.raises(TypeError):
        strict({"x": object()})
    assert json_encoding.encoder()({"x": math.inf}) == '{"x": Infinity}'
