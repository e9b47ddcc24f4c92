"""The base of every venue replica: an aiohttp app on 127.0.0.1, port 0.

REST and WebSocket share one port, so one replica has one `rest_url`
(http://127.0.0.1:PORT) and one `ws_url` (ws://127.0.0.1:PORT); a venue's paths are
its real paths, so ccxt is pointed at a replica by swapping the scheme and host of
its URLs and keeping their paths (see `ccxt_urls`).

A venue subclass adds its routes, answers faults with its own error shapes and
pushes core events to its WebSocket sessions. The test control API lives here, in
Python, never on the venue's routes: `set_price`, `set_balance`, `faults`,
`drop_streams`, the request log and the order views of `core`.
"""

from __future__ import annotations

import abc
import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar, Literal, Self

from aiohttp import WSMsgType, web

from opensqt_common.enums import MarketType, Venue
from opensqt_connector.models import FillInfo, KlineInfo, TickerInfo

from .core import OrderUpdate, ReplicaCore
from .faults import FaultKind, FaultPlan, RequestFault
from .ws import WsSession

_log = logging.getLogger(__name__)

ACK_HOLD_LIMIT_S = 30.0  # a held ack is answered anyway after this (a test that forgot to release)
StreamKind = Literal["ticker", "kline", "orders", "trades"]
WsHandler = Callable[[WsSession, str], Awaitable[None]]
WsOpen = Callable[[WsSession], Awaitable[bool]]


@dataclass(frozen=True, slots=True)
class Credentials:
    api_key: str
    api_secret: str
    passphrase: str = ""


@dataclass(frozen=True, slots=True)
class RequestRecord:
    method: str
    path: str
    query: str
    status: int
    time_ms: int
    routed: bool = True  # False: no route of the replica matched (a replica gap, not a venue 404)


