"""Order entry: idempotent placement by client order id, cancels, and the shared
order-entry token bucket.

Idempotency has three layers: the hub's record of every order this connector has
seen (an id it knows is answered from there, `existing=True`); one in-flight placement per
client order id (concurrent duplicates await the same placement, so the venue sees
one request); and the venue's own duplicate check (`DuplicateClientOrderId` is
answered by looking the order up). Callers that can be cancelled shield the call
(see `OrderEntry.place`): once sent, an order's answer is always recorded.

Token bucket: when empty, a placement waits up to `max_wait` seconds for a token
and then fails with RATE_LIMITED (RESOURCE_EXHAUSTED). Waiting briefly smooths
bursts without letting a queue build up behind a slow venue. Cancels never take a
token: getting flat must not be throttled by our own limiter.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from aiolimiter import AsyncLimiter

from opensqt_common.decimals import format_decimal
from opensqt_common.enums import OrderStatus, Side
from opensqt_common.errors import RateLimited, ServiceError
from opensqt_common.logging import get_logger
from opensqt_connector import tracing
from opensqt_connector.hubs import EventHub
from opensqt_connector.metrics import ERROR, REASON_NONE, REASON_UNSPECIFIED, ConnectorMetrics, result_of
from opensqt_connector.models import OrderInfo, OrderRequest
from opensqt_connector.requests import OrderRef
from opensqt_connector.venue import VenueAdapter
from opensqt_connector.venue_errors import DuplicateClientOrderId

_log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class PlaceResult:
    order: OrderInfo
    existing: bool


class OrderLimiter:
    """A token bucket of `rate` orders/s holding at most `burst` tokens."""

    def __init__(self, rate: int, burst: int, max_wait: float) -> None:
        if rate <= 0 or burst <= 0:
            raise ValueError("rate and burst must be positive")
        self.rate = rate
        self.burst = burst
        self._max_wait = max_wait
        self._bucket = AsyncLimiter(burst, burst / rate)

    async def acquire(self) -> None:
        if self._bucket.has_capacity():
            await self._bucket.acquire()
            return
        if self._max_wait > 0:
            try:
                await asyncio.wait_for(self._bucket.acquire(), self._max_wait)
                return
            except TimeoutError:
                pass
        raise RateLimited(
            f"order-entry limit of {self.rate}/s (burst {self.burst}) reached; retry shortly",
            metadata={"retry_after_ms": str(max(1, round(1000 / self.rate)))},
        )


class OrderEntry:
    def __init__(
        self,
        venue: VenueAdapter,
        hub: EventHub,
        metrics: ConnectorMetrics,
        limiter: OrderLimiter | None,
        tracer: tracing.OrderTracer | None = None,
    ) -> None:
        self._venue = venue
        self._hub = hub
        self._metrics = metrics
        self._limiter = limiter
        self._tracer = tracer or tracing.OrderTracer(metrics.venue)
        self._in_flight: dict[str, asyncio.Future[PlaceResult]] = {}

    async def place(self, request: OrderRequest, entry: str) -> PlaceResult:
        """Place `request` once; a repeated client order id returns the same order.

        The venue call runs in the caller's task: a caller that may be cancelled midway
        (a unary RPC whose client gives up) shields this call, so that an order once sent
        always has its answer recorded.

        Counts and times every placement that went to the venue or failed trying;
        repeats answered from what the connector already knows are neither.
        """
        started = time.perf_counter()
        try:
            result = await self._place(request)
        except ServiceError as exc:
            self._settled(request, exc.reason_name, entry, started, exc.message)
            raise
        except Exception as exc:
            self._settled(request, "INTERNAL", entry, started, type(exc).__name__)
            raise
        if not result.existing:
            order = result.order
            rejected = order.status is OrderStatus.REJECTED
            reason = REASON_UNSPECIFIED if rejected else REASON_NONE
            self._settled(request, reason, entry, started, order.status_detail, order)
        return result

    def _settled(
        self,
        request: OrderRequest,
        reason: str,
        entry: str,
        started: float,
        detail: str,
        order: OrderInfo | None = None,
    ) -> None:
        milliseconds = (time.perf_counter() - started) * 1000
        self._metrics.order(request.symbol, request.side.value, reason, entry, milliseconds)
        result = result_of(reason)
        log = _log.warning if result == ERROR else _log.info
        log(
            "order_placed" if reason == REASON_NONE else "order_not_placed",
            client_order_id=request.client_order_id,
            order_id=order.order_id if order is not None else "",
            symbol=request.symbol,
            side=request.side.value,
            entry=entry,
            result=result,
            reason=reason,
            detail=detail,
            latency_ms=round(milliseconds, 3),
        )

    async def _place(self, request: OrderRequest) -> PlaceResult:
        key = request.client_order_id
        while True:
            known = self._known(key, request)
            if known is not None:
                return PlaceResult(known, existing=True)
            pending = self._in_flight.get(key)
            if pending is None:
                if self._limiter is not None:
                    await self._limiter.acquire()
                    if self._known(key, request) is not None or key in self._in_flight:
                        continue
                return await self._submit_once(key, request)
            await asyncio.wait((pending,))
            if pending.cancelled():
                continue
            shared = pending.exception()
            if shared is not None:
                raise shared
            latest = self._hub.order(key)
            return PlaceResult(latest or pending.result().order, existing=True)

    async def _submit_once(self, key: str, request: OrderRequest) -> PlaceResult:
        """Submit in the caller's task (no hop to a task of its own on the hot path); a
        concurrent duplicate waits for the outcome published in `_in_flight`."""
        outcome: asyncio.Future[PlaceResult] = asyncio.get_running_loop().create_future()
        self._in_flight[key] = outcome
        try:
            result = await self._submit(request)
        except asyncio.CancelledError:
            outcome.cancel()
            raise
        except BaseException as exc:
            outcome.set_exception(exc)
            outcome.exception()  # retrieved: a failure nobody else awaited is not an error to log
            raise
        else:
            outcome.set_result(result)
            return result
        finally:
            if self._in_flight.get(key) is outcome:
                del self._in_flight[key]

    def _known(self, key: str, request: OrderRequest) -> OrderInfo | None:
        order = self._hub.order(key)
        if order is not None and (
            order.symbol != request.symbol
            or order.side is not request.side
            or order.quantity != request.quantity
        ):
            _log.warning(
                "client_order_id_reused",
                client_order_id=key,
                known_symbol=order.symbol,
                known_side=order.side.value,
                known_quantity=format_decimal(order.quantity),
            )
        return order

    async def _submit(self, request: OrderRequest) -> PlaceResult:
        cid = request.client_order_id
        with self._tracer.venue_call(tracing.SPAN_VENUE_PLACE, client_order_id=cid) as span:
            try:
                order = await self._venue.place_order(request)
                existing = False
            except DuplicateClientOrderId:
                order = await self._venue.fetch_order(request.symbol, client_order_id=cid)
                existing = True
            tracing.annotate(span, order, existing=existing)
        self._hub.on_order(order)
        return PlaceResult(order, existing)

    async def cancel(self, ref: OrderRef) -> OrderInfo:
        if ref.client_order_id:
            pending = self._in_flight.get(ref.client_order_id)
            if pending is not None:
                await asyncio.wait((pending,))
        with self._tracer.venue_call(tracing.SPAN_VENUE_CANCEL, client_order_id=ref.client_order_id) as span:
            order = await self._venue.cancel_order(
                ref.symbol, client_order_id=ref.client_order_id, order_id=ref.order_id
            )
            tracing.annotate(span, order)
        self._hub.on_order(order)
        return order

    async def cancel_all(self, symbol: str | None, side: Side | None) -> list[OrderInfo]:
        orders = list(await self._venue.cancel_all_orders(symbol, side))
        for order in orders:
            self._hub.on_order(order)
        return orders

    async def fetch(self, ref: OrderRef) -> OrderInfo:
        order = await self._venue.fetch_order(
            ref.symbol, client_order_id=ref.client_order_id, order_id=ref.order_id
        )
        self._hub.on_order(order)
        return order
