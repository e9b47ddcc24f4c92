"""Each pre-trade check on its own: it vetoes past its limit and passes exactly at it."""

from __future__ import annotations

import dataclasses

import pytest

from opensqt_common.enums import OrderType, Side, TradingState
from opensqt_risk.rules import AppliedLimit, Intent, RiskContext, VetoReason
from opensqt_risk.rules.checks import (
    check_margin,
    check_market_data,
    check_max_notional,
    check_max_open_orders,
    check_max_position,
    check_max_quantity,
    check_price_band,
    check_rate,
    check_reduce_only,
    check_trading_state,
    validate_intent,
)
from opensqt_risk.rules.rate import TokenBucket
from opensqt_risk.rules.testing import LIMITS, NOW, SEC, SYMBOL, D, buy, make_ctx, market, order_update, sell

# ---------------------------------------------------------------- validity


def test_valid_limit_and_market_intents_pass() -> None:
    assert validate_intent(buy()) is None
    assert validate_intent(market(Side.SELL, "0.5")) is None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"client_order_id": ""}, "client_order_id"),
        ({"symbol": ""}, "symbol"),
        ({"quantity": D(0)}, "quantity"),
        ({"quantity": D("-0.1")}, "quantity"),
        ({"quantity": D("NaN")}, "quantity"),
        ({"quantity": D("Infinity")}, "quantity"),
        ({"price": None}, "price"),
        ({"price": D(0)}, "price"),
        ({"price": D("-1")}, "price"),
        ({"price": D("sNaN")}, "price"),
    ],
)
def test_malformed_limit_intent_is_invalid(changes: dict[str, object], field: str) -> None:
    veto = validate_intent(dataclasses.replace(buy(), **changes))  # type: ignore[arg-type]
    assert veto is not None
    assert veto.reason is VetoReason.INVALID_INTENT
    assert veto.field == field
    assert veto.detail.startswith(f"{field}: ")


def test_market_intent_must_not_carry_a_price_or_post_only() -> None:
    priced = Intent("m", SYMBOL, Side.BUY, OrderType.MARKET, D(100), D(1))
    post_only = Intent("m", SYMBOL, Side.BUY, OrderType.MARKET, None, D(1), post_only=True)
    vetoes = [validate_intent(priced), validate_intent(post_only)]
    assert [veto.field if veto else None for veto in vetoes] == ["price", "post_only"]


# ------------------------------------------------------------- reduce-only


@pytest.mark.parametrize(
    ("position", "intent"),
    [
        (D(0), sell(reduce_only=True)),
        (D(0), buy(reduce_only=True)),
        (D(1), buy(reduce_only=True)),
        (D(-1), sell(reduce_only=True)),
    ],
)
def test_reduce_only_that_cannot_reduce_is_vetoed(position: D, intent: Intent) -> None:
    veto = check_reduce_only(intent, make_ctx(position=position).symbols[SYMBOL])
    assert veto is not None
    assert veto.reason is VetoReason.REDUCE_ONLY_INCREASES
    assert veto.limits == (AppliedLimit("position", D(0), position),)


@pytest.mark.parametrize(
    ("position", "intent"),
    [
        (D(1), sell("1", reduce_only=True)),
        (D(1), sell("5", reduce_only=True)),  # the venue caps the excess
        (D(-1), buy("0.5", reduce_only=True)),
        (D(0), buy()),  # not reduce-only: not this check's business
    ],
)
def test_reduce_only_against_the_position_passes(position: D, intent: Intent) -> None:
    assert check_reduce_only(intent, make_ctx(position=position).symbols[SYMBOL]) is None


# ----------------------------------------------------------- trading state


def test_trading_state_gate() -> None:
    assert check_trading_state(TradingState.ACTIVE) is None
    halted = check_trading_state(TradingState.HALTED)
    reduce_only = check_trading_state(TradingState.REDUCE_ONLY)
    assert halted is not None
    assert halted.reason is VetoReason.HALTED
    assert reduce_only is not None
    assert reduce_only.reason is VetoReason.REDUCE_ONLY


# ------------------------------------------------------------- market data


