"""Scripted scenarios for GridStrategy: placements, fills, take-profits, gates and venue answers."""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pytest

from opensqt_common.enums import MarketType, OrderStatus, Side, TradingState
from opensqt_engine.core import (
    Action,
    CancelFailed,
    CancelOrder,
    CancelReason,
    Event,
    Fill,
    GridConfig,
    GridState,
    GridStrategy,
    MarketRules,
    Note,
    NoteKind,
    OrderAccepted,
    OrderRejected,
    OrderUpdate,
    Paused,
    PlaceOrder,
    PriceTick,
    RejectReason,
    Slot,
    SlotStatus,
    SnapshotError,
    Timer,
    TradingStateChanged,
)

D = Decimal
ZERO = D(0)
DEFAULT_FEE = D("0.001")
RULES = MarketRules(tick_size=D("0.01"), step_size=D("0.001"), min_quantity=D("0.001"), min_notional=D("1"))


def make_config(**overrides: Any) -> GridConfig:
    base: dict[str, Any] = {
        "strategy_id": "t1",
        "symbol": "BTC/USDT:USDT",
        "market": MarketType.LINEAR_PERPETUAL,
        "price_interval": D("1"),
        "order_amount": D("10"),
        "buy_window": 3,
        "sell_window": 3,
        "anchor_price": D("100"),
        "max_open_orders": 20,
        "margin_lock_seconds": 30.0,
        "reject_backoff_seconds": 1.0,
        "reject_backoff_max_seconds": 8.0,
    }
    base.update(overrides)
    return GridConfig(**base)


def places(actions: Sequence[Action]) -> list[PlaceOrder]:
    return [a for a in actions if isinstance(a, PlaceOrder)]


def cancels(actions: Sequence[Action]) -> list[CancelOrder]:
    return [a for a in actions if isinstance(a, CancelOrder)]


def notes(actions: list[Action], kind: NoteKind) -> list[Note]:
    return [a for a in actions if isinstance(a, Note) and a.kind is kind]


def summary(actions: list[Action]) -> list[tuple[str, int, str, Decimal]]:
    """(kind, level, side, price) of the orders and cancels, in order."""
    out: list[tuple[str, int, str, Decimal]] = []
    for action in actions:
        if isinstance(action, PlaceOrder):
            out.append(("place", action.level_index, action.side.value, action.price))
        elif isinstance(action, CancelOrder):
            out.append(("cancel", action.level_index, action.reason.value, D(0)))
    return out


class Driver:
    """A grid plus a clock and helpers that answer like a venue would."""

    def __init__(self, rules: MarketRules = RULES, **overrides: Any) -> None:
        self.strategy = GridStrategy(make_config(**overrides), rules)
        self.state = self.strategy.new_state()
        self.now = 0.0
        self.trades = 0
        self.events: list[Event] = []

    def send(self, event: Event) -> list[Action]:
        self.events.append(event)
        return self.strategy.handle(self.state, event)

    def tick(self, price: str, dt: float = 0.1) -> list[Action]:
        self.now += dt
        return self.send(PriceTick(D(price), self.now))

    def wait(self, seconds: float) -> list[Action]:
        self.now += seconds
        return self.send(Timer(self.now))

    def accept(self, actions: Sequence[Action]) -> list[Action]:
        out: list[Action] = []
        for place in places(actions):
            out.extend(self.send(OrderAccepted(place.client_order_id, "v-" + place.client_order_id)))
        return out

    def fill(
        self,
        place: PlaceOrder,
        quantity: Decimal | None = None,
        *,
        fee: Decimal = DEFAULT_FEE,
        total: Decimal | None = None,
        update: bool = True,
    ) -> list[Action]:
        """A fill of `quantity` (all by default) and, if asked, the cumulative update after it."""
        quantity = place.quantity if quantity is None else quantity
        self.trades += 1
        out = self.send(Fill(place.client_order_id, f"tr{self.trades}", place.price, quantity, fee))
        if update:
            cumulative = quantity if total is None else total
            status = OrderStatus.FILLED if cumulative == place.quantity else OrderStatus.PARTIALLY_FILLED
            out += self.send(
                OrderUpdate(place.client_order_id, "v-" + place.client_order_id, status, cumulative)
            )
        return out

    def confirm_cancels(self, actions: list[Action], filled: Decimal = ZERO) -> list[Action]:
        out: list[Action] = []
        for cancel in cancels(actions):
            update = OrderUpdate(cancel.client_order_id, cancel.order_id, OrderStatus.CANCELED, filled)
            out.extend(self.send(update))
        return out

    def slot(self, level: int) -> Slot:
        return self.state.slots[level]

    def live(self) -> dict[int, tuple[str, Decimal]]:
        return {
            k: (s.side.value if s.side else "", s.order_price)
            for k, s in sorted(self.state.slots.items())
            if s.is_live
        }


