"""One supervised venue stream: subscribe, resync by REST, then live messages, forever.

A `StreamLoop` runs a ccxt.pro `watch_*` call in a loop. Each (re)connection:

1. starts the watch pump first, so batches arriving from now on are kept;
2. runs the REST resync (the differences since the last push: open orders, recent
   fills, closed candles) and pushes them;
3. reports the stream up (`on_stream_state(name, True)`), then delivers live batches.

The pump calls the watch again in the same step the previous call returned, before
anything else runs. ccxt.pro's Python client resolves a watch only if one is awaiting
when a message is handled; a message handled while none is (the loop still busy with
the previous batch) lands in ccxt's cache and is returned only with the *next*
message for that stream, which on a quiet private stream may never come — an order's
FILLED update stranded behind its NEW one until the heartbeat resync.

When a watch fails (the socket dropped, ccxt's ping/pong keepalive timed out, the venue
closed it) the stream is reported down with a sanitised reason, and the loop waits
an exponential backoff with jitter before reconnecting. Staleness: when no message
arrives for `quiet_after_s`, a market-data stream (which should always be flowing)
drops the connections and reconnects; a private stream (quiet markets legitimately
produce no order updates) runs its REST resync as a heartbeat instead, catching any
update a silently dead socket would have lost.
"""

from __future__ import annotations

import asyncio
import enum
import random as _random
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from opensqt_common.logging import get_logger
from opensqt_connector.venue import VenueEvents

_log = get_logger(__name__)

T = TypeVar("T")

# Undelivered batches at which the pump stops calling the watch until one is taken (a
# bound on memory; ccxt keeps what arrives meanwhile in its own bounded caches). Batches
# are handed to the hub without waiting, so a real stream never gets near it.
PUMP_BACKLOG = 1000


@dataclass(frozen=True)
class StreamSettings:
    """Timing of the adapter's streams (seconds)."""

    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    market_quiet_s: float = 30.0  # no ticker / candle message: reconnect
    private_quiet_s: float = 60.0  # no order / fill message: REST resync as a heartbeat
    fill_lookback_s: float = 600.0  # fills fetched at first connect
    fill_overlap_s: float = 60.0  # overlap of each fill resync with the last fill seen
    # How long a placement the venue only acknowledged waits for the order's first
    # state on the private stream before reading it over REST (post-only orders).
    ack_state_wait_s: float = 1.0


class Backoff:
    """Exponential backoff with equal jitter: half fixed, half random."""

    def __init__(self, initial_s: float, max_s: float, random: Callable[[], float] = _random.random) -> None:
        if not 0 < initial_s <= max_s:
            raise ValueError("need 0 < initial_s <= max_s")
        self.initial_s = initial_s
        self.max_s = max_s
        self._random = random

    def delay(self, failures: int) -> float:
        base = min(self.max_s, self.initial_s * 2.0 ** max(0, failures - 1))
        return base / 2 + base / 2 * self._random()


class OnQuiet(enum.Enum):
    RECONNECT = "reconnect"
    RESYNC = "resync"


class StreamStale(Exception):
    """No message arrived within the stream's quiet limit."""


class StreamDropped(Exception):
    """ccxt cancelled the watch because its connection was closed."""


class StreamLoop(Generic[T]):
    def __init__(
        self,
        name: str,
        *,
        watch: Callable[[], Awaitable[T]],
        deliver: Callable[[T], Awaitable[None]],
        events: VenueEvents,
        quiet_after_s: float,
        on_quiet: OnQuiet,
        backoff: Backoff,
        resync: Callable[[], Awaitable[None]] | None = None,
        drop_connections: Callable[[], Awaitable[None]] | None = None,
        describe: Callable[[BaseException], str] = lambda exc: type(exc).__name__,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        label: str = "",
    ) -> None:
        if on_quiet is OnQuiet.RESYNC and resync is None:
            raise ValueError("a stream that resyncs when quiet needs a resync")
        self.name = name
        self.label = label or name
        self._watch = watch
        self._deliver = deliver
        self._events = events
        self._quiet_after_s = quiet_after_s
        self._on_quiet = on_quiet
        self._backoff = backoff
        self._resync = resync
        self._drop = drop_connections
        self._describe = describe
        self._sleep = sleep
        self.connections = 0
        self.failures = 0

    async def _next(self, pump: _Pump[T]) -> T:
        while not await pump.wait(self._quiet_after_s):
            if self._on_quiet is OnQuiet.RECONNECT:
                raise StreamStale(f"no message for {self._quiet_after_s:g}s")
            assert self._resync is not None
            _log.info("venue_stream_heartbeat_resync", stream=self.label)
            await self._resync()
        return pump.take()

    async def run(self) -> None:
        """Run until cancelled; never returns otherwise."""
        failures = 0
        while True:
            pump = _Pump(self._watch)
            try:
                if self._resync is not None:
                    await self._resync()
                self.connections += 1
                self._events.on_stream_state(self.name, True, self.label)
                while True:
                    batch = await self._next(pump)
                    await self._deliver(batch)
                    failures = 0
            except asyncio.CancelledError:
                pump.stop()
                raise
            except Exception as exc:
                pump.stop()
                failures += 1
                self.failures += 1
                detail = f"{self.label}: {self._describe(exc)}"
                delay = self._backoff.delay(failures)
                _log.warning(
                    "venue_stream_down", stream=self.label, detail=detail, retry_in_s=round(delay, 3)
                )
                self._events.on_stream_state(self.name, False, detail)
                if isinstance(exc, StreamStale) and self._drop is not None:
                    try:
                        await self._drop()
                    except Exception as drop_error:
                        _log.warning(
                            "venue_stream_drop_failed", stream=self.label, error=type(drop_error).__name__
                        )
                await self._sleep(delay)


class _Pump(Generic[T]):
    """Keeps one watch call pending at all times and queues what the calls return.

    The next call is made in the task step in which the previous one returned, so
    no message is handled by ccxt between the two (see the module docstring). The
    pump ends with the first error of a call; batches already queued are still
    handed out before that error.
    """

    def __init__(self, watch: Callable[[], Awaitable[T]]) -> None:
        self._watch = watch
        self._batches: deque[T] = deque()
        self._arrived = asyncio.Event()
        self._taken = asyncio.Event()
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while True:
            batch = await self._watch()
            self._batches.append(batch)
            self._arrived.set()
            while len(self._batches) >= PUMP_BACKLOG:
                self._taken.clear()
                await self._taken.wait()

    async def wait(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for a batch, or for the pump to end; False
        when neither happened."""
        while not self._batches and not self._task.done():
            self._arrived.clear()
            arrived = asyncio.ensure_future(self._arrived.wait())
            try:
                done, _ = await asyncio.wait(
                    {arrived, self._task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                arrived.cancel()
            if not done:
                return False
        return True

    def take(self) -> T:
        """The oldest queued batch; once none is left, the error the pump ended with
        (StreamDropped when ccxt cancelled the watch because it closed the connection)."""
        if self._batches:
            self._taken.set()
            return self._batches.popleft()
        if self._task.cancelled():
            raise StreamDropped("the venue connection was closed")
        error = self._task.exception()  # InvalidStateError if called before `wait` said so
        assert error is not None  # the pump ends only by an error
        raise error

    def stop(self) -> None:
        """Cancel the pending watch, retrieving any error the pump already ended with."""
        if self._task.done():
            if not self._task.cancelled():
                self._task.exception()
        else:
            self._task.cancel()


__all__ = ["Backoff", "OnQuiet", "StreamDropped", "StreamLoop", "StreamSettings", "StreamStale"]
