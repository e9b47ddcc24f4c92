"""Klines built from the sim's trade path, so that anything reading candles (the risk
monitor's volume-anomaly halt) works on `sim` exactly as on a venue.

A kline covers [open_time, end): periods are aligned to the interval (open_time is a
multiple of it) except after an explicit close, which ends the current kline at once
and opens the next at that instant; it then runs to the next aligned boundary. A kline
closes when a trade arrives at or after its end, or on an explicit close. Periods with
no trade in between are emitted as flat zero-volume klines at the previous close, as
venues do. Time never runs backwards: a trade stamped before the current kline's open
counts in the current kline.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from opensqt_common.decimals import ZERO
from opensqt_connector.models import KlineInfo, KlineInterval

DEFAULT_HISTORY = 1_000


@dataclass(slots=True)
class _Current:
    open_time_ms: int
    end_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


class KlineSeries:
    """The klines of one symbol and one interval: a bounded history plus the current one."""

    def __init__(self, symbol: str, interval: KlineInterval, history: int = DEFAULT_HISTORY) -> None:
        if history < 1:
            raise ValueError(f"history must be >= 1, got {history}")
        self.symbol = symbol
        self.interval = interval
        self._period = interval.milliseconds
        self._closed: deque[KlineInfo] = deque(maxlen=history)
        self._current: _Current | None = None

    def on_trade(self, price: Decimal, volume: Decimal, now_ms: int) -> list[KlineInfo]:
        """Add a trade; returns the klines it closed (oldest first) then the current one."""
        updates: list[KlineInfo] = []
        current = self._current
        if current is None:
            current = self._open(self._aligned(now_ms), price)
        elif now_ms >= current.end_ms:
            updates.extend(self._roll(current, now_ms))
            current = self._open(self._aligned(now_ms), price)
        current.high = max(current.high, price)
        current.low = min(current.low, price)
        current.close = price
        current.volume += volume
        updates.append(self._info(current, closed=False))
        return updates

    def close(self, now_ms: int) -> list[KlineInfo]:
        """End the current kline now and open the next (flat, zero volume) at this instant."""
        current = self._current
        if current is None:
            return []
        updates = [self._finish(current)]
        start = max(now_ms, current.open_time_ms + 1)
        following = self._open(start, current.close)
        following.end_ms = self._aligned(start) + self._period
        updates.append(self._info(following, closed=False))
        return updates

    def history(self, limit: int) -> list[KlineInfo]:
        """Up to `limit` most recent klines, oldest first; the last is the open one."""
        if limit <= 0:
            return []
        items = list(self._closed)
        if self._current is not None:
            items.append(self._info(self._current, closed=False))
        return items[-limit:]

    def _aligned(self, time_ms: int) -> int:
        return time_ms - time_ms % self._period

    def _open(self, open_time_ms: int, price: Decimal) -> _Current:
        self._current = _Current(
            open_time_ms=open_time_ms,
            end_ms=self._aligned(open_time_ms) + self._period,
            open=price,
            high=price,
            low=price,
            close=price,
            volume=ZERO,
        )
        return self._current

    def _finish(self, current: _Current) -> KlineInfo:
        info = self._info(current, closed=True)
        self._closed.append(info)
        return info

    def _roll(self, current: _Current, now_ms: int) -> list[KlineInfo]:
        """Close `current` and the empty periods between it and the one holding now_ms."""
        updates = [self._finish(current)]
        start = current.end_ms
        target = self._aligned(now_ms)
        capacity = self._closed.maxlen or 1
        skipped = (target - start) // self._period
        if skipped > capacity:
            start = target - capacity * self._period
        while start < target:
            updates.append(self._finish(self._open(start, current.close)))
            start += self._period
        return updates[-capacity:] if len(updates) > capacity else updates

    def _info(self, current: _Current, *, closed: bool) -> KlineInfo:
        return KlineInfo(
            symbol=self.symbol,
            interval=self.interval,
            open_time_ms=current.open_time_ms,
            open=current.open,
            high=current.high,
            low=current.low,
            close=current.close,
            volume=current.volume,
            closed=closed,
        )


class KlineBook:
    """Klines of every interval for every sim symbol, fed by the same trade prints."""

    def __init__(
        self,
        symbols: Iterable[str],
        intervals: Iterable[KlineInterval] = tuple(KlineInterval),
        history: int = DEFAULT_HISTORY,
    ) -> None:
        self._series = {
            symbol: {interval: KlineSeries(symbol, interval, history) for interval in intervals}
            for symbol in symbols
        }

    def on_trade(
        self, symbol: str, price: Decimal, volume: Decimal, now_ms: int, emit: KlineInterval | None
    ) -> list[KlineInfo]:
        """Feed a trade to every interval; returns the updates of the `emit` interval."""
        emitted: list[KlineInfo] = []
        for interval, series in self._series[symbol].items():
            updates = series.on_trade(price, volume, now_ms)
            if interval is emit:
                emitted = updates
        return emitted

    def close(self, symbol: str, interval: KlineInterval, now_ms: int) -> list[KlineInfo]:
        return self._series[symbol][interval].close(now_ms)

    def history(self, symbol: str, interval: KlineInterval, limit: int) -> list[KlineInfo]:
        return self._series[symbol][interval].history(limit)
