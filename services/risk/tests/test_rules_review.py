"""`review`: check order, closing vs opening, and how approvals are counted in the context."""

from __future__ import annotations

import dataclasses

import pytest

from opensqt_common.enums import OrderStatus, Side, TradingState
from opensqt_risk.rules import AppliedLimit, Decision, Intent, Limits, RiskContext, VetoReason, review
from opensqt_risk.rules.checks import invalid_intent
from opensqt_risk.rules.testing import LIMITS, NOW, SEC, SYMBOL, D, buy, make_ctx, market, order_update, sell

ACTIVE, HALTED, REDUCE_ONLY = TradingState.ACTIVE, TradingState.HALTED, TradingState.REDUCE_ONLY


def decide(
    intent: Intent,
    ctx: RiskContext,
    state: TradingState = ACTIVE,
    now: int = NOW,
    limits: Limits = LIMITS,
) -> Decision:
    return review(intent, ctx, limits, state, now)


def reason(decision: Decision) -> VetoReason | None:
    return None if decision.veto is None else decision.veto.reason


# ------------------------------------------------------------------ order


def test_approval_carries_id_and_time() -> None:
    decision = decide(buy(coid="abc"), make_ctx(), now=NOW + 5)
    assert decision == Decision("abc", None, NOW + 5, closing=False)
    assert decision.approved


def test_invalid_intent_comes_before_unknown_symbol() -> None:
    intent = dataclasses.replace(buy(), symbol="NOPE", quantity=D(0))
    assert reason(decide(intent, make_ctx())) is VetoReason.INVALID_INTENT


def test_unknown_symbol() -> None:
    decision = decide(dataclasses.replace(buy(), symbol="ETH/USDT"), make_ctx())
    assert reason(decision) is VetoReason.UNKNOWN_SYMBOL
    assert decision.veto is not None
    assert decision.veto.field == "symbol"


def test_trading_state_gate_runs_before_the_other_opening_checks() -> None:
    stale_and_oversized = buy("50", price="1")
    ctx = make_ctx(free=None)
    assert reason(decide(stale_and_oversized, ctx, HALTED, now=NOW + 3600 * SEC)) is VetoReason.HALTED
    assert reason(decide(stale_and_oversized, ctx, REDUCE_ONLY)) is VetoReason.REDUCE_ONLY


def test_opening_checks_run_in_the_documented_order() -> None:
    # Break every opening limit at once, then mend them one by one: each time the next
    # check in the documented order answers.
    ctx = make_ctx(free=D(1))
    ctx.symbols[SYMBOL].open_orders = 5
    ctx.symbols[SYMBOL].position = D(2)
    intent = buy("30", price="200")
    later = NOW + 31 * SEC
    assert reason(decide(intent, ctx, now=later)) is VetoReason.STALE_MARKET_DATA
    assert reason(decide(intent, ctx)) is VetoReason.PRICE_BAND
    intent = dataclasses.replace(intent, price=D(100))
    assert reason(decide(intent, ctx)) is VetoReason.MAX_QUANTITY
    intent = dataclasses.replace(intent, quantity=D("0.5"))
    limits = dataclasses.replace(LIMITS, max_order_notional=D(49))
    assert reason(decide(intent, ctx, limits=limits)) is VetoReason.MAX_NOTIONAL
    assert reason(decide(intent, ctx)) is VetoReason.MAX_POSITION
    ctx.symbols[SYMBOL].position = D(0)
    assert reason(decide(intent, ctx)) is VetoReason.MAX_OPEN_ORDERS
    ctx.symbols[SYMBOL].open_orders = 0
    assert reason(decide(intent, ctx)) is VetoReason.INSUFFICIENT_MARGIN
    ctx.on_balance(D(1000))
    slow = dataclasses.replace(LIMITS, max_order_rate_per_second=D(1))
    assert decide(dataclasses.replace(intent, client_order_id="x"), ctx, limits=slow).approved
    assert reason(decide(intent, ctx, limits=slow)) is VetoReason.RATE
    assert decide(intent, ctx, limits=slow, now=NOW + SEC).approved


def test_veto_carries_the_limit_that_applied() -> None:
    decision = decide(
        buy("0.5", price="100"), make_ctx(), limits=dataclasses.replace(LIMITS, max_order_notional=D(49))
    )
    assert decision.veto is not None
    assert decision.veto.limits == (AppliedLimit("max_order_notional", D(49), D(50)),)


