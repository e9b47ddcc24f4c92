"""RiskCore: the rules wired together, ready for a thin gRPC service around them.

One object owns the cached inputs (`RiskContext`), the limits, the trading-state
machine, the crash detector and the drawdown guard. The service calls one method per
pushed event or RPC and forwards any returned `StateUpdate` to its watchers. Synchronous,
no I/O, time passed in: safe to drive from one event loop.

Which limits apply: the symbol's own, else the defaults. The drawdown guard is account
wide and uses the default limits' `drawdown_limit` and `drawdown_state`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from decimal import Decimal

from opensqt_common.enums import TradingState
from opensqt_risk.rules.checks import review
from opensqt_risk.rules.context import RiskContext
from opensqt_risk.rules.crash_detector import SignalKind, VolumeAnomalyDetector
from opensqt_risk.rules.drawdown import DrawdownGuard
from opensqt_risk.rules.model import (
    Candle,
    Decision,
    Intent,
    Limits,
    OrderUpdate,
    PositionSnapshot,
    StartupCheck,
    StateUpdate,
)
from opensqt_risk.rules.startup import run_startup_checks
from opensqt_risk.rules.state import Latch, TradingStateMachine


class RiskCore:
    def __init__(
        self,
        *,
        default_limits: Limits,
        now_ns: int,
        symbol_limits: Mapping[str, Limits] | None = None,
        context: RiskContext | None = None,
        detector: VolumeAnomalyDetector | None = None,
        initial_state: TradingState = TradingState.ACTIVE,
        initial_reason: str = "risk service started",
    ) -> None:
        self.default_limits = default_limits
        self._symbol_limits = dict(symbol_limits or {})
        self.context = context if context is not None else RiskContext()
        self.detector = detector
        self.state_machine = TradingStateMachine(now_ns, initial=initial_state, reason=initial_reason)
        self.guard = DrawdownGuard(default_limits.drawdown_limit, default_limits.drawdown_state)

    @property
    def trading_state(self) -> StateUpdate:
        return self.state_machine.current

    def limits_for(self, symbol: str) -> Limits:
        return self._symbol_limits.get(symbol, self.default_limits)

    # ---------------------------------------------------------------- decisions

    def review(self, intent: Intent, now_ns: int) -> Decision:
        limits = self._symbol_limits.get(intent.symbol, self.default_limits)
        return review(intent, self.context, limits, self.state_machine.state, now_ns)

    # ----------------------------------------------------------- pushed events

    def on_price(self, symbol: str, price: Decimal, now_ns: int) -> None:
        self.context.on_price(symbol, price, now_ns)

    def on_candle(self, candle: Candle, now_ns: int) -> StateUpdate | None:
        """Any kline (closed or not) refreshes the kline feed; closed ones feed the detector."""
        self.context.on_kline(candle.symbol, now_ns)
        if self.detector is None:
            return None
        signal = self.detector.on_candle(candle)
        if signal is None:
            return None
        if signal.kind is SignalKind.HALT:
            return self.state_machine.crash_halt(signal.detail, now_ns)
        return self.state_machine.crash_recover(signal.detail, now_ns)

    def on_position(self, position: PositionSnapshot, now_ns: int) -> StateUpdate | None:
        if not self.context.on_position(position):
            return None
        trip = self.guard.update(*self.context.pnl())
        if trip is None:
            return None
        return self.state_machine.drawdown_trip(trip.state, trip.reason, now_ns)

    def balance_token(self) -> frozenset[str]:
        """Take before requesting a balance; pass to `on_balance` (see RiskContext.balance_token)."""
        return self.context.balance_token()

    def on_balance(self, free_margin: Decimal, settled: AbstractSet[str] | None = None) -> None:
        self.context.on_balance(free_margin, settled)

    def on_order(self, update: OrderUpdate) -> None:
        self.context.on_order(update)

    def sync_open_orders(self, updates: Sequence[OrderUpdate]) -> None:
        self.context.sync_open_orders(updates)

    # ------------------------------------------------------------- operator

    def halt(self, state: TradingState, reason: str, operator: str, now_ns: int) -> StateUpdate:
        """Kill switch. Returns the state after the call (changed or not)."""
        self.state_machine.operator_halt(state, reason, operator, now_ns)
        return self.state_machine.current

    def resume(self, reason: str, operator: str, now_ns: int) -> StateUpdate:
        """Clear operator and drawdown latches; the drawdown guard re-arms and re-checks."""
        trip = self.guard.rearm(*self.context.pnl())
        latch = None if trip is None else Latch(trip.state, trip.reason)
        self.state_machine.operator_resume(reason, operator, now_ns, drawdown_still_breached=latch)
        return self.state_machine.current

    def check_startup(
        self,
        *,
        symbol: str,
        order_amount: Decimal,
        price_interval: Decimal,
        leverage: Decimal,
        maker_fee: Decimal,
        taker_fee: Decimal,
        reference_price: Decimal | None = None,
        post_only: bool = True,
    ) -> list[StartupCheck]:
        """Startup checks against the cached balance and the symbol's limits.

        `reference_price` defaults to the symbol's last price; ValueError when neither
        is known, or for nonsensical inputs.
        """
        if reference_price is None:
            state = self.context.symbols.get(symbol)
            reference_price = None if state is None else state.last_price
            if reference_price is None:
                raise ValueError(f"no reference price given and no last price known for {symbol!r}")
        limits = self.limits_for(symbol)
        free = self.context.free_margin
        return run_startup_checks(
            free_balance=free if free is not None else Decimal(0),
            leverage=leverage,
            max_leverage=limits.max_leverage,
            order_amount=order_amount,
            min_slots=limits.min_slots,
            price_interval=price_interval,
            reference_price=reference_price,
            maker_fee=maker_fee,
            taker_fee=taker_fee,
            post_only=post_only,
        )
