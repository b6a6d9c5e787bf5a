"""Whether telemetry is on and where it goes: the option and OPENCODE_* environment switches, OTLP endpoints and
headers (headers may carry credentials: registered as secrets, never printed).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote

from kimchi_plugin.logs import register_secret

ENABLE_ENV = "OPENCODE_ENABLE_TELEMETRY"
LOGS_ENDPOINT_ENV = "OPENCODE_OTLP_ENDPOINT"
METRICS_ENDPOINT_ENV = "OPENCODE_OTLP_METRICS_ENDPOINT"
HEADERS_ENV = "OPENCODE_OTLP_HEADERS"
ENABLE_VALUES = frozenset({"1", "true"})

FLUSH_INTERVAL_S = 30.0
LOG_QUEUE_SIZE = 1024  # log records waiting for export; beyond this a record is dropped (and counted)
REQUEST_TIMEOUT_S = 5.0
MAX_ATTEMPTS = 4
BACKOFF_BASE_S = 0.5


def telemetry_requested(option: bool, env: Mapping[str, str] = os.environ) -> bool:
    """On with the option `telemetry: true` or OPENCODE_ENABLE_TELEMETRY=1|true; `0`, `false` or unset is off."""
    return option is True or env.get(ENABLE_ENV, "").strip().lower() in ENABLE_VALUES


def parse_headers(text: str | None) -> dict[str, str]:
    """`k=v,k2=v2` (values may be percent-encoded, as in OTEL_EXPORTER_OTLP_HEADERS); malformed pairs are skipped."""
    headers: dict[str, str] = {}
    for pair in (text or "").split(","):
        key, sep, value = pair.partition("=")
        key, value = key.strip(), unquote(value.strip()).strip().strip("\"'")
        if sep and key and value:
            headers[key] = value
    return headers


@dataclass(frozen=True)
class TelemetryConfig:
    logs_endpoint: str | None
    metrics_endpoint: str | None
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)  # may hold credentials: never printed
    flush_interval_s: float = FLUSH_INTERVAL_S
    queue_size: int = LOG_QUEUE_SIZE
    timeout_s: float = REQUEST_TIMEOUT_S
    max_attempts: int = MAX_ATTEMPTS
    backoff_s: float = BACKOFF_BASE_S


def resolve_config(
    *,
    option: bool,
    logs_endpoint: str | None = None,
    metrics_endpoint: str | None = None,
    env: Mapping[str, str] = os.environ,
) -> tuple[TelemetryConfig | None, list[str]]:
    """Telemetry settings, or None when off. Options win over the environment. Returns (config, warnings)."""
    if not telemetry_requested(option, env):
        return None, []
    logs = (logs_endpoint or env.get(LOGS_ENDPOINT_ENV) or "").strip() or None
    metrics = (metrics_endpoint or env.get(METRICS_ENDPOINT_ENV) or "").strip() or None
    headers = parse_headers(env.get(HEADERS_ENV))
    for value in headers.values():
        register_secret(value)
        register_secret(value.split(" ", 1)[-1])  # the token of "Bearer <token>"
    warnings = []
    if logs is None and metrics is None:
        warnings.append(
            f"telemetry is on but no endpoint is set ({LOGS_ENDPOINT_ENV} / option logsEndpoint, "
            f"{METRICS_ENDPOINT_ENV} / option metricsEndpoint): nothing will be sent"
        )
        return None, warnings
    if logs is None:
        warnings.append(
            f"telemetry is on but no logs endpoint is set ({LOGS_ENDPOINT_ENV} or option logsEndpoint): "
            "per-message log records will not be sent"
        )
    if metrics is None:
        warnings.append(
            f"telemetry is on but no metrics endpoint is set ({METRICS_ENDPOINT_ENV} or option "
            "metricsEndpoint): metrics will not be sent"
        )
    return TelemetryConfig(logs, metrics, headers), warnings
