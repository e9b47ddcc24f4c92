"""Property tests: random price paths and random venue behaviour against the grid core.

A small venue model holds the truth (which orders exist, what filled, the position per level).
On spot it takes buy fees in the base asset at up to `BASE_FEE_RATE`, as most spot venues do.
It answers the core's actions at random: accepts, rejects for any reason, fills partly or fully,
cancels by itself, fails cancels, and delivers its messages late, out of order and duplicated,
mixed with noise for unknown ids, trading-state changes, pauses and timers. After every event:

1. never two live orders on one level (checked against the venue's truth);
2. never a sell larger than the position held at that level (the venue's truth, net of base fees,
   even when the fills carrying those fees arrive after the take-profit is placed);
3. quantities on the step grid, prices on the tick grid, and at least min quantity / min notional
   (buys also at least min_order_value); take-profits one level above;
4. every order action refers to a known slot that owns exactly that client order id;

and also: ids never repeat, the open-order cap holds at the venue, no buys while halted,
reduce-only, margin-locked or paused, no partially filled order is cancelled except the buys a
halt/margin lock cancels. When the venue has delivered everything, positions per level, fees,
realised PnL and the fill count equal the venue's. Replaying the same events (with a JSON
snapshot restore halfway) gives the same actions.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from opensqt_common.decimals import round_nearest
from opensqt_common.enums import MarketType, OrderStatus, Side, TradingState
from opensqt_engine.core import (
    Action,
    CancelFailed,
    CancelOrder,
    CancelReason,
    Event,
    Fill,
    GridConfig,
    GridStrategy,
    MarketRules,
    OrderAccepted,
    OrderRejected,
    OrderUpdate,
    Paused,
    PlaceOrder,
    PriceTick,
    RejectReason,
    SlotStatus,
    Timer,
    TradingStateChanged,
    parse_client_order_id,
)
from opensqt_engine.core.levels import sell_quantity, size_problem

D = Decimal
TICK = D("0.1")
STEP = D("0.001")
FEE_RATE = D("0.0002")
BASE_FEE_RATE = D("0.001")  # spot buys: the fee comes out of the coins bought
ANCHOR = D("100")


@dataclass
class VenueOrder:
    place: PlaceOrder
    order_id: str = ""
    decided: bool = False
    terminal: bool = False
    filled: Decimal = Decimal(0)

    @property
    def open(self) -> bool:
        return self.decided and not self.terminal


class Harness:
    def __init__(self, config: GridConfig, rules: MarketRules) -> None:
        self.config = config
        spot = config.market is MarketType.SPOT
        self.rules = replace(rules, base_fee_rate=BASE_FEE_RATE) if spot else rules
        self.strategy = GridStrategy(config, self.rules)
        self.state = self.strategy.new_state()
        self.orders: dict[str, VenueOrder] = {}
        self.undecided: list[str] = []
        self.cancel_requests: list[str] = []
        self.outbox: list[Event] = []
        self.fills: list[Fill] = []
        self.position: dict[int, Decimal] = {}
        self.fed: list[Event] = []
        self.produced: list[Action] = []
        self.price_ticks = int(ANCHOR / TICK)
        self.now = 0.0
        self.trades = 0

    # ---- feeding the core and checking every action ----

    def feed(self, event: Event) -> None:
        self.fed.append(event)
        actions = self.strategy.handle(self.state, event)
        self.produced.extend(actions)
        for action in actions:
            if isinstance(action, PlaceOrder):
                self.check_place(action)
            elif isinstance(action, CancelOrder):
                self.check_cancel(action)
        self.check_state()

    def level_price(self, index: int) -> Decimal:
        return round_nearest(ANCHOR + index * self.config.price_interval, TICK)

    def check_place(self, place: PlaceOrder) -> None:
        state, rules, cfg = self.state, self.rules, self.config
        k = place.level_index
        # 4. a known slot that owns exactly this new order; ids never repeat
        slot = state.slots.get(k)
        assert slot is not None
        assert slot.client_order_id == place.client_order_id
        assert slot.status is SlotStatus.PENDING
        assert place.client_order_id not in self.orders
        parsed = parse_client_order_id(place.client_order_id)
        assert parsed is not None
        assert (parsed.strategy_id, parsed.level_index, parsed.side) == (cfg.strategy_id, k, place.side)
        # 1. no other order at this level is alive at the venue (pending, resting)
        assert not [o for o in self.orders.values() if o.place.level_index == k and not o.terminal]
        # 3. sizes and prices on the venue's grids and above the minimums
        assert place.quantity % rules.step_size == 0
        assert place.price % rules.tick_size == 0
        assert place.quantity >= rules.min_quantity
        assert place.quantity > 0
        assert place.price * place.quantity >= rules.min_notional
        if place.side is Side.BUY:
            assert place.price == self.level_price(k)
            assert place.price * place.quantity >= cfg.min_order_value
            assert place.price * place.quantity <= cfg.order_amount
            assert not place.reduce_only
            assert state.trading_state is TradingState.ACTIVE
            assert not state.margin_locked()
            # flat, or dust no take-profit could sell (the new buy adds to it)
            held = slot.position - slot.fee_unknown_quantity * rules.base_fee_rate
            dust = sell_quantity(held, rules.step_size) if held > 0 else D(0)
            assert slot.position == 0 or size_problem(self.level_price(k + 1), dust, rules, D(0)) is not None
        else:
            # 2. never sell more than the level holds
            assert place.quantity <= self.position.get(k, D(0))
            assert place.quantity <= slot.position
            assert place.price == self.level_price(k + 1)
            assert place.reduce_only is (cfg.market is MarketType.LINEAR_PERPETUAL)
        assert not state.paused
        # the cap holds at the venue, this order included
        assert sum(1 for o in self.orders.values() if not o.terminal) + 1 <= cfg.max_open_orders
        self.orders[place.client_order_id] = VenueOrder(place)
        self.undecided.append(place.client_order_id)

    def check_cancel(self, cancel: CancelOrder) -> None:
        slot = self.state.slots.get(cancel.level_index)
        assert slot is not None
        assert slot.client_order_id == cancel.client_order_id
        assert slot.status is SlotStatus.LOCKED
        assert slot.cancel_requested
        assert cancel.client_order_id in self.orders
        if slot.filled_quantity > 0:
            assert slot.side is Side.BUY
            assert cancel.reason in (CancelReason.TRADING_STATE, CancelReason.MARGIN_LOCK)
        self.cancel_requests.append(cancel.client_order_id)

    def check_state(self) -> None:
        live_levels = 0
        for k, slot in self.state.slots.items():
            assert slot.level_index == k
            assert slot.position >= 0
            if slot.is_live:
                live_levels += 1
                assert slot.side is not None
                parsed = parse_client_order_id(slot.client_order_id)
                assert parsed is not None
                assert parsed.level_index == k
                assert slot.filled_quantity <= slot.order_quantity
                if slot.side is Side.SELL:
                    assert slot.order_quantity - slot.filled_quantity <= slot.position
        assert live_levels <= self.config.max_open_orders

    # ---- the venue ----

    def tick(self, arg: int) -> None:
        self.price_ticks = max(self.price_ticks + arg % 21 - 10, 200)
        self.now += 0.25
        self.feed(PriceTick(self.price_ticks * TICK, self.now))

    def decide(self, arg: int) -> None:
        if not self.undecided:
            return
        cid = self.undecided.pop(arg % len(self.undecided))
        order = self.orders[cid]
        order.decided = True
        choice = (arg >> 8) % 8
        if choice < 6:
            order.order_id = f"V{len(self.orders)}-{cid}"
            self.outbox.append(OrderAccepted(cid, order.order_id))
        else:
            order.terminal = True
            reason = list(RejectReason)[(arg >> 12) % len(RejectReason)]
            self.outbox.append(OrderRejected(cid, reason, "random"))

    def _open_orders(self) -> list[VenueOrder]:
        return [o for o in self.orders.values() if o.open]

    def fill(self, arg: int, whole: bool) -> None:
        candidates = self._open_orders()
        if not candidates:
            return
        order = candidates[arg % len(candidates)]
        remaining_steps = int((order.place.quantity - order.filled) / STEP)
        steps = remaining_steps if whole else 1 + (arg >> 6) % remaining_steps
        quantity = steps * STEP
        order.filled += quantity
        place = order.place
        base_fee = D(0)
        if place.side is Side.BUY and self.config.market is MarketType.SPOT:
            share = (D(1), D("0.5"), D(0))[(arg >> 7) % 3]  # full rate, a discount, or paid otherwise
            base_fee = quantity * BASE_FEE_RATE * share
        held = quantity - base_fee if place.side is Side.BUY else -quantity
        self.position[place.level_index] = self.position.get(place.level_index, D(0)) + held
        self.trades += 1
        quote_fee = D(0) if base_fee else quantity * place.price * FEE_RATE
        fill = Fill(place.client_order_id, f"T{self.trades}", place.price, quantity, quote_fee, base_fee)
        self.fills.append(fill)
        self.outbox.append(fill)
        complete = order.filled == place.quantity
        if complete:
            order.terminal = True
        if (arg >> 4) % 2:
            status = OrderStatus.FILLED if complete else OrderStatus.PARTIALLY_FILLED
            self.outbox.append(OrderUpdate(place.client_order_id, order.order_id, status, order.filled))

    def process_cancel(self, arg: int) -> None:
        if not self.cancel_requests:
            return
        cid = self.cancel_requests.pop(arg % len(self.cancel_requests))
        order = self.orders[cid]
        if order.terminal:
            return  # its terminal update is already on its way
        if (arg >> 5) % 4 == 0:
            self.outbox.append(CancelFailed(cid, "random"))
            return
        order.terminal = True
        self.outbox.append(OrderUpdate(cid, order.order_id, OrderStatus.CANCELED, order.filled))

    def venue_ends_order(self, arg: int) -> None:
        candidates = self._open_orders()
        if not candidates:
            return
        order = candidates[arg % len(candidates)]
        order.terminal = True
        status = OrderStatus.EXPIRED if (arg >> 4) % 2 else OrderStatus.CANCELED
        self.outbox.append(OrderUpdate(order.place.client_order_id, order.order_id, status, order.filled))

    def deliver(self, arg: int) -> None:
        if self.outbox:
            self.feed(self.outbox.pop(arg % len(self.outbox)))

    def noise(self, arg: int) -> None:
        kind = arg % 4
        if kind == 0 and self.fills:
            self.feed(self.fills[(arg >> 2) % len(self.fills)])  # duplicate delivery
        elif kind == 1:
            self.feed(OrderUpdate("someone-else-1", "x", OrderStatus.FILLED, D("1")))
        elif kind == 2:
            cid = f"{self.config.strategy_id}BN1G{(arg >> 2) % 5000 + 9000:x}"
            self.feed(Fill(cid, f"N{arg}", D("99"), D("1"), D("1")))
        else:
            self.feed(OrderAccepted(f"{self.config.strategy_id}SP0G0", "x"))

    def gate(self, arg: int) -> None:
        choice = arg % 10  # mostly ACTIVE and unpaused, so that trading goes on
        if choice == 0:
            self.feed(Paused(True))
        elif choice <= 3:
            self.feed(Paused(False))
        elif choice == 4:
            self.feed(TradingStateChanged(TradingState.HALTED))
        elif choice == 5:
            self.feed(TradingStateChanged(TradingState.REDUCE_ONLY))
        else:
            self.feed(TradingStateChanged(TradingState.ACTIVE))

    def timer(self, arg: int) -> None:
        self.now += (arg % 80) / 8
        self.feed(Timer(self.now))

    def step(self, op: int, arg: int) -> None:
        OPS[op % len(OPS)](self, arg)

    def drain(self, _arg: int = 0) -> None:
        while self.outbox:
            self.feed(self.outbox.pop(0))

    def check_converged(self) -> None:
        state = self.state
        levels = set(self.position) | set(state.slots)
        for k in levels:
            slot = state.slots.get(k)
            assert (slot.position if slot else D(0)) == self.position.get(k, D(0)), k
        assert state.fees_paid == sum((f.fee + f.base_fee * f.price for f in self.fills), D(0))
        assert state.fill_count == len(self.fills)
        expected_pnl = D(0)
        for fill in self.fills:
            order = self.orders[fill.client_order_id].place
            if order.side is Side.SELL:
                expected_pnl += fill.quantity * (fill.price - self.level_price(order.level_index))
        assert state.realized_pnl == expected_pnl


def _partial_fill(harness: Harness, arg: int) -> None:
    harness.fill(arg, whole=False)


def _full_fill(harness: Harness, arg: int) -> None:
    harness.fill(arg, whole=True)


# Weighted menu of what can happen next.
OPS: list[Callable[[Harness, int], None]] = (
    [Harness.tick] * 4
    + [Harness.decide] * 3
    + [_partial_fill] * 3
    + [_full_fill] * 3
    + [Harness.process_cancel] * 2
    + [Harness.venue_ends_order]
    + [Harness.deliver] * 6
    + [Harness.drain, Harness.noise, Harness.gate, Harness.timer]
)

configs = st.builds(
    lambda interval, amount, buy_window, sell_window, max_open, post_only, market, min_value, fallback: (
        GridConfig(
            strategy_id="p1",
            symbol="BTC/USDT:USDT",
            market=market,
            price_interval=interval,
            order_amount=amount,
            buy_window=buy_window,
            sell_window=sell_window,
            min_order_value=min_value,
            anchor_price=ANCHOR,
            post_only=post_only,
            post_only_max_failures=fallback,
            margin_lock_seconds=5.0,
            max_open_orders=max_open,
            reject_backoff_seconds=0.5,
            reject_backoff_max_seconds=4.0,
        )
    ),
    interval=st.sampled_from([D("1"), D("0.5"), D("0.25"), D("2.3")]),
    amount=st.sampled_from([D("10"), D("37.5"), D("10"), D("0.37")]),
    buy_window=st.integers(1, 5),
    sell_window=st.integers(1, 5),
    max_open=st.sampled_from([1, 2, 3, 5, 8, 12, 12, 12]),
    post_only=st.booleans(),
    market=st.sampled_from(MarketType),
    min_value=st.sampled_from([D("0"), D("1"), D("9.9")]),
    fallback=st.integers(0, 3),
)
rules_strategy = st.builds(
    lambda min_qty, min_notional: MarketRules(
        tick_size=TICK, step_size=STEP, min_quantity=min_qty, min_notional=min_notional
    ),
    min_qty=st.sampled_from([D("0.001"), D("0.005"), D("0.05")]),
    min_notional=st.sampled_from([D("0"), D("1"), D("5")]),
)
steps = st.lists(st.tuples(st.integers(0, len(OPS) - 1), st.integers(0, 2**20)), min_size=60, max_size=400)


def replay(config: GridConfig, rules: MarketRules, events: list[Event]) -> list[Action]:
    strategy = GridStrategy(config, rules)
    state = strategy.new_state()
    produced: list[Action] = []
    half = len(events) // 2
    for n, item in enumerate(events):
        if n == half:
            snapshot: dict[str, Any] = json.loads(json.dumps(state.to_snapshot()))
            state = strategy.restore_state(snapshot)
        produced.extend(strategy.handle(state, item))
    return produced


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config=configs, rules=rules_strategy, program=steps)
def test_invariants_hold_under_random_prices_and_venue_behaviour(
    config: GridConfig, rules: MarketRules, program: list[tuple[int, int]]
) -> None:
    harness = Harness(config, rules)
    harness.tick(5)  # first price: the anchor level
    for op, arg in program:
        harness.step(op, arg)
    harness.drain()
    harness.check_converged()
    assert replay(config, harness.rules, harness.fed) == harness.produced
    placed = sum(isinstance(a, PlaceOrder) for a in harness.produced)
    event(f"orders placed: {min(placed // 20 * 20, 60)}+")
    event(f"fills: {min(len(harness.fills) // 10 * 10, 30)}+")


@pytest.mark.parametrize("seed", range(12))
def test_long_random_runs_keep_the_invariants(seed: int) -> None:
    """Long uniform-random programs (hypothesis favours short, simple ones): same checks."""
    rng = random.Random(seed)
    config = _config_for_seed(rng)
    rules = MarketRules(
        tick_size=TICK,
        step_size=STEP,
        min_quantity=rng.choice([D("0.001"), D("0.005")]),
        min_notional=rng.choice([D("0"), D("1"), D("5")]),
    )
    harness = Harness(config, rules)
    harness.tick(5)
    for _ in range(1500):
        harness.step(rng.randrange(len(OPS)), rng.randrange(2**20))
    harness.drain()
    harness.check_converged()
    assert replay(config, harness.rules, harness.fed) == harness.produced
    assert len(harness.fills) >= 20  # the run exercised the grid, not just idled


def _config_for_seed(rng: random.Random) -> GridConfig:
    return GridConfig(
        strategy_id="r1",
        symbol="BTC/USDT:USDT",
        market=rng.choice(list(MarketType)),
        price_interval=rng.choice([D("1"), D("0.5"), D("0.25"), D("2.3")]),
        order_amount=rng.choice([D("10"), D("37.5")]),
        buy_window=rng.randint(1, 6),
        sell_window=rng.randint(1, 6),
        min_order_value=rng.choice([D("0"), D("5")]),
        anchor_price=ANCHOR,
        post_only=rng.random() < 0.7,
        post_only_max_failures=rng.randint(0, 3),
        margin_lock_seconds=5.0,
        max_open_orders=rng.randint(2, 14),
        reject_backoff_seconds=0.5,
        reject_backoff_max_seconds=4.0,
    )


@settings(max_examples=60, deadline=None)
@given(config=configs, rules=rules_strategy, moves=st.lists(st.integers(0, 10), min_size=20, max_size=300))
def test_an_honest_venue_round_trip_keeps_every_level_flat_or_holding(
    config: GridConfig, rules: MarketRules, moves: list[int]
) -> None:
    """A venue that accepts everything and fills exactly what the price crosses, in order."""
    harness = Harness(config, rules)
    for move in moves:
        harness.tick(move)
        while harness.undecided:
            harness.decide(0)
            harness.drain()
        for cid in list(harness.cancel_requests):
            harness.cancel_requests.remove(cid)
            order = harness.orders[cid]
            if not order.terminal:
                order.terminal = True
                harness.outbox.append(OrderUpdate(cid, order.order_id, OrderStatus.CANCELED, order.filled))
        harness.drain()
        price = harness.price_ticks * TICK
        for cid, order in list(harness.orders.items()):
            place = order.place
            crossed = price <= place.price if place.side is Side.BUY else price >= place.price
            if order.open and crossed:
                index = [o.place.client_order_id for o in harness._open_orders()].index(cid)
                harness.fill(index | (1 << 4), whole=True)
                harness.drain()
    harness.check_converged()
    # an honest venue never sees a crossing sell held back: gross profit is never negative
    assert harness.state.realized_pnl >= 0
