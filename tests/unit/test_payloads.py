"""`chat.message`'s payloads read straight (plain JSON of the fields' types) give what the lenient views give, on
every shape: the recorded messages, and drawn payloads whose fields may be missing, null, of another type or extra."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kimchi_plugin.opencode import payloads as p

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "hooks"
RECORDED = sorted(FIXTURES.glob("chat.message*.json"))

_odd = st.none() | st.booleans() | st.integers(-2, 2) | st.floats(allow_nan=False) | st.lists(st.text(max_size=3))
_text = st.sampled_from(["", "kimchi", "auto", "ses_1", "build", "fix the flaky test", "a\ud800b"]) | st.text(
    max_size=8
)
_flag = st.sampled_from([None, True, False])
_odd_flag = st.sampled_from([0, 1, "true", "no", 1.0]) | _odd


def _mostly(plain: Any, odd: Any) -> Any:
    """`plain` nineteen times in twenty, else `odd` (so that most payloads are plain and some are not)."""
    return st.integers(0, 19).flatmap(lambda k: odd if k == 0 else plain)


def _object(fields: dict[str, Any]) -> Any:
    """A JSON object with any of `fields` (each drawn, or missing) and perhaps an extra member; now and then another
    JSON value instead."""
    drawn = st.fixed_dictionaries({}, optional=fields)
    extra = st.dictionaries(st.sampled_from(["extra", "time"]), _text, max_size=1)
    return _mostly(st.builds(lambda a, b: {**b, **a}, drawn, extra), _odd)


_string = _mostly(_text | st.none(), _odd | st.dictionaries(st.text(max_size=3), _text, max_size=2))
_model = _object({"providerID": st.sampled_from(["kimchi", "other"]) | _string, "modelID": _string})
_words = st.sampled_from(["fix the flaky test", " why?\n", "a\ud800b"])
_part = _object(
    {
        "type": _mostly(st.sampled_from(["text", "file"]), _string),
        "text": _words | _string,
        "synthetic": _mostly(_flag, _odd_flag),
    }
)
_input = _object({"sessionID": _string, "agent": _string, "model": _mostly(_model, st.none())})
_message = _object({"id": _string, "sessionID": _string, "agent": _string, "model": _mostly(_model, st.none())})
_output = _mostly(
    _object({"message": _mostly(_message, st.none()), "parts": _mostly(st.lists(_part, max_size=3), _odd)}), st.none()
)


@pytest.mark.parametrize("path", RECORDED, ids=lambda path: path.stem)
def test_recorded_messages_are_read_straight_as_the_views_read_them(path: Path) -> None:
    params = json.loads(path.read_text())["params"]
    straight = p._plain_chat_message(params["input"], params["output"])
    assert straight is not None
    assert straight == p.chat_message_views(params["input"], params["output"])


@settings(max_examples=600, deadline=None, derandomize=True)
@given(_input, _output)
def test_any_shape_is_read_as_the_views_read_it(inp: Any, out: Any) -> None:
    assert p.chat_message(inp, out) == p.chat_message_views(inp, out)
