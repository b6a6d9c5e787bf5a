"""Opt-in OTLP/HTTP telemetry: a log record per completed assistant message and cumulative per-session metrics.

Off unless the `telemetry` option is true or OPENCODE_ENABLE_TELEMETRY is 1/true (see telemetry_config). While off,
nothing here opens a connection and the protobuf modules are never imported. While on, hooks only touch an in-memory
table and a bounded queue; a background thread exports (protobuf over HTTP) every 30 s, on idle and at shutdown,
retrying with backoff. Only counts, model ids and routing labels are sent: never prompts, file contents or secrets.
"""

from __future__ import annotations

import importlib
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog

from kimchi_plugin import __version__
from kimchi_plugin.usage.telemetry_config import TelemetryConfig

if TYPE_CHECKING:  # httpx is imported by the sender thread only, off the start-up path
    import httpx

log = structlog.get_logger("kimchi.telemetry")

MAX_LOG_BATCH = 512
CONNECT_TIMEOUT_S = 2.0
BACKOFF_MAX_S = 8.0
RETRYABLE_STATUS = frozenset({429, 502, 503, 504})
CLOSE_TIMEOUT_S = 3.0
MAX_TRACKED_SESSIONS = 500  # sessions with live metric series; the least recently active beyond this are retired
WARN_EVERY_S = 60.0

# Names and attributes follow the Claude Code OpenTelemetry schema, which coding-agent dashboards already read.
TOKEN_USAGE = "claude_code.token.usage"
COST_USAGE = "claude_code.cost.usage"
COMMIT_COUNT = "claude_code.commit.count"
PULL_REQUEST_COUNT = "claude_code.pull_request.count"
LINES_OF_CODE = "claude_code.lines_of_code.count"
EDIT_DECISION = "claude_code.code_edit_tool.decision"
METRIC_UNITS: Mapping[str, tuple[str, str]] = {
    TOKEN_USAGE: ("tokens", "Tokens used, by model and type"),
    COST_USAGE: ("USD", "Cost of model calls, by model"),
    COMMIT_COUNT: ("1", "Git commits made by the agent"),
    PULL_REQUEST_COUNT: ("1", "Pull requests opened by the agent"),
    LINES_OF_CODE: ("1", "Lines of code added or removed by edit tools"),
    EDIT_DECISION: ("1", "Edit tool calls, by tool, language and decision"),
}
API_REQUEST_EVENT = "api_request"
SERVICE_NAME = "opencode"
SCOPE = ("opencode-kimchi", __version__)
SESSION_ATTR = "session.id"

Attributes = tuple[tuple[str, object], ...]


@dataclass(slots=True)
class _Series:
    start_ns: int
    value: int | float
    dirty: bool = True


