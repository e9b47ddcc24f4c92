"""The trading-state machine: ACTIVE, REDUCE_ONLY or HALTED, and why.

Each cause that can restrict trading holds a latch (the state it demands and why):

| cause           | set by                      | cleared by                       |
|-----------------|-----------------------------|----------------------------------|
| STARTUP         | a non-ACTIVE initial state  | operator resume                  |
| OPERATOR        | operator halt               | operator resume                  |
| DRAWDOWN        | drawdown trip               | operator resume                  |
| CRASH_DETECTOR  | crash detector halt         | crash detector recovery only     |

The effective state is the most severe latch (HALTED > REDUCE_ONLY > ACTIVE); ties go to
OPERATOR, then DRAWDOWN, CRASH_DETECTOR, STARTUP. With no latch the state is ACTIVE,
attributed to whatever cleared the last latch. Every method returns the new
`StateUpdate` when the effective state changed, or when a restriction stays but its
source or reason changed (e.g. operator resume while the crash detector still halts);
else None; the
service pushes it to watchers at once. `since_ns` only moves when the state itself
changes; `sequence` grows by one per update. Pure: time is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass

from opensqt_common.enums import TradingState
from opensqt_risk.rules.model import StateSource, StateUpdate

_SEVERITY = {TradingState.ACTIVE: 0, TradingState.REDUCE_ONLY: 1, TradingState.HALTED: 2}
_TIE_ORDER = (StateSource.OPERATOR, StateSource.DRAWDOWN, StateSource.CRASH_DETECTOR, StateSource.STARTUP)
_RESTRICTIVE = (TradingState.REDUCE_ONLY, TradingState.HALTED)


@dataclass(frozen=True, slots=True)
class Latch:
    state: TradingState
    reason: str


class TradingStateMachine:
    __slots__ = ("_current", "_latches", "state")

    def __init__(
        self,
        now_ns: int,
        *,
        initial: TradingState = TradingState.ACTIVE,
        reason: str = "risk service started",
    ) -> None:
        self._latches: dict[StateSource, Latch] = {}
        if initial is not TradingState.ACTIVE:
            self._latches[StateSource.STARTUP] = Latch(initial, reason)
        self._current = StateUpdate(initial, reason, StateSource.STARTUP, now_ns, 1)
        # The effective state, read on every decision.
        self.state: TradingState = initial

    @property
    def current(self) -> StateUpdate:
        return self._current

    @property
    def latches(self) -> dict[StateSource, Latch]:
        """The active causes (a copy)."""
        return dict(self._latches)

    def operator_halt(
        self, state: TradingState, reason: str, operator: str, now_ns: int
    ) -> StateUpdate | None:
        """Kill switch: HALTED or REDUCE_ONLY until an operator resumes."""
        _require_restrictive(state)
        self._latches[StateSource.OPERATOR] = Latch(state, _by(reason or "operator halt", operator))
        return self._settle(StateSource.OPERATOR, "", now_ns)

    def operator_resume(
        self,
        reason: str,
        operator: str,
        now_ns: int,
        *,
        drawdown_still_breached: Latch | None = None,
    ) -> StateUpdate | None:
        """Clear the operator, drawdown and startup latches (never the crash detector's).

        `drawdown_still_breached`: the drawdown guard, re-armed by this resume, found the
        limit still breached; its latch is set again within the same transition.
        """
        for source in (StateSource.OPERATOR, StateSource.DRAWDOWN, StateSource.STARTUP):
            self._latches.pop(source, None)
        if drawdown_still_breached is not None:
            _require_restrictive(drawdown_still_breached.state)
            self._latches[StateSource.DRAWDOWN] = drawdown_still_breached
        return self._settle(StateSource.OPERATOR, _by(reason or "operator resume", operator), now_ns)

    def crash_halt(self, reason: str, now_ns: int) -> StateUpdate | None:
        self._latches[StateSource.CRASH_DETECTOR] = Latch(TradingState.HALTED, reason)
        return self._settle(StateSource.CRASH_DETECTOR, "", now_ns)

    def crash_recover(self, reason: str, now_ns: int) -> StateUpdate | None:
        self._latches.pop(StateSource.CRASH_DETECTOR, None)
        return self._settle(StateSource.CRASH_DETECTOR, reason, now_ns)

    def drawdown_trip(self, state: TradingState, reason: str, now_ns: int) -> StateUpdate | None:
        _require_restrictive(state)
        self._latches[StateSource.DRAWDOWN] = Latch(state, reason)
        return self._settle(StateSource.DRAWDOWN, "", now_ns)

    def _settle(self, actor: StateSource, actor_reason: str, now_ns: int) -> StateUpdate | None:
        winner: tuple[StateSource, Latch] | None = None
        for source in _TIE_ORDER:
            latch = self._latches.get(source)
            if latch is not None and (winner is None or _SEVERITY[latch.state] > _SEVERITY[winner[1].state]):
                winner = (source, latch)
        if winner is None:
            state, source, reason = TradingState.ACTIVE, actor, actor_reason or "resumed"
        else:
            source, latch = winner
            state, reason = latch.state, latch.reason
        current = self._current
        if state is current.state and (
            state is TradingState.ACTIVE or (source is current.source and reason == current.reason)
        ):
            return None
        since_ns = current.since_ns if state is current.state else now_ns
        self._current = StateUpdate(state, reason, source, since_ns, current.sequence + 1)
        self.state = state
        return self._current


def _by(reason: str, operator: str) -> str:
    return f"{reason} (operator {operator})" if operator else reason


def _require_restrictive(state: TradingState) -> None:
    if state not in _RESTRICTIVE:
        raise ValueError(f"a halt must be HALTED or REDUCE_ONLY, got {state.name}")
