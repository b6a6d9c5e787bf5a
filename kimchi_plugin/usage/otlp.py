"""OTLP/HTTP protobuf encoding of our log records and cumulative sums, with the official opentelemetry-proto types.

Imported only by the telemetry worker, so nothing here is loaded while telemetry is off.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import SEVERITY_NUMBER_INFO, LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    AGGREGATION_TEMPORALITY_CUMULATIVE,
    Metric,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

CONTENT_TYPE = "application/x-protobuf"
Attributes = Sequence[tuple[str, object]]


@dataclass(frozen=True, slots=True)
class Point:
    """One cumulative data point: the series total since `start_ns`."""

    metric: str
    attributes: Attributes
    start_ns: int
    value: int | float


def _any(value: object) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    return AnyValue(string_value=str(value))


def _attributes(pairs: Iterable[tuple[str, object]]) -> list[KeyValue]:
    return [KeyValue(key=key, value=_any(value)) for key, value in pairs if value is not None]


def encode_logs(
    records: Iterable[tuple[int, int, str, Attributes]],
    *,
    resource: Attributes,
    scope: tuple[str, str],
) -> bytes:
    """Records as (time_ns, observed_ns, event name, attributes) → ExportLogsServiceRequest bytes."""
    log_records = [
        LogRecord(
            time_unix_nano=time_ns,
            observed_time_unix_nano=observed_ns,
            severity_number=SEVERITY_NUMBER_INFO,
            severity_text="INFO",
            event_name=name,
            body=AnyValue(string_value=name),
            attributes=_attributes(attrs),
        )
        for time_ns, observed_ns, name, attrs in records
    ]
    request = ExportLogsServiceRequest(
        resource_logs=[
            ResourceLogs(
                resource=Resource(attributes=_attributes(resource)),
                scope_logs=[
                    ScopeLogs(scope=InstrumentationScope(name=scope[0], version=scope[1]), log_records=log_records)
                ],
            )
        ]
    )
    return bytes(request.SerializeToString())


def encode_metrics(
    points: Iterable[Point],
    *,
    now_ns: int,
    units: Mapping[str, tuple[str, str]],
    resource: Attributes,
    scope: tuple[str, str],
) -> bytes:
    """Cumulative monotonic sums, one Metric per name. `units` maps name → (unit, description)."""
    by_metric: dict[str, list[NumberDataPoint]] = {}
    for point in points:
        data = NumberDataPoint(
            start_time_unix_nano=point.start_ns,
            time_unix_nano=now_ns,
            attributes=_attributes(point.attributes),
        )
        if isinstance(point.value, int):
            data.as_int = point.value
        else:
            data.as_double = point.value
        by_metric.setdefault(point.metric, []).append(data)
    metrics = []
    for name, data_points in by_metric.items():
        unit, description = units.get(name, ("1", ""))
        metrics.append(
            Metric(
                name=name,
                unit=unit,
                description=description,
                sum=Sum(
                    data_points=data_points,
                    aggregation_temporality=AGGREGATION_TEMPORALITY_CUMULATIVE,
                    is_monotonic=True,
                ),
            )
        )
    request = ExportMetricsServiceRequest(
        resource_metrics=[
            ResourceMetrics(
                resource=Resource(attributes=_attributes(resource)),
                scope_metrics=[
                    ScopeMetrics(scope=InstrumentationScope(name=scope[0], version=scope[1]), metrics=metrics)
                ],
            )
        ]
    )
    return bytes(request.SerializeToString())


def rejected_count(kind: str, body: bytes) -> int:
    """Records the receiver rejected (OTLP partial success); 0 when the body says nothing or is not protobuf."""
    response = ExportLogsServiceResponse() if kind == "logs" else ExportMetricsServiceResponse()
    try:
        response.ParseFromString(body)
    except Exception:
        return 0
    if kind == "logs":
        return response.partial_success.rejected_log_records
    return response.partial_success.rejected_data_points
