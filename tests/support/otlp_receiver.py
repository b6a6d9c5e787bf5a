"""A real OTLP/HTTP receiver on 127.0.0.1 for tests: decodes protobuf export requests with opentelemetry-proto,
counts TCP connections, and can be made slow or failing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

LOGS_PATH = "/v1/logs"
METRICS_PATH = "/v1/metrics"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    message: Any  # the decoded export request


def any_value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


def attributes(kvs: Any) -> dict[str, Any]:
    return {kv.key: any_value(kv.value) for kv in kvs}


class OtlpReceiver:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.connections = 0
        self.delay_s = 0.0
        self.status = 200
        self.fail_times = 0  # answer 503 this many times first
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        receiver = self

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def get_request(self):  # one call per accepted TCP connection
                conn = super().get_request()
                with receiver._lock:
                    receiver.connections += 1
                return conn

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if receiver.delay_s:
                    time.sleep(receiver.delay_s)
                with receiver._lock:
                    status = receiver.status
                    if receiver.fail_times > 0:
                        receiver.fail_times -= 1
                        status = 503
                message: Any = None
                if status == 200:
                    message = ExportLogsServiceRequest() if self.path == LOGS_PATH else ExportMetricsServiceRequest()
                    message.ParseFromString(body)
                    with receiver._changed:
                        receiver.received.append(Received(self.path, dict(self.headers), body, message))
                        receiver._changed.notify_all()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._server = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def logs_url(self) -> str:
        return self.base + LOGS_PATH

    @property
    def metrics_url(self) -> str:
        return self.base + METRICS_PATH

    def __enter__(self) -> OtlpReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def wait_for(self, predicate: Callable[[OtlpReceiver], bool], timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate(self):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
        return True

    # decoded views -------------------------------------------------------------------------------------------------
    def log_records(self) -> list[dict[str, Any]]:
        """Every received log record as {time, observed, severity, event, body, attrs, resource, scope}."""
        out = []
        for item in list(self.received):
            if item.path != LOGS_PATH:
                continue
            for rl in item.message.resource_logs:
                for sl in rl.scope_logs:
                    for rec in sl.log_records:
                        out.append(
                            {
                                "time": rec.time_unix_nano,
                                "observed": rec.observed_time_unix_nano,
                                "severity": rec.severity_number,
                                "severity_text": rec.severity_text,
                                "event": rec.event_name,
                                "body": any_value(rec.body),
                                "attrs": attributes(rec.attributes),
                                "resource": attributes(rl.resource.attributes),
                                "scope": (sl.scope.name, sl.scope.version),
                            }
                        )
        return out

    def metric_points(self) -> list[dict[str, Any]]:
        """Every received data point as {name, unit, temporality, monotonic, start, time, value, attrs}, in order."""
        out = []
        for item in list(self.received):
            if item.path != METRICS_PATH:
                continue
            for rm in item.message.resource_metrics:
                for sm in rm.scope_metrics:
                    for metric in sm.metrics:
                        for dp in metric.sum.data_points:
                            out.append(
                                {
                                    "name": metric.name,
                                    "unit": metric.unit,
                                    "temporality": metric.sum.aggregation_temporality,
                                    "monotonic": metric.sum.is_monotonic,
                                    "start": dp.start_time_unix_nano,
                                    "time": dp.time_unix_nano,
                                    "value": dp.as_int if dp.WhichOneof("value") == "as_int" else dp.as_double,
                                    "attrs": attributes(dp.attributes),
                                }
                            )
        return out

    def latest(self) -> dict[tuple, Any]:
        """Latest cumulative value per (metric, sorted attributes)."""
        values: dict[tuple, Any] = {}
        for point in self.metric_points():
            values[(point["name"], tuple(sorted(point["attrs"].items())))] = point["value"]
        return values

    def as_json(self, item: Received) -> dict[str, Any]:
        return MessageToDict(item.message)
