"""Pure risk rules: pre-trade checks, trading state, crash detector, drawdown, startup checks.

Synchronous, no I/O, time injected as integer nanoseconds. `RiskCore` wires the parts
together for the gRPC service; `wire` converts to and from the protobuf messages.
"""

from opensqt_risk.rules.checks import invalid_intent, review
from opensqt_risk.rules.context import RiskContext, SymbolState
from opensqt_risk.rules.core import RiskCore
from opensqt_risk.rules.crash_detector import CrashSignal, DetectorMode, SignalKind, VolumeAnomalyDetector
from opensqt_risk.rules.drawdown import DrawdownGuard, DrawdownTrip
from opensqt_risk.rules.model import (
    AppliedLimit,
    Candle,
    Decision,
    Intent,
    Limits,
    OrderUpdate,
    PositionSnapshot,
    StartupCheck,
    StartupCheckKind,
    StateSource,
    StateUpdate,
    Veto,
    VetoReason,
)
from opensqt_risk.rules.startup import run_startup_checks, startup_ok
from opensqt_risk.rules.state import TradingStateMachine

__all__ = [
    "AppliedLimit",
    "Candle",
    "CrashSignal",
    "Decision",
    "DetectorMode",
    "DrawdownGuard",
    "DrawdownTrip",
    "Intent",
    "Limits",
    "OrderUpdate",
    "PositionSnapshot",
    "RiskContext",
    "RiskCore",
    "SignalKind",
    "StartupCheck",
    "StartupCheckKind",
    "StateSource",
    "StateUpdate",
    "SymbolState",
    "TradingStateMachine",
    "Veto",
    "VetoReason",
    "VolumeAnomalyDetector",
    "invalid_intent",
    "review",
    "run_startup_checks",
    "startup_ok",
]