class Telemetry:
    """Cumulative per-session metric series and a log queue, exported by one background thread.

    Every public method returns at once: `add` updates a table under a lock, `emit_log` enqueues (or drops and
    counts). A failed metric export keeps its series dirty, so the next flush resends the totals (cumulative
    series lose nothing); a failed log export drops and counts its records.
    """

    def __init__(
        self,
        config: TelemetryConfig,
        *,
        clock: Callable[[], float] = time.time,
        resource: Sequence[tuple[str, object]] = (),
    ) -> None:
        self.config = config
        self._clock = clock
        self._resource: Attributes = (("service.name", SERVICE_NAME),) + tuple(resource)
        self._logs: queue.Queue[tuple[int, int, str, Attributes]] = queue.Queue(maxsize=config.queue_size)
        self._lock = threading.Lock()
        self._series: dict[tuple[str, str, Attributes], _Series] = {}
        self._sessions: OrderedDict[str, None] = OrderedDict()
        self._ended: set[str] = set()
        self._metrics_due = False
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_warning: dict[str, float] = {}
        self.dropped_records = 0
        self.failed_exports = 0
        self.sent_records = 0
        self.sent_points = 0

    # hook side -----------------------------------------------------------------------------------------------------
    def emit_log(self, time_ns: int, attributes: Attributes, event: str = API_REQUEST_EVENT) -> bool:
        """Queue one log record; False when logs are not configured or the record was dropped."""
        if self.config.logs_endpoint is None:
            return False
        if self._stop.is_set():
            self._count_drop(1)
            return False
        self._ensure_thread()
        try:
            self._logs.put_nowait((time_ns, self._now_ns(), event, attributes))
        except queue.Full:
            self._count_drop(1)
            return False
        self._wake.set()
        return True

    def add(self, metric: str, session_id: str, attributes: Attributes, value: int | float) -> None:
        """Add a non-negative amount to one cumulative series of a session."""
        if self.config.metrics_endpoint is None or value <= 0:
            return
        key = (metric, session_id, attributes)
        with self._lock:
            series = self._series.get(key)
            if series is None:
                self._series[key] = _Series(self._now_ns(), value)
            else:
                series.value += value
                series.dirty = True
            self._sessions[session_id] = None
            self._sessions.move_to_end(session_id)
            while len(self._sessions) - len(self._ended) > MAX_TRACKED_SESSIONS:
                oldest = next(s for s in self._sessions if s not in self._ended)
                self._ended.add(oldest)
        self._ensure_thread()

    def flush(self) -> None:
        """Export metrics (and queued logs) now, in the background."""
        with self._lock:
            self._metrics_due = True
        self._wake.set()

    def end_session(self, session_id: str) -> None:
        """Send the session's final totals, then forget its series."""
        with self._lock:
            if session_id in self._sessions:
                self._ended.add(session_id)
        self.flush()

    def close(self, timeout: float = CLOSE_TIMEOUT_S) -> None:
        """Final export within `timeout`, then stop. Records still queued after that count as dropped."""
        thread = self._thread
        self._stop.set()
        self._wake.set()
        if thread is not None:
            thread.join(timeout)
        if thread is None or not thread.is_alive():
            self._count_drop(self._discard_queued())

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {
                "dropped_records": self.dropped_records,
                "failed_exports": self.failed_exports,
                "sent_records": self.sent_records,
                "sent_points": self.sent_points,
                "queued_records": self._logs.qsize(),
                "live_series": len(self._series),
            }

    # worker side ---------------------------------------------------------------------------------------------------
    def _now_ns(self) -> int:
        return int(self._clock() * 1e9)

    def _count_drop(self, count: int) -> None:
        if count <= 0:
            return
        with self._lock:
            self.dropped_records += count
            total = self.dropped_records
        self._warn("dropped", "telemetry records dropped", dropped_total=total)

    def _warn(self, topic: str, message: str, **fields: Any) -> None:
        now = time.monotonic()
        if now - self._last_warning.get(topic, -WARN_EVERY_S) >= WARN_EVERY_S:
            self._last_warning[topic] = now
            log.warning(message, **fields)

    def _ensure_thread(self) -> None:
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._run, name="kimchi-telemetry", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        import httpx

        try:
            otlp = importlib.import_module("kimchi_plugin.usage.otlp")
        except ImportError as exc:  # installed without the telemetry extra
            log.warning(
                "telemetry off: OTLP types unavailable (pip install 'kimchi-plugin[telemetry]')",
                error=type(exc).__name__,
            )
            self._stop.set()
            return
        timeout = httpx.Timeout(self.config.timeout_s, connect=min(CONNECT_TIMEOUT_S, self.config.timeout_s))
        headers = {**self.config.headers, "Content-Type": otlp.CONTENT_TYPE}
        with httpx.Client(timeout=timeout, headers=headers, follow_redirects=False) as client:
            next_metrics = time.monotonic() + self.config.flush_interval_s
            while True:
                self._wake.wait(max(next_metrics - time.monotonic(), 0.0))
                self._wake.clear()
                final = self._stop.is_set()
                try:
                    self._export_logs(client, otlp, final)
                    with self._lock:
                        due, self._metrics_due = self._metrics_due, False
                    if due or final or time.monotonic() >= next_metrics:
                        self._export_metrics(client, otlp, final)
                        next_metrics = time.monotonic() + self.config.flush_interval_s
                except Exception as exc:
                    self._warn("worker", "telemetry export error", error=type(exc).__name__)
                if final:
                    self._count_drop(self._discard_queued())
                    return

    def _discard_queued(self) -> int:
        count = 0
        while True:
            try:
                self._logs.get_nowait()
            except queue.Empty:
                return count
            count += 1

    def _export_logs(self, client: httpx.Client, otlp: Any, final: bool) -> None:
        while True:
            batch: list[tuple[int, int, str, Attributes]] = []
            while len(batch) < MAX_LOG_BATCH:
                try:
                    batch.append(self._logs.get_nowait())
                except queue.Empty:
                    break
            if not batch:
                return
            body = otlp.encode_logs(batch, resource=self._resource, scope=SCOPE)
            ok, rejected = self._post(client, otlp, "logs", self.config.logs_endpoint, body, final)
            if ok:
                with self._lock:
                    self.sent_records += len(batch) - rejected
            self._count_drop(rejected if ok else len(batch))

    def _export_metrics(self, client: httpx.Client, otlp: Any, final: bool) -> None:
        with self._lock:
            keys = [key for key, series in self._series.items() if series.dirty]
            points = []
            for key in keys:
                metric, session_id, attributes = key
                series = self._series[key]
                series.dirty = False
                points.append(
                    otlp.Point(metric, ((SESSION_ATTR, session_id),) + attributes, series.start_ns, series.value)
                )
            ended = set(self._ended)
        ok = True
        if points:
            body = otlp.encode_metrics(
                points, now_ns=self._now_ns(), units=METRIC_UNITS, resource=self._resource, scope=SCOPE
            )
            ok, _rejected = self._post(client, otlp, "metrics", self.config.metrics_endpoint, body, final)
        with self._lock:
            if ok:
                self.sent_points += len(points)
                self._forget(ended)
            else:
                for key in keys:
                    if key in self._series:
                        self._series[key].dirty = True

    def _forget(self, ended: set[str]) -> None:
        """Drop the series of ended sessions that have nothing unsent (caller holds the lock)."""
        for key in [k for k, s in self._series.items() if k[1] in ended and not s.dirty]:
            del self._series[key]
        for session_id in ended:
            if not any(k[1] == session_id for k in self._series):
                self._sessions.pop(session_id, None)
                self._ended.discard(session_id)

    def _post(
        self, client: httpx.Client, otlp: Any, kind: str, url: str | None, body: bytes, final: bool
    ) -> tuple[bool, int]:
        """POST with retries on transport errors and 429/502/503/504. Returns (delivered, rejected records)."""
        if url is None:
            return False, 0
        attempts = 1 if final else self.config.max_attempts
        problem = ""
        for attempt in range(attempts):
            if attempt and self._stop.wait(min(self.config.backoff_s * 2 ** (attempt - 1), BACKOFF_MAX_S)):
                break  # shutting down: the final pass makes one more attempt
            try:
                response = client.post(url, content=body)
            except client_errors() as exc:
                problem = type(exc).__name__
                continue
            if 200 <= response.status_code < 300:
                return True, otlp.rejected_count(kind, response.content)
            problem = f"HTTP {response.status_code}"
            if response.status_code not in RETRYABLE_STATUS:
                break
        with self._lock:
            self.failed_exports += 1
        self._warn(f"export-{kind}", "telemetry export failed", kind=kind, problem=problem)
        return False, 0


def client_errors() -> type[Exception]:
    """httpx's base error class (imported lazily, like httpx itself)."""
    import httpx

    return httpx.HTTPError