def start(**overrides: Any) -> tuple[Driver, dict[int, PlaceOrder]]:
    """A grid at price 100 with its three buys (99, 98, 97) acknowledged."""
    driver = Driver(**overrides)
    first = driver.tick("100")
    assert not driver.accept(first)
    return driver, {p.level_index: p for p in places(first)}


# ---- placements ---------------------------------------------------------------------------------


def test_first_price_places_buys_at_expected_levels_and_quantities() -> None:
    driver = Driver()
    actions = driver.tick("100")
    assert actions == [
        PlaceOrder(-1, "t1BN1G0", Side.BUY, D("99"), D("0.101"), post_only=True, reduce_only=False),
        PlaceOrder(-2, "t1BN2G1", Side.BUY, D("98"), D("0.102"), post_only=True, reduce_only=False),
        PlaceOrder(-3, "t1BN3G2", Side.BUY, D("97"), D("0.103"), post_only=True, reduce_only=False),
    ]
    assert all(driver.slot(k).status is SlotStatus.PENDING for k in (-1, -2, -3))
    assert driver.state.open_orders == 3


def test_anchor_comes_from_the_first_price_and_stays() -> None:
    driver = Driver(anchor_price=None)
    actions = driver.tick("100.004")
    assert notes(actions, NoteKind.ANCHOR_SET)
    assert driver.state.anchor == D("100.00")
    assert [p.price for p in places(actions)] == [D("99.00"), D("98.00"), D("97.00")]
    driver.tick("250")
    assert driver.state.anchor == D("100.00")


@pytest.mark.parametrize(
    ("price", "levels"),
    [("99.05", [98, 97, 96]), ("99.15", [99, 98, 97]), ("99.1", [98, 97, 96]), ("100.11", [100, 99, 98])],
)
def test_buy_window_keeps_a_tenth_of_an_interval_below_the_price(price: str, levels: list[int]) -> None:
    driver = Driver()
    assert [p.price for p in places(driver.tick(price))] == [D(level) for level in levels]


def test_scripted_path_moves_the_buy_window() -> None:
    driver, _ = start()
    assert driver.tick("100.05") == []  # same boundaries: nothing to do
    up = driver.tick("101.2")  # window now 101, 100, 99: 98 and 97 leave it
    assert summary(up) == [
        ("cancel", -3, "below_buy_window", D(0)),
        ("cancel", -2, "below_buy_window", D(0)),
        ("place", 1, "buy", D("101")),
        ("place", 0, "buy", D("100")),
    ]
    assert [p.quantity for p in places(up)] == [D("0.099"), D("0.100")]
    assert driver.tick("101.3") == []  # cancels in flight are not sent twice
    assert driver.confirm_cancels(up) == []
    assert sorted(driver.state.slots) == [-1, 0, 1]  # idle slots are dropped
    assert driver.live() == {-1: ("buy", D("99")), 0: ("buy", D("100")), 1: ("buy", D("101"))}


def test_unacknowledged_buys_are_cancelled_only_after_their_ack() -> None:
    driver = Driver()
    first = driver.tick("100")
    moved = driver.tick("102.5")
    assert cancels(moved) == []  # all three still pending
    assert [p.price for p in places(moved)] == [D("102"), D("101"), D("100")]
    after_ack = driver.send(OrderAccepted(places(first)[2].client_order_id, "v3"))
    assert summary(after_ack) == [("cancel", -3, "below_buy_window", D(0))]


def test_min_notional_skips_with_a_single_note() -> None:
    rules = MarketRules(
        tick_size=D("0.01"), step_size=D("0.001"), min_quantity=D("0.001"), min_notional=D("9.9")
    )
    driver = Driver(rules=rules)
    actions = driver.tick("100")
    # 0.101 × 99 = 9.999 passes; 0.102 × 98 = 9.996 passes; 0.103 × 97 = 9.991 passes
    assert len(places(actions)) == 3
    driver = Driver(rules=rules, min_order_value=D("9.995"))
    actions = driver.tick("100")
    assert [p.price for p in places(actions)] == [D("99"), D("98")]
    skipped = notes(actions, NoteKind.SKIPPED_BELOW_MINIMUM)
    assert len(skipped) == 1
    assert skipped[0].level_index == -3
    assert "below the minimum 9.995" in skipped[0].text
    assert not notes(driver.tick("100.5"), NoteKind.SKIPPED_BELOW_MINIMUM)