class VenueReplica(abc.ABC):
    """One venue's REST and WebSocket API over a `ReplicaCore`."""

    venue: ClassVar[Venue]
    # What the venue sends when it closes a stream on its side (server shutdown).
    shutdown_close_code: ClassVar[int] = 1001

    def __init__(self, core: ReplicaCore, credentials: Credentials) -> None:
        self.core = core
        self.credentials = credentials
        self.faults = FaultPlan()
        self.requests: list[RequestRecord] = []
        self.handler_errors: list[BaseException] = []
        self._sessions: set[WsSession] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None
        self._port = 0
        core.subscribe(self)

    # ------------------------------------------------------------ lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> Self:
        app = web.Application(middlewares=[self._middleware])
        self.add_routes(app)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self._host = host
        self._port = int(self._runner.addresses[0][1])
        return self

    async def stop(self) -> None:
        for session in list(self._sessions):
            session.abort()
        for task in list(self._tasks):
            task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def rest_url(self) -> str:
        return f"http://{self._host}:{self._port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self._host}:{self._port}"

    # ------------------------------------------------------------ control API

    def set_price(
        self,
        symbol: str,
        price: Decimal | str,
        *,
        volume: Decimal | str = "1",
        max_fill: Decimal | str | None = None,
    ) -> list[FillInfo]:
        """A trade print at `price` (unified symbol): fills resting orders it reaches,
        at most `max_fill` each; pushes tickers, klines and private updates."""
        cap = None if max_fill is None else Decimal(max_fill)
        return self.core.trade(symbol, Decimal(price), Decimal(volume), cap)

    def set_balance(self, asset: str, amount: Decimal | str) -> None:
        self.core.set_balance(asset, Decimal(amount))

    def sessions(self, channel: str | None = None) -> list[WsSession]:
        return [s for s in self._sessions if channel is None or s.channel == channel]

    async def drop_streams(
        self, *, channel: str | None = None, code: int | None = None, abrupt: bool = False
    ) -> int:
        """Drop the WebSocket connections (of one channel): abruptly (no close frame) or
        with a close frame carrying `code` (the venue's shutdown code by default)."""
        targets = self.sessions(channel)
        for session in targets:
            if abrupt:
                session.abort()
            else:
                self.before_shutdown(session)
                await session.close(code if code is not None else self.shutdown_close_code, "server shutdown")
        return len(targets)

    def unserved(self) -> list[tuple[str, str]]:
        """(method, path) of every request no route of this replica matched."""
        return sorted({(r.method, r.path) for r in self.requests if not r.routed})

    def paths_requested(self, method: str = "", prefix: str = "") -> list[str]:
        return [
            r.path for r in self.requests if (not method or r.method == method) and r.path.startswith(prefix)
        ]

    # ------------------------------------------------------------ for venues

    @abc.abstractmethod
    def add_routes(self, app: web.Application) -> None: ...

    @abc.abstractmethod
    def fault_response(self, fault: RequestFault) -> web.Response:
        """The venue's answer for an armed 5xx or rate-limit fault."""

    @abc.abstractmethod
    def market_type_of(self, symbol: str) -> MarketType: ...

    @abc.abstractmethod
    def public_ready(self, symbol: str, stream: StreamKind) -> bool:
        """Whether a client is subscribed to `symbol`'s ticker or 1m klines."""

    @abc.abstractmethod
    def private_ready(self, market_type: MarketType, streams: frozenset[StreamKind]) -> bool:
        """Whether a logged-in client receives the order / trade updates of `market_type`."""

    @abc.abstractmethod
    def before_shutdown(self, session: WsSession) -> None:
        """What the venue sends on a stream just before it closes it on its side."""

    @abc.abstractmethod
    def on_order_update(self, update: OrderUpdate) -> None: ...

    @abc.abstractmethod
    def on_ticker(self, ticker: TickerInfo) -> None: ...

    @abc.abstractmethod
    def on_kline(self, kline: KlineInfo) -> None: ...

    async def acknowledge(self, request: web.Request, response: web.Response) -> web.Response:
        """Answer an order placement, applying an armed delayed or lost ack."""
        fault = self.faults.take_ack_fault(request.method, request.path)
        if fault is None:
            return response
        if fault.delay_s:
            await asyncio.sleep(fault.delay_s)
        if fault.release is not None:
            await asyncio.wait_for(fault.release.wait(), ACK_HOLD_LIMIT_S)
        if fault.lost:
            return self.fault_response(RequestFault(FaultKind.SERVER_ERROR, status=fault.status))
        return response

    async def websocket(
        self, request: web.Request, channel: str, on_message: WsHandler, on_open: WsOpen | None = None
    ) -> web.WebSocketResponse:
        """Serve one WebSocket connection of `channel` until either side closes it."""
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        session = WsSession(request, ws, channel)
        self._sessions.add(session)
        writer = asyncio.create_task(session.write_loop())
        self._tasks.add(writer)
        writer.add_done_callback(self._tasks.discard)
        try:
            if on_open is None or await on_open(session):
                async for message in ws:
                    if message.type is WSMsgType.TEXT:
                        try:
                            await on_message(session, message.data)
                        except Exception as exc:  # a bug in a replica must fail the test
                            self.handler_errors.append(exc)
                            _log.exception("replica websocket handler failed")
                            raise
        finally:
            self._sessions.discard(session)
            session.stop_writer()
        return ws

    # ------------------------------------------------------------ internals

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        websocket = request.headers.get("Upgrade", "").lower() == "websocket"
        fault = None if websocket else self.faults.take_request_fault(request.method, request.path)
        if fault is not None:
            response: web.StreamResponse = self.fault_response(fault)
        else:
            try:
                response = await handler(request)
            except web.HTTPException as exc:
                response = exc
            except Exception as exc:  # a bug in a replica must fail the test
                self.handler_errors.append(exc)
                _log.exception("replica handler failed: %s %s", request.method, request.path)
                raise
        routed = getattr(request.match_info, "http_exception", None) is None
        self.requests.append(
            RequestRecord(
                request.method,
                request.path,
                request.query_string,
                response.status,
                self.core.now_ms(),
                routed,
            )
        )
        if isinstance(response, web.HTTPException):
            raise response
        return response
