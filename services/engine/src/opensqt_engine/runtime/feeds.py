"""The server streams the engine reads: prices, order updates and fills from the connector,
and the trading state from risk. Each session reads until its stream ends and hands
what it read to the consumer through the inbox; `StreamSupervisor` re-opens it.

Only this grid's orders and fills pass (by client order id); the venue's other orders
are none of the engine's business and are dropped here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import grpc

from opensqt.exchange.v1 import exchange_service_pb2 as exchange_pb
from opensqt.exchange.v1 import exchange_service_pb2_grpc
from opensqt.risk.v1 import risk_service_pb2 as risk_pb
from opensqt.risk.v1 import risk_service_pb2_grpc
from opensqt.risk.v1 import types_pb2 as risk_types
from opensqt_common.enums import TRADING_STATE
from opensqt_engine.core import PriceTick, is_own_client_order_id
from opensqt_engine.runtime.convert import parse
from opensqt_engine.runtime.inbox import Inbox
from opensqt_engine.runtime.messages import (
    Control,
    FillIn,
    OrderIn,
    OrderSource,
    ReconcileRequest,
    RiskStateIn,
    StreamItem,
    TickIn,
)

if TYPE_CHECKING:
    from opensqt.exchange.v1.exchange_service_pb2_grpc import ExchangeServiceAsyncStub
    from opensqt.risk.v1.risk_service_pb2_grpc import RiskServiceAsyncStub

Up = Callable[[], None]
EngineInbox = Inbox[TickIn, Control, StreamItem]


class ConnectorFeeds:
    """Sessions of StreamPrices, StreamOrderUpdates and StreamFills for one symbol."""

    def __init__(
        self,
        channel: grpc.aio.Channel,
        metadata: Sequence[tuple[str, str]],
        *,
        symbol: str,
        strategy_id: str,
        inbox: EngineInbox,
        fills_since_ms: Callable[[], int],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._channel = channel
        self._stub: ExchangeServiceAsyncStub = exchange_service_pb2_grpc.ExchangeServiceStub(channel)
        self._metadata = tuple(metadata)
        self._symbol = symbol
        self._strategy_id = strategy_id
        self._inbox = inbox
        self._fills_since_ms = fills_since_ms
        self._clock = clock

    def _own(self, client_order_id: str) -> bool:
        return is_own_client_order_id(client_order_id, self._strategy_id)

    async def prices(self, up: Up) -> None:
        call = self._stub.StreamPrices(
            exchange_pb.StreamPricesRequest(symbols=[self._symbol], latency_sensitive=True),
            metadata=self._metadata,
        )
        try:
            await call.wait_for_connection()
            up()
            inbox = self._inbox
            clock = self._clock
            symbol = self._symbol
            while True:
                response = await call.read()
                if response is grpc.aio.EOF:
                    return
                received = time.perf_counter_ns()
                assert isinstance(response, exchange_pb.StreamPricesResponse)
                ticker = response.ticker
                if ticker.symbol != symbol or not ticker.HasField("last"):
                    continue
                inbox.put_tick(TickIn(PriceTick(parse(ticker.last), clock()), received))
        finally:
            call.cancel()

    async def orders(self, up: Up) -> None:
        call = self._stub.StreamOrderUpdates(
            exchange_pb.StreamOrderUpdatesRequest(symbol=self._symbol), metadata=self._metadata
        )
        try:
            await call.wait_for_connection()
            while True:
                response = await call.read()
                if response is grpc.aio.EOF:
                    return
                assert isinstance(response, exchange_pb.StreamOrderUpdatesResponse)
                kind = response.WhichOneof("event")
                if kind == "update":
                    if self._own(response.update.client_order_id):
                        await self._inbox.put_stream(OrderIn(response.update, OrderSource.STREAM))
                elif kind == "snapshot_order":
                    if self._own(response.snapshot_order.client_order_id):
                        await self._inbox.put_stream(OrderIn(response.snapshot_order, OrderSource.SNAPSHOT))
                elif kind == "snapshot_end":
                    up()
                    self._inbox.put_control(ReconcileRequest("order stream opened"))
        finally:
            call.cancel()

    async def fills(self, up: Up) -> None:
        # A fill stream is silent until a fill happens (no message, no metadata): it counts as
        # up once the channel is connected and the call is made; an error ends it at once.
        await self._channel.channel_ready()
        request = exchange_pb.StreamFillsRequest(symbol=self._symbol, since_unix_ms=self._fills_since_ms())
        call = self._stub.StreamFills(request, metadata=self._metadata)
        try:
            up()
            while True:
                response = await call.read()
                if response is grpc.aio.EOF:
                    return
                assert isinstance(response, exchange_pb.StreamFillsResponse)
                if self._own(response.fill.client_order_id):
                    await self._inbox.put_stream(FillIn(response.fill, response.replayed))
        finally:
            call.cancel()


class RiskWatch:
    """risk.WatchTradingState: the current state first, then every change."""

    def __init__(
        self, channel: grpc.aio.Channel, metadata: Sequence[tuple[str, str]], inbox: EngineInbox
    ) -> None:
        self._stub: RiskServiceAsyncStub = risk_service_pb2_grpc.RiskServiceStub(channel)
        self._metadata = tuple(metadata)
        self._inbox = inbox

    async def session(self, up: Up) -> None:
        call = self._stub.WatchTradingState(risk_pb.WatchTradingStateRequest(), metadata=self._metadata)
        try:
            while True:
                response = await call.read()
                if response is grpc.aio.EOF:
                    return
                assert isinstance(response, risk_pb.WatchTradingStateResponse)
                update = response.update
                state = TRADING_STATE.from_proto(update.state, "state")
                up()
                source = risk_types.StateSource.Name(update.source).removeprefix("STATE_SOURCE_")
                self._inbox.put_control(
                    RiskStateIn(state, update.reason, source, update.since.ToNanoseconds())
                )
        finally:
            call.cancel()
