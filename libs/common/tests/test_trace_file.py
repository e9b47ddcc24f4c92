"""The JSON-lines span file (OPENSQT_TRACE_FILE) that setup_telemetry adds for debugging and tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.trace import SpanKind, StatusCode

from opensqt_common.telemetry import setup_telemetry
from opensqt_common.trace_file import TRACE_FILE_ENV, JsonLinesSpanExporter, read_trace_file


def test_setup_telemetry_writes_each_finished_span_to_the_service_s_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.setenv(TRACE_FILE_ENV, str(tmp_path / "traces" / "{service}.jsonl"))
    telemetry = setup_telemetry("opensqt-test", install_global=False)
    tracer = telemetry.tracer_provider.get_tracer("test")
    with tracer.start_as_current_span("outer", attributes={"opensqt.client_order_id": "c1"}) as outer:
        with tracer.start_as_current_span("inner", kind=SpanKind.CLIENT, attributes={"sizes": [1, 2]}):
            pass
        outer.set_status(StatusCode.ERROR)
    path = tmp_path / "traces" / "opensqt-test.jsonl"
    inner, outer_record = read_trace_file(path)  # written as each span ends
    telemetry.shutdown()

    assert (inner.name, outer_record.name) == ("inner", "outer")
    assert inner.trace_id == outer_record.trace_id
    assert len(inner.trace_id) == 32
    assert inner.parent_span_id == outer_record.span_id
    assert outer_record.parent_span_id is None
    assert len(outer_record.span_id) == 16
    assert inner.kind == "CLIENT"
    assert inner.attributes == {"sizes": [1, 2]}
    assert outer_record.attributes == {"opensqt.client_order_id": "c1"}
    assert outer_record.status == "ERROR"
    assert inner.status == "UNSET"
    assert {inner.service, outer_record.service} == {"opensqt-test"}
    assert outer_record.start_ns <= inner.start_ns <= inner.end_ns <= outer_record.end_ns


def test_without_the_variable_no_file_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TRACE_FILE_ENV, raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.chdir(tmp_path)
    telemetry = setup_telemetry("opensqt-test", install_global=False)
    with telemetry.tracer_provider.get_tracer("test").start_as_current_span("quiet"):
        pass
    telemetry.shutdown()
    assert list(tmp_path.iterdir()) == []


def test_an_absent_file_holds_no_spans_and_a_closed_exporter_refuses(tmp_path: Path) -> None:
    assert read_trace_file(tmp_path / "none.jsonl") == []
    exporter = JsonLinesSpanExporter(tmp_path / "spans.jsonl")
    exporter.shutdown()
    assert exporter.export([]) is SpanExportResult.FAILURE
