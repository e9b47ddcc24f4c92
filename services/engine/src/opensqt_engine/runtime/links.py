"""Long-lived gRPC streams, kept open: a supervisor that re-opens a stream after it ends,
and the two bidi order paths of the hot path.

- `ReviewLink`: risk's ReviewOrders. Intents are written as they come; decisions come
  back one per intent, in order, and are matched to the intent FIFO by client order id.
- `SubmitLink`: the connector's SubmitOrders. Places and cancels are written as they
  come; answers come back one per request, in order.

Both fail closed: when the stream breaks, every request still waiting for its answer is
reported lost (`on_lost`), and `send` refuses new requests (returns False) until the
stream is back. Writes are serialised by a lock (grpc allows one pending write per call).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

import grpc

from opensqt.exchange.v1 import exchange_service_pb2 as exchange_pb
from opensqt.risk.v1 import risk_service_pb2 as risk_pb
from opensqt.risk.v1 import types_pb2 as risk_types
from opensqt_common.logging import get_logger

_log = get_logger(__name__)

P = TypeVar("P")
Metadata = Sequence[tuple[str, str]]


class ProtocolError(RuntimeError):
    """The peer answered out of order or for a request it was never sent."""


def describe(exc: BaseException | None) -> str:
    if exc is None:
        return "stream ended"
    if isinstance(exc, grpc.aio.AioRpcError):
        details = exc.details() or ""
        return f"{exc.code().name}: {details}" if details else exc.code().name
    return f"{type(exc).__name__}: {exc}"


class Backoff:
    """Exponential delays between attempts: initial, 2x, 4x ... capped at `maximum`."""

    def __init__(self, initial: float, maximum: float) -> None:
        if initial <= 0 or maximum < initial:
            raise ValueError(f"need 0 < initial <= maximum, got {initial}, {maximum}")
        self._initial = initial
        self._maximum = maximum
        self._next = initial

    def next_delay(self) -> float:
        delay = self._next
        self._next = min(self._next * 2, self._maximum)
        return delay

    def reset(self) -> None:
        self._next = self._initial


Session = Callable[[Callable[[], None]], Awaitable[None]]
StateChange = Callable[[str, bool, str], None]


class StreamSupervisor:
    """Runs one stream session again and again until cancelled.

    The session calls `up()` once the stream is established; whenever the session ends
    (server closed it, error, protocol violation) `on_change(name, False, why)` is called
    if it had been up, and the next attempt follows after a backoff delay. `restart()`
    ends the current session and opens the stream again at once (e.g. to replay fills).
    """

    def __init__(self, name: str, session: Session, *, backoff: Backoff, on_change: StateChange) -> None:
        self.name = name
        self._session = session
        self._backoff = backoff
        self._on_change = on_change
        self.up = False
        self.attempts = 0
        self._current: asyncio.Task[None] | None = None
        self._restart = False

    def restart(self) -> None:
        current = self._current
        if current is not None and not current.done():
            self._restart = True
            current.cancel()

    def _mark_up(self) -> None:
        if not self.up:
            self.up = True
            self._backoff.reset()
            self._on_change(self.name, True, "")

    async def run(self) -> None:
        while True:
            self.attempts += 1
            error: BaseException | None = None
            restarted = False
            self._current = asyncio.ensure_future(self._session(self._mark_up))
            try:
                await self._current
            except asyncio.CancelledError:
                if not self._restart:
                    self._current.cancel()
                    raise
                self._restart = False
                restarted = True
            except (grpc.aio.AioRpcError, ProtocolError) as exc:
                error = exc
            except Exception as exc:
                _log.exception("stream_session_failed", stream=self.name)
                error = exc
            finally:
                if self.up:
                    self.up = False
                    self._on_change(self.name, False, "restarted" if restarted else describe(error))
            if restarted:
                continue
            delay = self._backoff.next_delay()
            _log.debug("stream_reopen_scheduled", stream=self.name, delay_s=delay, why=describe(error))
            await asyncio.sleep(delay)


class _Link(Generic[P]):
    """The common part of both bidi links: one call, a FIFO of requests awaiting answers."""

    def __init__(self, name: str, metadata: Metadata, on_lost: Callable[[P, str], None]) -> None:
        self.name = name
        self._metadata = tuple(metadata)
        self._on_lost = on_lost
        self._call: grpc.aio.StreamStreamCall | None = None  # type: ignore[type-arg]
        self._pending: deque[P] = deque()
        self._lock = asyncio.Lock()

    @property
    def up(self) -> bool:
        return self._call is not None

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    async def _write(self, request: object, pending: P) -> bool:
        call = self._call
        if call is None:
            return False
        async with self._lock:
            if self._call is not call:
                return False
            self._pending.append(pending)
            try:
                await call.write(request)
            except (grpc.aio.AioRpcError, grpc.aio.UsageError, asyncio.InvalidStateError) as exc:
                # The call is broken: the session's reader sees it too and reports every
                # pending request (this one included) lost.
                _log.warning("stream_write_failed", stream=self.name, error=describe(exc))
        return True

    def _take(self, client_order_id: str) -> P:
        if not self._pending:
            raise ProtocolError(f"{self.name}: an answer for {client_order_id!r} that nobody asked for")
        return self._pending.popleft()

    def _lose_all(self, call: grpc.aio.StreamStreamCall, error: BaseException | None) -> None:  # type: ignore[type-arg]
        """The call is over: stop accepting writes, report every pending request lost."""
        if self._call is call:
            self._call = None
        lost = list(self._pending)
        self._pending.clear()
        call.cancel()
        why = describe(error)
        for pending in lost:
            self._on_lost(pending, why)


class ReviewLink(_Link[P]):
    """risk.ReviewOrders: `send` an intent with its pending record; `on_decision` gets both back."""

    def __init__(
        self,
        stub: object,
        metadata: Metadata,
        *,
        client_order_id: Callable[[P], str],
        on_decision: Callable[[P, risk_types.RiskDecision], Awaitable[None]],
        on_lost: Callable[[P, str], None],
    ) -> None:
        super().__init__("review_orders", metadata, on_lost)
        self._stub = stub
        self._cid = client_order_id
        self._on_decision = on_decision

    async def send(self, intent: risk_types.OrderIntent, pending: P) -> bool:
        return await self._write(risk_pb.ReviewOrdersRequest(intent=intent), pending)

    async def session(self, up: Callable[[], None]) -> None:
        call = self._stub.ReviewOrders(metadata=self._metadata)  # type: ignore[attr-defined]
        error: BaseException | None = None
        try:
            await call.wait_for_connection()
            self._call = call
            up()
            while True:
                response = await call.read()
                if response is grpc.aio.EOF:
                    return
                decision = response.decision
                pending = self._take(decision.client_order_id)
                if self._cid(pending) != decision.client_order_id:
                    raise ProtocolError(
                        f"risk answered {decision.client_order_id!r} where {self._cid(pending)!r} was due"
                    )
                await self._on_decision(pending, decision)
        except BaseException as exc:
            error = exc
            raise
        finally:
            self._lose_all(call, error)


class SubmitLink(_Link[P]):
    """connector.SubmitOrders: `place` / `cancel` with a pending record; `on_answer` gets it back."""

    def __init__(
        self,
        stub: object,
        metadata: Metadata,
        *,
        client_order_id: Callable[[P], str],
        on_answer: Callable[[P, exchange_pb.SubmitOrdersResponse], None],
        on_lost: Callable[[P, str], None],
    ) -> None:
        super().__init__("submit_orders", metadata, on_lost)
        self._stub = stub
        self._cid = client_order_id
        self._on_answer = on_answer

    async def send(self, request: exchange_pb.SubmitOrdersRequest, pending: P) -> bool:
        return await self._write(request, pending)

    async def cancel(self, request: exchange_pb.CancelOrderRequest, pending: P) -> bool:
        return await self._write(exchange_pb.SubmitOrdersRequest(cancel=request), pending)

    async def session(self, up: Callable[[], None]) -> None:
        call = self._stub.SubmitOrders(metadata=self._metadata)  # type: ignore[attr-defined]
        error: BaseException | None = None
        try:
            await call.wait_for_connection()
            self._call = call
            up()
            while True:
                response = await call.read()
                if response is grpc.aio.EOF:
                    return
                pending = self._take(response.client_order_id)
                if self._cid(pending) != response.client_order_id:
                    raise ProtocolError(
                        f"the connector answered {response.client_order_id!r} "
                        f"where {self._cid(pending)!r} was due"
                    )
                self._on_answer(pending, response)
        except BaseException as exc:
            error = exc
            raise
        finally:
            self._lose_all(call, error)