def test_tick_inside_the_band_takes_the_fast_path() -> None:
    driver, _ = start()
    snapshot = driver.state.to_snapshot()
    # buy boundary 99 holds for p in (99.1, 100.1], sell boundary 101 for p in [100, 101)
    for price in ("100.09", "100", "100.01", "100.10"):
        assert driver.tick(price) == []
    assert not driver.state.dirty
    after = driver.state.to_snapshot()
    for key in ("slots", "next_generation", "realized_pnl"):
        assert after[key] == snapshot[key]
    assert places(driver.tick("101.11"))  # crosses the band: evaluates


# ---- fills and take-profits ----------------------------------------------------------------------


def test_drop_fills_buys_and_take_profits_sit_one_interval_above() -> None:
    driver, buys = start()
    assert [p.price for p in places(driver.tick("98.99"))] == [D("96")]  # generation 3
    first = driver.fill(buys[-1])
    assert [p for p in places(first) if p.side is Side.SELL] == [
        PlaceOrder(-1, "t1SN1G4", Side.SELL, D("100"), D("0.101"), post_only=True, reduce_only=True)
    ]
    assert driver.slot(-1).position == D("0.101")
    driver.accept(first)
    driver.tick("97.99")
    second = driver.fill(buys[-2])
    sells = [p for p in places(second) if p.side is Side.SELL]
    assert [(p.level_index, p.price, p.quantity) for p in sells] == [(-2, D("99"), D("0.102"))]
    assert driver.state.position == D("0.203")


def test_spot_sells_are_not_reduce_only() -> None:
    driver, buys = start(market=MarketType.SPOT)
    driver.tick("98.99")
    sell = places(driver.fill(buys[-1]))[-1]
    assert sell.side is Side.SELL
    assert sell.reduce_only is False


def test_round_trip_realises_exactly_quantity_times_interval_minus_fees() -> None:
    driver, buys = start(buy_window=3, sell_window=5)
    sells: list[PlaceOrder] = []
    for level, price in ((-1, "98.99"), (-2, "97.99"), (-3, "96.99")):
        driver.tick(price)
        out = driver.fill(buys[level], fee=D("0.0019"))
        driver.accept(out)
        sells += [p for p in places(out) if p.side is Side.SELL]
    assert [s.price for s in sells] == [D("100"), D("99"), D("98")]
    for price, sell in (("98.01", sells[2]), ("99.01", sells[1]), ("100.01", sells[0])):
        driver.tick(price)
        driver.fill(sell, fee=D("0.0021"))
    gross = sum((s.quantity * D(1) for s in sells), D(0))
    assert driver.state.realized_pnl == gross == D("0.306")
    assert driver.state.fees_paid == D("0.0019") * 3 + D("0.0021") * 3
    assert driver.state.net_pnl == D("0.306") - D("0.012")
    assert driver.state.position == 0
    assert driver.state.fill_count == 6


def test_sell_fill_at_a_better_price_realises_the_better_price() -> None:
    driver, buys = start()
    driver.tick("98.99")
    sell = places(driver.fill(buys[-1], fee=D(0)))[-1]
    driver.send(Fill(sell.client_order_id, "better", D("100.5"), sell.quantity, D(0)))
    assert driver.state.realized_pnl == sell.quantity * D("1.5")


def test_partial_buy_is_not_cancelled_when_it_leaves_the_window_and_sells_what_filled() -> None:
    driver, buys = start()
    assert driver.fill(buys[-3], D("0.05"), total=D("0.05")) == []
    assert driver.slot(-3).status is SlotStatus.LOCKED
    up = driver.tick("101.2")
    assert [c.level_index for c in cancels(up)] == [-2]  # -3 is partially filled: it stays
    ended = driver.send(
        OrderUpdate(buys[-3].client_order_id, "v", OrderStatus.CANCELED, D("0.05"))  # cancelled by hand
    )
    assert places(ended) == []  # an order that ended without our cancel backs the slot off first
    final = driver.wait(1.01)
    sells = [p for p in places(final) if p.side is Side.SELL]
    # take-profit at 98, which is below the price 101.2: in the money, so not post-only
    assert [(s.level_index, s.price, s.quantity, s.post_only) for s in sells] == [
        (-3, D("98"), D("0.05"), False)
    ]


def test_partial_sell_reduces_the_position_and_realises_its_part() -> None:
    driver, buys = start()
    driver.tick("98.99")
    sell = places(driver.fill(buys[-1], fee=D(0)))[-1]
    driver.accept([sell])
    driver.fill(sell, D("0.04"), fee=D(0), total=D("0.04"))
    assert driver.slot(-1).position == D("0.061")
    assert driver.state.realized_pnl == D("0.04")
    assert driver.slot(-1).status is SlotStatus.LOCKED


