"""The drawdown guard: trips once below -limit, re-arms on resume."""

from __future__ import annotations

import pytest

from opensqt_common.enums import TradingState
from opensqt_risk.rules import DrawdownGuard, DrawdownTrip
from opensqt_risk.rules.testing import D


def test_pnl_exactly_at_minus_limit_does_not_trip() -> None:
    guard = DrawdownGuard(D(100))
    assert guard.update(D(-60), D(-40)) is None
    assert guard.armed


def test_pnl_below_the_limit_trips_once() -> None:
    guard = DrawdownGuard(D(100), TradingState.REDUCE_ONLY)
    trip = guard.update(D(-60), D("-40.01"))
    assert trip == DrawdownTrip(
        TradingState.REDUCE_ONLY,
        D("-100.01"),
        D(100),
        "drawdown: realised + unrealised PnL -100.01 is below -100",
    )
    assert guard.update(D(-500), D(0)) is None
    assert not guard.armed


def test_unrealised_gains_offset_realised_losses() -> None:
    assert DrawdownGuard(D(100)).update(D(-150), D(60)) is None


def test_rearm_trips_again_at_once_while_still_breached() -> None:
    guard = DrawdownGuard(D(100))
    assert guard.update(D(-101), D(0)) is not None
    again = guard.rearm(D(-101), D(0))
    assert again is not None
    assert again.state is TradingState.HALTED
    assert guard.rearm(D(-100), D(0)) is None
    assert guard.armed
    assert guard.update(D(-100), D("-0.000001")) is not None


@pytest.mark.parametrize(
    ("limit", "state"),
    [(D(0), TradingState.HALTED), (D(-1), TradingState.HALTED), (D(1), TradingState.ACTIVE)],
)
def test_configuration_is_validated(limit: D, state: TradingState) -> None:
    with pytest.raises(ValueError, match="drawdown"):
        DrawdownGuard(limit, state)
