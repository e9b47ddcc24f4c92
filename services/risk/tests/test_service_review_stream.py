"""The ReviewOrders stream under a pipelined client: in order, one answer per intent, bad
input answered without ending the stream, exact metrics, per-intent spans only."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from opentelemetry.instrumentation.grpc import aio_server_interceptor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from risk_service_support import BTC, running_stack  # type: ignore[import-not-found]  # on sys.path under pytest only

import opensqt_common.server
from opensqt.risk.v1 import risk_service_pb2 as pb
from opensqt.risk.v1 import types_pb2 as risk_pb2
from opensqt_risk.runtime import SPAN_REVIEW
from opensqt_risk.testing import ReviewSession, intent

CONFIG = {
    "limits": {
        "max_order_quantity": "1",
        "max_position": "1000",
        "max_order_notional": "100000000",
        "max_open_orders": 100000,
        "max_order_rate": "1000000",
    },
    "crash_detector": {"enabled": False},
}
BURST = 250
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def _request(index: int) -> tuple[pb.ReviewOrdersRequest, str, str]:
    """The index-th request of a burst, the client order id it is answered with, and the outcome."""
    coid = f"k{index}"
    kind = index % 5
    if kind == 1:
        malformed = intent(coid, BTC, "buy", "0.001", "60000")
        malformed.ClearField("quantity")
        return pb.ReviewOrdersRequest(intent=malformed), coid, "VETO_REASON_INVALID_INTENT"
    if kind == 2:
        return pb.ReviewOrdersRequest(), "", "VETO_REASON_INVALID_INTENT"
    if kind == 3:
        too_big = intent(coid, BTC, "buy", "2", "60000")
        return pb.ReviewOrdersRequest(intent=too_big), coid, "VETO_REASON_MAX_QUANTITY"
    return pb.ReviewOrdersRequest(intent=intent(coid, BTC, "buy", "0.001", "60000")), coid, "APPROVED"


def _outcome(decision: risk_pb2.RiskDecision) -> str:
    return "APPROVED" if decision.approved else risk_pb2.VetoReason.Name(decision.reason)


def _points(reader: InMemoryMetricReader, name: str) -> list[object]:
    data = reader.get_metrics_data()
    assert data is not None
    return [
        point
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == name
        for point in metric.data.data_points
    ]


async def test_a_pipelined_burst_is_answered_in_order_one_decision_per_intent(tmp_path: Path) -> None:
    reader = InMemoryMetricReader()
    async with running_stack(
        tmp_path, config=CONFIG, meter_provider=MeterProvider(metric_readers=[reader])
    ) as stack:
        call = stack.risk.stub.ReviewOrders()
        burst = [_request(index) for index in range(BURST)]
        # Every intent is written before any decision is read.
        for request, _, _ in burst:
            await call.write(request)
        answers = []
        for _ in burst:
            response = await call.read()
            assert isinstance(response, pb.ReviewOrdersResponse)
            answers.append((response.decision.client_order_id, _outcome(response.decision)))
        assert answers == [(coid, outcome) for _, coid, outcome in burst]

        # The stream is still up after the malformed ones, and ends cleanly when the client does.
        session = ReviewSession(call)
        assert (await session.review(intent("after", BTC, "buy", "0.001", "60000"))).approved
        await call.done_writing()
        assert await call.read() is grpc.aio.EOF
        assert await call.code() is grpc.StatusCode.OK

    counted = {
        (point.attributes["approved"], point.attributes["reason"]): point.value  # type: ignore[attr-defined]
        for point in _points(reader, "opensqt.risk.decisions")
    }
    assert counted == {
        ("true", "NONE"): 2 * BURST // 5 + 1,
        ("false", "INVALID_INTENT"): 2 * BURST // 5,
        ("false", "MAX_QUANTITY"): BURST // 5,
    }
    (latency,) = _points(reader, "opensqt.risk.review_latency")
    assert latency.count == BURST + 1  # type: ignore[attr-defined]


async def test_a_client_that_cancels_mid_burst_leaves_the_service_serving(tmp_path: Path) -> None:
    async with running_stack(tmp_path, config=CONFIG) as stack:
        call = stack.risk.stub.ReviewOrders()
        for index in range(BURST):
            await call.write(_request(index)[0])
        for _ in range(10):
            assert isinstance(await call.read(), pb.ReviewOrdersResponse)
        call.cancel()
        session = await stack.risk.review_session()
        assert (await session.review(intent("next", BTC, "buy", "0.001", "60000"))).approved
        await session.close()


async def test_review_orders_gets_per_intent_spans_and_no_stream_span(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    # The scaffold's OpenTelemetry server interceptor, recording into this test's provider.
    interceptor = aio_server_interceptor(tracer_provider=provider)
    monkeypatch.setattr(opensqt_common.server, "server_interceptors", lambda: [interceptor])
    async with running_stack(tmp_path, config=CONFIG, tracer_provider=provider) as stack:
        session = await stack.risk.review_session()
        traced = intent("t1", BTC, "buy", "0.001", "60000", trace_context={"traceparent": TRACEPARENT})
        assert (await session.review(traced)).approved
        assert (await session.review(intent("u1", BTC, "buy", "0.001", "60000"))).approved
        await session.close()
        await stack.risk.stub.GetLimits(pb.GetLimitsRequest(symbol=BTC))
    names = [span.name for span in exporter.get_finished_spans()]
    # Unary calls keep the interceptor's span; the stream gets none, each traced intent its own.
    assert "/opensqt.risk.v1.RiskService/GetLimits" in names
    assert not [name for name in names if name.endswith("/ReviewOrders")]
    (review,) = [span for span in exporter.get_finished_spans() if span.name == SPAN_REVIEW]
    assert review.attributes is not None
    assert review.attributes["opensqt.client_order_id"] == "t1"
    assert format(review.context.trace_id, "032x") == TRACEPARENT.split("-")[1]
