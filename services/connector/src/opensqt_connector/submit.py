"""The SubmitOrders bidi stream: pipelined order entry with in-order answers.

Requests are handled concurrently (a slow venue answer does not hold up the next
order), up to `max_in_flight` at a time; beyond that the stream stops reading and
gRPC flow control pushes back on the client. Answers leave in request order, one
per request. Requests naming the same order (a place then a cancel of one client
order id) run one after the other. A failed request becomes an answer carrying an
`opensqt.common.v1.Error`; the stream goes on.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping
from contextlib import AbstractContextManager, nullcontext

from opentelemetry import propagate, trace

from opensqt.exchange.v1 import exchange_service_pb2 as pb
from opensqt_common.errors import InvalidArgument, ServiceError, internal_error
from opensqt_common.logging import get_logger
from opensqt_connector import convert, requests
from opensqt_connector.orders import OrderEntry

_log = get_logger(__name__)
_tracer = trace.get_tracer("opensqt.connector")

DEFAULT_MAX_IN_FLIGHT = 256
_MAX_LABEL = 64


class SubmitSession:
    """Serves one SubmitOrders call."""

    def __init__(
        self,
        entry: OrderEntry,
        markets: Callable[[], requests.Markets],
        *,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
    ) -> None:
        self._entry = entry
        self._markets = markets
        self._max_in_flight = max_in_flight
        self._last_by_key: dict[str, asyncio.Future[pb.SubmitOrdersResponse]] = {}

    async def run(
        self, incoming: AsyncIterable[pb.SubmitOrdersRequest]
    ) -> AsyncIterator[pb.SubmitOrdersResponse]:
        answers: asyncio.Queue[asyncio.Future[pb.SubmitOrdersResponse] | None] = asyncio.Queue(
            self._max_in_flight
        )
        reader = asyncio.ensure_future(self._read(incoming, answers))
        try:
            while True:
                answer = await answers.get()
                if answer is None:
                    break
                yield await answer
            await reader
        finally:
            reader.cancel()

    async def _read(
        self,
        incoming: AsyncIterable[pb.SubmitOrdersRequest],
        answers: asyncio.Queue[asyncio.Future[pb.SubmitOrdersResponse] | None],
    ) -> None:
        try:
            async for request in incoming:
                key = _key(request)
                previous = self._last_by_key.get(key) if key else None
                answer = asyncio.ensure_future(self._answer(request, previous))
                if key:
                    self._last_by_key[key] = answer
                    answer.add_done_callback(functools.partial(self._forget, key))
                await answers.put(answer)
        finally:
            await answers.put(None)

    def _forget(self, key: str, done: asyncio.Future[pb.SubmitOrdersResponse]) -> None:
        if self._last_by_key.get(key) is done:
            del self._last_by_key[key]

    async def _answer(
        self,
        request: pb.SubmitOrdersRequest,
        previous: asyncio.Future[pb.SubmitOrdersResponse] | None,
    ) -> pb.SubmitOrdersResponse:
        if previous is not None:
            await asyncio.wait((previous,))
        label = _key(request)[:_MAX_LABEL]
        try:
            return await self._handle(request, label)
        except ServiceError as exc:
            return pb.SubmitOrdersResponse(client_order_id=label, error=exc.to_proto())
        except Exception as exc:
            _log.exception("submit_orders_request_failed", client_order_id=label)
            return pb.SubmitOrdersResponse(client_order_id=label, error=internal_error(exc).to_proto())

    async def _handle(self, request: pb.SubmitOrdersRequest, label: str) -> pb.SubmitOrdersResponse:
        action = request.WhichOneof("action")
        if action == "place":
            place = requests.place_order(request.place, self._markets(), path="place.")
            with _span("SubmitOrders.place", request.place.trace_context):
                result = await self._entry.place(place, entry="stream")
            return pb.SubmitOrdersResponse(
                client_order_id=label, order=convert.order_to_proto(result.order), existing=result.existing
            )
        if action == "cancel":
            ref = requests.cancel_order(request.cancel, self._markets(), path="cancel.")
            with _span("SubmitOrders.cancel", request.cancel.trace_context):
                order = await self._entry.cancel(ref)
            return pb.SubmitOrdersResponse(client_order_id=label, order=convert.order_to_proto(order))
        raise InvalidArgument("action", "place or cancel is required")


def _key(request: pb.SubmitOrdersRequest) -> str:
    action = request.WhichOneof("action")
    if action == "place":
        return request.place.client_order_id
    if action == "cancel":
        return request.cancel.client_order_id or request.cancel.order_id
    return ""


def _span(name: str, carrier: Mapping[str, str]) -> AbstractContextManager[object]:
    """A span continuing the caller's W3C trace context; none when the caller sent none."""
    if not carrier:
        return nullcontext()
    return _tracer.start_as_current_span(name, context=propagate.extract(dict(carrier)))
