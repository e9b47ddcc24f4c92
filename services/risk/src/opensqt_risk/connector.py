"""The risk service's client of the connector: unary calls with deadlines, converted at the edge.

Only the feeds (polls, history on reconnect) and CheckStartup make these calls; a
ReviewOrders decision never waits on the connector. Connector failures raise
`ConnectorUnavailable` (UNAVAILABLE with the connector's status in the message).
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, TypeVar

import grpc

from opensqt.exchange.v1 import exchange_service_pb2 as ex
from opensqt.exchange.v1 import exchange_service_pb2_grpc as ex_grpc
from opensqt.exchange.v1 import types_pb2 as exchange_pb2
from opensqt_common.enums import MARKET_TYPE, SIDE, MarketType
from opensqt_common.errors import InvalidArgument, Unavailable
from opensqt_common.logging import get_logger
from opensqt_common.validation import decimal_field, enum_field, text_field
from opensqt_risk.account import FillEvent, PositionReport
from opensqt_risk.rules import Candle
from opensqt_risk.rules.wire import candle_from_proto

if TYPE_CHECKING:
    from opensqt.exchange.v1.exchange_service_pb2_grpc import ExchangeServiceAsyncStub

T = TypeVar("T")
_log = get_logger(__name__)


class ConnectorUnavailable(Unavailable):
    """The connector could not answer (down, timed out, or refused the call)."""


@dataclass(frozen=True, slots=True)
class MarketMeta:
    """What risk needs of a market: its kind, settlement asset and fee rates."""

    symbol: str
    market_type: MarketType
    settle: str
    maker_fee: Decimal
    taker_fee: Decimal


def market_from_proto(message: exchange_pb2.Market) -> MarketMeta:
    maker = decimal_field(message, "maker_fee", positive=False)
    taker = decimal_field(message, "taker_fee", positive=False)
    assert maker is not None
    assert taker is not None
    market_type = enum_field(message.market_type, MARKET_TYPE, "market_type")
    settle = (
        message.settle if market_type is MarketType.LINEAR_PERPETUAL and message.settle else message.quote
    )
    return MarketMeta(
        symbol=text_field(message.symbol, "symbol", max_length=64),
        market_type=market_type,
        settle=text_field(settle, "settle", max_length=32),
        maker_fee=maker,
        taker_fee=taker,
    )


def position_report_from_proto(message: exchange_pb2.Position) -> PositionReport:
    quantity = decimal_field(message, "quantity", positive=False)
    realized = decimal_field(message, "realized_pnl", required=False, positive=False)
    unrealized = decimal_field(message, "unrealized_pnl", required=False, positive=False)
    leverage = decimal_field(message, "leverage", required=False)
    assert quantity is not None
    return PositionReport(
        symbol=text_field(message.symbol, "symbol", max_length=64),
        quantity=quantity,
        realized_pnl=realized if realized is not None else Decimal(0),
        unrealized_pnl=unrealized if unrealized is not None else Decimal(0),
        leverage=leverage,
    )


def fill_from_proto(message: exchange_pb2.Fill) -> FillEvent:
    quantity = decimal_field(message, "quantity")
    assert quantity is not None
    return FillEvent(
        trade_id=text_field(message.trade_id, "trade_id", max_length=128),
        symbol=text_field(message.symbol, "symbol", max_length=64),
        side=enum_field(message.side, SIDE, "side"),
        quantity=quantity,
    )


def free_balance_from_proto(balances: Sequence[exchange_pb2.Balance], asset: str) -> Decimal:
    """Free amount of `asset` (0 when the venue lists none)."""
    for balance in balances:
        if balance.asset == asset:
            free = decimal_field(balance, "free", positive=False)
            assert free is not None
            return free
    return Decimal(0)


def describe_rpc_error(exc: grpc.aio.AioRpcError) -> str:
    details = exc.details()
    return f"{exc.code().name}: {details}" if details else exc.code().name


class ConnectorGateway:
    """Unary calls to `opensqt.exchange.v1.ExchangeService` over one channel."""

    def __init__(self, channel: grpc.aio.Channel, *, timeout_s: float) -> None:
        self.channel = channel
        self.stub: ExchangeServiceAsyncStub = ex_grpc.ExchangeServiceStub(channel)
        self._timeout = timeout_s

    async def list_markets(self) -> list[MarketMeta]:
        response = await self._call(
            "ListMarkets", self.stub.ListMarkets(ex.ListMarketsRequest(), timeout=self._timeout)
        )
        return [market_from_proto(market) for market in response.markets]

    async def market(self, symbol: str) -> MarketMeta:
        response = await self._call(
            "GetMarket", self.stub.GetMarket(ex.GetMarketRequest(symbol=symbol), timeout=self._timeout)
        )
        return market_from_proto(response.market)

    async def last_price(self, symbol: str) -> Decimal:
        response = await self._call(
            "GetTicker", self.stub.GetTicker(ex.GetTickerRequest(symbol=symbol), timeout=self._timeout)
        )
        price = decimal_field(response.ticker, "last")
        assert price is not None
        return price

    async def free_balance(self, asset: str) -> Decimal:
        response = await self._call(
            "GetBalances", self.stub.GetBalances(ex.GetBalancesRequest(), timeout=self._timeout)
        )
        return free_balance_from_proto(response.balances, asset)

    async def positions(self) -> list[PositionReport]:
        response = await self._call(
            "GetPositions", self.stub.GetPositions(ex.GetPositionsRequest(), timeout=self._timeout)
        )
        return [position_report_from_proto(position) for position in response.positions]

    async def closed_klines(self, symbol: str, interval: int, limit: int) -> list[Candle]:
        request = ex.GetKlinesRequest(
            symbol=symbol,
            interval=interval,  # type: ignore[arg-type]
            limit=limit,
        )
        response = await self._call("GetKlines", self.stub.GetKlines(request, timeout=self._timeout))
        candles: list[Candle] = []
        for kline in response.klines:
            try:
                candle = candle_from_proto(kline)
            except InvalidArgument as exc:
                _log.warning("bad_kline", symbol=symbol, error=str(exc))
                continue
            if candle.closed:
                candles.append(candle)
        return candles

    async def _call(self, name: str, call: Awaitable[T]) -> T:
        try:
            return await call
        except grpc.aio.AioRpcError as exc:
            raise ConnectorUnavailable(f"connector {name} failed: {describe_rpc_error(exc)}") from exc
