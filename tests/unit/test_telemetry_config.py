"""Whether OTLP telemetry is on and where it goes, from options and the environment (the export itself, against a
real receiver, is in tests/integration/test_telemetry_export.py)."""

from __future__ import annotations

import pytest
import structlog

from kimchi_plugin.settings import Settings
from kimchi_plugin.usage.recorder import UsageRecorder
from kimchi_plugin.usage.telemetry_config import parse_headers, resolve_config, telemetry_requested

SECRET = "sk-live-SECRET-token-4242"


@pytest.mark.parametrize(
    ("value", "on"),
    [
        (None, False),
        ("", False),
        ("0", False),
        ("false", False),
        ("FALSE", False),
        ("no", False),
        ("off", False),
        ("1", True),
        ("true", True),
        ("True", True),
        (" true ", True),
    ],
)
def test_env_switch(value, on):
    env = {} if value is None else {"OPENCODE_ENABLE_TELEMETRY": value}
    assert telemetry_requested(False, env) is on
    assert telemetry_requested(True, env) is True


def test_endpoints_headers_and_warnings():
    env = {
        "OPENCODE_ENABLE_TELEMETRY": "1",
        "OPENCODE_OTLP_ENDPOINT": "http://env/logs",
        "OPENCODE_OTLP_METRICS_ENDPOINT": "http://env/metrics",
        "OPENCODE_OTLP_HEADERS": f"Authorization=Bearer%20{SECRET}, X-Tenant = t1,broken,=x",
    }
    cfg, warnings = resolve_config(option=False, env=env)
    assert (cfg.logs_endpoint, cfg.metrics_endpoint, warnings) == ("http://env/logs", "http://env/metrics", [])
    assert cfg.headers == {"Authorization": f"Bearer {SECRET}", "X-Tenant": "t1"}
    assert SECRET not in repr(cfg)
    cfg, _ = resolve_config(option=False, logs_endpoint="http://opt/logs", env=env)
    assert cfg.logs_endpoint == "http://opt/logs"  # the option wins
    cfg, warnings = resolve_config(option=True, env={"OPENCODE_OTLP_ENDPOINT": "http://env/logs"})
    assert cfg.metrics_endpoint is None and "OPENCODE_OTLP_METRICS_ENDPOINT" in warnings[0]
    cfg, warnings = resolve_config(option=True, env={})
    assert cfg is None and "no endpoint is set" in warnings[0]
    assert resolve_config(option=False, env={"OPENCODE_OTLP_ENDPOINT": "http://x"}) == (None, [])
    assert parse_headers("Authorization=Bearer abc") == {"Authorization": "Bearer abc"}


def test_warning_is_logged_when_on_without_endpoint(tmp_path):
    with structlog.testing.capture_logs() as logs:
        rec = UsageRecorder.from_settings(Settings(telemetry=True, stats=False), env={})
    assert rec.telemetry is None
    assert any(e["log_level"] == "warning" and "no endpoint is set" in e["event"] for e in logs)