# ---- fills and updates in any order ------------------------------------------------------------


def test_update_before_fill_and_fill_before_update_count_once() -> None:
    driver, buys = start()
    a, b = buys[-1], buys[-2]
    # update first, then the fill of the same trade
    driver.send(OrderUpdate(a.client_order_id, "va", OrderStatus.PARTIALLY_FILLED, D("0.05")))
    driver.send(Fill(a.client_order_id, "x1", a.price, D("0.05"), D("0.01")))
    assert driver.slot(-1).position == D("0.05")
    # fill first, then the update
    driver.send(Fill(b.client_order_id, "x2", b.price, D("0.03"), D("0.01")))
    driver.send(OrderUpdate(b.client_order_id, "vb", OrderStatus.PARTIALLY_FILLED, D("0.03")))
    assert driver.slot(-2).position == D("0.03")
    # an update that runs ahead of the fills is the truth for quantity
    driver.send(OrderUpdate(b.client_order_id, "vb", OrderStatus.PARTIALLY_FILLED, D("0.07")))
    driver.send(Fill(b.client_order_id, "x3", b.price, D("0.04"), D("0.01")))
    assert driver.slot(-2).position == D("0.07")
    # an older update arriving late changes nothing
    driver.send(OrderUpdate(b.client_order_id, "vb", OrderStatus.PARTIALLY_FILLED, D("0.03")))
    assert driver.slot(-2).position == D("0.07")
    assert driver.state.fees_paid == D("0.03")


def test_fills_alone_complete_an_order_and_the_late_update_is_stale() -> None:
    driver, buys = start()
    order = buys[-1]
    driver.tick("98.99")
    out = driver.send(Fill(order.client_order_id, "f1", order.price, D("0.06")))
    assert driver.slot(-1).status is SlotStatus.LOCKED
    out = driver.send(Fill(order.client_order_id, "f2", order.price, D("0.041")))
    assert [p.side for p in places(out)] == [Side.SELL]
    late = driver.send(OrderUpdate(order.client_order_id, "v", OrderStatus.FILLED, order.quantity))
    assert [n.kind for n in late if isinstance(n, Note)] == [NoteKind.UNKNOWN_ORDER]
    assert "stale" in late[0].text  # type: ignore[union-attr]
    assert driver.slot(-1).position == order.quantity


def test_filled_status_means_the_whole_quantity() -> None:
    driver, buys = start()
    driver.tick("98.99")
    order = buys[-1]
    driver.send(OrderUpdate(order.client_order_id, "v", OrderStatus.FILLED, D("0")))
    assert driver.slot(-1).position == order.quantity


def test_late_fill_of_a_terminated_order_counts_money_not_position() -> None:
    driver, buys = start()
    driver.tick("98.99")
    sell = places(driver.fill(buys[-1], fee=D(0)))[-1]
    driver.accept([sell])
    driver.send(OrderUpdate(sell.client_order_id, "v", OrderStatus.FILLED, sell.quantity))
    assert -1 not in driver.state.slots  # flat and idle: dropped
    assert driver.state.realized_pnl == 0
    assert driver.send(Fill(sell.client_order_id, "late", sell.price, sell.quantity, D("0.002"))) == []
    assert driver.state.realized_pnl == sell.quantity
    assert driver.state.fees_paid == D("0.002")
    assert driver.state.position == 0


def test_duplicate_fills_are_ignored() -> None:
    driver, buys = start()
    fill = Fill(buys[-1].client_order_id, "dup", D("99"), D("0.05"), D("0.01"))
    driver.send(fill)
    before = driver.state.to_snapshot()
    again = driver.send(fill)
    assert [a.kind for a in again if isinstance(a, Note)] == [NoteKind.DUPLICATE_FILL]
    assert driver.state.to_snapshot() == before


def test_overfill_is_capped_and_noted() -> None:
    driver, buys = start()
    out = driver.send(OrderUpdate(buys[-1].client_order_id, "v", OrderStatus.PARTIALLY_FILLED, D("5")))
    assert notes(out, NoteKind.OVERFILL)
    assert driver.slot(-1).position == buys[-1].quantity
    # fully filled: the buy ended and the take-profit went out for the capped quantity
    assert [(p.side, p.quantity) for p in places(out)] == [(Side.SELL, buys[-1].quantity)]


