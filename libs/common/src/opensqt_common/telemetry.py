"""OpenTelemetry bootstrap for a service process.

Traces and metrics go through the OpenTelemetry API only; this module installs the
SDK. Spans are exported over OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, and to
any extra exporter a caller passes (tests use an in-memory one); otherwise tracing
is a cheap no-op sampler-less provider. Metrics are served for Prometheus on
`metrics_port` when given, and exported over OTLP when the endpoint is set.

For debugging and tests, `OPENSQT_TRACE_FILE=<path>` also writes every finished
span to a JSON-lines file (see `opensqt_common.trace_file`); `{service}` in the
path is replaced by the service name, so one setting serves several processes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import grpc
from opentelemetry import metrics, trace
from opentelemetry.instrumentation.grpc import aio_client_interceptors, aio_server_interceptor
from opentelemetry.sdk.environment_variables import OTEL_TRACES_SAMPLER
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, Sampler

from opensqt_common.trace_file import TRACE_FILE_ENV, JsonLinesSpanExporter, trace_file_path

OTLP_ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT"


@dataclass
class Telemetry:
    """Handles to what `setup_telemetry` installed, for shutdown and for tests."""

    service: str
    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    metrics_port: int | None = None
    readers: list[MetricReader] = field(default_factory=list)

    def shutdown(self) -> None:
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


def otlp_enabled() -> bool:
    return bool(os.environ.get(OTLP_ENDPOINT_ENV))


def _sampler(*, exporting: bool) -> Sampler | None:
    """No span is recorded when none would be exported, unless `OTEL_TRACES_SAMPLER` says
    otherwise: a recorded span costs tens of microseconds per order on the hot path, for
    nobody. Unsampled orders carry no trace context, so the other services make no span
    for them either. None: the SDK's choice (`OTEL_TRACES_SAMPLER`, else parent-based
    always-on)."""
    if exporting or os.environ.get(OTEL_TRACES_SAMPLER):
        return None
    return ALWAYS_OFF


def setup_telemetry(
    service: str,
    *,
    metrics_port: int | None = None,
    span_exporters: Sequence[SpanExporter] = (),
    install_global: bool = True,
) -> Telemetry:
    resource = Resource.create({"service.name": service, "service.namespace": "opensqt"})
    processors: list[SpanProcessor] = [SimpleSpanProcessor(exporter) for exporter in span_exporters]
    trace_file = os.environ.get(TRACE_FILE_ENV)
    if trace_file:
        processors.append(SimpleSpanProcessor(JsonLinesSpanExporter(trace_file_path(trace_file, service))))
    if otlp_enabled():
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        processors.append(BatchSpanProcessor(OTLPSpanExporter()))
    tracer_provider = TracerProvider(resource=resource, sampler=_sampler(exporting=bool(processors)))
    for processor in processors:
        tracer_provider.add_span_processor(processor)
    readers: list[MetricReader] = []
    bound_port: int | None = None
    if otlp_enabled():
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

        readers.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
    if metrics_port is not None:
        from opentelemetry.exporter.prometheus import PrometheusMetricReader
        from prometheus_client import start_http_server

        readers.append(PrometheusMetricReader())
        server, _thread = start_http_server(
            metrics_port, addr=os.environ.get("OPENSQT_METRICS_HOST", "0.0.0.0")
        )
        bound_port = int(server.server_port)
    meter_provider = MeterProvider(resource=resource, metric_readers=readers)
    if install_global:
        trace.set_tracer_provider(tracer_provider)
        metrics.set_meter_provider(meter_provider)
    return Telemetry(service, tracer_provider, meter_provider, bound_port, readers)


def server_interceptors() -> list[grpc.aio.ServerInterceptor]:
    """OpenTelemetry's gRPC server interceptor (uses the global tracer provider)."""
    return [aio_server_interceptor()]  # type: ignore[no-untyped-call]


def client_interceptors() -> list[grpc.aio.ClientInterceptor]:
    """OpenTelemetry's gRPC client interceptors, for every channel a service opens."""
    return list(aio_client_interceptors())  # type: ignore[no-untyped-call]
