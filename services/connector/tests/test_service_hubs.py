"""The hub behind the streams: bounded queues, slow consumers, order and fill dedup."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import grpc
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from opensqt_common.enums import OrderStatus, OrderType, Side, TimeInForce
from opensqt_connector.hubs import EventHub, SlowConsumer, Subscription
from opensqt_connector.metrics import ConnectorMetrics
from opensqt_connector.models import FillInfo, OrderInfo, TickerInfo

SYMBOL = "BTC/USDT:USDT"


def _order(cid: str, status: OrderStatus, filled: str = "0", symbol: str = SYMBOL) -> OrderInfo:
    return OrderInfo(
        client_order_id=cid,
        order_id=f"v-{cid}",
        symbol=symbol,
        side=Side.BUY,
        type=OrderType.LIMIT,
        time_in_force=TimeInForce.GTC,
        post_only=False,
        reduce_only=False,
        price=Decimal(59000),
        quantity=Decimal("0.003"),
        filled_quantity=Decimal(filled),
        average_fill_price=None,
        status=status,
        created_ms=1,
        updated_ms=2,
    )


def _fill(trade_id: str, time_ms: int, symbol: str = SYMBOL) -> FillInfo:
    return FillInfo(
        trade_id=trade_id,
        order_id="v-1",
        client_order_id="c-1",
        symbol=symbol,
        side=Side.BUY,
        price=Decimal(59000),
        quantity=Decimal("0.001"),
        fee=Decimal("0.01"),
        fee_asset="USDT",
        maker=True,
        time_ms=time_ms,
    )


def _hub(max_queue: int = 100) -> tuple[EventHub, InMemoryMetricReader]:
    reader = InMemoryMetricReader()
    metrics = ConnectorMetrics("sim", MeterProvider(metric_readers=[reader]))
    return EventHub(metrics, max_queue=max_queue), reader


def _by_stream(reader: InMemoryMetricReader, name: str) -> list[tuple[object, float]]:
    return [(attributes["stream"], value) for attributes, value in _metric_points(reader, name)]


def _metric_points(reader: InMemoryMetricReader, name: str) -> list[tuple[dict[str, object], float]]:
    data = reader.get_metrics_data()
    points: list[tuple[dict[str, object], float]] = []
    assert data is not None
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == name:
                    points.extend((dict(p.attributes or {}), p.value) for p in metric.data.data_points)  # type: ignore[union-attr]
    return points


async def test_a_subscriber_that_falls_behind_is_disconnected_and_others_continue() -> None:
    hub, reader = _hub(max_queue=3)
    _, slow = hub.subscribe_orders(None)
    _, fast = hub.subscribe_orders(None)
    received = []
    for i in range(5):
        hub.on_order(_order(f"o{i}", OrderStatus.NEW))
        received.append((await fast.__anext__()).client_order_id)  # a live client keeps up
    assert received == ["o0", "o1", "o2", "o3", "o4"]

    assert slow.closed
    with pytest.raises(SlowConsumer) as dropped:
        await slow.__anext__()
    assert dropped.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert hub.orders.subscriber_count == 1
    every_stream = ("orders", "fills", "prices", "klines")
    slow_disconnects = dict(_by_stream(reader, "opensqt.connector.stream.slow_disconnects"))
    assert slow_disconnects == {stream: 1 if stream == "orders" else 0 for stream in every_stream}
    assert dict(_by_stream(reader, "opensqt.connector.stream.subscribers"))["orders"] == 1
    with fast:
        pass
    assert hub.orders.subscriber_count == 0
    subscribers = dict(_by_stream(reader, "opensqt.connector.stream.subscribers"))
    assert subscribers == dict.fromkeys(every_stream, 0)


async def test_order_updates_are_deduplicated_and_never_go_backwards() -> None:
    hub, _ = _hub()
    snapshot, subscription = hub.subscribe_orders([SYMBOL])
    assert snapshot == []
    with subscription:
        for update in (
            _order("a", OrderStatus.NEW),
            _order("a", OrderStatus.NEW),  # duplicate
            _order("a", OrderStatus.PARTIALLY_FILLED, "0.001"),
            _order("a", OrderStatus.NEW),  # stale: less filled
            _order("a", OrderStatus.PARTIALLY_FILLED, "0.001"),  # duplicate
            _order("a", OrderStatus.FILLED, "0.003"),
            _order("a", OrderStatus.CANCELED, "0.003"),  # after a terminal state
            _order("b", OrderStatus.NEW, symbol="ETH/USDT:USDT"),  # other symbol
        ):
            hub.on_order(update)
        subscription.close()
        seen = [(o.client_order_id, o.status, o.filled_quantity.value) async for o in subscription]
    assert [s[2] for s in seen] == ["0", "0.001", "0.003"]
    latest = hub.order("a")
    assert latest is not None
    assert latest.status is OrderStatus.FILLED
    assert [o.client_order_id for o in hub.open_orders()] == ["b"]
    assert [o.client_order_id for o in hub.open_orders([SYMBOL])] == []


async def test_fills_are_deduplicated_by_symbol_and_trade_id_and_replayed_in_time_order() -> None:
    hub, _ = _hub()
    hub.on_fill(_fill("2", 2_000))
    hub.on_fill(_fill("1", 1_000))
    hub.on_fill(_fill("1", 1_000))  # duplicate
    hub.on_fill(_fill("1", 1_500, symbol="ETH/USDT:USDT"))  # same id, other symbol: a different fill
    replay, subscription = hub.subscribe_fills([SYMBOL], since_ms=1_000)
    with subscription:
        assert [f.trade_id for f in replay] == ["1", "2"]
        hub.on_fill(_fill("2", 2_000))  # duplicate of a held fill: not sent live
        hub.on_fill(_fill("3", 3_000))
        subscription.close()
        assert [f.trade_id async for f in subscription] == ["3"]
    none, later = hub.subscribe_fills(None, since_ms=0)
    assert none == []
    with later:
        pass


async def test_venue_stream_loss_ends_only_the_affected_streams_and_counts_reconnects() -> None:
    hub, reader = _hub()
    _, orders = hub.subscribe_orders(None)
    _, prices = hub.subscribe_prices([SYMBOL])
    hub.on_stream_state("tickers", False, "test")
    assert [prices.closed, orders.closed] == [True, False]
    hub.on_stream_state("tickers", True)
    hub.on_stream_state("private", False)  # unknown name: every stream ends
    assert orders.closed
    hub.on_stream_state("private", True)
    hub.on_stream_state("private", True)  # already up: not a reconnect
    hub.on_stream_state("klines", True)  # first up: a known feed, no reconnect yet
    points = sorted(_metric_points(reader, "opensqt.connector.venue.stream_reconnects"), key=str)
    assert points == [
        ({"venue": "sim", "stream": "klines"}, 0),
        ({"venue": "sim", "stream": "private"}, 1),
        ({"venue": "sim", "stream": "tickers"}, 1),
    ]


async def test_latency_sensitive_price_subscribers_are_handed_each_price_first() -> None:
    hub, _ = _hub()
    woken: list[str] = []

    async def consume(name: str, subscription: Subscription[Any]) -> None:
        async for _ in subscription:
            woken.append(name)
            return

    joined = [
        ("watcher-1", hub.subscribe_prices([SYMBOL])[1]),
        ("trader-1", hub.subscribe_prices([SYMBOL], latency_sensitive=True)[1]),
        ("watcher-2", hub.subscribe_prices([SYMBOL])[1]),
        ("trader-2", hub.subscribe_prices([SYMBOL], latency_sensitive=True)[1]),
        ("gone", hub.subscribe_prices([SYMBOL], latency_sensitive=True)[1]),
    ]
    hub.prices.leave(joined.pop()[1])
    joined.append(("watcher-3", hub.subscribe_prices([SYMBOL])[1]))
    joined.append(("trader-3", hub.subscribe_prices([SYMBOL], latency_sensitive=True)[1]))
    consumers = [asyncio.ensure_future(consume(name, sub)) for name, sub in joined]
    await asyncio.sleep(0)  # every consumer is now waiting for its first item

    hub.on_ticker(TickerInfo(SYMBOL, Decimal(60000), Decimal(59999), Decimal(60001), 1))
    await asyncio.gather(*consumers)

    assert woken == ["trader-1", "trader-2", "trader-3", "watcher-1", "watcher-2", "watcher-3"]
    assert hub.prices.subscriber_count == 6