def test_price_exactly_stale_after_seconds_old_is_fresh() -> None:
    state = make_ctx().symbols[SYMBOL]
    assert check_market_data(state, LIMITS, NOW + 30 * SEC) is None


def test_price_one_nanosecond_past_the_limit_is_stale() -> None:
    ctx = make_ctx()
    ctx.on_kline(SYMBOL, NOW + 30 * SEC)  # the kline is fresh; the price is not
    veto = check_market_data(ctx.symbols[SYMBOL], LIMITS, NOW + 30 * SEC + 1)
    assert veto is not None
    assert veto.reason is VetoReason.STALE_MARKET_DATA
    assert veto.limits == (AppliedLimit("stale_after_seconds.price", D(30), D("30.000000001")),)
    assert "price" in veto.detail


def test_stale_kline_vetoes_when_klines_are_required() -> None:
    ctx = make_ctx()
    ctx.on_price(SYMBOL, D(100), NOW + 40 * SEC)
    veto = check_market_data(ctx.symbols[SYMBOL], LIMITS, NOW + 40 * SEC)
    assert veto is not None
    assert veto.reason is VetoReason.STALE_MARKET_DATA
    assert veto.limits[0].name == "stale_after_seconds.kline"
    assert veto.limits[0].value == D(40)


def test_missing_price_or_kline_is_stale() -> None:
    no_price = make_ctx(price=None).symbols[SYMBOL]
    no_kline = make_ctx(klines=False).symbols[SYMBOL]
    for state, what in ((no_price, "price"), (no_kline, "kline")):
        veto = check_market_data(state, LIMITS, NOW)
        assert veto is not None
        assert veto.reason is VetoReason.STALE_MARKET_DATA
        assert f"no {what}" in veto.detail


def test_klines_not_required_ignores_the_kline_feed() -> None:
    ctx = make_ctx(klines=False)
    ctx.add_symbol(SYMBOL, klines_required=False)
    assert check_market_data(ctx.symbols[SYMBOL], LIMITS, NOW) is None


# -------------------------------------------------------------- price band


@pytest.mark.parametrize("price", ["105", "95", "100", "104.999999999"])
def test_price_within_the_band_passes(price: str) -> None:
    assert check_price_band(buy(price=price), D(100), D("0.05")) is None
    assert check_price_band(sell(price=price), D(100), D("0.05")) is None


@pytest.mark.parametrize(("price", "distance"), [("105.000000001", "0.00000000001"), ("94.99", "0.0001")])
def test_price_outside_the_band_is_vetoed(price: str, distance: str) -> None:
    veto = check_price_band(buy(price=price), D(100), D("0.05"))
    assert veto is not None
    assert veto.reason is VetoReason.PRICE_BAND
    assert veto.limits == (AppliedLimit("price_band", D("0.05"), D("0.05") + D(distance)),)


def test_market_orders_have_no_price_to_band() -> None:
    assert check_price_band(market(Side.BUY, "1"), D(100), D("0.05")) is None


def test_crossing_only_band_checks_the_aggressive_side() -> None:
    band = D("0.05")
    assert check_price_band(sell(price="200"), D(100), band, crossing_only=True) is None
    assert check_price_band(buy(price="50"), D(100), band, crossing_only=True) is None
    assert check_price_band(sell(price="95"), D(100), band, crossing_only=True) is None
    assert check_price_band(buy(price="105"), D(100), band, crossing_only=True) is None
    low_sell = check_price_band(sell(price="94.99"), D(100), band, crossing_only=True)
    high_buy = check_price_band(buy(price="105.01"), D(100), band, crossing_only=True)
    assert low_sell is not None
    assert low_sell.reason is VetoReason.PRICE_BAND
    assert high_buy is not None
    assert high_buy.reason is VetoReason.PRICE_BAND


# ------------------------------------------------------- per-order limits


def test_max_quantity_boundary() -> None:
    assert check_max_quantity(buy("1"), LIMITS) is None
    veto = check_max_quantity(buy("1.00000001"), LIMITS)
    assert veto is not None
    assert veto.reason is VetoReason.MAX_QUANTITY
    assert veto.limits == (AppliedLimit("max_order_quantity", D(1), D("1.00000001")),)


