"""Per-order spans: one trace per order across the engine, risk and the connector.

An order request carries its caller's W3C trace context in `trace_context`
(the SubmitOrders stream is long-lived, so the stream's own context says nothing
about one order). The connector continues that context with

    connector.submit_order  (or connector.cancel_order)    one per request
      venue.place_order     (or venue.cancel_order)        around the venue call, retries included

A unary PlaceOrder without `trace_context` continues the call's own context (the
gRPC server span, itself continuing the client's metadata). A stream request
without one gets no span: a root trace per order nobody asked to trace would only
be noise. Venue spans are made only under an order span, for the same reason.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar

from opentelemetry import propagate, trace

from opensqt_connector.models import OrderInfo

TRACER_NAME = "opensqt.connector"
SPAN_SUBMIT = "connector.submit_order"
SPAN_CANCEL = "connector.cancel_order"
SPAN_VENUE_PLACE = "venue.place_order"
SPAN_VENUE_CANCEL = "venue.cancel_order"

ATTR_CLIENT_ORDER_ID = "opensqt.client_order_id"
ATTR_ORDER_ID = "opensqt.order_id"
ATTR_SYMBOL = "opensqt.symbol"
ATTR_SIDE = "opensqt.side"
ATTR_VENUE = "opensqt.venue"
ATTR_ENTRY = "opensqt.entry"
ATTR_STATUS = "opensqt.order_status"
ATTR_EXISTING = "opensqt.existing"

# Set while an order span is current, so that venue spans are made under an order
# span only, never under a SubmitOrders stream's long-lived server span.
_in_order_span: ContextVar[bool] = ContextVar("opensqt_connector_in_order_span", default=False)


class OrderTracer:
    """Starts the connector's order spans on one tracer."""

    def __init__(self, venue: str, provider: trace.TracerProvider | None = None) -> None:
        self.venue = venue
        self._tracer = (provider or trace.get_tracer_provider()).get_tracer(TRACER_NAME)

    @contextmanager
    def request(
        self,
        name: str,
        carrier: Mapping[str, str],
        *,
        client_order_id: str,
        entry: str,
        inherit: bool,
    ) -> Iterator[trace.Span | None]:
        """The span of one order request: a child of `carrier`'s context when it has one,
        else (when `inherit`) of the current span, else none."""
        if carrier:
            parent = propagate.extract(dict(carrier))
        elif inherit and trace.get_current_span().get_span_context().is_valid:
            parent = None
        else:
            yield None
            return
        attributes = {ATTR_CLIENT_ORDER_ID: client_order_id, ATTR_VENUE: self.venue, ATTR_ENTRY: entry}
        with self._tracer.start_as_current_span(name, context=parent, attributes=attributes) as span:
            token = _in_order_span.set(True)
            try:
                yield span
            finally:
                _in_order_span.reset(token)

    @contextmanager
    def venue_call(self, name: str, *, client_order_id: str) -> Iterator[trace.Span | None]:
        """The span of one venue call, a child of the current order span; none without one."""
        if not _in_order_span.get():
            yield None
            return
        attributes = {ATTR_CLIENT_ORDER_ID: client_order_id, ATTR_VENUE: self.venue}
        with self._tracer.start_as_current_span(
            name, kind=trace.SpanKind.CLIENT, attributes=attributes
        ) as span:
            yield span


def annotate(span: trace.Span | None, order: OrderInfo, *, existing: bool = False) -> None:
    """Record the venue's answer on an order or venue span."""
    if span is None or not span.is_recording():
        return
    span.set_attributes(
        {
            ATTR_ORDER_ID: order.order_id,
            ATTR_SYMBOL: order.symbol,
            ATTR_SIDE: order.side.value,
            ATTR_STATUS: order.status.value,
            ATTR_EXISTING: existing,
        }
    )
