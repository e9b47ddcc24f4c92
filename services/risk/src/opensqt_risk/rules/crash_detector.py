"""Volume-anomaly crash detector (the seed system's algorithm).

Per monitored symbol, a closed candle is ANOMALOUS when, over the previous
`average_window` closed candles of that symbol,

    close  < mean(close)                 (exactly: close · n  < Σ close)
    volume > multiplier · mean(volume)   (exactly: volume · n > multiplier · Σ volume)

and NORMAL otherwise; with fewer than `average_window` previous candles it is
WARMING_UP (neither). The comparisons are exact: both sides are multiplied by n
instead of dividing.

While not halted, the detector signals HALT when every monitored symbol's latest verdict
is ANOMALOUS (mode ALL) or any one is (mode ANY). While halted, it signals RECOVER once
at least `recovery_threshold` symbols have closed a NORMAL candle since the halt (a later
anomalous candle of a symbol withdraws its vote).

Unclosed candles, symbols not monitored and candles whose open time is not after the
last one seen for that symbol (duplicates, replays) are ignored. History is bounded:
`average_window` candles per symbol.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from opensqt_common.decimals import format_decimal as fmt
from opensqt_risk.rules.arith import ZERO, add, mul, ratio
from opensqt_risk.rules.model import Candle


class DetectorMode(enum.Enum):
    ALL = "all"
    ANY = "any"


class Verdict(enum.Enum):
    WARMING_UP = "warming_up"
    NORMAL = "normal"
    ANOMALOUS = "anomalous"


class SignalKind(enum.Enum):
    HALT = "halt"
    RECOVER = "recover"


@dataclass(frozen=True, slots=True)
class CrashSignal:
    kind: SignalKind
    detail: str


@dataclass(frozen=True, slots=True)
class CandleVerdict:
    """The verdict on one closed candle, with the figures it was judged on."""

    symbol: str
    open_time_ns: int
    verdict: Verdict
    close: Decimal
    volume: Decimal
    mean_close: Decimal
    mean_volume: Decimal

    def describe(self, multiplier: Decimal) -> str:
        if self.verdict is Verdict.WARMING_UP:
            return f"{self.symbol}: warming up"
        return (
            f"{self.symbol}: close {fmt(self.close)} vs mean {fmt(self.mean_close)}, "
            f"volume {fmt(self.volume)} vs {fmt(multiplier)}×mean {fmt(self.mean_volume)}"
        )


class _SymbolHistory:
    __slots__ = ("candles", "last_open_time_ns", "latest")

    def __init__(self, window: int) -> None:
        self.candles: deque[tuple[Decimal, Decimal]] = deque(maxlen=window)
        self.last_open_time_ns: int | None = None
        self.latest: CandleVerdict | None = None


class VolumeAnomalyDetector:
    def __init__(
        self,
        symbols: Iterable[str],
        *,
        average_window: int,
        multiplier: Decimal,
        mode: DetectorMode = DetectorMode.ALL,
        recovery_threshold: int = 1,
    ) -> None:
        monitored = tuple(dict.fromkeys(symbols))
        if not monitored:
            raise ValueError("at least one symbol must be monitored")
        if average_window < 1:
            raise ValueError(f"average_window must be >= 1, got {average_window}")
        if not multiplier.is_finite() or multiplier <= 0:
            raise ValueError(f"multiplier must be positive, got {multiplier}")
        if not 1 <= recovery_threshold <= len(monitored):
            raise ValueError(
                f"recovery_threshold must be between 1 and {len(monitored)} (the monitored symbols), "
                f"got {recovery_threshold}"
            )
        self.symbols = monitored
        self.average_window = average_window
        self.multiplier = multiplier
        self.mode = mode
        self.recovery_threshold = recovery_threshold
        self.halted = False
        self._history = {symbol: _SymbolHistory(average_window) for symbol in monitored}
        self._normal_since_halt: set[str] = set()

    def verdict(self, symbol: str) -> CandleVerdict | None:
        """The latest verdict for a monitored symbol (None before its first closed candle)."""
        history = self._history.get(symbol)
        return None if history is None else history.latest

    def on_candle(self, candle: Candle) -> CrashSignal | None:
        """Feed one kline; returns HALT or RECOVER when the detector changes its mind."""
        history = self._history.get(candle.symbol)
        if history is None or not candle.closed:
            return None
        if history.last_open_time_ns is not None and candle.open_time_ns <= history.last_open_time_ns:
            return None
        judged = self._judge(candle, history.candles)
        history.candles.append((candle.close, candle.volume))
        history.last_open_time_ns = candle.open_time_ns
        history.latest = judged
        if self.halted:
            return self._maybe_recover(judged)
        return self._maybe_halt()

    def _judge(self, candle: Candle, previous: deque[tuple[Decimal, Decimal]]) -> CandleVerdict:
        n = len(previous)
        if n < self.average_window:
            return CandleVerdict(
                candle.symbol,
                candle.open_time_ns,
                Verdict.WARMING_UP,
                candle.close,
                candle.volume,
                ZERO,
                ZERO,
            )
        sum_close = ZERO
        sum_volume = ZERO
        for close, volume in previous:
            sum_close = add(sum_close, close)
            sum_volume = add(sum_volume, volume)
        anomalous = mul(candle.close, n) < sum_close and mul(candle.volume, n) > mul(
            self.multiplier, sum_volume
        )
        return CandleVerdict(
            candle.symbol,
            candle.open_time_ns,
            Verdict.ANOMALOUS if anomalous else Verdict.NORMAL,
            candle.close,
            candle.volume,
            ratio(sum_close, Decimal(n)),
            ratio(sum_volume, Decimal(n)),
        )

    def _maybe_halt(self) -> CrashSignal | None:
        anomalous = [
            history.latest
            for history in self._history.values()
            if history.latest is not None and history.latest.verdict is Verdict.ANOMALOUS
        ]
        needed = len(self.symbols) if self.mode is DetectorMode.ALL else 1
        if len(anomalous) < needed:
            return None
        self.halted = True
        self._normal_since_halt.clear()
        described = "; ".join(verdict.describe(self.multiplier) for verdict in anomalous)
        return CrashSignal(
            SignalKind.HALT,
            f"volume anomaly in {len(anomalous)} of {len(self.symbols)} monitored symbols "
            f"(mode {self.mode.name}): {described}",
        )

    def _maybe_recover(self, judged: CandleVerdict) -> CrashSignal | None:
        if judged.verdict is Verdict.NORMAL:
            self._normal_since_halt.add(judged.symbol)
        else:
            self._normal_since_halt.discard(judged.symbol)
        if len(self._normal_since_halt) < self.recovery_threshold:
            return None
        self.halted = False
        normal = ", ".join(sorted(self._normal_since_halt))
        self._normal_since_halt.clear()
        return CrashSignal(
            SignalKind.RECOVER,
            f"normal closed candles in {normal} ({self.recovery_threshold} needed)",
        )
