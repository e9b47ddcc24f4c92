"""Binance replica: spot (/api/v3, /sapi/v1, WebSocket API /ws-api/v3, streams /ws) and
USDⓈ-M futures (/fapi/v1-v3, streams /public/ws, /market/ws, /private/ws?listenKey=).

Private flows as ccxt.pro 4.5 uses them:
- USDⓈ-M: POST /fapi/v1/listenKey (API key only) → connect /private/ws?listenKey=<key>;
  ORDER_TRADE_UPDATE and ACCOUNT_UPDATE events; PUT keeps the key alive.
- Spot: WebSocket API `userDataStream.subscribe.signature` (HMAC of the sorted
  apiKey/recvWindow/timestamp params) on /ws-api/v3; events arrive wrapped as
  {"subscriptionId": n, "event": {...executionReport...}}.
Public streams take {"method": "SUBSCRIBE", "params": [...], "id": n}.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar
from urllib.parse import urlencode

from aiohttp import web

from opensqt_common.decimals import ZERO, is_multiple, round_down
from opensqt_common.enums import MarketType, OrderType, Side, TimeInForce, Venue
from opensqt_common.errors import ServiceError
from opensqt_connector.models import KlineInfo, KlineInterval, OrderRequest, TickerInfo

from ..framework.core import OrderUpdate, ReplicaCore, VenueOrder
from ..framework.faults import FaultKind, RequestFault
from ..framework.server import Credentials, StreamKind, VenueReplica
from ..framework.ws import WsSession
from . import auth, errors, payloads
from .errors import Api, BinanceError
from .markets import DEFAULT_MARKETS, BinanceMarket, futures_exchange_info, spot_exchange_info

Handler = Callable[[web.Request], Awaitable[web.Response]]

FIRST_ORDER_ID = 8_389_765_000_000_000_000 // 1_000_000  # ids look like live ones (~8.4e12)
INTERVALS = {interval.value: interval for interval in KlineInterval}
CLIENT_ID = re.compile(errors.CLIENT_ID_PATTERN)
FUTURES_PUBLIC_STREAMS = ("bookTicker", "depth", "trade")  # /public; everything else is /market
KNOWN_STREAM = re.compile(
    r"^(ticker|miniTicker|bookTicker|trade|aggTrade|depth(5|10|20)?(@(100|250|500)ms)?|markPrice(@1s)?"
    r"|kline_(1s|1m|3m|5m|15m|30m|1h|2h|4h|6h|8h|12h|1d|3d|1w|1M))$"
)
DEFAULT_BALANCES = {"USDT": Decimal(100_000), "BTC": Decimal(1), "ETH": Decimal(10)}
# Test keys: 64 alphanumerics like Binance's HMAC keys.
TEST_API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
TEST_API_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"


@dataclass(frozen=True, slots=True)
class _ApiSpec:
    api: Api
    market_type: MarketType


SPOT = _ApiSpec(Api.SPOT, MarketType.SPOT)
FUTURES = _ApiSpec(Api.FUTURES, MarketType.LINEAR_PERPETUAL)


def _order_id(seq: int, _symbol: str) -> str:
    return str(FIRST_ORDER_ID + seq)


class BinanceReplica(VenueReplica):
    venue: ClassVar[Venue] = Venue.BINANCE

    def __init__(
        self,
        *,
        credentials: Credentials | None = None,
        markets: tuple[BinanceMarket, ...] = DEFAULT_MARKETS,
        balances: dict[str, Decimal] | None = None,
        core: ReplicaCore | None = None,
    ) -> None:
        self.markets = {m.info.symbol: m for m in markets}
        self._by_venue = {(m.spot, m.venue_symbol): m for m in markets}
        core = core or ReplicaCore(
            [m.info for m in markets],
            balances if balances is not None else DEFAULT_BALANCES,
            {m.info.symbol: m.start_price for m in markets},
            order_id=_order_id,
        )
        super().__init__(core, credentials or Credentials(TEST_API_KEY, TEST_API_SECRET))
        self._listen_key: str | None = None
        self._book_update_id = 1_000_000
        self._cancel_seq = 0
        self._ws_subscription_seq = 0

    # ---------------------------------------------------------------- routes

    def add_routes(self, app: web.Application) -> None:
        r = app.router
        for prefix, spec in (("/api/v3", SPOT), ("/fapi/v1", FUTURES)):
            r.add_get(f"{prefix}/ping", self._public(lambda _req: {}))
            r.add_get(f"{prefix}/time", self._public(lambda _req: {"serverTime": self.core.now_ms()}))
            r.add_get(f"{prefix}/ticker/24hr", self._public(self._ticker_24hr, spec))
            r.add_get(f"{prefix}/ticker/bookTicker", self._public(self._book_ticker, spec))
            r.add_get(f"{prefix}/klines", self._public(self._klines, spec))
            r.add_post(f"{prefix}/order", self._signed(self._place, spec))
            r.add_get(f"{prefix}/order", self._signed(self._query, spec))
            r.add_delete(f"{prefix}/order", self._signed(self._cancel, spec))
            r.add_get(f"{prefix}/openOrders", self._signed(self._open_orders, spec))
        r.add_get("/api/v3/exchangeInfo", self._public(self._spot_exchange_info))
        r.add_get("/fapi/v1/exchangeInfo", self._public(self._futures_exchange_info))
        r.add_get("/dapi/v1/exchangeInfo", self._public(self._coin_m_exchange_info))
        r.add_get("/api/v3/account", self._signed(self._spot_account, SPOT))
        r.add_delete("/api/v3/openOrders", self._signed(self._spot_cancel_all, SPOT))
        r.add_get("/api/v3/myTrades", self._signed(self._my_trades, SPOT))
        r.add_get("/sapi/v1/capital/config/getall", self._signed(self._capital_config, SPOT))
        r.add_get("/sapi/v1/margin/allPairs", self._signed(lambda _req, _p: [], SPOT))
        r.add_get("/sapi/v1/margin/isolated/allPairs", self._signed(lambda _req, _p: [], SPOT))
        r.add_get("/sapi/v1/asset/tradeFee", self._signed(self._spot_trade_fee, SPOT))
        r.add_delete("/fapi/v1/allOpenOrders", self._signed(self._futures_cancel_all, FUTURES))
        r.add_get("/fapi/v1/userTrades", self._signed(self._my_trades, FUTURES))
        r.add_post("/fapi/v1/leverage", self._signed(self._set_leverage, FUTURES))
        r.add_get("/fapi/v1/leverageBracket", self._signed(self._leverage_bracket, FUTURES))
        r.add_get("/fapi/v1/symbolConfig", self._signed(self._symbol_config, FUTURES))
        r.add_get("/fapi/v1/commissionRate", self._signed(self._commission_rate, FUTURES))
        r.add_get(
            "/fapi/v1/positionSide/dual", self._signed(lambda _req, _p: {"dualSidePosition": False}, FUTURES)
        )
        for version in ("v2", "v3"):
            r.add_get(f"/fapi/{version}/account", self._signed(self._futures_account, FUTURES))
            r.add_get(f"/fapi/{version}/positionRisk", self._signed(self._position_risk, FUTURES))
        for method in ("POST", "PUT", "DELETE"):
            r.add_route(method, "/fapi/v1/listenKey", self._listen_key_route)
        r.add_get("/ws/{stream:.*}", self._spot_streams)
        r.add_get("/public/ws{tail:.*}", self._futures_public_streams)
        r.add_get("/market/ws{tail:.*}", self._futures_market_streams)
        r.add_get("/private/ws{tail:.*}", self._futures_private_stream)
        r.add_get("/ws-api/v3", self._spot_ws_api)

    def market_type_of(self, symbol: str) -> MarketType:
        return self.markets[symbol].info.market_type

    # ---------------------------------------------------------------- plumbing

    def _json(self, payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
        now = self.core.now_ms()
        weight = 1 + sum(1 for r in self.requests if r.time_ms > now - 60_000)
        merged = {"X-MBX-USED-WEIGHT-1M": str(weight)} | (headers or {})
        return web.json_response(payload, status=status, headers=merged, dumps=_dumps)

    def _error(self, error: BinanceError, headers: dict[str, str] | None = None) -> web.Response:
        return self._json(error.body(), error.status, headers)

    def fault_response(self, fault: RequestFault) -> web.Response:
        if fault.kind is FaultKind.RATE_LIMIT:
            return self._error(errors.TOO_MANY_REQUESTS, {"Retry-After": str(fault.retry_after_s)})
        if fault.gateway:
            return web.Response(
                status=fault.status,
                text=f"<html><head><title>{fault.status} Service Unavailable</title></head></html>",
                content_type="text/html",
            )
        return self._json(errors.INTERNAL_ERROR.body(), fault.status)

    def _public(self, fn: Callable[..., Any], spec: _ApiSpec | None = None) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            try:
                params = dict(request.query)
                result = fn(params, spec) if spec is not None else fn(params)
                return self._json(result)
            except BinanceError as error:
                return self._error(error)

        return handler

    def _signed(self, fn: Callable[..., Any], spec: _ApiSpec) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            try:
                params = auth.verify_signed(
                    api_key_header=request.headers.get("X-MBX-APIKEY"),
                    query=request.rel_url.raw_query_string,
                    body=await request.text(),
                    api_key=self.credentials.api_key,
                    secret=self.credentials.api_secret,
                    now_ms=self.core.now_ms(),
                )
                result = fn(params, spec)
                if isinstance(result, _Ack):
                    return await self.acknowledge(request, self._json(result.payload))
                return self._json(result)
            except BinanceError as error:
                return self._error(error)

        return handler

    def _market(self, params: dict[str, str], spec: _ApiSpec) -> BinanceMarket:
        symbol = params.get("symbol")
        if not symbol:
            raise errors.missing_parameter("symbol")
        market = self._by_venue.get((spec.api is Api.SPOT, symbol))
        if market is None:
            raise errors.INVALID_SYMBOL
        return market

    def _markets_of(self, spec: _ApiSpec) -> list[BinanceMarket]:
        return [m for m in self.markets.values() if m.spot == (spec.api is Api.SPOT)]

    # ---------------------------------------------------------------- market data

    def _spot_exchange_info(self, _params: dict[str, str]) -> Any:
        return spot_exchange_info(list(self.markets.values()), self.core.now_ms())

    def _futures_exchange_info(self, _params: dict[str, str]) -> Any:
        return futures_exchange_info(list(self.markets.values()), self.core.now_ms())

    def _coin_m_exchange_info(self, _params: dict[str, str]) -> Any:
        return {
            "timezone": "UTC",
            "serverTime": self.core.now_ms(),
            "rateLimits": [],
            "exchangeFilters": [],
            "symbols": [],
        }

    def _ticker_payload(self, market: BinanceMarket) -> dict[str, Any]:
        symbol = market.info.symbol
        day = self.core.klines(symbol, KlineInterval.H1, 24)
        return payloads.ticker_24hr(market, self.core.ticker(symbol), day, self.core.now_ms())

    def _ticker_24hr(self, params: dict[str, str], spec: _ApiSpec) -> Any:
        if "symbol" not in params:
            return [self._ticker_payload(m) for m in self._markets_of(spec)]
        return self._ticker_payload(self._market(params, spec))

    def _book_ticker(self, params: dict[str, str], spec: _ApiSpec) -> Any:
        def entry(market: BinanceMarket) -> dict[str, Any]:
            ticker = self.core.ticker(market.info.symbol)
            body: dict[str, Any] = {
                "symbol": market.venue_symbol,
                "bidPrice": payloads.s(ticker.bid),
                "bidQty": "1",
                "askPrice": payloads.s(ticker.ask),
                "askQty": "1",
            }
            if spec.api is Api.FUTURES:
                body |= {"time": ticker.time_ms, "lastUpdateId": self._book_update_id}
            return body

        if "symbol" not in params:
            return [entry(m) for m in self._markets_of(spec)]
        return entry(self._market(params, spec))

    def _klines(self, params: dict[str, str], spec: _ApiSpec) -> Any:
        market = self._market(params, spec)
        interval = INTERVALS.get(params.get("interval", ""))
        if interval is None:
            raise BinanceError(400, -1120, "Invalid interval.")
        limit = min(int(params.get("limit", "500")), 1500 if spec.api is Api.FUTURES else 1000)
        rows = self.core.klines(market.info.symbol, interval, 1_500)
        start = int(params.get("startTime", "0"))
        end = int(params.get("endTime", str(2**62)))
        chosen = [k for k in rows if start <= k.open_time_ms <= end]
        chosen = chosen[:limit] if "startTime" in params else chosen[-limit:]
        return [payloads.kline_row(k, interval.milliseconds) for k in chosen]

    # ---------------------------------------------------------------- orders

    def _place(self, params: dict[str, str], spec: _ApiSpec) -> _Ack:
        market = self._market(params, spec)
        info = market.info
        side = {"BUY": Side.BUY, "SELL": Side.SELL}.get(params.get("side", ""))
        if side is None:
            raise errors.missing_parameter("side")
        kind = params.get("type", "")
        client_id = params.get("newClientOrderId") or f"web_{secrets.token_hex(9)}"
        if not CLIENT_ID.match(client_id):
            raise errors.invalid_client_order_id(spec.api)
        if self.core.client_id_in_use(client_id, open_only=True):
            raise errors.duplicate_client_order_id(spec.api)
        quantity = _decimal(params, "quantity")
        price: Decimal | None = None
        post_only = False
        tif = TimeInForce.GTC
        if kind in ("LIMIT", "LIMIT_MAKER") and not (kind == "LIMIT_MAKER" and spec.api is Api.FUTURES):
            price = _required_decimal(params, "price")
            if kind == "LIMIT_MAKER":
                post_only = True
            else:
                tif_text = params.get("timeInForce")
                if not tif_text:
                    raise errors.missing_parameter("timeInForce")
                if tif_text == "GTX" and spec.api is Api.FUTURES:
                    post_only = True
                elif tif_text in ("GTC", "IOC", "FOK"):
                    tif = TimeInForce[tif_text]
                else:
                    raise BinanceError(400, -1115, "Invalid timeInForce.")
            order_type = OrderType.LIMIT
        elif kind == "MARKET":
            order_type = OrderType.MARKET
            if quantity is None and spec.api is Api.SPOT and "quoteOrderQty" in params:
                last = self.core.ticker(info.symbol).last
                quantity = round_down(_required_decimal(params, "quoteOrderQty") / last, info.step_size)
        else:
            raise BinanceError(400, -1116, "Invalid orderType.")
        if quantity is None:
            raise errors.missing_parameter("quantity")
        if price is not None and (price <= 0 or not is_multiple(price, info.tick_size)):
            raise errors.price_filter(spec.api)
        if quantity <= 0 or not is_multiple(quantity, info.step_size) or quantity < info.min_quantity:
            raise errors.lot_size(spec.api)
        reduce_only = params.get("reduceOnly", "false").lower() == "true"
        if reduce_only and spec.api is Api.SPOT:
            raise BinanceError(
                400, -1104, "Not all sent parameters were read; read '12' parameter(s) but was sent '13'."
            )
        request = OrderRequest(
            client_order_id=client_id,
            symbol=info.symbol,
            side=side,
            type=order_type,
            price=price,
            quantity=quantity,
            time_in_force=tif,
            post_only=post_only,
            reduce_only=reduce_only,
        )
        try:
            order = self.core.place(request)
        except ServiceError as error:
            raise errors.from_sim(error, spec.api, payloads.s(info.min_notional)) from None
        if spec.api is Api.SPOT:
            fills = [f for f in self.core.fills(info.symbol) if f.order_id == order.venue_id]
            return _Ack(payloads.spot_order_full(order, market, fills))
        return _Ack(payloads.futures_order(order, market))

    def _find(self, params: dict[str, str], spec: _ApiSpec) -> tuple[BinanceMarket, VenueOrder | None]:
        market = self._market(params, spec)
        order_id = params.get("orderId", "")
        client_id = params.get("origClientOrderId", "")
        if not order_id and not client_id:
            raise BinanceError(
                400, -1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!"
            )
        order = self.core.find(market.info.symbol, venue_id=order_id, client_order_id=client_id)
        if order is not None and order_id and client_id and order.info.client_order_id != client_id:
            order = None
        return market, order

    def _order_payload(self, order: VenueOrder, market: BinanceMarket) -> dict[str, Any]:
        return payloads.spot_order(order, market) if market.spot else payloads.futures_order(order, market)

    def _query(self, params: dict[str, str], spec: _ApiSpec) -> Any:
        market, order = self._find(params, spec)
        if order is None:
            raise errors.UNKNOWN_ORDER_QUERY
        return self._order_payload(order, market)

    def _cancel(self, params: dict[str, str], spec: _ApiSpec) -> Any:
        market, order = self._find(params, spec)
        if order is None or order.info.status.is_terminal:
            raise errors.UNKNOWN_ORDER_CANCEL
        canceled = self.core.cancel(market.info.symbol, venue_id=order.venue_id)
        if market.spot:
            return payloads.spot_cancel(canceled, market, params.get("newClientOrderId") or self._cancel_id())
        return payloads.futures_order(canceled, market)

    def _open_orders(self, params: dict[str, str], spec: _ApiSpec) -> Any:
        markets = [self._market(params, spec)] if "symbol" in params else self._markets_of(spec)
        return [
            self._order_payload(order, market)
            for market in markets
            for order in self.core.open_orders(market.info.symbol)
        ]

    def _spot_cancel_all(self, params: dict[str, str], spec: _ApiSpec) -> Any:
        market = self._market(params, spec)
        if not self.core.open_orders(market.info.symbol):
            raise errors.UNKNOWN_ORDER_CANCEL
        return [
            payloads.spot_cancel(order, market, self._cancel_id())
            for order in self.core.cancel_all(market.info.symbol)
        ]

    def _futures_cancel_all(self, params: dict[str, str], spec: _ApiSpec) -> Any:
        market = self._market(params, spec)
        self.core.cancel_all(market.info.symbol)
        return {"code": 200, "msg": "The operation of cancel all open order is done."}

    def _my_trades(self, params: dict[str, str], spec: _ApiSpec) -> Any:
        market = self._market(params, spec)
        fills = self.core.fills(market.info.symbol, int(params.get("startTime", "0")))
        if "orderId" in params:
            fills = [f for f in fills if f.order_id == params["orderId"]]
        if "fromId" in params:
            fills = [f for f in fills if int(f.trade_id) >= int(params["fromId"])]
        fills = fills[-int(params.get("limit", "500")) :]
        build = payloads.spot_trade if market.spot else payloads.futures_trade
        return [build(f, market) for f in fills]

    def _cancel_id(self) -> str:
        self._cancel_seq += 1
        return f"cancel{self._cancel_seq:016d}"

    # ---------------------------------------------------------------- account

    def _spot_account(self, _params: dict[str, str], _spec: _ApiSpec) -> Any:
        assets = {a for m in self.markets.values() if m.spot for a in (m.info.base, m.info.quote)}
        balances = [b for b in self.core.balances() if b.asset in assets]
        return payloads.spot_account(balances, self.core.now_ms())

    def _capital_config(self, _params: dict[str, str], _spec: _ApiSpec) -> Any:
        coins = sorted({a for m in self.markets.values() for a in (m.info.base, m.info.quote)})
        balances = {b.asset: b for b in self.core.balances()}
        return [
            {
                "coin": coin,
                "depositAllEnable": True,
                "withdrawAllEnable": True,
                "name": coin,
                "free": payloads.fixed(balances[coin].free),
                "locked": payloads.fixed(balances[coin].used),
                "freeze": "0",
                "withdrawing": "0",
                "ipoing": "0",
                "ipoable": "0",
                "storage": "0",
                "isLegalMoney": False,
                "trading": True,
                "networkList": [
                    {
                        "network": "ETH" if coin != "BTC" else "BTC",
                        "coin": coin,
                        "withdrawIntegerMultiple": "0.00000001",
                        "isDefault": True,
                        "depositEnable": True,
                        "withdrawEnable": True,
                        "depositDesc": "",
                        "withdrawDesc": "",
                        "name": coin,
                        "resetAddressStatus": False,
                        "withdrawFee": "0.0001",
                        "withdrawMin": "0.001",
                        "withdrawMax": "9999999999",
                        "minConfirm": 1,
                        "unLockConfirm": 2,
                    }
                ],
            }
            for coin in coins
        ]

    def _spot_trade_fee(self, params: dict[str, str], spec: _ApiSpec) -> Any:
        markets = [self._market(params, spec)] if "symbol" in params else self._markets_of(spec)
        return [
            {
                "symbol": m.venue_symbol,
                "makerCommission": payloads.s(m.info.maker_fee),
                "takerCommission": payloads.s(m.info.taker_fee),
            }
            for m in markets
        ]

    def _futures_balances(self) -> list[Any]:
        assets = {m.info.settle for m in self.markets.values() if not m.spot}
        return [b for b in self.core.balances() if b.asset in assets]

    def _risk_entries(self, symbol: str | None) -> list[dict[str, Any]]:
        now = self.core.now_ms()
        entries = []
        for position in self.core.positions(symbol):
            if position.quantity == 0 and not self.core.open_orders(position.symbol):
                continue  # V3 lists only symbols with a position or open orders
            market = self.markets[position.symbol]
            mark = self.core.ticker(position.symbol).last
            entries.append(payloads.futures_position(position, market, mark, now))
        return entries

    def _futures_account(self, _params: dict[str, str], _spec: _ApiSpec) -> Any:
        return payloads.futures_account(
            self._futures_balances(), self._risk_entries(None), self.core.now_ms()
        )

    def _position_risk(self, params: dict[str, str], spec: _ApiSpec) -> Any:
        symbol = self._market(params, spec).info.symbol if "symbol" in params else None
        return self._risk_entries(symbol)

    def _set_leverage(self, params: dict[str, str], spec: _ApiSpec) -> Any:
        market = self._market(params, spec)
        text = params.get("leverage", "")
        if not text.isdigit():
            raise errors.missing_parameter("leverage")
        try:
            leverage = self.core.set_leverage(market.info.symbol, Decimal(text))
        except ServiceError:
            raise errors.invalid_leverage(text) from None
        return {"leverage": int(leverage), "maxNotionalValue": "80000000", "symbol": market.venue_symbol}

    def _leverage_bracket(self, params: dict[str, str], spec: _ApiSpec) -> Any:
        markets = [self._market(params, spec)] if "symbol" in params else self._markets_of(spec)
        body = [
            {
                "symbol": m.venue_symbol,
                "notionalCoef": 1.0,
                "brackets": [
                    {
                        "bracket": 1,
                        "initialLeverage": int(m.info.max_leverage),
                        "notionalCap": 300000,
                        "notionalFloor": 0,
                        "maintMarginRatio": 0.004,
                        "cum": 0.0,
                    },
                    {
                        "bracket": 2,
                        "initialLeverage": 50,
                        "notionalCap": 80000000,
                        "notionalFloor": 300000,
                        "maintMarginRatio": 0.005,
                        "cum": 300.0,
                    },
                ],
            }
            for m in markets
        ]
        return body[0] if "symbol" in params else body

    def _symbol_config(self, params: dict[str, str], spec: _ApiSpec) -> Any:
        markets = [self._market(params, spec)] if "symbol" in params else self._markets_of(spec)
        return [
            {
                "symbol": m.venue_symbol,
                "marginType": "CROSSED",
                "isAutoAddMargin": "false",
                "leverage": int(self.core.leverage(m.info.symbol)),
                "maxNotionalValue": "80000000",
            }
            for m in markets
        ]

    def _commission_rate(self, params: dict[str, str], spec: _ApiSpec) -> Any:
        market = self._market(params, spec)
        return {
            "symbol": market.venue_symbol,
            "makerCommissionRate": payloads.s(market.info.maker_fee),
            "takerCommissionRate": payloads.s(market.info.taker_fee),
        }

    # ---------------------------------------------------------------- listen key

    async def _listen_key_route(self, request: web.Request) -> web.Response:
        try:
            auth.check_api_key(request.headers.get("X-MBX-APIKEY"), self.credentials.api_key)
        except BinanceError as error:
            return self._error(error)
        if request.method == "POST":
            if self._listen_key is None:
                self._listen_key = secrets.token_urlsafe(48)[:64]
            return self._json({"listenKey": self._listen_key})
        if self._listen_key is None:
            return self._error(errors.INVALID_LISTEN_KEY)
        if request.method == "PUT":
            return self._json({"listenKey": self._listen_key})
        self._listen_key = None
        for session in self.sessions("linear-private"):
            session.abort()
        return self._json({})

    # ---------------------------------------------------------------- streams

    async def _spot_streams(self, request: web.Request) -> web.StreamResponse:
        return await self.websocket(request, "spot", self._on_stream_message)

    async def _futures_public_streams(self, request: web.Request) -> web.StreamResponse:
        return await self.websocket(request, "linear-public", self._on_stream_message)

    async def _futures_market_streams(self, request: web.Request) -> web.StreamResponse:
        return await self.websocket(request, "linear-market", self._on_stream_message)

    async def _futures_private_stream(self, request: web.Request) -> web.StreamResponse:
        key = request.query.get("listenKey")
        if not key or key != self._listen_key:
            return self._error(errors.INVALID_LISTEN_KEY)
        return await self.websocket(
            request, "linear-private", self._on_private_message, self._on_private_open
        )

    async def _on_private_open(self, session: WsSession) -> bool:
        session.authenticated = True
        return True

    async def _on_private_message(self, session: WsSession, text: str) -> None:
        message = _loads(text)
        if isinstance(message, dict) and "id" in message:
            session.send({"result": None, "id": message["id"]})

    async def _on_stream_message(self, session: WsSession, text: str) -> None:
        message = _loads(text)
        if not isinstance(message, dict):
            session.send({"error": {"code": 3, "msg": "Invalid JSON: expected value at line 1 column 1"}})
            return
        method = message.get("method")
        request_id = message.get("id")
        streams = message.get("params") or []
        if method == "LIST_SUBSCRIPTIONS":
            session.send({"result": sorted(session.topics), "id": request_id})
            return
        if method not in ("SUBSCRIBE", "UNSUBSCRIBE") or not isinstance(streams, list):
            session.send(
                {"error": {"code": 1, "msg": "Invalid value type: expected Boolean"}, "id": request_id}
            )
            return
        for stream in streams:
            if not isinstance(stream, str) or not self._stream_allowed(session.channel, stream):
                session.send(
                    {
                        "error": {"code": 2, "msg": f"Invalid request: invalid stream {stream}"},
                        "id": request_id,
                    }
                )
                return
        if method == "SUBSCRIBE":
            session.topics.update(streams)
        else:
            session.topics.difference_update(streams)
        session.send({"result": None, "id": request_id})

    def _stream_allowed(self, channel: str, stream: str) -> bool:
        venue_symbol, _, kind = stream.partition("@")
        market = self._by_venue.get((channel == "spot", venue_symbol.upper()))
        if market is None or not KNOWN_STREAM.match(kind):
            return False
        name = kind.split("_")[0].split("@")[0]
        if channel == "linear-public":
            return name in FUTURES_PUBLIC_STREAMS
        if channel == "linear-market":
            return name not in FUTURES_PUBLIC_STREAMS
        return True

    async def _spot_ws_api(self, request: web.Request) -> web.StreamResponse:
        return await self.websocket(request, "spot-api", self._on_ws_api_message)

    async def _on_ws_api_message(self, session: WsSession, text: str) -> None:
        message = _loads(text)
        if not isinstance(message, dict):
            session.send({"id": None, "status": 400, "error": {"code": -1100, "msg": "Illegal characters"}})
            return
        request_id = message.get("id")
        method = message.get("method")
        params = message.get("params") or {}
        try:
            if method == "ping":
                result: Any = {}
            elif method == "time":
                result = {"serverTime": self.core.now_ms()}
            elif method == "userDataStream.subscribe.signature":
                result = self._ws_api_subscribe(session, params)
            elif method == "userDataStream.unsubscribe":
                session.state.pop("subscription_id", None)
                result = {}
            else:
                raise BinanceError(400, -1020, "This operation is not supported.")
        except BinanceError as error:
            session.send({"id": request_id, "status": error.status, "error": error.body()})
            return
        session.send({"id": request_id, "status": 200, "result": result, "rateLimits": []})

    def _ws_api_subscribe(self, session: WsSession, params: dict[str, Any]) -> dict[str, Any]:
        given = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in params.items()}
        signature = given.pop("signature", "")
        api_key = given.get("apiKey")
        auth.check_api_key(api_key, self.credentials.api_key)
        payload = urlencode(sorted(given.items()))
        auth.verify_signed(
            api_key_header=api_key,
            query=f"{payload}&signature={signature}",
            body="",
            api_key=self.credentials.api_key,
            secret=self.credentials.api_secret,
            now_ms=self.core.now_ms(),
        )
        subscription_id = self._ws_subscription_seq
        self._ws_subscription_seq += 1
        session.state["subscription_id"] = subscription_id
        session.authenticated = True
        return {"subscriptionId": subscription_id}

    # ---------------------------------------------------------------- core events

    def on_order_update(self, update: OrderUpdate) -> None:
        market = self.markets[update.order.info.symbol]
        now = self.core.now_ms()
        if market.spot:
            event = payloads.execution_report(update.order, update.fill, market, now, self._cancel_id())
            for session in self.sessions("spot-api"):
                if "subscription_id" in session.state:
                    session.send({"subscriptionId": session.state["subscription_id"], "event": event})
                    if update.fill is not None:
                        account = payloads.outbound_account_position(self.core.balances(), now)
                        session.send({"subscriptionId": session.state["subscription_id"], "event": account})
            return
        order_event = payloads.order_trade_update(update.order, update.fill, market, now)
        for session in self.sessions("linear-private"):
            session.send(order_event)
            if update.fill is not None:
                account = payloads.account_update(
                    self._futures_balances(), self.core.positions(market.info.symbol), self.markets, now
                )
                session.send(account)

    def on_ticker(self, ticker: TickerInfo) -> None:
        market = self.markets[ticker.symbol]
        self._book_update_id += 1
        stream = market.venue_symbol.lower()
        book = payloads.ws_book_ticker(market, ticker, self._book_update_id)
        day = payloads.ws_24hr_ticker(self._ticker_payload(market), self.core.now_ms())
        for session in self._stream_sessions(market):
            if f"{stream}@bookTicker" in session.topics:
                session.send(book)
            if f"{stream}@ticker" in session.topics:
                session.send(day)
            if f"{stream}@miniTicker" in session.topics:
                session.send(payloads.ws_mini_ticker(day))

    def on_kline(self, kline: KlineInfo) -> None:
        market = self.markets[kline.symbol]
        topic = f"{market.venue_symbol.lower()}@kline_{kline.interval.value}"
        sessions = [s for s in self._stream_sessions(market) if topic in s.topics]
        if sessions:
            event = payloads.ws_kline(
                market, kline, kline.interval.value, kline.interval.milliseconds, self.core.now_ms()
            )
            for session in sessions:
                session.send(event)

    def _stream_sessions(self, market: BinanceMarket) -> list[WsSession]:
        channels = ("spot",) if market.spot else ("linear-public", "linear-market")
        return [s for s in self.sessions() if s.channel in channels]

    def public_ready(self, symbol: str, stream: StreamKind) -> bool:
        market = self.markets[symbol]
        name = market.venue_symbol.lower()
        wanted = {f"{name}@ticker", f"{name}@miniTicker"} if stream == "ticker" else {f"{name}@kline_1m"}
        return any(wanted & s.topics for s in self._stream_sessions(market))

    def private_ready(self, market_type: MarketType, streams: frozenset[StreamKind]) -> bool:
        if market_type is MarketType.SPOT:
            return any("subscription_id" in s.state for s in self.sessions("spot-api"))
        return bool(self.sessions("linear-private"))

    def before_shutdown(self, session: WsSession) -> None:
        if session.channel == "spot-api":
            session.send({"event": {"e": "serverShutdown", "E": self.core.now_ms()}})


@dataclass(frozen=True, slots=True)
class _Ack:
    """An order placement's answer: delivered through the ack faults."""

    payload: dict[str, Any]


def _decimal(params: dict[str, str], name: str) -> Decimal | None:
    text = params.get(name)
    if text is None or text == "":
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise errors.bad_parameter(name, "^([0-9]{1,20})(\\.[0-9]{1,20})?$") from None
    if not value.is_finite() or value < ZERO:
        raise errors.bad_parameter(name, "^([0-9]{1,20})(\\.[0-9]{1,20})?$")
    return value


def _required_decimal(params: dict[str, str], name: str) -> Decimal:
    value = _decimal(params, name)
    if value is None:
        raise errors.missing_parameter(name)
    return value


def _dumps(payload: Any) -> str:
    return json.dumps(payload, separators=(",", ":"))


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None
