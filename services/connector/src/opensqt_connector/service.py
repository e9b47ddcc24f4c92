"""The gRPC servicer of `opensqt.exchange.v1.ExchangeService`: parse, delegate, convert.

Each RPC validates its request (`requests`), calls the venue, the order entry or
the hub, and converts the answer (`convert`). Errors are `ServiceError`s mapped to
status codes with ErrorInfo by the shared decorators.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc

from opensqt.exchange.v1 import exchange_service_pb2 as pb
from opensqt.exchange.v1 import exchange_service_pb2_grpc as pb_grpc
from opensqt.exchange.v1 import types_pb2
from opensqt_common.errors import InvalidArgument, grpc_errors, grpc_stream_errors, internal_error
from opensqt_common.logging import get_logger
from opensqt_common.server import traced_per_message
from opensqt_connector import convert, requests, tracing
from opensqt_connector.hubs import EventHub
from opensqt_connector.models import KlineInterval
from opensqt_connector.orders import OrderEntry
from opensqt_connector.submit import SubmitSession
from opensqt_connector.venue import VenueAdapter

Context = grpc.aio.ServicerContext[object, object]
SubmitContext = grpc.aio.ServicerContext[pb.SubmitOrdersRequest, pb.SubmitOrdersResponse]
_UNARY = "unary"
_MAX_LABEL = 64  # longest client order id echoed into a span attribute

_log = get_logger(__name__)


class ExchangeServicer(pb_grpc.ExchangeServiceServicer):
    def __init__(
        self,
        venue: VenueAdapter,
        hub: EventHub,
        entry: OrderEntry,
        kline_interval: KlineInterval,
        tracer: tracing.OrderTracer,
    ) -> None:
        self._venue = venue
        self._hub = hub
        self._entry = entry
        self._kline_interval = kline_interval
        self._tracer = tracer

    def _markets(self) -> requests.Markets:
        return self._venue.markets()

    # -- market data -----------------------------------------------------------

    @grpc_errors
    async def ListMarkets(self, request: pb.ListMarketsRequest, context: Context) -> pb.ListMarketsResponse:
        return pb.ListMarketsResponse(markets=[convert.market_to_proto(m) for m in self._markets().values()])

    @grpc_errors
    async def GetMarket(self, request: pb.GetMarketRequest, context: Context) -> pb.GetMarketResponse:
        market = requests.market_of(request.symbol, self._markets())
        return pb.GetMarketResponse(market=convert.market_to_proto(market))

    @grpc_errors
    async def GetTicker(self, request: pb.GetTickerRequest, context: Context) -> pb.GetTickerResponse:
        symbol = requests.market_of(request.symbol, self._markets()).symbol
        ticker = await self._venue.fetch_ticker(symbol)
        return pb.GetTickerResponse(ticker=convert.ticker_to_proto(ticker))

    @grpc_errors
    async def GetKlines(self, request: pb.GetKlinesRequest, context: Context) -> pb.GetKlinesResponse:
        symbol, interval, limit = requests.klines(request, self._markets())
        klines = await self._venue.fetch_klines(symbol, interval, limit)
        return pb.GetKlinesResponse(klines=[convert.kline_to_proto(k) for k in klines])

    # -- account -----------------------------------------------------------------

    @grpc_errors
    async def GetBalances(self, request: pb.GetBalancesRequest, context: Context) -> pb.GetBalancesResponse:
        balances = await self._venue.fetch_balances()
        return pb.GetBalancesResponse(balances=[convert.balance_to_proto(b) for b in balances])

    @grpc_errors
    async def GetPositions(
        self, request: pb.GetPositionsRequest, context: Context
    ) -> pb.GetPositionsResponse:
        symbol = requests.optional_symbol(request.symbol, self._markets())
        positions = await self._venue.fetch_positions(symbol)
        return pb.GetPositionsResponse(positions=[convert.position_to_proto(p) for p in positions])

    @grpc_errors
    async def SetLeverage(self, request: pb.SetLeverageRequest, context: Context) -> pb.SetLeverageResponse:
        symbol, leverage = requests.leverage(request, self._markets())
        applied = await self._venue.set_leverage(symbol, leverage)
        return pb.SetLeverageResponse(leverage=convert.dec(applied))

    # -- orders ------------------------------------------------------------------

    @grpc_errors
    async def PlaceOrder(self, request: pb.PlaceOrderRequest, context: Context) -> pb.PlaceOrderResponse:
        with self._tracer.request(
            tracing.SPAN_SUBMIT,
            request.trace_context,
            client_order_id=request.client_order_id[:_MAX_LABEL],
            entry=_UNARY,
            inherit=True,
        ) as span:
            order_request = requests.place_order(request, self._markets())
            # Shielded: a client that gives up cancels this handler, not the venue call.
            result = await asyncio.shield(self._entry.place(order_request, entry=_UNARY))
            tracing.annotate(span, result.order, existing=result.existing)
        return pb.PlaceOrderResponse(order=convert.order_to_proto(result.order), existing=result.existing)

    @grpc_errors
    async def CancelOrder(self, request: pb.CancelOrderRequest, context: Context) -> pb.CancelOrderResponse:
        label = (request.client_order_id or request.order_id)[:_MAX_LABEL]
        with self._tracer.request(
            tracing.SPAN_CANCEL, request.trace_context, client_order_id=label, entry=_UNARY, inherit=True
        ) as span:
            order = await self._entry.cancel(requests.cancel_order(request, self._markets()))
            tracing.annotate(span, order)
        return pb.CancelOrderResponse(order=convert.order_to_proto(order))

    @grpc_errors
    async def CancelAllOrders(
        self, request: pb.CancelAllOrdersRequest, context: Context
    ) -> pb.CancelAllOrdersResponse:
        symbol, side = requests.cancel_all(request, self._markets())
        orders = await self._entry.cancel_all(symbol, side)
        return pb.CancelAllOrdersResponse(orders=[convert.order_to_proto(o) for o in orders])

    @grpc_errors
    async def GetOrder(self, request: pb.GetOrderRequest, context: Context) -> pb.GetOrderResponse:
        order = await self._entry.fetch(requests.order_ref(request, self._markets()))
        return pb.GetOrderResponse(order=convert.order_to_proto(order))

    @grpc_errors
    async def ListOpenOrders(
        self, request: pb.ListOpenOrdersRequest, context: Context
    ) -> pb.ListOpenOrdersResponse:
        symbol = requests.optional_symbol(request.symbol, self._markets())
        orders = await self._venue.fetch_open_orders(symbol)
        return pb.ListOpenOrdersResponse(orders=[convert.order_to_proto(o) for o in orders])

    @traced_per_message
    async def SubmitOrders(  # type: ignore[override]  # writes with context.write
        self, request_iterator: AsyncIterator[pb.SubmitOrdersRequest], context: SubmitContext
    ) -> None:
        """Per-request failures are answers (the stream goes on); only a bug ends the
        stream, with INTERNAL. Each place and cancel gets its own span from the
        trace_context it carries, so the call itself is not traced (`traced_per_message`)."""
        session = SubmitSession(self._entry, self._markets, self._tracer)
        try:
            await session.serve(request_iterator, context.write)
        except (grpc.aio.AbortError, grpc.aio.UsageError):
            raise
        except Exception as exc:
            _log.exception("submit_orders_failed")
            await context.abort_with_status(internal_error(exc).to_status())

    # -- streams -----------------------------------------------------------------

    @grpc_stream_errors
    async def StreamOrderUpdates(
        self, request: pb.StreamOrderUpdatesRequest, context: Context
    ) -> AsyncIterator[pb.StreamOrderUpdatesResponse]:
        symbol = requests.optional_symbol(request.symbol, self._markets())
        snapshot, subscription = self._hub.subscribe_orders(None if symbol is None else (symbol,))
        with subscription:
            sequence = 0
            for order in snapshot:
                sequence += 1
                yield pb.StreamOrderUpdatesResponse(sequence=sequence, snapshot_order=order)
            sequence += 1
            yield pb.StreamOrderUpdatesResponse(
                sequence=sequence, snapshot_end=types_pb2.SnapshotEnd(count=len(snapshot))
            )
            async for update in subscription:
                sequence += 1
                yield pb.StreamOrderUpdatesResponse(sequence=sequence, update=update)

    @grpc_stream_errors
    async def StreamFills(
        self, request: pb.StreamFillsRequest, context: Context
    ) -> AsyncIterator[pb.StreamFillsResponse]:
        symbol = requests.optional_symbol(request.symbol, self._markets())
        since_ms = requests.fills_since(request)
        symbols = tuple(self._markets()) if symbol is None else (symbol,)
        if since_ms > 0:
            for name in symbols:
                for held in await self._venue.fetch_fills(name, since_ms):
                    self._hub.on_fill(held)
        replay, subscription = self._hub.subscribe_fills(symbols, since_ms)
        with subscription:
            sequence = 0
            for fill in replay:
                sequence += 1
                yield pb.StreamFillsResponse(sequence=sequence, fill=fill, replayed=True)
            async for fill in subscription:
                sequence += 1
                yield pb.StreamFillsResponse(sequence=sequence, fill=fill)

    @grpc_stream_errors
    async def StreamPrices(
        self, request: pb.StreamPricesRequest, context: Context
    ) -> AsyncIterator[pb.StreamPricesResponse]:
        symbols = requests.symbol_list(request.symbols, self._markets())
        latest, subscription = self._hub.subscribe_prices(
            symbols, latency_sensitive=request.latency_sensitive
        )
        with subscription:
            sequence = 0
            for ticker in latest:
                sequence += 1
                yield pb.StreamPricesResponse(sequence=sequence, ticker=ticker)
            async for ticker in subscription:
                sequence += 1
                yield pb.StreamPricesResponse(sequence=sequence, ticker=ticker)

    @grpc_stream_errors
    async def StreamKlines(
        self, request: pb.StreamKlinesRequest, context: Context
    ) -> AsyncIterator[pb.StreamKlinesResponse]:
        symbols = requests.symbol_list(request.symbols, self._markets())
        interval = requests.interval(request.interval)
        if interval is not self._kline_interval:
            raise InvalidArgument(
                "interval",
                f"this connector streams {self._kline_interval.value} klines (use GetKlines for others)",
            )
        latest, subscription = self._hub.subscribe_klines(symbols)
        with subscription:
            sequence = 0
            for kline in latest:
                sequence += 1
                yield pb.StreamKlinesResponse(sequence=sequence, kline=kline)
            async for kline in subscription:
                sequence += 1
                yield pb.StreamKlinesResponse(sequence=sequence, kline=kline)
