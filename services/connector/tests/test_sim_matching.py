"""The sim matching core: orders, fills, fees, margin, positions, reduce-only, spot."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D
from typing import Any

import pytest

from opensqt_common.enums import OrderStatus, OrderType, Side, TimeInForce
from opensqt_common.errors import InvalidArgument, UnknownSymbol
from opensqt_connector.models import FillInfo, OrderInfo, OrderRequest, TickerInfo
from opensqt_connector.sim.markets import default_market
from opensqt_connector.sim.matching import SimEvent, SimExchange
from opensqt_connector.venue_errors import (
    DuplicateClientOrderId,
    InsufficientMargin,
    InvalidOrder,
    MinNotional,
    OrderNotFound,
    PostOnlyWouldCross,
    ReduceOnlyRejected,
    VenueUnavailable,
)

BTC = "BTC/USDT:USDT"
SPOT = "BTC/USDT"
T0 = 1_700_000_000_000


def request(
    cid: str,
    side: Side,
    quantity: str,
    price: str | None = None,
    *,
    symbol: str = BTC,
    post_only: bool = False,
    reduce_only: bool = False,
    tif: TimeInForce = TimeInForce.GTC,
) -> OrderRequest:
    return OrderRequest(
        client_order_id=cid,
        symbol=symbol,
        side=side,
        type=OrderType.LIMIT if price is not None else OrderType.MARKET,
        price=D(price) if price is not None else None,
        quantity=D(quantity),
        time_in_force=tif,
        post_only=post_only,
        reduce_only=reduce_only,
    )


def make(
    symbols: tuple[str, ...] = (BTC,),
    balances: dict[str, str] | None = None,
    *,
    price: str | None = "60000",
    spread_ticks: int = 1,
    leverage: str = "10",
    **kwargs: Any,
) -> SimExchange:
    exchange = SimExchange(
        [default_market(s) for s in symbols],
        {a: D(v) for a, v in (balances or {"USDT": "10000"}).items()},
        leverage=D(leverage),
        spread_ticks=spread_ticks,
        **kwargs,
    )
    if price is not None:
        for symbol in symbols:
            exchange.apply_trade(symbol, D(price), T0)
    return exchange


def fills_of(events: list[SimEvent]) -> list[FillInfo]:
    return [e for e in events if isinstance(e, FillInfo)]


def orders_of(events: list[SimEvent]) -> list[OrderInfo]:
    return [e for e in events if isinstance(e, OrderInfo)]


def usdt(exchange: SimExchange) -> tuple[D, D, D]:
    balance = exchange.balance("USDT")
    return balance.total, balance.used, balance.free


# ----------------------------------------------------------------- book


def test_apply_trade_sets_last_bid_ask_one_tick_apart() -> None:
    exchange = make(price=None)
    events = exchange.apply_trade(BTC, D("60000.5"), T0 + 5)
    assert events == [TickerInfo(BTC, D("60000.5"), D("60000.4"), D("60000.6"), T0 + 5)]
    assert exchange.ticker(BTC) == events[0]


def test_spread_is_configurable() -> None:
    exchange = make(spread_ticks=5)
    ticker = exchange.ticker(BTC)
    assert (ticker.bid, ticker.ask) == (D("59999.5"), D("60000.5"))


def test_ticker_before_any_trade_is_unavailable() -> None:
    with pytest.raises(VenueUnavailable, match="no price"):
        make(price=None).ticker(BTC)


def test_apply_trade_refuses_prices_off_the_tick_grid() -> None:
    exchange = make()
    with pytest.raises(InvalidArgument, match=r"60000\.05 is not a multiple of the tick size 0\.1"):
        exchange.apply_trade(BTC, D("60000.05"), T0)
    with pytest.raises(InvalidArgument, match="must be > 0"):
        exchange.apply_trade(BTC, D("0"), T0)
    with pytest.raises(InvalidArgument, match="max_fill_quantity"):
        exchange.apply_trade(BTC, D("60000"), T0, max_fill_quantity=D("0.0005"))
    with pytest.raises(UnknownSymbol):
        exchange.apply_trade("XYZ/USDT:USDT", D("1"), T0)


# ------------------------------------------------------------ placement


def test_limit_buy_below_the_ask_rests() -> None:
    exchange = make()
    info, events = exchange.place_order(request("b1", Side.BUY, "0.01", "59990"), T0 + 1)
    assert info.status is OrderStatus.NEW
    assert (info.order_id, info.client_order_id, info.price) == ("1", "b1", D("59990"))
    assert (info.filled_quantity, info.average_fill_price) == (D(0), None)
    assert (info.created_ms, info.updated_ms) == (T0 + 1, T0 + 1)
    assert events == [info]
    assert exchange.open_orders() == [info]
    assert exchange.get_order(BTC, order_id="1") == info
    assert exchange.get_order(BTC, client_order_id="b1") == info


@pytest.mark.parametrize(
    ("side", "price", "touch"),
    [(Side.BUY, "60000.1", "ask 60000.1"), (Side.BUY, "60100", "ask"), (Side.SELL, "59999.9", "bid 59999.9")],
)
def test_post_only_that_would_cross_is_rejected_and_nothing_rests(side: Side, price: str, touch: str) -> None:
    exchange = make()
    with pytest.raises(PostOnlyWouldCross, match=f"would cross the {touch}"):
        exchange.place_order(request("p1", side, "0.01", price, post_only=True), T0)
    assert exchange.open_orders() == []
    assert usdt(exchange) == (D(10000), D(0), D(10000))
    # The refused id was not consumed: it can be placed where it does not cross.
    safe = "59000" if side is Side.BUY else "61000"
    info, _ = exchange.place_order(request("p1", side, "0.01", safe, post_only=True), T0)
    assert info.status is OrderStatus.NEW


def test_post_only_at_the_last_price_rests_inside_the_spread() -> None:
    exchange = make()
    info, _ = exchange.place_order(request("p1", Side.BUY, "0.01", "60000", post_only=True), T0)
    assert info.status is OrderStatus.NEW


def test_crossing_limit_fills_at_once_as_taker_at_the_touch() -> None:
    exchange = make()
    info, events = exchange.place_order(request("t1", Side.BUY, "0.01", "60100"), T0 + 2)
    assert [type(e) for e in events] == [OrderInfo, FillInfo, OrderInfo]
    assert events[0].status is OrderStatus.NEW  # type: ignore[union-attr]
    fill = fills_of(events)[0]
    assert fill == FillInfo(
        trade_id="1",
        order_id="1",
        client_order_id="t1",
        symbol=BTC,
        side=Side.BUY,
        price=D("60000.1"),
        quantity=D("0.01"),
        fee=D("0.300000500"),  # 600.001 × 0.0005
        fee_asset="USDT",
        maker=False,
        time_ms=T0 + 2,
    )
    assert info == events[-1]
    assert info.status is OrderStatus.FILLED
    assert (info.filled_quantity, info.average_fill_price) == (D("0.01"), D("60000.1"))
    assert exchange.open_orders() == []


def test_market_orders_fill_at_the_touch_on_both_sides() -> None:
    exchange = make()
    buy, _ = exchange.place_order(request("m1", Side.BUY, "0.002"), T0)
    sell, _ = exchange.place_order(request("m2", Side.SELL, "0.002"), T0)
    assert (buy.status, buy.average_fill_price, buy.price) == (OrderStatus.FILLED, D("60000.1"), None)
    assert (sell.status, sell.average_fill_price) == (OrderStatus.FILLED, D("59999.9"))
    assert [f.maker for f in exchange.fills()] == [False, False]


def test_market_order_without_any_price_is_refused() -> None:
    with pytest.raises(InvalidOrder, match="no price"):
        make(price=None).place_order(request("m1", Side.BUY, "0.01"), T0)


@pytest.mark.parametrize("tif", [TimeInForce.IOC, TimeInForce.FOK])
def test_ioc_and_fok_expire_when_they_do_not_reach_the_touch(tif: TimeInForce) -> None:
    exchange = make()
    info, events = exchange.place_order(request("i1", Side.BUY, "0.01", "59000", tif=tif), T0)
    assert info.status is OrderStatus.EXPIRED
    assert info.filled_quantity == 0
    assert [o.status for o in orders_of(events)] == [OrderStatus.NEW, OrderStatus.EXPIRED]
    assert exchange.open_orders() == []
    assert usdt(exchange)[1] == 0  # nothing stays reserved
    crossing, _ = exchange.place_order(request("i2", Side.BUY, "0.01", "60100", tif=tif), T0)
    assert crossing.status is OrderStatus.FILLED


# ---------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("req", "error", "message"),
    [
        (
            request("v", Side.BUY, "0.0015", "59000"),
            InvalidOrder,
            r"quantity 0\.0015 is not a multiple of the step size 0\.001 of BTC/USDT:USDT",
        ),
        (
            request("v", Side.BUY, "0.01", "59000.05"),
            InvalidOrder,
            r"price 59000\.05 is not a multiple of the tick size 0\.1",
        ),
        (request("v", Side.BUY, "0", "59000"), InvalidOrder, r"quantity must be > 0"),
        (request("v", Side.BUY, "-0.01", "59000"), InvalidOrder, r"quantity must be > 0"),
        (request("v", Side.BUY, "0.01", "-1"), InvalidOrder, r"price must be > 0"),
        (request("v", Side.BUY, "0.0001", "59000"), InvalidOrder, r"step size"),
        (request("v", Side.BUY, "0.001", "4000"), MinNotional, r"notional 4 USDT is below the minimum 5"),
        (replace(request("v", Side.BUY, "0.01", "59000"), price=None), InvalidOrder, "needs a price"),
        (request("v", Side.BUY, "0.01", "59000", post_only=True, tif=TimeInForce.IOC), InvalidOrder, "GTC"),
        (request("v", Side.BUY, "0.01", post_only=True), InvalidOrder, "limit orders only"),
        (request("", Side.BUY, "0.01", "59000"), InvalidOrder, "client_order_id"),
        (request("v", Side.BUY, "0.01", "59000", symbol="BTC/USDT"), UnknownSymbol, "BTC/USDT"),
    ],
)
def test_invalid_orders_are_refused_precisely(
    req: OrderRequest, error: type[Exception], message: str
) -> None:
    exchange = make()
    with pytest.raises(error, match=message):
        exchange.place_order(req, T0)
    assert exchange.open_orders() == []


def test_min_quantity_is_enforced_separately_from_the_step() -> None:
    market = replace(default_market(BTC), min_quantity=D("0.01"))
    exchange = SimExchange([market], {"USDT": D(10000)})
    with pytest.raises(InvalidOrder, match=r"below the minimum quantity 0\.01"):
        exchange.place_order(request("v", Side.BUY, "0.005", "59000"), T0)


# ---------------------------------------------------------- partial fills


def test_partial_fills_keep_exact_cumulative_quantity_and_average_price() -> None:
    exchange = make()
    exchange.place_order(request("b1", Side.BUY, "0.01", "59990.3"), T0)
    first = exchange.apply_trade(BTC, D("59990.3"), T0 + 1, max_fill_quantity=D("0.004"))
    assert [type(e) for e in first] == [TickerInfo, FillInfo, OrderInfo]
    update = orders_of(first)[0]
    assert (update.status, update.filled_quantity, update.average_fill_price) == (
        OrderStatus.PARTIALLY_FILLED,
        D("0.004"),
        D("59990.3"),
    )
    assert update.updated_ms == T0 + 1
    exchange.apply_trade(BTC, D("59990"), T0 + 2, max_fill_quantity=D("0.004"))
    second = exchange.get_order(BTC, client_order_id="b1")
    assert (second.status, second.filled_quantity) == (OrderStatus.PARTIALLY_FILLED, D("0.008"))
    third = orders_of(exchange.apply_trade(BTC, D("59980"), T0 + 3))[0]
    assert (third.status, third.filled_quantity, third.average_fill_price) == (
        OrderStatus.FILLED,
        D("0.010"),
        D("59990.3"),
    )
    fills = exchange.fills(BTC)
    assert [f.quantity for f in fills] == [D("0.004"), D("0.004"), D("0.002")]
    assert all(f.maker and f.price == D("59990.3") for f in fills)
    assert [f.trade_id for f in fills] == ["1", "2", "3"]
    assert sum(f.fee for f in fills) == D("59990.3") * D("0.01") * D("0.0002")
    assert exchange.open_orders() == []


def test_a_print_that_does_not_reach_the_limit_fills_nothing() -> None:
    exchange = make()
    exchange.place_order(request("b1", Side.BUY, "0.01", "59990"), T0)
    exchange.place_order(request("s1", Side.SELL, "0.01", "60010"), T0)
    assert fills_of(exchange.apply_trade(BTC, D("59990.1"), T0)) == []
    assert fills_of(exchange.apply_trade(BTC, D("60009.9"), T0)) == []
    sells = fills_of(exchange.apply_trade(BTC, D("60010"), T0))
    assert [(f.client_order_id, f.price) for f in sells] == [("s1", D("60010"))]


def test_fills_go_best_price_first_then_oldest() -> None:
    exchange = make()
    for cid, price in (("a", "59990"), ("b", "59995"), ("c", "59990"), ("d", "59980")):
        exchange.place_order(request(cid, Side.BUY, "0.002", price), T0)
    events = exchange.apply_trade(BTC, D("59985"), T0, max_fill_quantity=D("0.001"))
    assert [(f.client_order_id, f.price) for f in fills_of(events)] == [
        ("b", D("59995")),
        ("a", D("59990")),
        ("c", D("59990")),
    ]


def test_fill_history_is_bounded_and_filterable_by_time() -> None:
    exchange = make(fill_history=3)
    for i in range(5):
        exchange.place_order(request(f"m{i}", Side.BUY, "0.001"), T0 + i)
    assert [f.trade_id for f in exchange.fills()] == ["3", "4", "5"]
    assert [f.trade_id for f in exchange.fills(BTC, since_ms=T0 + 4)] == ["5"]


# ---------------------------------------------------------- fees and margin


def test_maker_fee_is_charged_in_quote_and_reduces_the_wallet_exactly() -> None:
    exchange = make()
    exchange.place_order(request("b1", Side.BUY, "0.1", "50000"), T0)
    fill = fills_of(exchange.apply_trade(BTC, D("50000"), T0))[0]
    assert (fill.fee, fill.fee_asset, fill.maker) == (D("1.0000"), "USDT", True)
    total, used, free = usdt(exchange)
    assert used == D(500)  # 0.1 × 50000 / 10
    assert total == D("9999.0000")  # the position is at the last price: no unrealised PnL
    assert free == D("9499")


def test_open_orders_reserve_initial_margin_and_cancel_releases_it() -> None:
    exchange = make(balances={"USDT": "1000"})
    exchange.place_order(request("b1", Side.BUY, "0.1", "50000"), T0)
    assert usdt(exchange) == (D(1000), D(500), D(500))
    exchange.place_order(request("b2", Side.BUY, "0.1", "50000"), T0)
    assert usdt(exchange) == (D(1000), D(1000), D(0))
    with pytest.raises(InsufficientMargin, match=r"needs 5 USDT of margin; 0 free"):
        exchange.place_order(request("b3", Side.BUY, "0.001", "50000"), T0)
    exchange.cancel_order(BTC, client_order_id="b1", now_ms=T0)
    assert usdt(exchange) == (D(1000), D(500), D(500))


def test_reduce_only_orders_reserve_no_margin() -> None:
    exchange = make(balances={"USDT": "1000"}, spread_ticks=0)
    exchange.place_order(request("b1", Side.BUY, "0.1", "50000"), T0)
    exchange.apply_trade(BTC, D("50000"), T0)
    _, used_before, _ = usdt(exchange)
    exchange.place_order(request("tp", Side.SELL, "0.1", "51000", reduce_only=True), T0)
    assert usdt(exchange)[1] == used_before


def test_leverage_changes_margin_and_refuses_what_the_account_cannot_carry() -> None:
    exchange = make(balances={"USDT": "1000"})
    exchange.place_order(request("b1", Side.BUY, "0.1", "50000"), T0)  # 5000 notional
    assert exchange.set_leverage(BTC, D(20)) == D(20)
    assert usdt(exchange)[1] == D(250)
    with pytest.raises(InsufficientMargin, match="leverage 4"):
        exchange.set_leverage(BTC, D(4))
    assert exchange.leverage(BTC) == D(20)
    assert exchange.set_leverage(BTC, D(5)) == D(5)
    assert usdt(exchange) == (D(1000), D(1000), D(0))
    for bad in ("0", "126", "2.5", "NaN"):
        with pytest.raises(InvalidOrder, match="whole number from 1 to 125"):
            exchange.set_leverage(BTC, D(bad))


def test_default_leverage_is_capped_at_the_market_maximum() -> None:
    assert make(leverage="500").leverage(BTC) == D(125)


# ------------------------------------------------------------- positions


def test_positions_track_average_entry_realised_and_unrealised_pnl_exactly() -> None:
    exchange = make(("ETH/USDT:USDT",), price="100", spread_ticks=0, leverage="1")
    eth = "ETH/USDT:USDT"

    def market(cid: str, side: Side, quantity: str, price: str) -> None:
        exchange.apply_trade(eth, D(price), T0)
        exchange.place_order(request(cid, side, quantity, symbol=eth), T0)

    market("1", Side.BUY, "1", "100")
    market("2", Side.BUY, "1", "110")
    position = exchange.positions(eth)[0]
    assert (position.quantity, position.entry_price, position.realized_pnl) == (D(2), D(105), D(0))
    assert position.unrealized_pnl == D(10)  # (110 − 105) × 2
    assert (position.margin, position.leverage) == (D(210), D(1))
    market("3", Side.SELL, "1", "120")
    position = exchange.positions(eth)[0]
    assert (position.quantity, position.entry_price, position.realized_pnl) == (D(1), D(105), D(15))
    market("4", Side.SELL, "3", "100")  # closes 1 at a loss of 5, then opens 2 short at 100
    position = exchange.positions(eth)[0]
    assert (position.quantity, position.entry_price, position.realized_pnl) == (D(-2), D(100), D(10))
    exchange.apply_trade(eth, D("90"), T0)
    assert exchange.positions(eth)[0].unrealized_pnl == D(20)
    fees = sum(f.fee for f in exchange.fills())
    assert fees == (D(100) + D(110) + D(120) + D(300)) * D("0.0005")
    balance = exchange.balance("USDT")
    assert balance.total == D(10000) + D(10) - fees + D(20)
    assert balance.used == D(200)  # 2 × 100 / 1


def test_full_close_returns_to_flat_with_zero_entry() -> None:
    exchange = make(spread_ticks=0)
    exchange.place_order(request("1", Side.BUY, "0.003"), T0)
    exchange.apply_trade(BTC, D("61000"), T0)
    exchange.place_order(request("2", Side.SELL, "0.003"), T0)
    position = exchange.positions(BTC)[0]
    assert (position.quantity, position.entry_price, position.margin) == (D(0), D(0), D(0))
    assert position.realized_pnl == D(3)  # 0.003 × 1000
    assert position.liquidation_price is None


# ------------------------------------------------------------ reduce-only


def _long(exchange: SimExchange, quantity: str) -> None:
    exchange.place_order(request(f"open-{quantity}", Side.BUY, quantity), T0)


def test_reduce_only_that_would_open_or_increase_is_refused() -> None:
    exchange = make()
    with pytest.raises(ReduceOnlyRejected, match=r"would increase the position \(0 BTC\)"):
        exchange.place_order(request("r1", Side.SELL, "0.01", "61000", reduce_only=True), T0)
    _long(exchange, "0.01")
    with pytest.raises(ReduceOnlyRejected, match="would increase"):
        exchange.place_order(request("r2", Side.BUY, "0.01", "59000", reduce_only=True), T0)
    with pytest.raises(ReduceOnlyRejected, match=r"would flip the position \(0\.01 BTC\)"):
        exchange.place_order(request("r3", Side.SELL, "0.011", "61000", reduce_only=True), T0)
    info, _ = exchange.place_order(request("r4", Side.SELL, "0.01", "61000", reduce_only=True), T0)
    assert info.status is OrderStatus.NEW


def test_reduce_only_fill_is_capped_so_it_never_flips() -> None:
    exchange = make()
    _long(exchange, "0.02")
    exchange.place_order(request("tp", Side.SELL, "0.02", "61000", reduce_only=True), T0)
    exchange.place_order(request("cut", Side.SELL, "0.01"), T0)  # a plain sell halves the long
    events = exchange.apply_trade(BTC, D("61000"), T0 + 9)
    fill = fills_of(events)[0]
    assert (fill.client_order_id, fill.quantity) == ("tp", D("0.01"))
    final = exchange.get_order(BTC, client_order_id="tp")
    assert (final.status, final.filled_quantity) == (OrderStatus.EXPIRED, D("0.01"))
    assert final.status_detail == "reduce-only: no position left to reduce"
    assert exchange.positions(BTC)[0].quantity == 0


def test_reduce_only_orders_expire_when_the_position_is_gone() -> None:
    exchange = make()
    _long(exchange, "0.01")
    exchange.place_order(request("tp1", Side.SELL, "0.01", "61000", reduce_only=True), T0)
    exchange.place_order(request("tp2", Side.SELL, "0.01", "62000", reduce_only=True), T0)
    events = exchange.apply_trade(BTC, D("61000"), T0)
    assert [(o.client_order_id, o.status) for o in orders_of(events)] == [
        ("tp1", OrderStatus.FILLED),
        ("tp2", OrderStatus.EXPIRED),
    ]
    assert exchange.open_orders() == []


def test_reduce_only_on_spot_is_invalid() -> None:
    exchange = make((SPOT,), {"USDT": "10000", "BTC": "1"})
    with pytest.raises(InvalidOrder, match="perpetuals only"):
        exchange.place_order(request("r", Side.SELL, "0.01", "61000", symbol=SPOT, reduce_only=True), T0)


# ------------------------------------------------ ids, cancels, lookups


def test_a_client_order_id_is_never_accepted_twice() -> None:
    exchange = make()
    exchange.place_order(request("dup", Side.BUY, "0.01", "59000"), T0)
    with pytest.raises(DuplicateClientOrderId, match="'dup' already exists"):
        exchange.place_order(request("dup", Side.BUY, "0.01", "59000"), T0)
    exchange.cancel_order(BTC, client_order_id="dup", now_ms=T0)
    with pytest.raises(DuplicateClientOrderId):
        exchange.place_order(request("dup", Side.SELL, "0.01", "61000"), T0)
    assert len(exchange.open_orders()) == 0


def test_cancel_by_either_id_and_cancel_of_a_final_order_changes_nothing() -> None:
    exchange = make()
    exchange.place_order(request("a", Side.BUY, "0.01", "59000"), T0)
    exchange.place_order(request("b", Side.BUY, "0.01", "59000"), T0)
    first, events = exchange.cancel_order(BTC, order_id="1", now_ms=T0 + 1)
    assert (first.status, first.updated_ms, events) == (OrderStatus.CANCELED, T0 + 1, [first])
    second, _ = exchange.cancel_order(BTC, client_order_id="b", order_id="2", now_ms=T0 + 1)
    assert second.status is OrderStatus.CANCELED
    again, events = exchange.cancel_order(BTC, client_order_id="a", now_ms=T0 + 2)
    assert (again, events) == (first, [])
    assert usdt(exchange)[1] == 0


@pytest.mark.parametrize(
    ("symbol", "cid", "oid"),
    [(BTC, "nope", ""), (BTC, "", "99"), (BTC, "a", "2"), ("ETH/USDT:USDT", "a", "")],
)
def test_lookups_that_match_no_order_raise_order_not_found(symbol: str, cid: str, oid: str) -> None:
    exchange = make((BTC, "ETH/USDT:USDT"))
    exchange.place_order(request("a", Side.BUY, "0.01", "59000"), T0)
    exchange.place_order(request("b", Side.BUY, "0.01", "59000"), T0)
    with pytest.raises(OrderNotFound):
        exchange.get_order(symbol, client_order_id=cid, order_id=oid)
    with pytest.raises(OrderNotFound):
        exchange.cancel_order(symbol, client_order_id=cid, order_id=oid, now_ms=T0)


def test_lookup_without_any_id_is_invalid() -> None:
    with pytest.raises(InvalidArgument, match="order_id or client_order_id"):
        make().get_order(BTC)


def test_cancel_all_by_side_and_symbol() -> None:
    eth = "ETH/USDT:USDT"
    exchange = make((BTC, eth))
    exchange.place_order(request("b1", Side.BUY, "0.01", "59000"), T0)
    exchange.place_order(request("s1", Side.SELL, "0.01", "61000"), T0)
    exchange.place_order(request("b2", Side.BUY, "0.01", "59000"), T0)
    exchange.place_order(request("e1", Side.BUY, "0.1", "59000", symbol=eth), T0)
    canceled, events = exchange.cancel_all(BTC, Side.BUY, T0 + 1)
    assert [o.client_order_id for o in canceled] == ["b1", "b2"]
    assert events == canceled
    assert [o.client_order_id for o in exchange.open_orders()] == ["s1", "e1"]
    canceled, _ = exchange.cancel_all(None, None, T0 + 2)
    assert [o.client_order_id for o in canceled] == ["s1", "e1"]
    assert exchange.open_orders() == []
    assert exchange.cancel_all(None, Side.SELL, T0) == ([], [])


def test_final_orders_beyond_the_history_are_forgotten_but_their_ids_stay_used() -> None:
    exchange = make(order_history=2)
    for cid in ("a", "b", "c"):
        exchange.place_order(request(cid, Side.BUY, "0.001"), T0)
    with pytest.raises(OrderNotFound):
        exchange.get_order(BTC, client_order_id="a")
    assert exchange.get_order(BTC, client_order_id="c").status is OrderStatus.FILLED
    with pytest.raises(DuplicateClientOrderId):
        exchange.place_order(request("a", Side.BUY, "0.001"), T0)


# ------------------------------------------------------------------ spot


def test_spot_buy_reserves_quote_with_fees_and_a_fill_moves_both_assets() -> None:
    exchange = make((SPOT,), {"USDT": "10000", "BTC": "0.1"})
    exchange.place_order(request("b", Side.BUY, "0.01", "59000", symbol=SPOT), T0)
    quote = exchange.balance("USDT")
    assert (quote.used, quote.free) == (D("590.590"), D("9409.410"))  # 590 × 1.001
    fill = fills_of(exchange.apply_trade(SPOT, D("59000"), T0))[0]
    assert (fill.fee, fill.fee_asset) == (D("0.59000"), "USDT")
    assert exchange.balance("USDT") == replace(quote, free=D("9409.41"), used=D(0), total=D("9409.41"))
    assert exchange.balance("BTC").total == D("0.11")
    assert exchange.positions() == []


def test_spot_buy_fees_can_come_out_of_the_coins_bought_as_on_most_spot_venues() -> None:
    exchange = make((SPOT,), {"USDT": "10000", "BTC": "0"}, spot_fees_in_base=True)
    exchange.place_order(request("b", Side.BUY, "0.1", "59000", symbol=SPOT), T0)
    fill = fills_of(exchange.apply_trade(SPOT, D("59000"), T0))[0]
    assert (fill.quantity, fill.fee, fill.fee_asset) == (D("0.1"), D("0.0001"), "BTC")
    assert exchange.balance("BTC").total == D("0.0999")  # bought, less the fee kept in base
    assert exchange.balance("USDT").total == D("4100")  # the notional only
    with pytest.raises(InsufficientMargin):  # the whole 0.1 is no longer there to sell
        exchange.place_order(request("s", Side.SELL, "0.1", "61000", symbol=SPOT), T0)
    exchange.place_order(request("s2", Side.SELL, "0.099", "61000", symbol=SPOT), T0)
    sold = fills_of(exchange.apply_trade(SPOT, D("61000"), T0))[0]
    assert (sold.fee_asset, exchange.balance("BTC").total) == ("USDT", D("0.0009"))  # sells pay in quote


def test_spot_sell_reserves_base_and_refuses_more_than_held() -> None:
    exchange = make((SPOT,), {"USDT": "0", "BTC": "0.1"})
    exchange.place_order(request("s", Side.SELL, "0.06", "61000", symbol=SPOT), T0)
    base = exchange.balance("BTC")
    assert (base.free, base.used, base.total) == (D("0.04"), D("0.06"), D("0.1"))
    with pytest.raises(InsufficientMargin, match=r"needs 0\.05 BTC of balance; 0\.04 free"):
        exchange.place_order(request("s2", Side.SELL, "0.05", "61000", symbol=SPOT), T0)
    exchange.place_order(request("m", Side.SELL, "0.04", symbol=SPOT), T0)  # market, at the bid
    assert exchange.balance("USDT").total == D("0.04") * D("59999.9") * (1 - D("0.001"))
    with pytest.raises(InsufficientMargin, match="USDT of balance"):
        exchange.place_order(request("b", Side.BUY, "0.1", "59000", symbol=SPOT), T0)


def test_spot_leverage_is_invalid() -> None:
    with pytest.raises(InvalidOrder, match="spot market"):
        make((SPOT,), {"USDT": "1"}).set_leverage(SPOT, D(2))


def test_set_balance_validates_the_asset_and_amount() -> None:
    exchange = make()
    exchange.set_balance("USDT", D(5))
    assert exchange.balance("USDT").total == D(5)
    with pytest.raises(InvalidArgument, match="unknown asset 'ETH'"):
        exchange.set_balance("ETH", D(1))
    with pytest.raises(InvalidArgument, match=">= 0"):
        exchange.set_balance("USDT", D(-1))


# ---------------------------------------------------------------- determinism


def _script(exchange: SimExchange) -> list[SimEvent]:
    events: list[SimEvent] = []
    events += exchange.place_order(request("a", Side.BUY, "0.01", "59990"), T0)[1]
    events += exchange.place_order(request("b", Side.SELL, "0.01", "60010"), T0 + 1)[1]
    events += exchange.apply_trade(BTC, D("59990"), T0 + 2, max_fill_quantity=D("0.003"))
    events += exchange.place_order(request("c", Side.BUY, "0.005"), T0 + 3)[1]
    events += exchange.apply_trade(BTC, D("60020"), T0 + 4)
    events += exchange.cancel_all(None, None, T0 + 5)[1]
    return events


def test_the_same_calls_give_the_same_events() -> None:
    first, second = _script(make()), _script(make())
    assert first == second
    assert [f.trade_id for f in fills_of(first)] == ["1", "2", "3"]
    assert {o.order_id for o in orders_of(first)} == {"1", "2", "3"}
