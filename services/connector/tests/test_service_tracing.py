"""Per-order spans: `connector.submit_order` continues the caller's trace context and
`venue.place_order` wraps the venue call (opensqt_connector.tracing)."""

from __future__ import annotations

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from opensqt.common.v1 import common_pb2
from opensqt.exchange.v1 import exchange_service_pb2 as pb
from opensqt_connector.testing import SYMBOL, limit_order, running_connector
from opensqt_connector.tracing import SPAN_CANCEL, SPAN_SUBMIT, SPAN_VENUE_CANCEL, SPAN_VENUE_PLACE

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
CARRIER = {"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"}


def _exporter() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def _named(exporter: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [span for span in exporter.get_finished_spans() if span.name == name]


def _hex_trace(span: ReadableSpan) -> str:
    assert span.context is not None
    return format(span.context.trace_id, "032x")


def _parent(span: ReadableSpan) -> str:
    assert span.parent is not None
    return format(span.parent.span_id, "016x")


def _id(span: ReadableSpan) -> str:
    assert span.context is not None
    return format(span.context.span_id, "016x")


async def test_a_streamed_order_continues_its_trace_context_down_to_the_venue_call() -> None:
    provider, exporter = _exporter()
    async with running_connector(tracer_provider=provider) as client:
        stream = client.exchange.SubmitOrders()
        place = limit_order("tr-1", "buy", "59000", "0.001")
        place.trace_context.update(CARRIER)
        await stream.write(pb.SubmitOrdersRequest(place=place))
        placed = await stream.read()
        assert isinstance(placed, pb.SubmitOrdersResponse)
        cancel = pb.CancelOrderRequest(symbol=SYMBOL, client_order_id="tr-1", trace_context=CARRIER)
        await stream.write(pb.SubmitOrdersRequest(cancel=cancel))
        canceled = await stream.read()
        assert isinstance(canceled, pb.SubmitOrdersResponse)
        assert canceled.order.status == common_pb2.ORDER_STATUS_CANCELED
        await stream.done_writing()

    (submit,) = _named(exporter, SPAN_SUBMIT)
    (venue,) = _named(exporter, SPAN_VENUE_PLACE)
    assert _hex_trace(submit) == _hex_trace(venue) == TRACE_ID
    assert _parent(submit) == PARENT_ID
    assert submit.parent is not None
    assert submit.parent.is_remote
    assert _parent(venue) == _id(submit)
    assert submit.attributes is not None
    assert submit.attributes["opensqt.client_order_id"] == "tr-1"
    assert submit.attributes["opensqt.entry"] == "stream"
    assert submit.attributes["opensqt.order_id"] == placed.order.order_id
    assert submit.attributes["opensqt.existing"] is False
    assert venue.attributes is not None
    assert venue.attributes["opensqt.venue"] == "sim"
    assert venue.attributes["opensqt.order_status"] == "new"

    (cancel_span,) = _named(exporter, SPAN_CANCEL)
    (venue_cancel,) = _named(exporter, SPAN_VENUE_CANCEL)
    assert _parent(cancel_span) == PARENT_ID
    assert _parent(venue_cancel) == _id(cancel_span)
    assert venue_cancel.attributes is not None
    assert venue_cancel.attributes["opensqt.order_status"] == "canceled"


async def test_a_refused_order_ends_its_spans_in_error() -> None:
    provider, exporter = _exporter()
    async with running_connector(tracer_provider=provider) as client:
        await client.set_price("60000")
        stream = client.exchange.SubmitOrders()
        crossing = limit_order("tr-2", "buy", "60100", "0.001", post_only=True)
        crossing.trace_context.update(CARRIER)
        await stream.write(pb.SubmitOrdersRequest(place=crossing))
        answer = await stream.read()
        assert isinstance(answer, pb.SubmitOrdersResponse)
        assert answer.error.reason == common_pb2.ERROR_REASON_POST_ONLY_WOULD_CROSS
        await stream.done_writing()
    (submit,) = _named(exporter, SPAN_SUBMIT)
    (venue,) = _named(exporter, SPAN_VENUE_PLACE)
    assert submit.status.status_code is StatusCode.ERROR
    assert venue.status.status_code is StatusCode.ERROR
    assert _parent(venue) == _id(submit)


async def test_stream_requests_without_trace_context_make_no_order_spans() -> None:
    provider, exporter = _exporter()
    async with running_connector(tracer_provider=provider) as client:
        stream = client.exchange.SubmitOrders()
        await stream.write(pb.SubmitOrdersRequest(place=limit_order("tr-3", "buy", "59000", "0.001")))
        answer = await stream.read()
        assert isinstance(answer, pb.SubmitOrdersResponse)
        assert answer.WhichOneof("result") == "order"
        await stream.done_writing()
    assert exporter.get_finished_spans() == ()


async def test_a_unary_order_with_trace_context_continues_it() -> None:
    provider, exporter = _exporter()
    async with running_connector(tracer_provider=provider) as client:
        request = limit_order("tr-4", "sell", "61000", "0.001")
        request.trace_context.update(CARRIER)
        placed = await client.exchange.PlaceOrder(request)
    (submit,) = _named(exporter, SPAN_SUBMIT)
    (venue,) = _named(exporter, SPAN_VENUE_PLACE)
    assert _parent(submit) == PARENT_ID
    assert _parent(venue) == _id(submit)
    assert submit.attributes is not None
    assert submit.attributes["opensqt.entry"] == "unary"
    assert submit.attributes["opensqt.order_id"] == placed.order.order_id
