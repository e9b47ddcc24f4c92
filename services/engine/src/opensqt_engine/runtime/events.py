"""Fan-out of EngineEvents to StreamEvents subscribers, each with a bounded queue.

Publishing never blocks and costs nothing without subscribers (the message is built
only when someone listens). A subscriber that falls `queue_size` events behind is
disconnected with RESOURCE_EXHAUSTED instead of growing memory.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from types import TracebackType

import grpc

from opensqt.common.v1 import common_pb2
from opensqt.engine.v1 import types_pb2 as engine_pb
from opensqt_common.errors import ServiceError
from opensqt_engine.runtime.convert import timestamp_ns

Kind = engine_pb.EventKind.ValueType


class SlowSubscriber(ServiceError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    reason = common_pb2.ERROR_REASON_RATE_LIMITED


class EngineStopped(ServiceError):
    code = grpc.StatusCode.UNAVAILABLE
    reason = common_pb2.ERROR_REASON_VENUE_UNAVAILABLE


class Subscriber:
    def __init__(self, hub: EventHub, queue_size: int) -> None:
        self._hub = hub
        self._queue_size = queue_size
        self._items: deque[engine_pb.EngineEvent] = deque()
        self._wakeup = asyncio.Event()
        self._error: ServiceError | None = None
        self.closed = False

    def push(self, event: engine_pb.EngineEvent) -> None:
        if self.closed:
            return
        if len(self._items) >= self._queue_size:
            self.close(SlowSubscriber(f"the subscriber fell more than {self._queue_size} events behind"))
            self._items.clear()
            return
        self._items.append(event)
        self._wakeup.set()

    def close(self, error: ServiceError | None = None) -> None:
        if not self.closed:
            self.closed = True
            self._error = error
            self._wakeup.set()

    def __aiter__(self) -> Subscriber:
        return self

    async def __anext__(self) -> engine_pb.EngineEvent:
        while not self._items:
            if self.closed:
                if self._error is not None:
                    raise self._error
                raise StopAsyncIteration
            self._wakeup.clear()
            await self._wakeup.wait()
        return self._items.popleft()

    def __enter__(self) -> Subscriber:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
        self._hub.leave(self)


class EventHub:
    def __init__(self, queue_size: int, clock_ns: Callable[[], int] = time.time_ns) -> None:
        self._queue_size = queue_size
        self._clock_ns = clock_ns
        self._subscribers: list[Subscriber] = []
        self._sequence = 0

    @property
    def listening(self) -> bool:
        return bool(self._subscribers)

    def subscribe(self) -> Subscriber:
        subscriber = Subscriber(self, self._queue_size)
        self._subscribers.append(subscriber)
        return subscriber

    def leave(self, subscriber: Subscriber) -> None:
        if subscriber in self._subscribers:
            self._subscribers.remove(subscriber)

    def publish(self, event: engine_pb.EngineEvent) -> None:
        """Stamp (sequence, time) and deliver; call only when `listening`."""
        self._sequence += 1
        event.sequence = self._sequence
        event.time.CopyFrom(timestamp_ns(self._clock_ns()))
        for subscriber in tuple(self._subscribers):
            subscriber.push(event)
            if subscriber.closed:
                self.leave(subscriber)

    def close(self) -> None:
        for subscriber in tuple(self._subscribers):
            subscriber.close(EngineStopped("the engine is stopping"))
            self.leave(subscriber)


__all__ = ["EngineStopped", "EventHub", "Kind", "SlowSubscriber", "Subscriber"]
