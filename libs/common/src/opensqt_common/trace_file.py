"""A span exporter that appends one JSON line per finished span to a file.

A debugging and testing aid, not a production exporter: set `OPENSQT_TRACE_FILE`
to a path (`{service}` in it is replaced by the service name) and every span the
process finishes is written there at once, synchronously. Tests that run the
services as separate processes read the files back to check that one order's
spans form one trace across the processes; an operator without a collector can
do the same with `jq`.

Each line is an object with `trace_id` (32 hex digits), `span_id` (16),
`parent_span_id` (16, or null for a root span), `name`, `kind`, `service`
(the resource's `service.name`), `start_ns`, `end_ns`, `status` (`UNSET`, `OK`
or `ERROR`) and `attributes`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

TRACE_FILE_ENV = "OPENSQT_TRACE_FILE"
SERVICE_PLACEHOLDER = "{service}"


def trace_file_path(template: str, service: str) -> Path:
    """The file a service writes to: `template` with `{service}` replaced."""
    return Path(template.replace(SERVICE_PLACEHOLDER, service))


def _attribute(value: Any) -> Any:
    if isinstance(value, str | bool | int | float) or value is None:
        return value
    return [_attribute(item) for item in value]


def span_record(span: ReadableSpan) -> dict[str, Any]:
    """The JSON-ready record of one finished span."""
    context = span.context
    assert context is not None, "a finished SDK span has a context"
    parent = span.parent
    return {
        "trace_id": format(context.trace_id, "032x"),
        "span_id": format(context.span_id, "016x"),
        "parent_span_id": format(parent.span_id, "016x") if parent is not None else None,
        "name": span.name,
        "kind": span.kind.name,
        "service": span.resource.attributes.get("service.name"),
        "start_ns": span.start_time,
        "end_ns": span.end_time,
        "status": span.status.status_code.name,
        "attributes": {key: _attribute(value) for key, value in (span.attributes or {}).items()},
    }


class JsonLinesSpanExporter(SpanExporter):
    """Appends each exported span to `path` as one JSON line, flushed at once."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        text = "".join(json.dumps(span_record(span), separators=(",", ":")) + "\n" for span in spans)
        with self._lock:
            if self._file.closed:
                return SpanExportResult.FAILURE
            self._file.write(text)
            self._file.flush()
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        with self._lock:
            self._file.close()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


@dataclass(frozen=True, slots=True)
class SpanRecord:
    """One line of a trace file, read back."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: str
    service: str
    start_ns: int
    end_ns: int
    status: str
    attributes: Mapping[str, Any]

    @classmethod
    def from_json(cls, line: str) -> SpanRecord:
        return cls.from_record(json.loads(line))

    @classmethod
    def from_record(cls, raw: Mapping[str, Any]) -> SpanRecord:
        """From the mapping `span_record` makes (or one line of a trace file, parsed)."""
        return cls(
            trace_id=str(raw["trace_id"]),
            span_id=str(raw["span_id"]),
            parent_span_id=None if raw["parent_span_id"] is None else str(raw["parent_span_id"]),
            name=str(raw["name"]),
            kind=str(raw["kind"]),
            service=str(raw["service"]),
            start_ns=int(raw["start_ns"]),
            end_ns=int(raw["end_ns"]),
            status=str(raw["status"]),
            attributes=dict(raw["attributes"]),
        )


def read_trace_file(path: Path) -> list[SpanRecord]:
    """Every span written to `path` (an absent file holds none)."""
    if not path.exists():
        return []
    return [SpanRecord.from_json(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
