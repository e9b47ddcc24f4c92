"""Pure reconciliation against the venue's open orders and position."""

from __future__ import annotations

from decimal import Decimal

from opensqt_common.enums import MarketType, OrderStatus, Side
from opensqt_engine.core import (
    CancelReason,
    DriftSeverity,
    GridConfig,
    GridState,
    GridStrategy,
    MarketRules,
    OrderAccepted,
    OrderUpdate,
    PlaceOrder,
    PriceTick,
    VenueOrder,
    classify_drift,
    reconcile,
)

D = Decimal
RULES = MarketRules(tick_size=D("0.01"), step_size=D("0.001"), min_quantity=D("0.001"), min_notional=D("1"))
CONFIG = GridConfig(
    strategy_id="rc",
    symbol="BTC/USDT:USDT",
    market=MarketType.LINEAR_PERPETUAL,
    price_interval=D("1"),
    order_amount=D("10"),
    buy_window=3,
    sell_window=3,
    anchor_price=D("100"),
)


def setup() -> tuple[GridStrategy, GridState, list[PlaceOrder]]:
    """Three buys at 99, 98, 97: the first two acknowledged, the third still pending."""
    strategy = GridStrategy(CONFIG, RULES)
    state = strategy.new_state()
    buys = [a for a in strategy.handle(state, PriceTick(D("100"), 1.0)) if isinstance(a, PlaceOrder)]
    for buy in buys[:2]:
        strategy.handle(state, OrderAccepted(buy.client_order_id, "v" + buy.client_order_id))
    return strategy, state, buys


def venue(place: PlaceOrder, filled: str = "0") -> VenueOrder:
    return VenueOrder(
        place.client_order_id, "v" + place.client_order_id, place.side, place.price, place.quantity, D(filled)
    )


def test_clean_when_the_venue_agrees() -> None:
    _, state, buys = setup()
    report = reconcile(CONFIG, RULES, state, [venue(b) for b in buys], D(0))
    assert report.cancels == ()
    assert report.lookups == ()
    # the pending one is open at the venue: feed it as an update to lock the slot
    assert report.updates == (
        OrderUpdate(buys[2].client_order_id, "v" + buys[2].client_order_id, OrderStatus.NEW, D(0)),
    )
    assert report.drift.severity is DriftSeverity.NONE
    assert not report.clean
    assert report.max_generation_seen == 2
    assert not report.stale_state


def test_unknown_own_orders_are_cancelled_and_foreign_ones_left_alone() -> None:
    _, state, buys = setup()
    leftover = VenueOrder("rcBP5G77", "v77", Side.BUY, D("105"), D("0.1"), D(0))
    other_strategy = VenueOrder("rcxBN1G0", "vx", Side.BUY, D("99"), D("0.1"), D(0))
    manual = VenueOrder("web-1234", "vm", Side.SELL, D("120"), D("0.1"), D(0))
    report = reconcile(
        CONFIG, RULES, state, [venue(b) for b in buys] + [leftover, other_strategy, manual], D(0)
    )
    assert [(c.level_index, c.client_order_id, c.order_id, c.reason) for c in report.cancels] == [
        (5, "rcBP5G77", "v77", CancelReason.UNKNOWN_ORDER)
    ]
    assert report.foreign_orders == ("rcxBN1G0", "web-1234")
    assert report.max_generation_seen == 7 * 36 + 7  # "77" in base 36
    assert report.stale_state  # the venue has an id from a generation the state never reached


def test_live_slots_missing_at_the_venue_must_be_looked_up() -> None:
    _, state, buys = setup()
    report = reconcile(CONFIG, RULES, state, [venue(buys[0])], D(0))
    assert report.lookups == (buys[2].client_order_id, buys[1].client_order_id)  # by level: 97, 98


def test_fill_progress_the_state_has_not_seen_becomes_an_update() -> None:
    strategy, state, buys = setup()
    report = reconcile(CONFIG, RULES, state, [venue(buys[0], "0.05"), venue(buys[1])], D("0.05"))
    update = OrderUpdate(
        buys[0].client_order_id, "v" + buys[0].client_order_id, OrderStatus.PARTIALLY_FILLED, D("0.05")
    )
    assert update in report.updates
    assert report.drift.severity is DriftSeverity.SMALL  # until the update is applied
    strategy.handle(state, update)
    after = reconcile(CONFIG, RULES, state, [venue(buys[0], "0.05"), venue(buys[1])], D("0.05"))
    assert buys[0].client_order_id not in [u.client_order_id for u in after.updates]
    assert after.drift.severity is DriftSeverity.NONE


def test_drift_classification() -> None:
    _, state, _ = setup()
    # one order at the last price 100 is 0.1 (10 / 100)
    assert classify_drift(CONFIG, RULES, state, D("0.0009")).severity is DriftSeverity.NONE
    assert classify_drift(CONFIG, RULES, state, D("0.001")).severity is DriftSeverity.SMALL
    assert classify_drift(CONFIG, RULES, state, D("-0.1")).severity is DriftSeverity.SMALL
    large = classify_drift(CONFIG, RULES, state, D("0.101"))
    assert large.severity is DriftSeverity.LARGE
    assert (large.drift, large.one_order, large.local_position) == (D("0.101"), D("0.1"), D(0))


def test_drift_before_any_price_uses_one_step() -> None:
    config = GridConfig(
        strategy_id="rc",
        symbol="X",
        market=MarketType.SPOT,
        price_interval=D("1"),
        order_amount=D("10"),
        buy_window=1,
        sell_window=1,
    )
    state = GridStrategy(config, RULES).new_state()
    assert classify_drift(config, RULES, state, D("0.001")).severity is DriftSeverity.SMALL
    assert classify_drift(config, RULES, state, D("0.002")).severity is DriftSeverity.LARGE


def test_reconcile_does_not_touch_the_state() -> None:
    _, state, buys = setup()
    before = state.to_snapshot()
    reconcile(CONFIG, RULES, state, [venue(buys[0], "0.05")], D("3"))
    assert state.to_snapshot() == before