@pytest.mark.parametrize(
    "client_order_id",
    ["other-order-1", "zzBN1G0", "t1BN1G99", "t1SN1G0"],  # foreign, other strategy, unknown generation/side
)
def test_events_for_unknown_ids_change_nothing(client_order_id: str) -> None:
    driver, _ = start()
    before = driver.state.to_snapshot()
    events: list[Event] = [
        OrderAccepted(client_order_id, "v"),
        OrderRejected(client_order_id, RejectReason.OTHER),
        OrderUpdate(client_order_id, "v", OrderStatus.FILLED, D("1")),
        Fill(client_order_id, "u1", D("99"), D("1"), D("1")),
        CancelFailed(client_order_id),
    ]
    for event in events:
        out = driver.send(event)
        assert [type(a) for a in out] == [Note]
        assert out[0].kind is NoteKind.UNKNOWN_ORDER  # type: ignore[union-attr]
    assert driver.state.to_snapshot() == before


# ---- rejections, backoff, post-only ----------------------------------------------------------------


def test_post_only_falls_back_to_plain_limit_after_three_rejections() -> None:
    driver = Driver(buy_window=1)
    order = places(driver.tick("100"))[0]
    flags = [order.post_only]
    for _ in range(3):
        out = driver.send(OrderRejected(order.client_order_id, RejectReason.POST_ONLY_WOULD_CROSS))
        assert notes(out, NoteKind.ORDER_REJECTED)
        order = places(out)[0]  # retried at once, with a new id
        flags.append(order.post_only)
    assert flags == [True, True, True, False]
    assert driver.slot(-1).post_only_failures == 3
    driver.tick("98.99")
    out = driver.fill(order)  # a complete fill resets the counter
    assert driver.slot(-1).post_only_failures == 0
    assert [(p.side, p.post_only) for p in places(out)] == [(Side.SELL, True)]


def test_expired_post_only_order_counts_as_a_post_only_rejection() -> None:
    driver = Driver(buy_window=1)
    order = places(driver.tick("100"))[0]
    driver.accept([order])
    out = driver.send(OrderUpdate(order.client_order_id, "v", OrderStatus.EXPIRED, D(0)))
    assert driver.slot(-1).post_only_failures == 1
    assert [p.level_index for p in places(out)] == [-1]  # retried at once


def test_risk_veto_backs_off_the_slot_exponentially() -> None:
    driver = Driver(buy_window=1)
    order = places(driver.tick("100"))[0]
    assert (
        places(driver.send(OrderRejected(order.client_order_id, RejectReason.RISK_VETO, "price band"))) == []
    )
    assert driver.slot(-1).retry_after == pytest.approx(driver.now + 1.0)
    assert driver.tick("100.05", dt=0.5) == []  # no re-send on every tick
    assert driver.tick("100.08", dt=0.2) == []
    retry = places(driver.tick("100.1", dt=0.4))  # 1.1 s after the veto
    assert [p.client_order_id for p in retry] == ["t1BN1G1"]  # same level, new generation
    driver.send(OrderRejected(retry[0].client_order_id, RejectReason.RISK_VETO))
    assert driver.slot(-1).retry_after == pytest.approx(driver.now + 2.0)
    assert driver.wait(1.5) == []
    assert places(driver.wait(0.6))
    driver.send(OrderAccepted("t1BN1G2", "v"))
    assert driver.slot(-1).reject_streak == 0


def test_backoff_is_capped() -> None:
    driver = Driver(buy_window=1)
    order = places(driver.tick("100"))[0]
    for _ in range(6):
        driver.send(OrderRejected(order.client_order_id, RejectReason.OTHER))
        order = places(driver.wait(100.0))[0]
    driver.send(OrderRejected(order.client_order_id, RejectReason.MIN_NOTIONAL))
    assert driver.slot(-1).retry_after == pytest.approx(driver.now + 8.0)


def test_external_cancel_backs_off_before_replacing() -> None:
    driver, buys = start()
    out = driver.send(OrderUpdate(buys[-1].client_order_id, "v", OrderStatus.CANCELED, D(0)))
    assert places(out) == []
    assert places(driver.wait(1.01))[0].level_index == -1


def test_margin_rejection_locks_buys_and_cancels_resting_ones() -> None:
    driver, _ = start(buy_window=4)  # 99, 98, 97, 96 resting
    pending = places(driver.tick("97.5"))  # window 97 … 94: 95 and 94 go out
    assert [p.price for p in pending] == [D("95"), D("94")]
    out = driver.send(OrderRejected(pending[0].client_order_id, RejectReason.INSUFFICIENT_MARGIN))
    assert notes(out, NoteKind.MARGIN_LOCK)
    assert driver.state.margin_lock_until == pytest.approx(driver.now + 30.0)
    assert [(c.level_index, c.reason) for c in cancels(out)] == [
        (-4, CancelReason.MARGIN_LOCK),
        (-3, CancelReason.MARGIN_LOCK),
        (-2, CancelReason.MARGIN_LOCK),
        (-1, CancelReason.MARGIN_LOCK),
    ]
    assert places(out) == []
    # the buy at 94 was still pending: it is cancelled once acknowledged
    assert [c.level_index for c in cancels(driver.accept(pending[1:]))] == [-6]
    driver.confirm_cancels(out)
    assert places(driver.tick("97.6")) == []
    assert places(driver.wait(29.0)) == []
    again = places(driver.wait(1.1))
    assert [p.price for p in again] == [D("97"), D("96"), D("95")]  # 94's cancel is not confirmed yet


