"""The engine's inbox: everything the single consumer task must apply to the grid core.

Three lanes, each bounded:

- `tick`: only the latest price update is kept (a newer price makes an older one
  irrelevant), so a burst of prices never queues.
- `control`: answers to what the engine itself asked (risk decisions, venue answers,
  lookups), trading-state changes, operator commands and timers. Never blocks the
  producer; its size is bounded by construction (one answer per request in flight,
  a few timers and commands).
- `stream`: order updates and fills pushed by the connector. Bounded by `capacity`:
  a full lane makes the stream readers wait, gRPC flow control then slows the
  connector down (and past its own limit it drops the stream; the engine re-opens it
  and reconciles).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Generic, TypeVar

C = TypeVar("C")
S = TypeVar("S")
T = TypeVar("T")


class Inbox(Generic[T, C, S]):
    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self.control: deque[C] = deque()
        self.stream: deque[S] = deque()
        self.tick: T | None = None
        self._wakeup = asyncio.Event()
        self._space = asyncio.Event()
        self._space.set()

    def put_tick(self, item: T) -> None:
        self.tick = item
        self._wakeup.set()

    def put_control(self, item: C) -> None:
        self.control.append(item)
        self._wakeup.set()

    async def put_stream(self, item: S) -> None:
        while len(self.stream) >= self.capacity:
            self._space.clear()
            await self._space.wait()
        self.stream.append(item)
        self._wakeup.set()

    def take_tick(self) -> T | None:
        item = self.tick
        self.tick = None
        return item

    def take_stream(self) -> S:
        item = self.stream.popleft()
        if len(self.stream) < self.capacity:
            self._space.set()
        return item

    def has_work(self, *, ticks: bool = True) -> bool:
        return bool(self.control) or bool(self.stream) or (ticks and self.tick is not None)

    async def wait(self) -> None:
        """Return once something was put since the last call (the consumer re-checks the lanes)."""
        await self._wakeup.wait()
        self._wakeup.clear()

    def poke(self) -> None:
        self._wakeup.set()
