"""The shared replica framework: URL rewriting, fault plans, the venue-id ledger over
the sim core, and venue fee presentation."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import ccxt.async_support as ccxt
import pytest

from opensqt_common.enums import MarketType, OrderStatus, OrderType, Side, TimeInForce, Venue
from opensqt_connector.models import FillInfo, KlineInfo, MarketInfo, OrderInfo, OrderRequest, TickerInfo
from opensqt_connector.venue_errors import DuplicateClientOrderId, OrderNotFound

from .framework.ccxt_urls import point_ccxt_at, rewrite_origin
from .framework.core import OrderUpdate, ReplicaCore
from .framework.faults import FaultKind, FaultPlan
from .framework.fees import venue_fee

API = "http://127.0.0.1:5001"
WS = "ws://127.0.0.1:5001"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://fapi.binance.com/fapi/v1", "http://127.0.0.1:5001/fapi/v1"),
        ("wss://stream.binance.com:9443/ws", "ws://127.0.0.1:5001/ws"),
        ("https://api.{hostname}", "http://127.0.0.1:5001"),
        ("wss://stream.{hostname}/v5/public/linear", "ws://127.0.0.1:5001/v5/public/linear"),
        ("not a url", "not a url"),
    ],
)
def test_rewrite_origin_keeps_the_path(url: str, expected: str) -> None:
    assert rewrite_origin(url, API, WS) == expected


async def test_point_ccxt_at_reports_every_changed_key() -> None:
    exchange = ccxt.binanceusdm()
    try:
        changed = point_ccxt_at(exchange, API + "/", WS)
        assert changed["fapiPrivate"] == "http://127.0.0.1:5001/fapi/v1"
        assert changed["public"] == "http://127.0.0.1:5001/api/v3"
        assert all(u.startswith(("http://127.0.0.1:5001", "ws://127.0.0.1:5001")) for u in changed.values())
        assert exchange.urls["api"]["fapiPrivateV3"] == "http://127.0.0.1:5001/fapi/v3"
        with pytest.raises(ValueError, match="absolute"):
            point_ccxt_at(exchange, "127.0.0.1:1", WS)
    finally:
        await exchange.close()


def test_fault_plan_counts_filters_and_order() -> None:
    plan = FaultPlan()
    plan.fail_next(2, status=502, path="/v5/order", method="post")
    plan.rate_limit_next(retry_after_s=4)
    assert plan.take_request_fault("GET", "/v5/order/realtime") is not None  # method filter misses: 429 fires
    first = plan.take_request_fault("POST", "/v5/order/create")
    second = plan.take_request_fault("POST", "/v5/order/cancel")
    assert first is not None
    assert second is not None
    assert (first.kind, first.status, second.status) == (FaultKind.SERVER_ERROR, 502, 502)
    assert plan.take_request_fault("POST", "/v5/order/create") is None
    plan.delay_acks(0.25, count=1)
    plan.lose_next_acks()
    release = plan.hold_next_ack()
    delayed, lost = plan.take_ack_fault("POST", "/x"), plan.take_ack_fault("POST", "/x")
    held = plan.take_ack_fault("POST", "/x")
    assert held is not None
    assert held.release is release
    assert delayed is not None
    assert lost is not None
    assert (delayed.delay_s, lost.lost) == (0.25, True)
    assert plan.take_ack_fault("POST", "/x") is None
    assert [kind for _, _, kind in plan.fired] == [
        FaultKind.RATE_LIMIT,
        FaultKind.SERVER_ERROR,
        FaultKind.SERVER_ERROR,
        "delayed_ack",
        "lost_ack",
        "delayed_ack",
    ]
    with pytest.raises(ValueError, match="5xx"):
        plan.fail_next(status=429)


def _market(symbol: str, kind: MarketType) -> MarketInfo:
    return MarketInfo(
        symbol=symbol,
        venue_symbol="BTCUSDT",
        venue=Venue.BYBIT,
        market_type=kind,
        base="BTC",
        quote="USDT",
        settle="USDT",
        tick_size=Decimal("0.1"),
        step_size=Decimal("0.001"),
        min_quantity=Decimal("0.001"),
        min_notional=Decimal(5),
        contract_size=Decimal(1),
        maker_fee=Decimal("0.0002"),
        taker_fee=Decimal("0.0005"),
        max_leverage=Decimal(100),
    )


class _Recorder:
    def __init__(self) -> None:
        self.updates: list[OrderUpdate] = []
        self.tickers: list[TickerInfo] = []
        self.klines: list[KlineInfo] = []

    def on_order_update(self, update: OrderUpdate) -> None:
        self.updates.append(update)

    def on_ticker(self, ticker: TickerInfo) -> None:
        self.tickers.append(ticker)

    def on_kline(self, kline: KlineInfo) -> None:
        self.klines.append(kline)


def _request(client_id: str, price: str, **overrides: Any) -> OrderRequest:
    fields: dict[str, Any] = {
        "client_order_id": client_id,
        "symbol": "BTC/USDT:USDT",
        "side": Side.BUY,
        "type": OrderType.LIMIT,
        "price": Decimal(price),
        "quantity": Decimal("0.010"),
        "time_in_force": TimeInForce.GTC,
        "post_only": True,
        "reduce_only": False,
    }
    return OrderRequest(**(fields | overrides))


def _core(now: list[int]) -> tuple[ReplicaCore, _Recorder]:
    core = ReplicaCore(
        [_market("BTC/USDT:USDT", MarketType.LINEAR_PERPETUAL)],
        {"USDT": Decimal(10_000)},
        {"BTC/USDT:USDT": Decimal(60_000)},
        order_id=lambda seq, symbol: f"V{seq}-{symbol[:3]}",
        clock=lambda: now[0],
    )
    recorder = _Recorder()
    core.subscribe(recorder)
    return core, recorder


def test_core_maps_venue_ids_and_pairs_fills_with_orders() -> None:
    now = [1_700_000_000_000]
    core, recorder = _core(now)
    placed = core.place(_request("a1", "59000"))
    assert placed.venue_id == "V1-BTC"
    assert placed.info.order_id == "V1-BTC"
    now[0] += 60_000
    fills = core.trade("BTC/USDT:USDT", Decimal(59000), Decimal(2), max_fill=Decimal("0.004"))
    assert [f.quantity for f in fills] == [Decimal("0.004")]
    assert [(u.order.info.status, u.fill is not None) for u in recorder.updates] == [
        (OrderStatus.NEW, False),
        (OrderStatus.PARTIALLY_FILLED, True),
    ]
    update = recorder.updates[-1]
    assert update.fill is not None
    assert update.fill.order_id == "V1-BTC" == update.order.venue_id
    assert [f.order_id for f in core.fills("BTC/USDT:USDT")] == ["V1-BTC"]
    assert recorder.tickers[-1].last == Decimal(59000)
    one_minute = [k for k in recorder.klines if k.interval.value == "1m"]
    assert one_minute[-1].close == Decimal(59000)
    assert one_minute[-1].volume == Decimal(2)
    assert core.klines("BTC/USDT:USDT", one_minute[-1].interval, 200)[0].volume == 0  # seeded flat history
    found = core.find("BTC/USDT:USDT", client_order_id="a1")
    assert found is not None
    assert found.venue_id == "V1-BTC"
    assert core.find("BTC/USDT:USDT", venue_id="V404") is None


def test_core_local_orders_and_client_id_rules() -> None:
    now = [1_700_000_000_000]
    core, recorder = _core(now)
    refused = OrderInfo(
        client_order_id="po1",
        order_id="",
        symbol="BTC/USDT:USDT",
        side=Side.BUY,
        type=OrderType.LIMIT,
        time_in_force=TimeInForce.GTC,
        post_only=True,
        reduce_only=False,
        price=Decimal(61000),
        quantity=Decimal("0.01"),
        filled_quantity=Decimal(0),
        average_fill_price=None,
        status=OrderStatus.CANCELED,
        created_ms=now[0],
        updated_ms=now[0],
    )
    local = core.record_local(refused, "EC_PostOnlyWillTakeLiquidity")
    assert recorder.updates[-1].order == local
    assert core.find("BTC/USDT:USDT", client_order_id="po1") == local
    assert core.client_id_in_use("po1", open_only=False)
    assert not core.client_id_in_use("po1", open_only=True)
    with pytest.raises(OrderNotFound):
        core.cancel("BTC/USDT:USDT", venue_id=local.venue_id)  # a local order is already final
    placed = core.place(_request("b1", "59000"))
    assert core.client_id_in_use("b1", open_only=True)
    core.cancel("BTC/USDT:USDT", client_order_id="b1")
    assert not core.client_id_in_use("b1", open_only=True)
    with pytest.raises(DuplicateClientOrderId):
        core.place(_request("b1", "59000"))  # the sim refuses a reused id for ever
    assert [o.venue_id for o in core.orders("BTC/USDT:USDT")] == [local.venue_id, placed.venue_id]


@pytest.mark.parametrize(
    ("kind", "side", "maker", "expected"),
    [
        (MarketType.SPOT, Side.BUY, True, (Decimal("0.000002"), "BTC")),
        (MarketType.SPOT, Side.BUY, False, (Decimal("0.000005"), "BTC")),
        (MarketType.SPOT, Side.SELL, True, (Decimal("0.12"), "USDT")),
        (MarketType.LINEAR_PERPETUAL, Side.BUY, True, (Decimal("0.12"), "USDT")),
    ],
)
def test_venue_fee(kind: MarketType, side: Side, maker: bool, expected: tuple[Decimal, str]) -> None:
    fill = FillInfo(
        trade_id="1",
        order_id="1",
        client_order_id="c",
        symbol="BTC/USDT",
        side=side,
        price=Decimal(60000),
        quantity=Decimal("0.01"),
        fee=Decimal("0.12"),
        fee_asset="USDT",
        maker=maker,
        time_ms=0,
    )
    assert venue_fee(fill, _market("BTC/USDT", kind)) == expected