def test_margin_lock_starts_when_the_rejection_happened() -> None:
    driver, buys = start()
    driver.send(OrderRejected(buys[-1].client_order_id, RejectReason.INSUFFICIENT_MARGIN, now=500.0))
    assert driver.state.now == 500.0
    assert driver.state.margin_lock_until == 530.0
    assert places(driver.send(Timer(529.9))) == []
    assert [p.price for p in places(driver.send(Timer(530.0)))] == [D("99")]


def test_margin_lock_still_lets_take_profits_out() -> None:
    driver, buys = start()
    driver.tick("98.99")
    driver.send(OrderRejected(buys[-2].client_order_id, RejectReason.INSUFFICIENT_MARGIN))
    out = driver.fill(buys[-1])
    assert [p.side for p in places(out)] == [Side.SELL]


# ---- trading state and pause ---------------------------------------------------------------------


def test_halt_cancels_all_resting_buys_even_partial_ones_and_sells_stay() -> None:
    driver, buys = start()
    driver.tick("98.99")
    sell = places(driver.fill(buys[-1]))[-1]
    driver.accept([sell])
    driver.fill(buys[-2], D("0.05"), total=D("0.05"))
    out = driver.send(TradingStateChanged(TradingState.HALTED))
    assert notes(out, NoteKind.TRADING_STATE)
    assert [(c.level_index, c.reason) for c in cancels(out)] == [
        (-3, CancelReason.TRADING_STATE),
        (-2, CancelReason.TRADING_STATE),
    ]
    assert driver.slot(-1).is_live  # the sell stays
    done = driver.send(OrderUpdate(buys[-2].client_order_id, "v", OrderStatus.CANCELED, D("0.05")))
    assert [(p.side, p.price, p.quantity, p.reduce_only) for p in places(done)] == [
        (Side.SELL, D("99"), D("0.05"), True)
    ]
    assert places(driver.tick("96.5")) == []  # no new buys while halted
    back = driver.send(TradingStateChanged(TradingState.ACTIVE))
    assert {p.side for p in places(back)} == {Side.BUY}


def test_reduce_only_state_blocks_buys_only() -> None:
    driver, _ = start()
    out = driver.send(TradingStateChanged(TradingState.REDUCE_ONLY))
    assert len(cancels(out)) == 3
    assert driver.send(TradingStateChanged(TradingState.REDUCE_ONLY)) == []  # no change, no action


def test_pause_stops_new_orders_but_keeps_resting_ones() -> None:
    driver, buys = start()
    assert [a.kind for a in driver.send(Paused(True)) if isinstance(a, Note)] == [NoteKind.PAUSED]
    assert driver.tick("102.5") == []  # no window cancels, no new buys
    driver.tick("98.99")
    assert places(driver.fill(buys[-1])) == []  # no take-profit either
    resumed = driver.send(Paused(False))
    assert [(p.side, p.price) for p in places(resumed)] == [
        (Side.SELL, D("100")),
        (Side.BUY, D("96")),
    ]


# ---- windows and the open-order cap -------------------------------------------------------------


def test_sells_beyond_the_sell_window_are_cancelled_and_replaced_when_price_returns() -> None:
    driver, buys = start(sell_window=2)
    driver.tick("98.99")
    sell = places(driver.fill(buys[-1]))[-1]
    assert sell.price == D("100")
    driver.accept([sell])
    down = driver.tick("97.99")  # lowest level above is 98; window tops at 99
    assert [(c.level_index, c.reason) for c in cancels(down)] == [(-1, CancelReason.ABOVE_SELL_WINDOW)]
    driver.confirm_cancels(down)
    assert driver.slot(-1).position == sell.quantity
    back = driver.tick("98.01")
    again = [p for p in places(back) if p.side is Side.SELL]
    assert [(p.price, p.quantity) for p in again] == [(D("100"), sell.quantity)]
    assert again[0].client_order_id != sell.client_order_id