def test_market_order_notional_uses_the_last_price() -> None:
    limits = dataclasses.replace(LIMITS, max_order_quantity=D(100), max_position=D(100))
    ctx = make_ctx(price=D(100))
    assert decide(market(Side.BUY, "10"), ctx, limits=limits).approved
    veto = decide(market(Side.BUY, "10.01", coid="m2"), ctx, limits=limits).veto
    assert veto is not None
    assert veto.reason is VetoReason.MAX_NOTIONAL
    assert veto.limits[0].value == D("1001")


def test_invalid_intent_decision_for_wire_failures() -> None:
    decision = invalid_intent("c9", "side", "must be set", NOW)
    assert decision.veto is not None
    assert decision.veto.reason is VetoReason.INVALID_INTENT
    assert decision.veto.field == "side"
    assert decision.veto.detail == "side: must be set"


# ---------------------------------------------------------------- closing


@pytest.mark.parametrize("state", [ACTIVE, REDUCE_ONLY, HALTED])
def test_reduce_only_close_passes_in_every_state(state: TradingState) -> None:
    decision = decide(sell("0.5", reduce_only=True), make_ctx(position=D("0.5")), state)
    assert decision.approved
    assert decision.closing


def test_plain_order_that_only_reduces_is_a_close() -> None:
    ctx = make_ctx(position=D(-1))
    decision = decide(buy("1"), ctx, HALTED)
    assert decision.approved
    assert decision.closing


def test_plain_order_beyond_the_position_is_opening() -> None:
    decision = decide(sell("0.6"), make_ctx(position=D("0.5")), HALTED)
    assert reason(decision) is VetoReason.HALTED
    assert not decision.closing


def test_resting_closes_count_towards_what_still_closes() -> None:
    ctx = make_ctx(position=D(1))
    assert decide(sell("0.6", coid="s1"), ctx, HALTED).closing
    second = decide(sell("0.6", coid="s2"), ctx, HALTED)
    assert reason(second) is VetoReason.HALTED
    assert decide(sell("0.4", coid="s3"), ctx, HALTED).approved


def test_closes_skip_stale_data_size_margin_and_rate_checks() -> None:
    ctx = make_ctx(position=D(50), free=None)
    limits = dataclasses.replace(LIMITS, max_open_orders=1, max_order_rate_per_second=D("0.1"))
    later = NOW + 3600 * SEC  # far past stale
    for i in range(3):
        decision = decide(sell("10", coid=f"s{i}", price="100000"), ctx, HALTED, now=later, limits=limits)
        assert decision.approved, decision
    assert ctx.symbols[SYMBOL].open_orders == 3
    assert ctx.reserved_margin == 0


def test_close_that_crosses_the_band_is_vetoed_when_the_price_is_fresh() -> None:
    ctx = make_ctx(position=D(1))
    fat_finger = sell("1", price="1", reduce_only=True)
    decision = decide(fat_finger, ctx, HALTED)
    assert reason(decision) is VetoReason.PRICE_BAND
    assert decision.closing
    # With a stale price there is nothing to band against: getting flat wins.
    assert decide(fat_finger, ctx, HALTED, now=NOW + 31 * SEC).approved


def test_passive_close_far_from_the_market_passes() -> None:
    assert decide(sell("1", price="1000", reduce_only=True), make_ctx(position=D(1)), HALTED).approved


@pytest.mark.parametrize("state", [ACTIVE, HALTED])
def test_reduce_only_that_would_increase_is_vetoed(state: TradingState) -> None:
    decision = decide(buy("0.1", reduce_only=True), make_ctx(position=D(1)), state)
    assert reason(decision) is VetoReason.REDUCE_ONLY_INCREASES
    flat = decide(market(Side.SELL, "1", reduce_only=True), make_ctx(), state)
    assert reason(flat) is VetoReason.REDUCE_ONLY_INCREASES


# ------------------------------------------------------- counting approvals


def test_a_burst_cannot_break_the_open_order_limit_together() -> None:
    ctx = make_ctx()
    decisions = [decide(buy("0.1", coid=f"b{i}"), ctx) for i in range(6)]
    assert [d.approved for d in decisions] == [True] * 5 + [False]
    assert reason(decisions[5]) is VetoReason.MAX_OPEN_ORDERS


def test_a_burst_cannot_break_the_position_limit_together() -> None:
    ctx = make_ctx(position=D("1.5"))
    assert decide(buy("0.3", coid="b1"), ctx).approved
    assert reason(decide(buy("0.3", coid="b2"), ctx)) is VetoReason.MAX_POSITION
    assert decide(buy("0.2", coid="b3"), ctx).approved


