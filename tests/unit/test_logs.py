"""The log line path: a logger bound once per configuration, and the rendered line's redaction."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
import structlog

from kimchi_plugin import logs
from kimchi_plugin.logs import REDACTED, BoundOnce, configure_logging, register_secret


@pytest.fixture
def restored() -> Iterator[None]:
    """Put structlog, the root logger and the module's log file back as they were."""
    config, handlers, level = structlog.get_config(), logging.getLogger().handlers[:], logging.getLogger().level
    yield
    if logs._current is not None:
        logs._current.close()
        logs._current = None
    structlog.configure(**config)
    logging.getLogger().handlers[:] = handlers
    logging.getLogger().setLevel(level)


def test_a_logger_is_bound_once_and_again_when_logging_is_reconfigured(tmp_path: Path, restored: None) -> None:
    log = BoundOnce("kimchi.test")
    configure_logging(log_file=str(tmp_path / "first.log"))
    log.info("one")
    bound = log._bound
    log.info("two")
    assert log._bound is bound  # the same configuration: the same bound logger
    configure_logging(log_file=str(tmp_path / "second.log"))
    log.info("three")
    first, second = (tmp_path / "first.log").read_text(), (tmp_path / "second.log").read_text()
    assert '"one"' in first and '"two"' in first and "three" not in first and '"three"' in second
    with structlog.testing.capture_logs() as captured:
        log.info("four", detail=1)
    assert captured == [{"event": "four", "detail": 1, "log_level": "info"}]
    log.info("five")  # back under the configuration the capture replaced
    assert '"five"' in (tmp_path / "second.log").read_text()


def test_the_rendered_line_is_scrubbed_of_secrets_and_bearer_tokens_in_any_case(tmp_path: Path, restored: None) -> None:
    register_secret("sk-line-secret-0123")
    configure_logging(log_file=str(tmp_path / "b.log"))
    log = BoundOnce("kimchi.test")
    log.info("sent", key="sk-line-secret-0123", header="BeArEr\tabcdef123456", other="Authorization: bearer xyz12345")
    log.info("plain", text="nothing to hide: a bear, an earring")
    sent, plain = (tmp_path / "b.log").read_text().splitlines()
    assert "sk-line-secret-0123" not in sent and "abcdef123456" not in sent and "xyz12345" not in sent
    assert sent.count(REDACTED) == 3
    assert '"text": "nothing to hide: a bear, an earring"' in plain


def test_a_line_written_directly_is_the_line_structlog_writes_and_structlog_writes_it_when_captured(
    tmp_path: Path, restored: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    register_secret("sk-direct-secret-0123")
    configure_logging(log_file=str(tmp_path / "d.log"))
    log = BoundOnce("kimchi.test")
    fields = {"session": "s", "excerpt": None, "words": ["é", "\u2028"], "key": "sk-direct-secret-0123", "n": 0.5}
    log.info("decision", **fields)
    logs.info_line(log, "decision", dict(fields))
    through, direct = (json.loads(line) for line in (tmp_path / "d.log").read_text().splitlines())
    assert list(direct) == list(through) == [*fields, "event", "level", "timestamp"]
    assert direct.pop("timestamp") and through.pop("timestamp") and direct == through
    assert direct["key"] == REDACTED
    with structlog.testing.capture_logs() as captured:  # the same processor list, refilled: structlog writes it
        logs.info_line(log, "decision", {"n": 1})
    assert captured == [{"n": 1, "event": "decision", "log_level": "info"}]
    monkeypatch.setenv("KIMCHI_LOG_LEVEL", "warning")
    configure_logging(log_file=str(tmp_path / "d.log"))
    logs.info_line(log, "decision", {"n": 2})
    assert len((tmp_path / "d.log").read_text().splitlines()) == 2


class _Custom:
    def __structlog__(self) -> dict[str, int]:
        return {"custom": 1}


def test_a_line_is_rendered_as_structlogs_json_renderer_renders_it() -> None:
    event = {"event": "e", "words": ["é", None, 2.5, (1, 2)], "odd": object.__new__(_Custom), "set": {3}, "u": "\u2028"}
    assert logs._render_json(None, "info", dict(event)) == structlog.processors.JSONRenderer()(None, "info", event)


@pytest.mark.parametrize("now", [1765000000.0, 1765000000.25, 1765000001.999999, 1765086399.000001, 1765086399.9999997])
def test_the_timestamp_is_iso_8601_utc_as_structlogs_stamper_writes_it(
    now: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logs.time, "time", lambda: now)
    expected = datetime.fromtimestamp(now, timezone.utc).isoformat().replace("+00:00", "Z")
    stamp = logs._UtcStamp()
    assert stamp(None, "info", {})["timestamp"] == expected
    assert stamp(None, "info", {})["timestamp"] == expected  # the second's text, kept from the first call