def test_partially_filled_sell_is_not_cancelled_beyond_the_window() -> None:
    driver, buys = start(sell_window=2)
    driver.tick("98.99")
    sell = places(driver.fill(buys[-1]))[-1]
    driver.accept([sell])
    driver.fill(sell, D("0.001"), total=D("0.001"))
    assert cancels(driver.tick("96.99")) == [c for c in cancels(driver.tick("96.98"))]
    assert driver.slot(-1).is_live
    assert not driver.slot(-1).cancel_requested


def test_max_open_orders_places_nearest_first() -> None:
    driver = Driver(max_open_orders=2)
    assert [p.price for p in places(driver.tick("100"))] == [D("99"), D("98")]
    assert driver.state.open_orders == 2


def test_max_open_orders_trims_the_farthest_first() -> None:
    driver = Driver(max_open_orders=2)
    buys = {p.level_index: p for p in places(driver.tick("100"))}
    driver.accept(list(buys.values()))
    driver.tick("98.9")
    sell = places(driver.fill(buys[-1]))[-1]
    assert (sell.side, sell.price) == (Side.SELL, D("100"))
    driver.accept([sell])
    out = driver.tick("98.05")  # buy 97 (1.05 away) beats the sell at 100 (1.95 away)
    assert [(c.level_index, c.reason) for c in cancels(out)] == [(-1, CancelReason.MAX_OPEN_ORDERS)]
    assert places(out) == []  # not before the cancel is confirmed: the cap holds at the venue
    placed = driver.confirm_cancels(out)
    assert [(p.side, p.price) for p in places(placed)] == [(Side.BUY, D("97"))]
    assert driver.state.open_orders == 2


def test_cancel_failure_is_retried_after_backoff() -> None:
    driver, _ = start()
    up = driver.tick("101.2")
    failed = driver.send(CancelFailed(cancels(up)[0].client_order_id, "rate limited"))
    assert notes(failed, NoteKind.CANCEL_FAILED)
    assert cancels(failed) == []
    retried = driver.wait(1.01)
    assert [c.client_order_id for c in cancels(retried)] == [cancels(up)[0].client_order_id]


def test_dust_position_is_noted_once_and_kept() -> None:
    rules = MarketRules(
        tick_size=D("0.01"), step_size=D("0.001"), min_quantity=D("0.01"), min_notional=D("1")
    )
    driver, buys = start(rules=rules)
    driver.fill(buys[-1], D("0.002"), total=D("0.002"))
    driver.send(OrderUpdate(buys[-1].client_order_id, "v", OrderStatus.CANCELED, D("0.002")))
    out = driver.wait(1.01)
    assert [n.level_index for n in notes(out, NoteKind.DUST_POSITION)] == [-1]
    assert driver.slot(-1).position == D("0.002")
    # dust counts as flat: the level buys again, and its take-profit sells the dust too
    (rebuy,) = places(out)
    assert (rebuy.level_index, rebuy.side) == (-1, Side.BUY)
    assert not notes(driver.wait(5.0), NoteKind.DUST_POSITION)
    driver.accept(out)
    (sell,) = places(driver.fill(rebuy))
    assert (sell.side, sell.quantity) == (Side.SELL, rebuy.quantity + D("0.002"))


# ---- spot fees taken in the base asset ---------------------------------------------------------

SPOT_RULES = MarketRules(
    tick_size=D("0.01"),
    step_size=D("0.000001"),
    min_quantity=D("0.00001"),
    min_notional=D("1"),
    base_fee_rate=D("0.001"),
)


def _spot_buy_filled(*, fill_first: bool, fill: bool = True) -> tuple[Driver, PlaceOrder, list[Action]]:
    driver, buys = start(market=MarketType.SPOT, rules=SPOT_RULES)
    buy = buys[-1]
    assert buy.quantity == D("0.101010")  # 10 / 99, rounded down to the step
    driver.tick("98.99")
    trade = Fill(buy.client_order_id, "tr1", buy.price, buy.quantity, ZERO, base_fee=D("0.000101"))
    filled = OrderUpdate(buy.client_order_id, "v1", OrderStatus.FILLED, buy.quantity)
    events: list[Event] = [trade, filled] if fill_first else [filled, trade]
    return driver, buy, [action for event in events[: 2 if fill else 1] for action in driver.send(event)]


def test_a_spot_fee_taken_in_base_comes_off_the_position_and_the_take_profit() -> None:
    driver, _, out = _spot_buy_filled(fill_first=True)
    (sell,) = [p for p in places(out) if p.side is Side.SELL]
    assert sell.quantity == D("0.100909") == driver.slot(-1).position  # bought less the fee kept
    assert driver.state.fees_paid == D("0.000101") * D(99)  # valued at the fill's price


