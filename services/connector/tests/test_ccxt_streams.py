"""StreamLoop against ccxt.pro's own delivery model: a message resolves the watch that
is awaiting its stream, and only that one; a message handled while no watch awaits
lands in the cache and is returned with the next message of the stream."""

from __future__ import annotations

import asyncio
from typing import Any

from ccxt.async_support.base.ws.client import Client

from opensqt_common.testing import eventually
from opensqt_connector.ccxt_venue.streams import Backoff, OnQuiet, StreamLoop
from opensqt_connector.models import FillInfo, KlineInfo, OrderInfo, TickerInfo

HASH = "orders:BTC/USDT"


class Feed:
    """One private stream as ccxt.pro serves it: a real ccxt `Client` (never connected)
    resolving the watch future of `HASH`, and a cache that the watch reads its new
    updates from when it wakes (what `ArrayCache.getLimit` does)."""

    def __init__(self) -> None:
        self.client = Client("ws://venue.invalid", None, None, None, None, {})
        self.cache: list[str] = []
        self._returned = 0

    async def watch(self) -> list[str]:
        await self.client.future(HASH)  # what `exchange.watch(...)` returns for a subscribed stream
        new, self._returned = self.cache[self._returned :], len(self.cache)
        return new

    def messages(self, *updates: str) -> None:
        """Messages arriving back to back: ccxt handles one per event-loop callback."""
        first, *rest = updates
        self.cache.append(first)
        self.client.resolve(self.cache, HASH)
        if rest:
            asyncio.get_running_loop().call_soon(self.messages, *rest)


class States:
    def __init__(self) -> None:
        self.states: list[bool] = []

    def on_ticker(self, ticker: TickerInfo) -> None: ...
    def on_order(self, order: OrderInfo) -> None: ...
    def on_fill(self, fill: FillInfo) -> None: ...
    def on_kline(self, kline: KlineInfo) -> None: ...

    def on_stream_state(self, stream: str, connected: bool, detail: str = "") -> None:
        self.states.append(connected)


async def test_an_update_right_behind_the_previous_one_is_delivered_without_waiting_for_another() -> None:
    """An order's FILLED update arrives just after its NEW one: handled by ccxt while the
    loop takes NEW, it must still come out at once, not with the stream's next message
    (on a quiet private stream: the heartbeat resync a minute later)."""
    feed = Feed()
    delivered: list[str] = []

    async def deliver(batch: list[str]) -> None:
        delivered.extend(batch)

    async def resync() -> None: ...

    events = States()
    loop: StreamLoop[Any] = StreamLoop(
        "orders",
        watch=feed.watch,
        deliver=deliver,
        events=events,
        quiet_after_s=600,  # no heartbeat resync within the test
        on_quiet=OnQuiet.RESYNC,
        backoff=Backoff(0.5, 1.0),
        resync=resync,
    )
    task = asyncio.create_task(loop.run())
    try:
        await eventually(lambda: events.states == [True] and HASH in feed.client.futures, message="watching")
        feed.messages("bar1 NEW", "bar1 FILLED")
        await eventually(lambda: delivered == ["bar1 NEW", "bar1 FILLED"], message="both updates delivered")
        feed.messages("bar2 NEW", "bar2 PARTIALLY_FILLED", "bar2 FILLED")
        await eventually(
            lambda: delivered[2:] == ["bar2 NEW", "bar2 PARTIALLY_FILLED", "bar2 FILLED"],
            message="a burst of three delivered",
        )
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert events.states == [True]
    assert feed.client.futures[HASH].cancelled()  # the pending watch was cancelled with the loop