def test_margin_is_reserved_by_approvals_in_flight() -> None:
    ctx = make_ctx(free=D(250), leverage=D(2))
    assert decide(buy("1", coid="b1", price="100"), ctx, limits=_roomy()).approved
    assert ctx.reserved_margin == D(50)
    for i in range(2, 6):
        assert decide(buy("1", coid=f"b{i}", price="100"), ctx, limits=_roomy()).approved
    assert ctx.reserved_margin == D(250)
    assert ctx.available_margin == 0
    assert reason(decide(buy("0.01", coid="b6"), ctx, limits=_roomy())) is VetoReason.INSUFFICIENT_MARGIN


def test_reservation_is_released_once_the_balance_reflects_the_acknowledged_order() -> None:
    ctx = make_ctx(free=D(100))
    intent = buy("1", price="100")
    assert decide(intent, ctx).approved
    ctx.on_balance(D(100))  # before the acknowledgement: the venue has not seen it yet
    assert ctx.reserved_margin == D(100)
    ctx.on_order(order_update(intent))
    assert ctx.reserved_margin == D(100)
    ctx.on_balance(D(0))  # the venue's free balance now nets the resting order
    assert ctx.reserved_margin == 0
    assert ctx.symbols[SYMBOL].open_orders == 1


def test_reservation_is_kept_until_the_end_when_free_does_not_net_open_orders() -> None:
    ctx = make_ctx(free=D(100), nets=False)
    intent = buy("1", price="100")
    assert decide(intent, ctx).approved
    ctx.on_order(order_update(intent))
    ctx.on_balance(D(100))
    assert ctx.reserved_margin == D(100)
    ctx.on_order(order_update(intent, OrderStatus.PARTIALLY_FILLED, filled="0.25"))
    assert ctx.reserved_margin == D(75)
    ctx.on_order(order_update(intent, OrderStatus.FILLED, filled="1"))
    assert ctx.reserved_margin == 0
    assert ctx.symbols[SYMBOL].open_orders == 0


def test_unacknowledged_approvals_expire() -> None:
    ctx = make_ctx()
    assert decide(buy(coid="b1"), ctx).approved
    assert ctx.symbols[SYMBOL].open_orders == 1
    timeout = ctx.in_flight_timeout_ns
    assert decide(buy(coid="b2"), ctx, now=NOW + timeout - 1).approved
    assert ctx.symbols[SYMBOL].open_orders == 2
    decide(buy(coid="b3"), ctx, now=NOW + timeout)
    assert set(ctx.orders) == {"b2", "b3"}


def test_acknowledged_orders_do_not_expire() -> None:
    ctx = make_ctx()
    intent = buy(coid="b1")
    decide(intent, ctx)
    ctx.on_order(order_update(intent))
    ctx.expire_in_flight(NOW + 3600 * SEC)
    assert "b1" in ctx.orders


def test_retry_of_a_tracked_order_is_approved_without_counting_twice() -> None:
    ctx = make_ctx()
    intent = buy("0.1", coid="b1")
    assert decide(intent, ctx).approved
    reserved = ctx.reserved_margin
    ctx.symbols[SYMBOL].open_orders = 5  # at the limit, counting itself
    again = decide(intent, ctx, now=NOW + 1)
    assert again.approved
    assert ctx.reserved_margin == reserved


def test_retry_is_still_gated_by_the_trading_state() -> None:
    ctx = make_ctx()
    intent = buy(coid="b1")
    decide(intent, ctx)
    assert reason(decide(intent, ctx, HALTED)) is VetoReason.HALTED


def test_reusing_a_client_order_id_for_another_order_is_invalid() -> None:
    ctx = make_ctx()
    decide(buy("0.1", coid="b1"), ctx)
    decision = decide(buy("0.2", coid="b1"), ctx)
    assert reason(decision) is VetoReason.INVALID_INTENT
    assert decision.veto is not None
    assert decision.veto.field == "client_order_id"


def test_vetoed_intents_leave_the_context_untouched() -> None:
    ctx = make_ctx()
    decide(buy("5"), ctx)
    decide(buy(), ctx, HALTED)
    assert ctx.orders == {}
    assert ctx.symbols[SYMBOL].open_orders == 0
    assert ctx.reserved_margin == 0


def _roomy() -> Limits:
    return dataclasses.replace(LIMITS, max_position=D(100), max_order_quantity=D(100), max_open_orders=100)
