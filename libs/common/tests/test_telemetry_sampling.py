"""Spans are recorded only when something exports them (or OTEL_TRACES_SAMPLER asks)."""

from __future__ import annotations

from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from opensqt_common.telemetry import setup_telemetry
from opensqt_common.trace_file import TRACE_FILE_ENV

OTLP_ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT"
SAMPLER_ENV = "OTEL_TRACES_SAMPLER"


@pytest.fixture(autouse=True)
def no_exporting_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (TRACE_FILE_ENV, OTLP_ENDPOINT_ENV, SAMPLER_ENV):
        monkeypatch.delenv(name, raising=False)


def _records_spans(**kwargs: object) -> bool:
    telemetry = setup_telemetry("opensqt-test", install_global=False, **kwargs)  # type: ignore[arg-type]
    try:
        span = telemetry.tracer_provider.get_tracer("test").start_span("probe")
        recording = span.is_recording()
        span.end()
        return recording
    finally:
        telemetry.shutdown()


def test_nothing_is_recorded_when_nothing_exports_spans() -> None:
    assert not _records_spans()


def test_spans_are_recorded_for_an_exporter() -> None:
    exporter = InMemorySpanExporter()
    assert _records_spans(span_exporters=[exporter])
    assert [span.name for span in exporter.get_finished_spans()] == ["probe"]


def test_spans_are_recorded_for_the_trace_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(TRACE_FILE_ENV, str(tmp_path / "{service}.jsonl"))
    assert _records_spans()
    assert "probe" in (tmp_path / "opensqt-test.jsonl").read_text()


def test_an_explicit_sampler_is_obeyed_even_without_an_exporter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SAMPLER_ENV, "always_on")
    assert _records_spans()
