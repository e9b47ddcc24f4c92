"""Keep `StreamOrderUpdates` / `StreamFills` open the way a client of the connector must.

The connector ends its client streams with UNAVAILABLE when a venue stream drops
("resubscribe for a fresh snapshot"). A recorder then resubscribes at once: order
updates start again with a snapshot of the open orders, fills with a replay of the
fills since the recorder's `since_ms` (marked `replayed`). Everything received is
kept with the number of the subscription it came on, so a test can tell a live
delivery from a replay and count each one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, TypeVar

import grpc

from opensqt.exchange.v1 import exchange_service_pb2 as pb
from opensqt.exchange.v1 import types_pb2
from opensqt_common.errors import error_info
from opensqt_common.testing import eventually

T = TypeVar("T")


# A deadline against hangs, not a timing check: generous for a loaded 2-core CI machine.
WAIT_S = 30.0


@dataclass(frozen=True)
class Received(Generic[T]):
    subscription: int
    item: T
    live: bool  # False: a snapshot entry or a replayed fill


@dataclass(frozen=True)
class StreamEnded:
    subscription: int
    code: grpc.StatusCode
    reason: str


class _Recorder(Generic[T]):
    def __init__(self) -> None:
        self.received: list[Received[T]] = []
        self.ended: list[StreamEnded] = []
        self.subscriptions = 0
        self.ready = 0  # subscriptions whose snapshot / replay is complete
        self._call: Any = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    def _open(self) -> Any:
        raise NotImplementedError

    def _take(self, subscription: int, message: Any) -> None:
        raise NotImplementedError

    async def _run(self) -> None:
        while True:
            self.subscriptions += 1
            subscription = self.subscriptions
            self._call = self._open()
            try:
                async for message in self._call:
                    self._take(subscription, message)
            except grpc.aio.AioRpcError as error:
                info = error_info(error)
                self.ended.append(StreamEnded(subscription, error.code(), info.reason if info else ""))
                if error.code() is not grpc.StatusCode.UNAVAILABLE:
                    return
            else:
                self.ended.append(StreamEnded(subscription, grpc.StatusCode.OK, ""))
                return

    async def until(self, condition: Callable[[], bool], what: str, timeout: float = WAIT_S) -> None:
        await eventually(condition, timeout=timeout, message=what)

    async def started(self, timeout: float = WAIT_S) -> None:
        """Wait until the current subscription has delivered its snapshot / replay."""
        await self.until(lambda: self.ready == self.subscriptions, "stream subscribed", timeout)

    async def stop(self) -> None:
        if self._call is not None:
            self._call.cancel()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class OrderRecorder(_Recorder[types_pb2.Order]):
    def __init__(self, stub: Any, symbol: str) -> None:
        super().__init__()
        self._stub = stub
        self._symbol = symbol

    def _open(self) -> Any:
        return self._stub.StreamOrderUpdates(pb.StreamOrderUpdatesRequest(symbol=self._symbol))

    def _take(self, subscription: int, message: Any) -> None:
        event = message.WhichOneof("event")
        if event == "snapshot_end":
            self.ready = subscription
        elif event == "snapshot_order":
            self.received.append(Received(subscription, message.snapshot_order, live=False))
        else:
            self.received.append(Received(subscription, message.update, live=True))

    def updates(self, client_order_id: str) -> list[types_pb2.Order]:
        """Live updates of one order, in the order they came."""
        return [r.item for r in self.received if r.live and r.item.client_order_id == client_order_id]

    def has(self, client_order_id: str, status: int, filled: str | None = None) -> bool:
        return any(
            o.status == status and (filled is None or _same(o.filled_quantity.value, filled))
            for o in self.updates(client_order_id)
        )


class FillRecorder(_Recorder[types_pb2.Fill]):
    def __init__(self, stub: Any, symbol: str, since_ms: int) -> None:
        super().__init__()
        self._stub = stub
        self._symbol = symbol
        self._since_ms = since_ms

    def _open(self) -> Any:
        # The replay of a resubscription is read from the venue (REST) first; the
        # stream's first message can be a live fill, so "ready" means "subscribed".
        self.ready = self.subscriptions
        return self._stub.StreamFills(
            pb.StreamFillsRequest(symbol=self._symbol, since_unix_ms=self._since_ms)
        )

    def _take(self, subscription: int, message: Any) -> None:
        self.received.append(Received(subscription, message.fill, live=not message.replayed))

    def of(self, client_order_id: str) -> list[Received[types_pb2.Fill]]:
        return [r for r in self.received if r.item.client_order_id == client_order_id]

    def trade_ids(self, client_order_id: str) -> set[str]:
        return {r.item.trade_id for r in self.of(client_order_id)}


def _same(value: str, expected: str) -> bool:
    return Decimal(value) == Decimal(expected)
