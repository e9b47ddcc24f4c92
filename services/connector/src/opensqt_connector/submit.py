"""The SubmitOrders bidi stream: pipelined order entry with in-order answers.

Requests are handled concurrently (a slow venue answer does not hold up the next
order), up to `max_in_flight` unanswered at a time; beyond that the stream stops
reading and gRPC flow control pushes back on the client. Answers leave in request
order, one per request. Requests naming the same order (a place then a cancel of one
client order id) run one after the other. A failed request becomes an answer carrying
an `opensqt.common.v1.Error`; the stream goes on.

One coroutine reads: each request is handled at once, in the reader's step, until it
first waits (on the venue), and goes on as a task of its own from there; an order is on
its way to the venue without an event-loop hop after its bytes arrive. A writer task hands the
answers to gRPC with `context.write`, in order, while the reader goes on reading (a
`yield` per answer would put gRPC's send completion between two reads).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterable, Awaitable, Callable

from opensqt.exchange.v1 import exchange_service_pb2 as pb
from opensqt_common.eager import start_eagerly
from opensqt_common.errors import InvalidArgument, ServiceError, internal_error
from opensqt_common.logging import get_logger
from opensqt_connector import convert, requests, tracing
from opensqt_connector.orders import OrderEntry

_log = get_logger(__name__)

DEFAULT_MAX_IN_FLIGHT = 256
ENTRY = "stream"
_MAX_LABEL = 64

Answer = asyncio.Future[pb.SubmitOrdersResponse]
Write = Callable[[pb.SubmitOrdersResponse], Awaitable[None]]


class SubmitSession:
    """Serves one SubmitOrders call."""

    def __init__(
        self,
        entry: OrderEntry,
        markets: Callable[[], requests.Markets],
        tracer: tracing.OrderTracer,
        *,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
    ) -> None:
        self._entry = entry
        self._markets = markets
        self._tracer = tracer
        self._max_in_flight = max_in_flight
        self._last_by_key: dict[str, Answer] = {}

    async def serve(self, incoming: AsyncIterable[pb.SubmitOrdersRequest], write: Write) -> None:
        """Answer every request read from `incoming` through `write`, in order; return once
        the last answer is written. A failed write ends the session with its error."""
        loop = asyncio.get_running_loop()
        answers: asyncio.Queue[Answer | None] = asyncio.Queue(self._max_in_flight)
        writer = loop.create_task(_write_in_order(answers, write))
        try:
            async for request in incoming:
                key = _key(request)
                previous = self._last_by_key.get(key) if key else None
                answer = start_eagerly(self._answer(request, previous))
                if key:
                    self._last_by_key[key] = answer
                    answer.add_done_callback(functools.partial(self._forget, key))
                await _enqueue(answers, answer, writer)
            await _enqueue(answers, None, writer)
            await writer
        finally:
            if not writer.done():
                writer.cancel()

    def _forget(self, key: str, done: Answer) -> None:
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
            with self._tracer.request(
                tracing.SPAN_SUBMIT,
                request.place.trace_context,
                client_order_id=label,
                entry=ENTRY,
                inherit=False,
            ) as span:
                place = requests.place_order(request.place, self._markets(), path="place.")
                result = await self._entry.place(place, entry=ENTRY)
                tracing.annotate(span, result.order, existing=result.existing)
            return pb.SubmitOrdersResponse(
                client_order_id=label, order=convert.order_to_proto(result.order), existing=result.existing
            )
        if action == "cancel":
            with self._tracer.request(
                tracing.SPAN_CANCEL,
                request.cancel.trace_context,
                client_order_id=label,
                entry=ENTRY,
                inherit=False,
            ) as span:
                ref = requests.cancel_order(request.cancel, self._markets(), path="cancel.")
                order = await self._entry.cancel(ref)
                tracing.annotate(span, order)
            return pb.SubmitOrdersResponse(client_order_id=label, order=convert.order_to_proto(order))
        raise InvalidArgument("action", "place or cancel is required")


def _key(request: pb.SubmitOrdersRequest) -> str:
    action = request.WhichOneof("action")
    if action == "place":
        return request.place.client_order_id
    if action == "cancel":
        return request.cancel.client_order_id or request.cancel.order_id
    return ""


async def _write_in_order(answers: asyncio.Queue[Answer | None], write: Write) -> None:
    while True:
        answer = await answers.get()
        if answer is None:
            return
        await write(await answer)


async def _enqueue(
    answers: asyncio.Queue[Answer | None], item: Answer | None, writer: asyncio.Task[None]
) -> None:
    """Queue `item` for the writer; wait while `max_in_flight` answers are unwritten. Raises
    the writer's error if it has stopped (nothing would write the answer)."""
    if writer.done():
        writer.result()
        raise RuntimeError("the answer writer stopped early")
    if not answers.full():
        answers.put_nowait(item)
        return
    put = asyncio.ensure_future(answers.put(item))
    try:
        await asyncio.wait((put, writer), return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not put.done():
            put.cancel()
    if not put.done() or put.cancelled():
        writer.result()
        raise RuntimeError("the answer writer stopped early")
