"""Stream fan-out: the `VenueEvents` sink the adapter pushes to, and the bounded
per-subscriber queues the gRPC streams read from.

The hub never blocks the venue: pushes are synchronous and O(subscribers). A
subscriber whose queue is full has fallen too far behind; it is disconnected with
RESOURCE_EXHAUSTED rather than allowed to grow memory or slow anyone else down.

The hub also holds the connector's view of orders (every open order and a bounded
history of closed ones, keyed by client order id) and a bounded history of fills
(deduplicated by symbol and trade id), which serve stream snapshots, fill replay
and PlaceOrder idempotency.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any, Generic, TypeVar

import grpc

from opensqt.common.v1 import common_pb2
from opensqt.exchange.v1 import types_pb2
from opensqt_common.enums import OrderStatus
from opensqt_common.errors import ServiceError
from opensqt_common.logging import get_logger
from opensqt_connector import convert
from opensqt_connector.metrics import ConnectorMetrics
from opensqt_connector.models import FillInfo, KlineInfo, OrderInfo, TickerInfo
from opensqt_connector.venue_errors import VenueUnavailable

_log = get_logger(__name__)

T = TypeVar("T")

DEFAULT_QUEUE_SIZE = 10_000
DEFAULT_CLOSED_ORDERS = 100_000
DEFAULT_FILLS = 50_000

ORDERS, FILLS, PRICES, KLINES = "orders", "fills", "prices", "klines"
# Which client streams a lost venue stream leaves with a gap. Venue stream names not
# listed here (a combined private stream, say) end every client stream.
_AFFECTED: dict[str, tuple[str, ...]] = {
    "orders": (ORDERS,),
    "fills": (FILLS,),
    "tickers": (PRICES,),
    "prices": (PRICES,),
    "klines": (KLINES,),
}
_ALL_TOPICS = (ORDERS, FILLS, PRICES, KLINES)

_STATUS_RANK = {
    OrderStatus.PENDING_NEW: 0,
    OrderStatus.NEW: 1,
    OrderStatus.PARTIALLY_FILLED: 2,
    OrderStatus.FILLED: 3,
    OrderStatus.CANCELED: 3,
    OrderStatus.REJECTED: 3,
    OrderStatus.EXPIRED: 3,
}


class SlowConsumer(ServiceError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    reason = common_pb2.ERROR_REASON_RATE_LIMITED


def order_key(order: OrderInfo) -> str:
    """Orders are known by client order id; one without (placed elsewhere) by venue id."""
    return order.client_order_id or f"#{order.order_id}"


class Subscription(Generic[T]):
    """One subscriber's bounded queue; iterate it to receive items until it is closed.

    Use as a context manager so that it leaves its topic when the stream ends.
    """

    def __init__(self, topic: Topic[T], symbols: frozenset[str] | None, max_queue: int) -> None:
        self._topic = topic
        self.symbols = symbols
        self._max_queue = max_queue
        self._items: deque[T] = deque()
        self._wakeup = asyncio.Event()
        self._closed = False
        self._error: ServiceError | None = None

    def wants(self, symbol: str) -> bool:
        return self.symbols is None or symbol in self.symbols

    def push(self, item: T) -> bool:
        """Queue an item; False (and the subscription closed) when it overflowed."""
        if self._closed:
            return False
        if len(self._items) >= self._max_queue:
            self.close(
                SlowConsumer(
                    f"{self._topic.name} subscriber fell more than {self._max_queue} messages behind",
                    metadata={"stream": self._topic.name, "max_queue": str(self._max_queue)},
                ),
                discard=True,
            )
            self._topic.metrics.slow_disconnect(self._topic.name)
            return False
        self._items.append(item)
        self._wakeup.set()
        return True

    def close(self, error: ServiceError | None = None, *, discard: bool = False) -> None:
        """End the subscription: queued items are still delivered unless `discard`,
        then iteration raises `error` (or simply stops)."""
        if self._closed:
            return
        self._closed = True
        self._error = error
        if discard:
            self._items.clear()
        self._wakeup.set()

    @property
    def closed(self) -> bool:
        return self._closed

    def __aiter__(self) -> Subscription[T]:
        return self

    async def __anext__(self) -> T:
        while not self._items:
            if self._closed:
                if self._error is not None:
                    raise self._error
                raise StopAsyncIteration
            self._wakeup.clear()
            await self._wakeup.wait()
        return self._items.popleft()

    def __enter__(self) -> Subscription[T]:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
        self._topic.leave(self)


class Topic(Generic[T]):
    """Fan-out of one kind of item to its subscribers."""

    def __init__(self, name: str, metrics: ConnectorMetrics, max_queue: int) -> None:
        self.name = name
        self.metrics = metrics
        metrics.known_stream(name)
        self._max_queue = max_queue
        self._subscribers: list[Subscription[T]] = []  # the `first` ones lead, each part in joining order
        self._leading = 0

    def join(self, symbols: Iterable[str] | None, *, first: bool = False) -> Subscription[T]:
        """Subscribe; a `first` subscriber is handed each item before the others (its stream
        sends first: the others' sends would otherwise delay it)."""
        subscription = Subscription(self, None if symbols is None else frozenset(symbols), self._max_queue)
        if first:
            self._subscribers.insert(self._leading, subscription)
            self._leading += 1
        else:
            self._subscribers.append(subscription)
        self.metrics.subscribers(self.name, 1)
        return subscription

    def leave(self, subscription: Subscription[T]) -> None:
        try:
            position = self._subscribers.index(subscription)
        except ValueError:
            return  # left already
        if position < self._leading:
            self._leading -= 1
        del self._subscribers[position]
        self.metrics.subscribers(self.name, -1)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def publish(self, symbol: str, make: Callable[[], T]) -> None:
        """Deliver to each interested subscriber; the item is built once, only if wanted."""
        item: T | None = None
        for subscription in tuple(self._subscribers):
            if not subscription.wants(symbol):
                continue
            if item is None:
                item = make()
            if not subscription.push(item):
                self.leave(subscription)

    def close_all(self, error: ServiceError | None) -> None:
        for subscription in tuple(self._subscribers):
            subscription.close(error)
            self.leave(subscription)


class EventHub:
    """Implements `VenueEvents`: keeps the latest state and fans events out to streams."""

    def __init__(
        self,
        metrics: ConnectorMetrics,
        *,
        max_queue: int = DEFAULT_QUEUE_SIZE,
        max_closed_orders: int = DEFAULT_CLOSED_ORDERS,
        max_fills: int = DEFAULT_FILLS,
    ) -> None:
        self._metrics = metrics
        self.orders: Topic[types_pb2.Order] = Topic(ORDERS, metrics, max_queue)
        self.fills: Topic[types_pb2.Fill] = Topic(FILLS, metrics, max_queue)
        self.prices: Topic[types_pb2.Ticker] = Topic(PRICES, metrics, max_queue)
        self.klines: Topic[types_pb2.Kline] = Topic(KLINES, metrics, max_queue)
        self._open: dict[str, OrderInfo] = {}
        self._closed: OrderedDict[str, OrderInfo] = OrderedDict()
        self._max_closed = max_closed_orders
        self._fills: OrderedDict[tuple[str, str], FillInfo] = OrderedDict()
        self._max_fills = max_fills
        self._tickers: dict[str, TickerInfo] = {}
        self._klines: dict[str, KlineInfo] = {}
        self._down: set[str] = set()
        self._seen: set[str] = set()

    # -- VenueEvents -------------------------------------------------------------

    def on_ticker(self, ticker: TickerInfo) -> None:
        self._tickers[ticker.symbol] = ticker
        self.prices.publish(ticker.symbol, lambda: convert.ticker_to_proto(ticker))

    def on_order(self, order: OrderInfo) -> None:
        if not self._record_order(order):
            return
        self.orders.publish(order.symbol, lambda: convert.order_to_proto(order))

    def on_fill(self, fill: FillInfo) -> None:
        key = (fill.symbol, fill.trade_id)
        if key in self._fills:
            return
        self._fills[key] = fill
        if len(self._fills) > self._max_fills:
            self._fills.popitem(last=False)
        self.fills.publish(fill.symbol, lambda: convert.fill_to_proto(fill))

    def on_kline(self, kline: KlineInfo) -> None:
        self._klines[kline.symbol] = kline
        self.klines.publish(kline.symbol, lambda: convert.kline_to_proto(kline))

    def on_stream_state(self, stream: str, connected: bool, detail: str = "") -> None:
        if connected:
            if stream in self._down:
                self._down.discard(stream)
                self._metrics.reconnect(stream)
            elif stream not in self._seen:
                self._metrics.known_venue_stream(stream)
            self._seen.add(stream)
            _log.info("venue_stream_up", stream=stream, detail=detail)
            return
        self._down.add(stream)
        _log.warning("venue_stream_down", stream=stream, detail=detail)
        error = VenueUnavailable(
            f"venue stream {stream!r} was interrupted; resubscribe for a fresh snapshot",
            metadata={"stream": stream},
        )
        for name in _AFFECTED.get(stream, _ALL_TOPICS):
            self._topic(name).close_all(error)

    # -- state for snapshots, replay and idempotency -------------------------------

    def order(self, key: str) -> OrderInfo | None:
        """The latest known state of an order by client order id (or "#<venue id>")."""
        return self._open.get(key) or self._closed.get(key)

    def open_orders(self, symbols: Iterable[str] | None = None) -> list[OrderInfo]:
        wanted = None if symbols is None else frozenset(symbols)
        return [o for o in self._open.values() if wanted is None or o.symbol in wanted]

    def subscribe_orders(
        self, symbols: Iterable[str] | None
    ) -> tuple[list[types_pb2.Order], Subscription[types_pb2.Order]]:
        """The open orders and a subscription to every later change, with no gap between."""
        snapshot = [convert.order_to_proto(o) for o in self.open_orders(symbols)]
        return snapshot, self.orders.join(symbols)

    def subscribe_fills(
        self, symbols: Iterable[str] | None, since_ms: int
    ) -> tuple[list[types_pb2.Fill], Subscription[types_pb2.Fill]]:
        """Held fills at or after `since_ms` (none when 0), then every later fill."""
        wanted = None if symbols is None else frozenset(symbols)
        replay = []
        if since_ms > 0:
            held = [
                f
                for f in self._fills.values()
                if f.time_ms >= since_ms and (wanted is None or f.symbol in wanted)
            ]
            replay = [convert.fill_to_proto(f) for f in sorted(held, key=lambda f: f.time_ms)]
        return replay, self.fills.join(wanted)

    def subscribe_prices(
        self, symbols: Iterable[str], *, latency_sensitive: bool = False
    ) -> tuple[list[types_pb2.Ticker], Subscription[types_pb2.Ticker]]:
        wanted = frozenset(symbols)
        latest = [convert.ticker_to_proto(t) for s, t in self._tickers.items() if s in wanted]
        return latest, self.prices.join(wanted, first=latency_sensitive)

    def subscribe_klines(
        self, symbols: Iterable[str]
    ) -> tuple[list[types_pb2.Kline], Subscription[types_pb2.Kline]]:
        wanted = frozenset(symbols)
        latest = [convert.kline_to_proto(k) for s, k in self._klines.items() if s in wanted]
        return latest, self.klines.join(wanted)

    def close(self) -> None:
        """End every stream (shutdown): clients see UNAVAILABLE and reconnect."""
        error = VenueUnavailable("connector is shutting down")
        for name in _ALL_TOPICS:
            self._topic(name).close_all(error)

    def _topic(self, name: str) -> Topic[Any]:
        topics: dict[str, Topic[Any]] = {
            ORDERS: self.orders,
            FILLS: self.fills,
            PRICES: self.prices,
            KLINES: self.klines,
        }
        return topics[name]

    def _record_order(self, order: OrderInfo) -> bool:
        """Store a newer state of an order; False for a duplicate or a stale one."""
        key = order_key(order)
        previous = self.order(key)
        if previous is not None and not _is_newer(order, previous):
            return False
        if order.status.is_terminal:
            self._open.pop(key, None)
            self._closed[key] = order
            self._closed.move_to_end(key)
            if len(self._closed) > self._max_closed:
                self._closed.popitem(last=False)
        else:
            self._open[key] = order
        return True


def _is_newer(order: OrderInfo, previous: OrderInfo) -> bool:
    """Whether `order` moves the order forward: more filled, or a later status.

    Terminal states are final, fills never shrink, and the same (status, filled)
    again is a duplicate.
    """
    if previous.status.is_terminal:
        return False
    if order.filled_quantity != previous.filled_quantity:
        return order.filled_quantity > previous.filled_quantity
    return _STATUS_RANK[order.status] > _STATUS_RANK[previous.status]
