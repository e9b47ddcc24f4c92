"""Property test: random order and price sequences keep the sim's books balanced."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal as D

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opensqt_common.enums import OrderType, Side, TimeInForce
from opensqt_connector.models import FillInfo, OrderInfo, OrderRequest
from opensqt_connector.sim.markets import default_market
from opensqt_connector.sim.matching import SimEvent, SimExchange
from opensqt_connector.venue_errors import (
    InsufficientMargin,
    MinNotional,
    PostOnlyWouldCross,
    ReduceOnlyRejected,
)

PERP = "ETH/USDT:USDT"
SPOT = "ETH/USDT"
START = D(3000)
TICK = D("0.01")
STEP = D("0.001")
EXPECTED_REFUSALS = (InsufficientMargin, MinNotional, PostOnlyWouldCross, ReduceOnlyRejected)


@dataclass(frozen=True)
class Place:
    side: Side
    offset_ticks: int  # from the last price (ignored for market orders)
    quantity_steps: int
    market: bool
    post_only: bool
    reduce_only: bool
    tif: TimeInForce


@dataclass(frozen=True)
class Trade:
    price_ticks: int  # offset from START, kept within ±20 %
    max_fill_steps: int | None


@dataclass(frozen=True)
class Cancel:
    pick: int


places = st.builds(
    Place,
    side=st.sampled_from(Side),
    offset_ticks=st.integers(-3000, 3000),
    quantity_steps=st.integers(1, 400),
    market=st.booleans(),
    post_only=st.booleans(),
    reduce_only=st.sampled_from([False, False, True]),
    tif=st.sampled_from([TimeInForce.GTC] * 4 + [TimeInForce.IOC, TimeInForce.FOK]),
)
trades = st.builds(
    Trade,
    price_ticks=st.integers(-4_000, 4_000) | st.integers(-60_000, 60_000),
    max_fill_steps=st.none() | st.integers(1, 20),
)
cancels = st.builds(Cancel, pick=st.integers(0, 50))
operations = st.lists(st.one_of(places, places, trades, trades, cancels), min_size=10, max_size=60)


def run(symbol: str, ops: list[Place | Trade | Cancel]) -> tuple[SimExchange, list[SimEvent], dict[str, D]]:
    market = default_market(symbol)
    start_balances = {"USDT": D(20_000), "ETH": D(3) if symbol == SPOT else D(0)}
    exchange = SimExchange([market], start_balances, leverage=D(1))
    events = exchange.apply_trade(symbol, START, 0)
    for now, op in enumerate(ops, start=1):
        try:
            if isinstance(op, Trade):
                cap = op.max_fill_steps * STEP if op.max_fill_steps else None
                events += exchange.apply_trade(symbol, START + op.price_ticks * TICK, now, cap)
            elif isinstance(op, Cancel):
                open_orders = exchange.open_orders()
                if open_orders:
                    target = open_orders[op.pick % len(open_orders)]
                    events += exchange.cancel_order(symbol, order_id=target.order_id, now_ms=now)[1]
            else:
                last = exchange.ticker(symbol).last
                request = OrderRequest(
                    client_order_id=f"c{now}",
                    symbol=symbol,
                    side=op.side,
                    type=OrderType.MARKET if op.market else OrderType.LIMIT,
                    price=None if op.market else max(last + op.offset_ticks * TICK, TICK),
                    quantity=op.quantity_steps * STEP,
                    time_in_force=op.tif,
                    post_only=op.post_only and not op.market and op.tif is TimeInForce.GTC,
                    reduce_only=op.reduce_only and symbol == PERP,
                )
                events += exchange.place_order(request, now)[1]
        except EXPECTED_REFUSALS:
            pass
        check_invariants(exchange, symbol, events, start_balances)
    return exchange, events, start_balances


def check_invariants(exchange: SimExchange, symbol: str, events: list[SimEvent], start: dict[str, D]) -> None:
    market = exchange.markets[symbol]
    fills = [e for e in events if isinstance(e, FillInfo)]
    assert len({f.trade_id for f in fills}) == len(fills)
    for order in (e for e in events if isinstance(e, OrderInfo)):
        assert 0 <= order.filled_quantity <= order.quantity
    by_order: dict[str, D] = defaultdict(D)
    for fill in fills:
        by_order[fill.order_id] += fill.quantity
        rate = market.maker_fee if fill.maker else market.taker_fee
        assert fill.fee == rate * fill.price * fill.quantity
    for order in exchange.open_orders():
        assert order.filled_quantity == by_order[order.order_id] < order.quantity
    fees = sum((f.fee for f in fills), D(0))
    signed = sum((f.side.sign * f.quantity for f in fills), D(0))
    balances = {b.asset: b for b in exchange.balances()}
    if symbol == PERP:
        position = exchange.positions(symbol)[0]
        assert position.quantity == signed
        wallet = balances["USDT"].total - position.unrealized_pnl
        assert wallet == start["USDT"] + position.realized_pnl - fees
        assert balances["USDT"].total >= 0
        # Reduce-only fills never flip the position.
        running = D(0)
        for fill in fills:
            after = running + fill.side.sign * fill.quantity
            if exchange_order_reduce_only(events, fill.order_id):
                assert running * after >= 0
                assert abs(after) < abs(running)
            running = after
    else:
        quote_flow = sum((-f.side.sign * f.price * f.quantity for f in fills), D(0))
        assert balances["ETH"].total == start["ETH"] + signed
        assert balances["USDT"].total == start["USDT"] + quote_flow - fees
        for balance in balances.values():
            assert balance.total >= 0
            assert balance.free >= 0
            assert balance.used >= 0


def exchange_order_reduce_only(events: list[SimEvent], order_id: str) -> bool:
    return any(isinstance(e, OrderInfo) and e.order_id == order_id and e.reduce_only for e in events)


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(operations)
def test_perpetual_invariants_hold_for_any_sequence(ops: list[Place | Trade | Cancel]) -> None:
    run(PERP, ops)


@SETTINGS
@given(operations)
def test_spot_invariants_hold_for_any_sequence(ops: list[Place | Trade | Cancel]) -> None:
    run(SPOT, ops)


@SETTINGS
@given(operations)
def test_replaying_a_sequence_gives_identical_events(ops: list[Place | Trade | Cancel]) -> None:
    first, second = run(PERP, ops)[1], run(PERP, ops)[1]
    assert first == second
