"""RiskCore: pushed events drive the state machine, and decisions follow the state."""

from __future__ import annotations

import dataclasses

import pytest

from opensqt_common.enums import TradingState
from opensqt_risk.rules import (
    Candle,
    Limits,
    PositionSnapshot,
    RiskContext,
    RiskCore,
    StartupCheckKind,
    StateSource,
    VetoReason,
    VolumeAnomalyDetector,
)
from opensqt_risk.rules.testing import LIMITS, NOW, SEC, SYMBOL, D, buy, sell

MINUTE = 60 * SEC
OTHER = "ETH/USDT:USDT"


def make_core(limits: Limits = LIMITS, **kwargs: object) -> RiskCore:
    ctx = RiskContext()
    ctx.add_symbol(SYMBOL)
    ctx.add_symbol(OTHER)
    detector = VolumeAnomalyDetector([SYMBOL, OTHER], average_window=2, multiplier=D(3))
    core = RiskCore(default_limits=limits, now_ns=NOW, context=ctx, detector=detector, **kwargs)  # type: ignore[arg-type]
    core.on_price(SYMBOL, D(100), NOW)
    core.on_balance(D(10_000))
    return core


def candle(symbol: str, minute: int, close: str, volume: str) -> Candle:
    return Candle(symbol, minute * MINUTE, D(close), D(volume), closed=True)


def test_crash_halts_opening_orders_and_recovery_resumes_them() -> None:
    core = make_core()
    for minute in (1, 2):
        for symbol in (SYMBOL, OTHER):
            assert core.on_candle(candle(symbol, minute, "100", "10"), NOW) is None
    assert core.on_candle(candle(SYMBOL, 3, "90", "40"), NOW) is None
    update = core.on_candle(candle(OTHER, 3, "90", "40"), NOW + 1)
    assert update is not None
    assert (update.state, update.source) == (TradingState.HALTED, StateSource.CRASH_DETECTOR)
    veto = core.review(buy(coid="b1"), NOW + 2).veto
    assert veto is not None
    assert veto.reason is VetoReason.HALTED
    # An operator cannot resume over the crash detector.
    assert core.resume("go", "alice", NOW + 3).state is TradingState.HALTED
    update = core.on_candle(candle(SYMBOL, 4, "91", "10"), NOW + 4)
    assert update is not None
    assert update.state is TradingState.ACTIVE
    assert core.review(buy(coid="b2"), NOW + 5).approved


def test_any_kline_refreshes_the_kline_feed() -> None:
    core = make_core()
    veto = core.review(buy(coid="b1"), NOW).veto
    assert veto is not None
    assert veto.reason is VetoReason.STALE_MARKET_DATA
    core.on_candle(Candle(SYMBOL, 0, D(100), D(1), closed=False), NOW)
    assert core.review(buy(coid="b1"), NOW).approved


def test_drawdown_trips_the_configured_state_and_resume_rechecks_it() -> None:
    limits = dataclasses.replace(LIMITS, drawdown_limit=D(50), drawdown_state=TradingState.REDUCE_ONLY)
    core = make_core(limits)
    assert core.on_position(PositionSnapshot(SYMBOL, D(1), D(-30), D(-20)), NOW) is None
    update = core.on_position(PositionSnapshot(OTHER, D(0), D(0), D("-0.01")), NOW + 1)
    assert update is not None
    assert (update.state, update.source) == (TradingState.REDUCE_ONLY, StateSource.DRAWDOWN)
    assert "-50.01" in update.reason
    # Closing still passes; opening does not.
    assert core.review(sell("1", coid="s1", reduce_only=True), NOW + 2).approved
    # Resume while still below the limit: the guard trips again within the same update.
    after = core.resume("try", "alice", NOW + 3)
    assert (after.state, after.source) == (TradingState.REDUCE_ONLY, StateSource.DRAWDOWN)
    core.on_position(PositionSnapshot(OTHER, D(0), D(0), D(0)), NOW + 4)
    after = core.resume("loss shrank", "alice", NOW + 5)
    assert (after.state, after.source) == (TradingState.ACTIVE, StateSource.OPERATOR)


def test_positions_of_untracked_symbols_are_ignored() -> None:
    core = make_core()
    assert core.on_position(PositionSnapshot("XRP/USDT", D(1), D(-1_000_000)), NOW) is None
    assert core.trading_state.state is TradingState.ACTIVE


def test_operator_kill_switch_returns_the_current_state() -> None:
    core = make_core()
    core.on_candle(Candle(SYMBOL, 0, D(100), D(1), closed=False), NOW)
    halted = core.halt(TradingState.HALTED, "manual", "alice", NOW + 1)
    assert (halted.state, halted.sequence) == (TradingState.HALTED, 2)
    assert core.halt(TradingState.HALTED, "manual", "alice", NOW + 2) == halted
    veto = core.review(buy(coid="b1"), NOW + 2).veto
    assert veto is not None
    assert veto.reason is VetoReason.HALTED
    resumed = core.resume("ok", "alice", NOW + 3)
    assert resumed.state is TradingState.ACTIVE
    assert core.review(buy(coid="b1"), NOW + 3).approved


def test_initial_state_can_be_halted_until_an_operator_resumes() -> None:
    core = make_core(initial_state=TradingState.HALTED, initial_reason="awaiting operator")
    assert core.trading_state.source is StateSource.STARTUP
    assert core.resume("go", "alice", NOW).state is TradingState.ACTIVE


def test_symbol_limits_override_the_defaults() -> None:
    tight = dataclasses.replace(LIMITS, max_order_quantity=D("0.01"))
    core = make_core(symbol_limits={SYMBOL: tight})
    core.on_candle(Candle(SYMBOL, 0, D(100), D(1), closed=False), NOW)
    assert core.limits_for(SYMBOL) is tight
    assert core.limits_for(OTHER) is LIMITS
    veto = core.review(buy("0.02"), NOW).veto
    assert veto is not None
    assert veto.reason is VetoReason.MAX_QUANTITY


def test_startup_checks_use_the_cached_balance_price_and_limits() -> None:
    core = make_core()
    result = core.check_startup(
        symbol=SYMBOL,
        order_amount=D(100),
        price_interval=D(1),
        leverage=D(2),
        maker_fee=D("0.0002"),
        taker_fee=D("0.0005"),
    )
    by_kind = {check.kind: check for check in result}
    assert by_kind[StartupCheckKind.BALANCE].value == D(10_000)
    assert by_kind[StartupCheckKind.CAPACITY].value == D(200)
    assert by_kind[StartupCheckKind.LEVERAGE].threshold == LIMITS.max_leverage
    assert by_kind[StartupCheckKind.FEE_PROFITABILITY].value == D("0.01")  # 1 / 100
    assert all(check.passed for check in result)


def test_startup_without_a_balance_fails_the_balance_check() -> None:
    ctx = RiskContext()
    ctx.add_symbol(SYMBOL)
    core = RiskCore(default_limits=LIMITS, now_ns=NOW, context=ctx)
    result = core.check_startup(
        symbol=SYMBOL,
        order_amount=D(10),
        price_interval=D(1),
        leverage=D(1),
        maker_fee=D(0),
        taker_fee=D(0),
        reference_price=D(100),
    )
    assert not result[0].passed
    assert result[0].kind is StartupCheckKind.BALANCE


def test_startup_needs_a_reference_price() -> None:
    core = make_core()
    with pytest.raises(ValueError, match="no reference price"):
        core.check_startup(
            symbol=OTHER,
            order_amount=D(10),
            price_interval=D(1),
            leverage=D(1),
            maker_fee=D(0),
            taker_fee=D(0),
        )
