"""Drawdown guard: realised plus unrealised PnL below -limit trips the kill switch.

The guard trips once (edge-triggered) and disarms; the trading-state machine latches the
resulting HALTED or REDUCE_ONLY until an operator resumes. Resuming re-arms the guard, and
if PnL is still below the limit it trips again at once: to trade on after a trip, the
operator raises the limit or the loss must shrink. PnL exactly at -limit does not trip.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from opensqt_common.decimals import format_decimal as fmt
from opensqt_common.enums import TradingState
from opensqt_risk.rules.arith import add


@dataclass(frozen=True, slots=True)
class DrawdownTrip:
    state: TradingState
    pnl: Decimal
    limit: Decimal
    reason: str


class DrawdownGuard:
    __slots__ = ("armed", "limit", "state")

    def __init__(self, limit: Decimal, state: TradingState = TradingState.HALTED) -> None:
        if not limit.is_finite() or limit <= 0:
            raise ValueError(f"drawdown limit must be positive, got {limit}")
        if state is TradingState.ACTIVE:
            raise ValueError("a drawdown trip must lead to HALTED or REDUCE_ONLY")
        self.limit = limit
        self.state = state
        self.armed = True

    def breached(self, pnl: Decimal) -> bool:
        return pnl < -self.limit

    def update(self, realized_pnl: Decimal, unrealized_pnl: Decimal) -> DrawdownTrip | None:
        """Feed the current PnL; returns a trip the first time it falls below -limit."""
        pnl = add(realized_pnl, unrealized_pnl)
        if not self.armed or not self.breached(pnl):
            return None
        self.armed = False
        return self._trip(pnl)

    def rearm(self, realized_pnl: Decimal, unrealized_pnl: Decimal) -> DrawdownTrip | None:
        """Re-arm (on operator resume); returns a trip at once if the limit is still breached."""
        self.armed = True
        pnl = add(realized_pnl, unrealized_pnl)
        if not self.breached(pnl):
            return None
        self.armed = False
        return self._trip(pnl)

    def _trip(self, pnl: Decimal) -> DrawdownTrip:
        return DrawdownTrip(
            self.state,
            pnl,
            self.limit,
            f"drawdown: realised + unrealised PnL {fmt(pnl)} is below -{fmt(self.limit)}",
        )
