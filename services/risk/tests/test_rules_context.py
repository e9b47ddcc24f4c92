"""RiskContext: cached market data and the bookkeeping of open orders and reserved margin."""

from __future__ import annotations

import pytest

from opensqt_common.enums import OrderStatus, Side
from opensqt_risk.rules import OrderUpdate, PositionSnapshot, RiskContext
from opensqt_risk.rules.context import margin_for
from opensqt_risk.rules.testing import NOW, SYMBOL, D, buy, make_ctx, order_update, sell


def test_margin_reservation_rounds_up_to_1e_12() -> None:
    assert margin_for(D(100), D(3)) == D("33.333333333334")
    assert margin_for(D(100), D(4)) == D(25)


def test_events_for_untracked_symbols_are_ignored() -> None:
    ctx = RiskContext()
    assert not ctx.on_price("X", D(1), NOW)
    assert not ctx.on_kline("X", NOW)
    assert not ctx.on_position(PositionSnapshot("X", D(1)))
    assert not ctx.set_leverage("X", D(2))
    ctx.on_order(OrderUpdate("c1", "X", Side.BUY, OrderStatus.NEW, D(1), D(0), D(1)))
    assert ctx.orders == {}


def test_non_positive_prices_are_ignored() -> None:
    ctx = make_ctx(price=D(100))
    assert not ctx.on_price(SYMBOL, D(0), NOW + 1)
    assert not ctx.on_price(SYMBOL, D("NaN"), NOW + 1)
    assert ctx.symbols[SYMBOL].last_price == D(100)
    assert ctx.symbols[SYMBOL].last_price_at_ns == NOW


def test_add_symbol_again_updates_leverage_and_rejects_nonsense() -> None:
    ctx = make_ctx(leverage=D(2))
    state = ctx.add_symbol(SYMBOL, leverage=D(5), klines_required=False)
    assert state is ctx.symbols[SYMBOL]
    assert (state.leverage, state.klines_required) == (D(5), False)
    with pytest.raises(ValueError, match="leverage"):
        ctx.add_symbol(SYMBOL, leverage=D(0))
    with pytest.raises(ValueError, match="in_flight_timeout_ns"):
        RiskContext(in_flight_timeout_ns=0)


def test_orders_seen_first_on_the_stream_are_adopted_and_classified() -> None:
    ctx = make_ctx(position=D(1), leverage=D(2), free=D(1000))
    ctx.on_order(order_update(buy("1", price="100", coid="o1")))
    ctx.on_order(order_update(sell("0.5", price="110", coid="o2")))  # closes part of the long
    ctx.on_order(order_update(sell("2", price="110", coid="o3")))  # more than the position: opens
    state = ctx.symbols[SYMBOL]
    assert state.open_orders == 3
    assert (state.opening_buy_quantity, state.opening_sell_quantity) == (D(1), D(2))
    assert (state.closing_buy_quantity, state.closing_sell_quantity) == (D(0), D("0.5"))
    assert not ctx.orders["o1"].closing
    assert ctx.orders["o2"].closing
    assert ctx.reserved_margin == D(50) + D(110)  # 100/2 + 220/2
    ctx.on_balance(D(840))  # the venue's free now nets them
    assert ctx.reserved_margin == 0
    assert ctx.available_margin == D(840)


def test_partial_fills_shrink_what_an_order_counts_for() -> None:
    ctx = make_ctx(nets=False)
    intent = buy("1", price="100")
    ctx.on_order(order_update(intent))
    ctx.on_order(order_update(intent, OrderStatus.PARTIALLY_FILLED, filled="0.3"))
    state = ctx.symbols[SYMBOL]
    assert state.opening_buy_quantity == D("0.7")
    assert ctx.reserved_margin == D(70)
    assert state.open_orders == 1


@pytest.mark.parametrize("status", [OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED])
def test_terminal_updates_release_everything(status: OrderStatus) -> None:
    ctx = make_ctx(nets=False)
    intent = buy("1", price="100")
    ctx.on_order(order_update(intent))
    ctx.on_order(order_update(intent, status))
    state = ctx.symbols[SYMBOL]
    assert (state.open_orders, state.opening_buy_quantity, ctx.reserved_margin) == (0, D(0), D(0))
    assert ctx.orders == {}


def test_terminal_update_for_an_unknown_order_is_harmless() -> None:
    ctx = make_ctx()
    ctx.on_order(order_update(buy(coid="ghost"), OrderStatus.FILLED, filled="0.1"))
    assert ctx.orders == {}
    assert ctx.symbols[SYMBOL].open_orders == 0


def test_snapshot_replaces_acknowledged_orders_and_keeps_in_flight_ones() -> None:
    ctx = make_ctx(nets=False)
    gone, kept = buy("0.1", coid="gone"), buy("0.2", coid="kept")
    ctx.on_order(order_update(gone))
    ctx.on_order(order_update(kept))
    ctx.record_approval(
        buy("0.3", coid="flying"),
        ctx.symbols[SYMBOL],
        closing=False,
        reference_price=D(100),
        margin=D(30),
        now_ns=NOW,
    )
    ctx.sync_open_orders([order_update(kept), order_update(buy("0.4", coid="new"))])
    assert set(ctx.orders) == {"kept", "flying", "new"}
    state = ctx.symbols[SYMBOL]
    assert state.open_orders == 3
    assert state.opening_buy_quantity == D("0.9")
    assert ctx.reserved_margin == D(90)


def test_pnl_is_summed_over_symbols() -> None:
    ctx = make_ctx()
    ctx.add_symbol("ETH/USDT")
    ctx.on_position(PositionSnapshot(SYMBOL, D(1), D(-5), D(2)))
    ctx.on_position(PositionSnapshot("ETH/USDT", D(1), D("1.5"), D("-0.25")))
    assert ctx.pnl() == (D("-3.5"), D("1.75"))