def test_max_notional_boundary() -> None:
    assert check_max_notional(D(1000), LIMITS) is None
    veto = check_max_notional(D("1000.0000001"), LIMITS)
    assert veto is not None
    assert veto.reason is VetoReason.MAX_NOTIONAL
    assert veto.limits == (AppliedLimit("max_order_notional", D(1000), D("1000.0000001")),)


# ---------------------------------------------------------- aggregate limits


def _with_resting(position: D, side: Side, quantity: str) -> RiskContext:
    """A context holding `position` and one acknowledged opening order of `quantity` on `side`."""
    ctx = make_ctx(position=position)
    resting = buy(quantity, coid="r1") if side is Side.BUY else sell(quantity, coid="r1")
    ctx.on_order(order_update(resting))
    return ctx


def test_max_position_counts_resting_same_side_opening_orders() -> None:
    ctx = _with_resting(D("1.5"), Side.BUY, "0.25")
    state = ctx.symbols[SYMBOL]
    assert state.opening_buy_quantity == D("0.25")
    assert check_max_position(buy("0.25"), state, LIMITS) is None
    veto = check_max_position(buy("0.2500001"), state, LIMITS)
    assert veto is not None
    assert veto.reason is VetoReason.MAX_POSITION
    assert veto.limits == (AppliedLimit("max_position", D(2), D("2.0000001")),)


def test_max_position_short_side() -> None:
    ctx = _with_resting(D(-1), Side.SELL, "0.5")
    state = ctx.symbols[SYMBOL]
    assert check_max_position(sell("0.5"), state, LIMITS) is None
    veto = check_max_position(sell("0.51"), state, LIMITS)
    assert veto is not None
    assert veto.limits[0].value == D("2.01")


def test_max_position_buy_that_flips_a_short_is_measured_after_the_flip() -> None:
    state = make_ctx(position=D(-2)).symbols[SYMBOL]
    assert check_max_position(buy("4"), state, LIMITS) is None  # ends at +2
    assert check_max_position(buy("4.1"), state, LIMITS) is not None


def test_max_open_orders_boundary() -> None:
    state = make_ctx().symbols[SYMBOL]
    state.open_orders = 4
    assert check_max_open_orders(state, LIMITS) is None
    state.open_orders = 5
    veto = check_max_open_orders(state, LIMITS)
    assert veto is not None
    assert veto.reason is VetoReason.MAX_OPEN_ORDERS
    assert veto.limits == (AppliedLimit("max_open_orders", D(5), D(6)),)


def test_margin_boundary_is_exact() -> None:
    assert check_margin(D(200), D(2), D(100)) is None
    veto = check_margin(D("200.00000002"), D(2), D(100))
    assert veto is not None
    assert veto.reason is VetoReason.INSUFFICIENT_MARGIN
    assert veto.limits == (AppliedLimit("free_margin", D(100), D("100.00000001")),)


def test_margin_without_any_balance_fails_closed() -> None:
    veto = check_margin(D(1), D(1), None)
    assert veto is not None
    assert veto.reason is VetoReason.NO_ACCOUNT_DATA
    assert "no balance" in veto.detail


def test_margin_with_negative_available_vetoes_everything() -> None:
    assert check_margin(D("0.000001"), D(100), D(-1)) is not None


def test_rate_boundary() -> None:
    limits = dataclasses.replace(LIMITS, max_order_rate_per_second=D(2))
    bucket = TokenBucket()
    for _ in range(2):
        assert check_rate(bucket, limits, NOW) is None
        bucket.take(D(2), NOW)
    veto = check_rate(bucket, limits, NOW)
    assert veto is not None
    assert veto.reason is VetoReason.RATE
    assert veto.limits == (AppliedLimit("order_rate_tokens", D(1), D(0)),)
    assert "500 ms" in veto.detail
    assert check_rate(bucket, limits, NOW + SEC // 2 - 1) is not None
    assert check_rate(bucket, limits, NOW + SEC // 2) is None
