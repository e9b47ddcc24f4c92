"""Invariants of the risk rules, checked with hypothesis."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from opensqt_common.enums import OrderStatus, Side, TradingState
from opensqt_risk.rules import Decision, Intent, Limits, PositionSnapshot, RiskContext, VetoReason, review
from opensqt_risk.rules.testing import LIMITS, NOW, SEC, SYMBOL, D, limit, make_ctx, market, order_update

states = st.sampled_from(list(TradingState))
quantities = st.decimals(min_value=D("0.001"), max_value=D(5), places=3)
fractions = st.decimals(min_value=D("0.001"), max_value=D(1), places=3)
offsets = st.decimals(min_value=D("-0.05"), max_value=D("0.05"), places=4)
any_offsets = st.decimals(min_value=D("-0.9"), max_value=D(2), places=4)

CLOSE_EXEMPT = {VetoReason.PRICE_BAND}


@given(
    long=st.booleans(),
    size=quantities,
    fraction=fractions,
    state=states,
    reduce_only=st.booleans(),
    use_market=st.booleans(),
    offset=offsets,
    age_s=st.integers(min_value=0, max_value=3600),
    free=st.one_of(st.none(), st.decimals(min_value=D(0), max_value=D(10), places=2)),
)
def test_a_close_is_never_vetoed_for_state_data_size_margin_or_rate(
    long: bool,
    size: Decimal,
    fraction: Decimal,
    state: TradingState,
    reduce_only: bool,
    use_market: bool,
    offset: Decimal,
    age_s: int,
    free: Decimal | None,
) -> None:
    position = size if long else -size
    ctx = make_ctx(position=position, free=free)
    side = Side.SELL if long else Side.BUY
    quantity = max((size * fraction).quantize(D("0.001")), D("0.001"))
    quantity = min(quantity, size)
    intent = (
        market(side, quantity, reduce_only=reduce_only)
        if use_market
        else limit(side, quantity, D(100) * (1 + offset), reduce_only=reduce_only)
    )
    tight = dataclasses.replace(LIMITS, max_order_quantity=D("0.001"), max_open_orders=1)
    decision = review(intent, ctx, tight, state, NOW + age_s * SEC)
    assert decision.approved, decision
    assert decision.closing


@given(long=st.booleans(), size=quantities, state=states, offset=any_offsets, age_s=st.integers(0, 60))
def test_a_close_at_any_price_is_only_ever_vetoed_by_the_band(
    long: bool, size: Decimal, state: TradingState, offset: Decimal, age_s: int
) -> None:
    ctx = make_ctx(position=size if long else -size, free=None)
    side = Side.SELL if long else Side.BUY
    decision = review(
        limit(side, size, D(100) * (1 + offset), reduce_only=True), ctx, LIMITS, state, NOW + age_s * SEC
    )
    assert decision.veto is None or decision.veto.reason in CLOSE_EXEMPT
    assert decision.closing


# ------------------------------------------------------------ scripted runs


@dataclass(frozen=True)
class Place:
    side: Side
    quantity: Decimal
    offset: Decimal | None  # None: a market order
    reduce_only: bool
    dt_ns: int


@dataclass(frozen=True)
class Report:
    """The connector reports an approved order: "ack", "cancel" or "fill"."""

    kind: str
    index: int


@dataclass(frozen=True)
class NewPrice:
    price: Decimal


@dataclass(frozen=True)
class NewBalance:
    free: Decimal


@dataclass(frozen=True)
class NewPosition:
    quantity: Decimal


@dataclass(frozen=True)
class NewState:
    state: TradingState


Op = Place | Report | NewPrice | NewBalance | NewPosition | NewState

ops: st.SearchStrategy[Op] = st.one_of(
    st.builds(
        Place,
        st.sampled_from([Side.BUY, Side.SELL]),
        quantities,
        st.one_of(st.none(), offsets),
        st.booleans(),
        st.integers(min_value=0, max_value=2 * SEC),
    ),
    st.builds(Report, st.sampled_from(["ack", "cancel", "fill"]), st.integers(min_value=0, max_value=50)),
    st.builds(NewPrice, st.decimals(min_value=D(90), max_value=D(110), places=2)),
    st.builds(NewBalance, st.decimals(min_value=D(0), max_value=D(2000), places=2)),
    st.builds(NewPosition, st.decimals(min_value=D(-2), max_value=D(2), places=3)),
    st.builds(NewState, states),
)
scripts = st.lists(ops, max_size=60)


def run_script(script: list[Op], ctx: RiskContext, limits: Limits = LIMITS) -> list[Decision]:
    """Replay a script of pushed events and intents; returns every decision."""
    now = NOW
    state = TradingState.ACTIVE
    price = D(100)
    approved: list[Intent] = []
    decisions: list[Decision] = []
    for index, op in enumerate(script):
        if isinstance(op, Place):
            now += op.dt_ns
            ctx.on_kline(SYMBOL, now)
            coid = f"i{index}"
            limit_price = None if op.offset is None else price * (1 + op.offset)
            intent = (
                market(op.side, op.quantity, coid=coid, reduce_only=op.reduce_only)
                if limit_price is None
                else limit(op.side, op.quantity, limit_price, coid=coid, reduce_only=op.reduce_only)
            )
            decision = review(intent, ctx, limits, state, now)
            decisions.append(decision)
            if decision.approved:
                approved.append(intent)
        elif isinstance(op, Report):
            if approved:
                target = approved[op.index % len(approved)]
                if op.kind == "ack":
                    ctx.on_order(order_update(target))
                elif op.kind == "cancel":
                    ctx.on_order(order_update(target, OrderStatus.CANCELED))
                else:
                    ctx.on_order(order_update(target, OrderStatus.FILLED, filled=target.quantity))
        elif isinstance(op, NewPrice):
            price = op.price
            ctx.on_price(SYMBOL, price, now)
        elif isinstance(op, NewBalance):
            ctx.on_balance(op.free)
        elif isinstance(op, NewPosition):
            ctx.on_position(PositionSnapshot(SYMBOL, op.quantity))
        else:
            state = op.state
    return decisions


@given(scripts)
def test_decisions_are_deterministic(script: list[Op]) -> None:
    assert run_script(script, make_ctx(free=D(500))) == run_script(script, make_ctx(free=D(500)))


@given(scripts)
def test_bookkeeping_returns_to_zero_when_every_order_ends(script: list[Op]) -> None:
    ctx = make_ctx(free=D(500), nets=False)
    run_script(script, ctx)
    for order in list(ctx.orders.values()):
        ctx.on_order(
            dataclasses.replace(
                order_update(limit(order.side, order.quantity, order.price, coid=order.client_order_id)),
                status=OrderStatus.CANCELED,
            )
        )
    state = ctx.symbols[SYMBOL]
    assert ctx.orders == {}
    assert state.open_orders == 0
    assert ctx.reserved_margin == 0
    for total in (
        state.opening_buy_quantity,
        state.opening_sell_quantity,
        state.closing_buy_quantity,
        state.closing_sell_quantity,
    ):
        assert total == 0


buys = st.lists(
    st.tuples(quantities, offsets, st.integers(min_value=0, max_value=SEC // 2)), min_size=1, max_size=40
)


@settings(max_examples=60)
@given(buys, st.decimals(min_value=D(1), max_value=D(400), places=2))
def test_approved_opening_orders_never_break_the_aggregate_limits_together(
    orders: list[tuple[Decimal, Decimal, int]], free: Decimal
) -> None:
    limits = dataclasses.replace(
        LIMITS, max_order_quantity=D(5), max_position=D(3), max_open_orders=8, max_order_rate_per_second=D(4)
    )
    ctx = make_ctx(free=free, leverage=D(2), nets=False)
    now = NOW
    approvals: list[int] = []
    for index, (quantity, offset, dt) in enumerate(orders):
        now += dt
        ctx.on_kline(SYMBOL, now)
        ctx.on_price(SYMBOL, D(100), now)
        intent = limit(Side.BUY, quantity, D(100) * (1 + offset), coid=f"b{index}")
        if review(intent, ctx, limits, TradingState.ACTIVE, now).approved:
            approvals.append(now)
        state = ctx.symbols[SYMBOL]
        assert state.open_orders <= limits.max_open_orders
        assert state.position + state.opening_buy_quantity <= limits.max_position
        assert ctx.reserved_margin <= free
    # The bucket lets through at most its burst plus its refill over the elapsed time.
    if approvals:
        elapsed = D(approvals[-1] - approvals[0]) / SEC
        assert len(approvals) <= 4 + 4 * elapsed
