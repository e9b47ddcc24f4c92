"""Fan-out of trading-state updates to WatchTradingState clients.

Each watcher gets the current state first, then every change, through its own bounded
queue. Publishing never blocks and never waits on a slow client: a watcher whose
queue is full is ended with RESOURCE_EXHAUSTED (it resubscribes and gets the current
state first again), so it can never miss a change silently. On shutdown every watcher
ends with UNAVAILABLE. One event loop owns the broadcaster.
"""

from __future__ import annotations

import asyncio
from types import TracebackType

import grpc

from opensqt_common.errors import ServiceError, Unavailable
from opensqt_risk.rules import StateUpdate


class WatcherOverflow(ServiceError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class _End:
    __slots__ = ("error",)

    def __init__(self, error: ServiceError) -> None:
        self.error = error


class Watcher:
    """One subscriber; iterate it for updates. Raises the ServiceError that ended it."""

    def __init__(self, broadcaster: StateBroadcaster, first: StateUpdate, size: int) -> None:
        self._broadcaster = broadcaster
        # One slot more than `size` so that the end marker always fits.
        self._queue: asyncio.Queue[StateUpdate | _End] = asyncio.Queue(size + 1)
        self._size = size
        self._ended = False
        self._queue.put_nowait(first)

    def push(self, update: StateUpdate) -> None:
        if self._ended:
            return
        if self._queue.qsize() >= self._size:
            self.end(WatcherOverflow(f"fell more than {self._size} state updates behind; resubscribe"))
            return
        self._queue.put_nowait(update)

    def end(self, error: ServiceError) -> None:
        if self._ended:
            return
        self._ended = True
        self._queue.put_nowait(_End(error))

    def __aiter__(self) -> Watcher:
        return self

    async def __anext__(self) -> StateUpdate:
        item = await self._queue.get()
        if isinstance(item, _End):
            raise item.error
        return item

    def __enter__(self) -> Watcher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._broadcaster.leave(self)


class StateBroadcaster:
    def __init__(self, current: StateUpdate, queue_size: int) -> None:
        if queue_size < 1:
            raise ValueError(f"queue_size must be >= 1, got {queue_size}")
        self.current = current
        self._queue_size = queue_size
        self._watchers: set[Watcher] = set()
        self._closed = False

    @property
    def watcher_count(self) -> int:
        return len(self._watchers)

    def join(self) -> Watcher:
        """A new watcher whose first item is the current state (atomic with respect to publish)."""
        watcher = Watcher(self, self.current, self._queue_size)
        if self._closed:
            watcher.end(Unavailable("risk service is shutting down"))
        else:
            self._watchers.add(watcher)
        return watcher

    def leave(self, watcher: Watcher) -> None:
        self._watchers.discard(watcher)

    def publish(self, update: StateUpdate) -> None:
        self.current = update
        for watcher in list(self._watchers):
            watcher.push(update)

    def close(self) -> None:
        self._closed = True
        for watcher in list(self._watchers):
            watcher.end(Unavailable("risk service is shutting down; resubscribe"))
        self._watchers.clear()
