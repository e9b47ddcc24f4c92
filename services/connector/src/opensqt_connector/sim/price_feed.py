"""Price paths for the sim venue and the async driver that plays them.

A `PriceSource` yields prints (wait, price, volume): `RandomWalk` (seeded, on the tick
grid) or `Replay` (rows of a CSV/Parquet file, waits scaled by a speed multiplier).
`PriceFeedDriver` runs one task per symbol that waits through an injected sleeper and
hands each print to a callback, so tests drive it without real time. Floats appear only
in the random draw (turned into a whole number of ticks) and in wait times, never in a
price or volume.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Protocol

from opensqt_common.decimals import round_down, round_nearest
from opensqt_common.logging import get_logger
from opensqt_connector.models import MarketInfo
from opensqt_connector.sim.replay_data import ReplayRow

_log = get_logger(__name__)

Sleeper = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class RandomWalkConfig:
    """A seeded Gaussian walk: each step moves by N(0, volatility · price), in ticks."""

    volatility: Decimal = Decimal("0.0002")  # standard deviation of one step, fraction of price
    step_ms: int = 250
    volume_notional: Decimal = Decimal(20_000)  # mean traded value per step, quote units

    def __post_init__(self) -> None:
        if not self.volatility.is_finite() or not 0 <= self.volatility < 1:
            raise ValueError(f"volatility must be in [0, 1) (got {self.volatility})")
        if self.step_ms <= 0:
            raise ValueError(f"step_ms must be > 0 (got {self.step_ms})")
        if not self.volume_notional.is_finite() or self.volume_notional < 0:
            raise ValueError(f"volume_notional must be >= 0 (got {self.volume_notional})")


@dataclass(frozen=True, slots=True)
class ReplayConfig:
    """Replay a CSV/Parquet trade or kline file (`--sim-data`) on one symbol.

    `speed` multiplies time (2 plays twice as fast). `symbol` defaults to the first
    served symbol; other symbols keep the random walk. At the end of the file the
    price stops, or starts over when `loop` is set.
    """

    path: Path
    speed: Decimal = Decimal(1)
    symbol: str | None = None
    loop: bool = False

    def __post_init__(self) -> None:
        if not self.speed.is_finite() or self.speed <= 0:
            raise ValueError(f"speed must be > 0 (got {self.speed})")


PriceFeedConfig = RandomWalkConfig | ReplayConfig


@dataclass(frozen=True, slots=True)
class Print:
    wait_s: float  # how long to wait before this print
    price: Decimal
    volume: Decimal


class PriceSource(Protocol):
    def next_print(self) -> Print | None:
        """The next print, or None when the path has ended."""


class RandomWalk:
    def __init__(self, market: MarketInfo, start: Decimal, config: RandomWalkConfig, *, seed: int) -> None:
        self._tick = market.tick_size
        self._step = market.step_size
        self._price = max(round_nearest(start, self._tick), self._tick)
        self._config = config
        self._rng = random.Random(f"sim-walk:{seed}:{market.symbol}")

    def next_print(self) -> Print:
        config = self._config
        sigma_ticks = float(self._price * config.volatility / self._tick)
        ticks = round(self._rng.gauss(0.0, sigma_ticks)) if sigma_ticks > 0 else 0
        self._price = max(self._price + ticks * self._tick, self._tick)
        # Volume: uniform in [0.5, 1.5] × the mean, in base units on the step grid.
        share = Decimal(self._rng.randint(50, 150)) / 100
        volume = round_down(config.volume_notional * share / self._price, self._step)
        return Print(config.step_ms / 1000, self._price, volume)


class Replay:
    def __init__(self, rows: Sequence[ReplayRow], market: MarketInfo, config: ReplayConfig) -> None:
        if not rows:
            raise ValueError("a replay needs at least one row")
        self._rows = rows
        self._tick = market.tick_size
        self._speed = float(config.speed)
        self._loop = config.loop
        self._index = 0
        self._previous_ms: int | None = None

    def next_print(self) -> Print | None:
        if self._index == len(self._rows):
            if not self._loop:
                return None
            self._index = 0
            self._previous_ms = None
        row = self._rows[self._index]
        self._index += 1
        wait = 0.0 if self._previous_ms is None else (row.time_ms - self._previous_ms) / 1000 / self._speed
        self._previous_ms = row.time_ms
        # A file from another venue may not sit on the sim's tick grid.
        price = max(round_nearest(row.price, self._tick), self._tick)
        return Print(wait, price, row.volume)


OnPrint = Callable[[str, Print], Awaitable[None]]


class PriceFeedDriver:
    """Plays each symbol's source: wait (via `sleeper`), then `await on_print(symbol, print)`."""

    def __init__(self, sources: Mapping[str, PriceSource], on_print: OnPrint, sleeper: Sleeper) -> None:
        self._sources = dict(sources)
        self._on_print = on_print
        self._sleeper = sleeper
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._pending: dict[str, Print] = {}

    def running(self) -> bool:
        return any(not task.done() for task in self._tasks.values())

    def start(self) -> None:
        """Start (or resume, continuing each path where it stopped) the feed."""
        for symbol in self._sources:
            task = self._tasks.get(symbol)
            if task is None or task.done():
                self._tasks[symbol] = asyncio.create_task(self._run(symbol), name=f"sim-feed:{symbol}")

    async def stop(self) -> None:
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def wait_ended(self) -> None:
        """Wait until every running path has ended (a replay without loop)."""
        await asyncio.gather(*self._tasks.values())

    async def step(self, symbol: str) -> Print | None:
        """Apply the next print of `symbol` at once (no wait); None when its path ended."""
        item = self._next(symbol)
        if item is not None:
            del self._pending[symbol]
            await self._on_print(symbol, item)
        return item

    def _next(self, symbol: str) -> Print | None:
        """The print to play next; it stays pending until played, so a stop loses none."""
        item = self._pending.get(symbol)
        if item is None:
            item = self._sources[symbol].next_print()
            if item is not None:
                self._pending[symbol] = item
        return item

    async def _run(self, symbol: str) -> None:
        while True:
            item = self._next(symbol)
            if item is None:
                _log.info("sim_price_path_ended", symbol=symbol)
                return
            await self._sleeper(item.wait_s)
            del self._pending[symbol]
            try:
                await self._on_print(symbol, item)
            except Exception:
                _log.exception("sim_price_print_failed", symbol=symbol, price=str(item.price))