def test_a_take_profit_placed_before_its_fee_is_known_holds_back_the_most_it_can_be() -> None:
    driver, _, out = _spot_buy_filled(fill_first=False)
    (sell,) = [p for p in places(out) if p.side is Side.SELL]
    # placed on the FILLED update, before the fill: 0.1% of 0.10101 held back, rounded down
    assert sell.quantity == D("0.100908")
    assert driver.slot(-1).position == D("0.100909")  # the fee arrived with the late fill
    assert sell.quantity <= driver.slot(-1).position
    assert driver.slot(-1).fee_unknown_quantity == 0
    driver.accept(out)
    driver.tick("100.01")
    sold = driver.fill(sell, fee=D("0.01"))
    assert driver.slot(-1).position == D("0.000001")  # dust, so the level buys again at once
    (rebuy,) = [p for p in places(sold) if p.level_index == -1]
    assert rebuy.side is Side.BUY


def test_a_base_fee_larger_than_the_level_holds_leaves_it_flat_and_says_so() -> None:
    driver, buys = start(market=MarketType.SPOT, rules=SPOT_RULES)
    buy = buys[-1]
    out = driver.send(Fill(buy.client_order_id, "tr1", buy.price, D("0.00001"), ZERO, base_fee=D("0.5")))
    assert driver.slot(-1).position == 0
    assert [n.level_index for n in notes(out, NoteKind.OVERFILL)] == [-1]


def test_fill_refuses_a_negative_base_fee() -> None:
    with pytest.raises(ValueError, match="base_fee"):
        Fill("t1BN1G0", "tr1", D("99"), D("0.1"), ZERO, base_fee=D("-0.0001"))


def test_the_fee_reserve_of_an_ended_buy_survives_a_snapshot() -> None:
    driver, buy, out = _spot_buy_filled(fill_first=False, fill=False)
    (sell,) = [p for p in places(out) if p.side is Side.SELL]
    assert sell.quantity == D("0.100908")
    assert driver.slot(-1).fee_unknown_quantity == buy.quantity  # its fill is still to come
    restored = driver.strategy.restore_state(json.loads(json.dumps(driver.state.to_snapshot())))
    assert restored.slots[-1].fee_unknown_quantity == buy.quantity


# ---- determinism, snapshots, API -----------------------------------------------------------------


def scripted_events() -> list[Event]:
    driver, buys = start(max_open_orders=5)
    driver.tick("98.99")
    sell = places(driver.fill(buys[-1]))[-1]
    driver.accept([sell])
    driver.send(OrderRejected(buys[-3].client_order_id, RejectReason.RISK_VETO))
    driver.tick("97.5")
    driver.fill(buys[-2], D("0.05"), total=D("0.05"))
    driver.send(TradingStateChanged(TradingState.HALTED))
    driver.tick("101.5")
    driver.fill(sell)
    driver.send(TradingStateChanged(TradingState.ACTIVE))
    driver.wait(2.0)
    driver.tick("99.3")
    return driver.events


def run(events: list[Event], restore_at: int | None = None) -> tuple[list[Action], dict[str, Any]]:
    strategy = GridStrategy(make_config(max_open_orders=5), RULES)
    state: GridState = strategy.new_state()
    actions: list[Action] = []
    for n, event in enumerate(events):
        if n == restore_at:
            state = strategy.restore_state(json.loads(json.dumps(state.to_snapshot())))
        actions.extend(strategy.handle(state, event))
    return actions, state.to_snapshot()


def test_same_events_give_the_same_actions_and_state() -> None:
    events = scripted_events()
    first = run(events)
    assert first == run(events)
    assert len(places(first[0])) > 5


@pytest.mark.parametrize("at", [1, 5, 9, 14])
def test_restoring_a_snapshot_mid_run_changes_nothing(at: int) -> None:
    events = scripted_events()
    assert run(events, restore_at=at) == run(events)


def test_restore_refuses_another_strategys_snapshot() -> None:
    driver, _ = start()
    other = GridStrategy(make_config(strategy_id="t2"), RULES)
    with pytest.raises(SnapshotError, match="t1"):
        other.restore_state(driver.state.to_snapshot())


def test_handle_refuses_unknown_events() -> None:
    driver = Driver()
    with pytest.raises(TypeError, match="not a grid event"):
        driver.strategy.handle(driver.state, "tick")  # type: ignore[arg-type]


def test_events_before_any_price_only_update_state() -> None:
    driver = Driver()
    assert driver.send(Paused(True)) == [
        Note(None, NoteKind.PAUSED, "paused: no new orders, resting orders stay")
    ]
    assert driver.send(Timer(5.0)) == []
    assert driver.state.now == 5.0
