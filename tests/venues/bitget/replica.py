"""Bitget v2 replica (classic account, one-way position mode): REST under /api/v2 for
spot and USDT-FUTURES (mix), WebSocket /v2/ws/public and /v2/ws/private.

Behaviours taken from the v2 documentation and ccxt's error table:
- A post_only order that would take liquidity is accepted (code 00000, an orderId)
  and cancelled at once (status "cancelled"), not refused with an error.
- clientOid is unique per account: reusing one answers 40786 "Duplicate clientOid".
- The classic account answers the UTA probe GET /api/v3/account/settings with 40084,
  which makes ccxt use the classic v2 endpoints.
- Demo trading (`demo=True`): every private request must carry paptrading: 1 (40099
  otherwise); live keys are refused with the header.
The classic account keeps spot and futures wallets apart; the shared core has one
wallet, so both accounts show the same asset balances (documented deviation).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from aiohttp import web

from opensqt_common.decimals import ZERO
from opensqt_common.enums import MarketType, OrderStatus, Venue
from opensqt_common.errors import ServiceError
from opensqt_connector.models import FillInfo, KlineInfo, KlineInterval, OrderInfo, TickerInfo
from opensqt_connector.venue_errors import (
    DuplicateClientOrderId,
    InsufficientMargin,
    MinNotional,
    PostOnlyWouldCross,
    ReduceOnlyRejected,
)

from ..framework.core import Clock, OrderUpdate, ReplicaCore, VenueOrder, wall_clock_ms
from ..framework.faults import FaultKind, RequestFault
from ..framework.server import Credentials, StreamKind, VenueReplica
from ..framework.ws import WsSession
from . import auth, errors, payloads, streams
from .errors import BitgetError, WsError
from .markets import (
    DEFAULT_MARKETS,
    PRODUCT_TYPE,
    PRODUCT_TYPES,
    BitgetMarket,
    coin,
    mix_contract,
    spot_symbol,
)
from .orders import Entry, client_oid, parse_mix, parse_spot, reduce_only_refusal
from .payloads import OrderMeta

Handler = Callable[[web.Request], Awaitable[web.Response]]
Params = dict[str, str]

FIRST_ORDER_ID = 1_111_465_253_393_800_000
FIRST_CLIENT_OID = 1_111_465_253_431_500_000
DEFAULT_BALANCES = {"USDT": Decimal(100_000), "BTC": Decimal(1), "ETH": Decimal(10)}
SPOT_GRANULARITY: dict[str, KlineInterval] = {
    "1min": KlineInterval.M1,
    "3min": KlineInterval.M3,
    "5min": KlineInterval.M5,
    "15min": KlineInterval.M15,
    "30min": KlineInterval.M30,
    "1h": KlineInterval.H1,
    "4h": KlineInterval.H4,
    "1day": KlineInterval.D1,
    "1Dutc": KlineInterval.D1,
}
MIX_GRANULARITY: dict[str, KlineInterval] = {
    "1m": KlineInterval.M1,
    "3m": KlineInterval.M3,
    "5m": KlineInterval.M5,
    "15m": KlineInterval.M15,
    "30m": KlineInterval.M30,
    "1H": KlineInterval.H1,
    "4H": KlineInterval.H4,
    "1D": KlineInterval.D1,
    "1Dutc": KlineInterval.D1,
}
# Test keys shaped like Bitget's: "bg_" + 32 hex, a 64-hex secret, a passphrase.
TEST_API_KEY = "bg_4f1e9c0a7d3b5e8f2a6c1d9b0e7f3a5c"
TEST_API_SECRET = "7c1e5a9f3d0b8e2c6a4f1d9b7e3c5a0f2d8b6e4c1a9f7d3b5e0c2a8f6d4b1e9c"
TEST_PASSPHRASE = "ReplicaPass1"


@dataclass(frozen=True, slots=True)
class _Ack:
    body: Any


class BitgetReplica(VenueReplica):
    venue: ClassVar[Venue] = Venue.BITGET
    shutdown_close_code: ClassVar[int] = 1001

    def __init__(
        self,
        *,
        credentials: Credentials | None = None,
        markets: tuple[BitgetMarket, ...] = DEFAULT_MARKETS,
        balances: dict[str, Decimal] | None = None,
        demo: bool = False,
        core: ReplicaCore | None = None,
        clock: Clock = wall_clock_ms,
    ) -> None:
        self.markets = {m.info.symbol: m for m in markets}
        self._spot_ids = {m.market_id: m for m in markets if m.spot}
        self._mix_ids = {m.market_id: m for m in markets if not m.spot}
        self.demo = demo
        self.hedge_mode = False  # USDT-FUTURES position mode: one_way_mode until switched
        core = core or ReplicaCore(
            [m.info for m in markets],
            balances if balances is not None else DEFAULT_BALANCES,
            {m.info.symbol: m.start_price for m in markets},
            order_id=lambda seq, _symbol: str(FIRST_ORDER_ID + seq),
            clock=clock,
        )
        super().__init__(core, credentials or Credentials(TEST_API_KEY, TEST_API_SECRET, TEST_PASSPHRASE))
        self._meta: dict[str, OrderMeta] = {}  # clientOid (the core's client id) → venue bookkeeping
        self._fills: dict[str, list[FillInfo]] = {}
        self._oid_seq = 0

    # ---------------------------------------------------------------- routes

    def add_routes(self, app: web.Application) -> None:
        r = app.router
        p = "/api/v2"
        r.add_get(f"{p}/public/time", self._public(lambda _q: {"serverTime": str(self.core.now_ms())}))
        r.add_get(f"{p}/spot/public/coins", self._public(lambda _q: [coin(a) for a in self.core.sim.assets]))
        r.add_get(f"{p}/spot/public/symbols", self._public(self._spot_symbols))
        r.add_get(f"{p}/margin/currencies", self._public(lambda _q: []))
        r.add_get(f"{p}/mix/market/contracts", self._public(self._contracts))
        r.add_get(f"{p}/spot/market/tickers", self._public(self._spot_tickers))
        r.add_get(f"{p}/mix/market/ticker", self._public(self._mix_ticker))
        r.add_get(f"{p}/spot/market/candles", self._public(self._spot_candles))
        r.add_get(f"{p}/mix/market/candles", self._public(self._mix_candles))
        r.add_get("/api/v3/account/settings", self._private(self._uta_settings))
        r.add_get(f"{p}/spot/account/assets", self._private(self._spot_assets))
        r.add_get(f"{p}/mix/account/accounts", self._private(self._mix_accounts))
        r.add_get(f"{p}/mix/position/all-position", self._private(self._positions))
        r.add_post(f"{p}/mix/account/set-leverage", self._private(self._set_leverage))
        r.add_post(f"{p}/mix/account/set-position-mode", self._private(self._set_position_mode))
        r.add_post(f"{p}/spot/trade/place-order", self._private(self._spot_place))
        r.add_post(f"{p}/mix/order/place-order", self._private(self._mix_place))
        r.add_post(f"{p}/spot/trade/cancel-order", self._private(self._spot_cancel))
        r.add_post(f"{p}/mix/order/cancel-order", self._private(self._mix_cancel))
        r.add_post(f"{p}/spot/trade/cancel-symbol-order", self._private(self._spot_cancel_symbol))
        r.add_post(f"{p}/mix/order/batch-cancel-orders", self._private(self._mix_batch_cancel))
        r.add_get(f"{p}/spot/trade/orderInfo", self._private(self._spot_order_info))
        r.add_get(f"{p}/mix/order/detail", self._private(self._mix_detail))
        r.add_get(f"{p}/spot/trade/unfilled-orders", self._private(self._spot_unfilled))
        r.add_get(f"{p}/mix/order/orders-pending", self._private(self._mix_pending))
        r.add_get(f"{p}/spot/trade/fills", self._private(self._spot_fills))
        r.add_get(f"{p}/mix/order/fills", self._private(self._mix_fills))
        for path, endpoint in streams.ENDPOINTS.items():
            r.add_get(path, self._stream_route(endpoint))

    def market_type_of(self, symbol: str) -> MarketType:
        return self.markets[symbol].info.market_type

    # ---------------------------------------------------------------- plumbing

    def _json(self, payload: Any, status: int = 200) -> web.Response:
        return web.json_response(payload, status=status, dumps=_dumps)

    def _envelope(self, data: Any) -> dict[str, Any]:
        return {"code": "00000", "msg": "success", "requestTime": self.core.now_ms(), "data": data}

    def _error(self, error: BitgetError) -> web.Response:
        body = {"code": error.code, "msg": error.msg, "requestTime": self.core.now_ms(), "data": None}
        return self._json(body, error.status)

    def fault_response(self, fault: RequestFault) -> web.Response:
        if fault.kind is FaultKind.RATE_LIMIT:
            return self._error(errors.TOO_MANY_REQUESTS)
        if fault.gateway:
            return web.Response(
                status=fault.status,
                text=f"<html><head><title>{fault.status} Bad Gateway</title></head></html>",
                content_type="text/html",
            )
        return self._error(BitgetError(fault.status, errors.SYSTEM_ERROR.code, errors.SYSTEM_ERROR.msg))

    def _public(self, fn: Callable[[Params], Any]) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            try:
                return self._json(self._envelope(fn(dict(request.query))))
            except BitgetError as error:
                return self._error(error)

        return handler

    def _private(self, fn: Callable[[Any], Any]) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            body = await request.text()
            try:
                auth.verify_rest(
                    request.headers,
                    method=request.method,
                    path=request.path,
                    raw_query=request.rel_url.raw_query_string,
                    body=body,
                    credentials=self.credentials,
                    now_ms=self.core.now_ms(),
                    demo=self.demo,
                )
                params: Any = dict(request.query)
                if request.method == "POST":
                    try:
                        params = json.loads(body) if body else {}
                    except json.JSONDecodeError:
                        raise errors.PARAMETER_FAILED from None
                    if not isinstance(params, dict):
                        raise errors.PARAMETER_FAILED
                result = fn(params)
            except BitgetError as error:
                return self._error(error)
            if isinstance(result, _Ack):
                return await self.acknowledge(request, self._json(self._envelope(result.body)))
            return self._json(self._envelope(result))

        return handler

    def _spot_market(self, params: dict[str, Any]) -> BitgetMarket:
        symbol = str(params.get("symbol", ""))
        if not symbol:
            raise errors.empty("symbol")
        market = self._spot_ids.get(symbol)
        if market is None:
            raise errors.symbol_missing(symbol)
        return market

    def _mix_market(self, params: dict[str, Any], *, required: bool = True) -> BitgetMarket | None:
        if str(params.get("productType", "")).upper() != PRODUCT_TYPE:
            raise errors.invalid("productType")
        symbol = str(params.get("symbol", ""))
        if not symbol:
            if required:
                raise errors.empty("symbol")
            return None
        market = self._mix_ids.get(symbol.upper())
        if market is None:
            raise errors.symbol_missing(symbol)
        return market

    def _required_mix(self, params: dict[str, Any]) -> BitgetMarket:
        market = self._mix_market(params)
        assert market is not None
        return market

    # ---------------------------------------------------------------- market data

    def _spot_symbols(self, query: Params) -> Any:
        markets = [self._spot_market(query)] if query.get("symbol") else list(self._spot_ids.values())
        return [spot_symbol(m) for m in markets]

    def _contracts(self, query: Params) -> Any:
        product = query.get("productType", "").upper()
        if product not in PRODUCT_TYPES:
            raise errors.invalid("productType")
        return [mix_contract(m) for m in self._mix_ids.values()] if product == PRODUCT_TYPE else []

    def _ticker_of(self, market: BitgetMarket, ws: bool) -> dict[str, Any]:
        symbol = market.info.symbol
        day = self.core.klines(symbol, KlineInterval.H1, 24)
        return payloads.ticker(market, self.core.ticker(symbol), day, ws)

    def _spot_tickers(self, query: Params) -> Any:
        markets = [self._spot_market(query)] if query.get("symbol") else list(self._spot_ids.values())
        return [self._ticker_of(m, ws=False) for m in markets]

    def _mix_ticker(self, query: Params) -> Any:
        return [self._ticker_of(self._required_mix(query), ws=False)]

    def _candles(self, market: BitgetMarket, query: Params, granularities: dict[str, KlineInterval]) -> Any:
        interval = granularities.get(query.get("granularity", ""))
        if interval is None:
            raise errors.invalid("granularity")
        limit_text = query.get("limit", "100")
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= 1000:
            raise errors.invalid("limit")
        start = int(query.get("startTime", "0"))
        end = int(query.get("endTime", str(2**62)))
        rows = [
            k for k in self.core.klines(market.info.symbol, interval, 1_500) if start <= k.open_time_ms <= end
        ]
        return [payloads.candle(k) for k in rows[-int(limit_text) :]]

    def _spot_candles(self, query: Params) -> Any:
        return self._candles(self._spot_market(query), query, SPOT_GRANULARITY)

    def _mix_candles(self, query: Params) -> Any:
        return self._candles(self._required_mix(query), query, MIX_GRANULARITY)

    # ---------------------------------------------------------------- account

    def _uta_settings(self, _query: Params) -> Any:
        raise errors.NOT_UNIFIED

    def _spot_assets(self, query: Params) -> Any:
        wanted = query.get("coin")
        now = self.core.now_ms()
        return [payloads.spot_asset(b, now) for b in self.core.balances() if not wanted or b.asset == wanted]

    def _mix_accounts(self, query: Params) -> Any:
        if query.get("productType", "").upper() != PRODUCT_TYPE:
            raise errors.invalid("productType")
        upl = sum((p.unrealized_pnl for p in self.core.positions()), ZERO)
        return [payloads.mix_account(self.core.sim.balance("USDT"), upl)]

    def _positions(self, query: Params) -> Any:
        if query.get("productType", "").upper() != PRODUCT_TYPE:
            raise errors.invalid("productType")
        now = self.core.now_ms()
        return [
            payloads.position(p, self.markets[p.symbol], self.core.ticker(p.symbol).last, now)
            for p in self.core.positions()
            if p.quantity != 0
        ]

    def _set_leverage(self, body: dict[str, Any]) -> Any:
        market = self._required_mix(body)
        if str(body.get("marginCoin", "")).upper() != market.info.settle:
            raise errors.invalid("marginCoin")
        try:
            leverage = Decimal(str(body.get("leverage", "")))
        except InvalidOperation:
            raise errors.invalid("leverage") from None
        if not leverage.is_finite() or leverage != leverage.to_integral_value() or leverage < 1:
            raise errors.invalid("leverage")
        if leverage > market.leverage_max:
            raise errors.LEVERAGE_TOO_HIGH
        try:
            self.core.set_leverage(market.info.symbol, leverage)
        except InsufficientMargin:
            raise errors.INSUFFICIENT_MIX from None
        text = payloads.s(leverage)
        return {
            "symbol": market.market_id,
            "marginCoin": market.info.settle,
            "longLeverage": text,
            "shortLeverage": text,
            "crossMarginLeverage": text,
            "marginMode": "crossed",
        }

    # ---------------------------------------------------------------- orders

    def _oid(self, body: dict[str, Any]) -> str:
        given = client_oid(body)
        if given:
            if self.core.client_id_in_use(given, open_only=False):
                raise errors.DUPLICATE_CLIENT_OID
            return given
        self._oid_seq += 1
        return str(FIRST_CLIENT_OID + self._oid_seq)

    def _place(self, entry: Entry, market: BitgetMarket) -> _Ack:
        request = entry.request
        if not market.spot:
            refusal = reduce_only_refusal(self.core.positions(market.info.symbol)[0].quantity, request)
            if refusal is not None:
                raise refusal
        self._meta[request.client_order_id] = entry.meta
        try:
            order = self.core.place(request)
        except PostOnlyWouldCross:
            order = self._post_only_cancelled(request)
        except ServiceError as error:
            del self._meta[request.client_order_id]
            raise self._refusal(error, market) from None
        return _Ack({"orderId": order.venue_id, "clientOid": request.client_order_id})

    def _post_only_cancelled(self, request: Any) -> VenueOrder:
        now = self.core.now_ms()
        info = OrderInfo(
            client_order_id=request.client_order_id,
            order_id="",
            symbol=request.symbol,
            side=request.side,
            type=request.type,
            time_in_force=request.time_in_force,
            post_only=True,
            reduce_only=request.reduce_only,
            price=request.price,
            quantity=request.quantity,
            filled_quantity=ZERO,
            average_fill_price=None,
            status=OrderStatus.CANCELED,
            created_ms=now,
            updated_ms=now,
            status_detail="post_only order would take liquidity",
        )
        return self.core.record_local(info, "post_only_cancel")

    def _refusal(self, error: ServiceError, market: BitgetMarket) -> BitgetError:
        match error:
            case DuplicateClientOrderId():
                return errors.DUPLICATE_CLIENT_OID
            case InsufficientMargin():
                return errors.INSUFFICIENT_SPOT if market.spot else errors.INSUFFICIENT_MIX
            case MinNotional():
                return errors.below_min_amount(payloads.s(market.info.min_notional), market.info.quote)
            case ReduceOnlyRejected():
                return errors.NO_POSITION
        return BitgetError(400, "40017", f"Parameter verification failed: {error.message}")

    def _spot_place(self, body: dict[str, Any]) -> _Ack:
        market = self._spot_market(body)
        entry = parse_spot(
            body, market, oid=self._oid(body), best_ask=self.core.ticker(market.info.symbol).ask
        )
        return self._place(entry, market)

    def _set_position_mode(self, body: dict[str, Any]) -> Any:
        """POST /api/v2/mix/account/set-position-mode {productType, posMode}."""
        if str(body.get("productType", "")).upper() != PRODUCT_TYPE:
            raise errors.invalid("productType")
        mode = str(body.get("posMode", ""))
        if mode not in ("one_way_mode", "hedge_mode"):
            raise errors.invalid("posMode")
        self.hedge_mode = mode == "hedge_mode"
        return {"posMode": mode}

    def _mix_place(self, body: dict[str, Any]) -> _Ack:
        market = self._required_mix(body)
        if self.hedge_mode:
            raise BitgetError(400, "40017", "hedge-mode positions are not modelled by this replica")
        entry = parse_mix(body, market, oid=self._oid(body))
        return self._place(entry, market)

    def _find(self, market: BitgetMarket, params: dict[str, Any]) -> VenueOrder | None:
        order_id = str(params.get("orderId", "") or "")
        oid = str(params.get("clientOid", "") or "")
        if not order_id and not oid:
            raise errors.empty("orderId")
        if order_id:
            return self.core.find(market.info.symbol, venue_id=order_id)
        return self.core.find(market.info.symbol, client_order_id=oid)

    def _spot_payload(self, order: VenueOrder) -> dict[str, Any]:
        market = self.markets[order.info.symbol]
        meta = self._meta[order.info.client_order_id]
        return payloads.spot_order_info(order, meta, market, self._fills.get(order.venue_id, []))

    def _mix_payload(self, order: VenueOrder, key: str = "state") -> dict[str, Any]:
        market = self.markets[order.info.symbol]
        meta = self._meta[order.info.client_order_id]
        leverage = self.core.leverage(order.info.symbol)
        return payloads.mix_order(order, meta, market, self._fills.get(order.venue_id, []), leverage, key=key)

    def _spot_order_info(self, query: Params) -> Any:
        order_id = query.get("orderId", "")
        oid = query.get("clientOid", "")
        if not order_id and not oid:
            raise errors.empty("orderId")
        for market in self._spot_ids.values():
            order = self._find(market, query)
            if order is not None:
                return [self._spot_payload(order)]
        return []

    def _mix_detail(self, query: Params) -> Any:
        order = self._find(self._required_mix(query), query)
        if order is None:
            raise errors.ORDER_NOT_FOUND_MIX
        return self._mix_payload(order)

    def _spot_unfilled(self, query: Params) -> Any:
        markets = [self._spot_market(query)] if query.get("symbol") else list(self._spot_ids.values())
        orders = [o for m in markets for o in self.core.open_orders(m.info.symbol)]
        orders.reverse()
        return [
            payloads.spot_open_order(o, self._meta[o.info.client_order_id], self.markets[o.info.symbol])
            for o in orders
        ]

    def _mix_pending(self, query: Params) -> Any:
        market = self._mix_market(query, required=False)
        markets = [market] if market is not None else list(self._mix_ids.values())
        orders = [o for m in markets for o in self.core.open_orders(m.info.symbol)]
        orders.reverse()
        entries = [self._mix_payload(o, key="status") for o in orders]
        return {"entrustedList": entries, "endId": entries[-1]["orderId"] if entries else None}

    def _spot_cancel(self, body: dict[str, Any]) -> Any:
        market = self._spot_market(body)
        order = self._find(market, body)
        if order is None or order.info.status.is_terminal:
            raise errors.ORDER_NOT_FOUND_SPOT
        canceled = self.core.cancel(market.info.symbol, venue_id=order.venue_id)
        return {"orderId": canceled.venue_id, "clientOid": canceled.info.client_order_id}

    def _mix_cancel(self, body: dict[str, Any]) -> Any:
        market = self._required_mix(body)
        order = self._find(market, body)
        if order is None or order.info.status.is_terminal:
            raise errors.ORDER_NOT_FOUND_MIX
        canceled = self.core.cancel(market.info.symbol, venue_id=order.venue_id)
        return {"orderId": canceled.venue_id, "clientOid": canceled.info.client_order_id}

    def _spot_cancel_symbol(self, body: dict[str, Any]) -> Any:
        market = self._spot_market(body)
        self.core.cancel_all(market.info.symbol)
        return {"symbol": market.market_id}

    def _mix_batch_cancel(self, body: dict[str, Any]) -> Any:
        market = self._mix_market(body, required=False)
        if str(body.get("marginCoin", "USDT")).upper() != "USDT":
            raise errors.invalid("marginCoin")
        wanted = body.get("orderIdList")
        success: list[dict[str, str]] = []
        failure: list[dict[str, str]] = []
        if isinstance(wanted, list) and wanted:
            if market is None:
                raise errors.empty("symbol")
            for item in wanted:
                order = self._find(market, item if isinstance(item, dict) else {})
                if order is None or order.info.status.is_terminal:
                    failure.append(
                        {
                            "orderId": str(item.get("orderId", "")),
                            "clientOid": str(item.get("clientOid", "")),
                            "errorMsg": errors.ORDER_NOT_FOUND_MIX.msg,
                            "errorCode": errors.ORDER_NOT_FOUND_MIX.code,
                        }
                    )
                    continue
                canceled = self.core.cancel(market.info.symbol, venue_id=order.venue_id)
                success.append({"orderId": canceled.venue_id, "clientOid": canceled.info.client_order_id})
        else:
            markets = [market] if market is not None else list(self._mix_ids.values())
            for m in markets:
                for canceled in self.core.cancel_all(m.info.symbol):
                    success.append({"orderId": canceled.venue_id, "clientOid": canceled.info.client_order_id})
        return {"successList": success, "failureList": failure}

    def _fills_of(self, market: BitgetMarket, query: Params) -> list[FillInfo]:
        start = int(query.get("startTime", "0"))
        end = int(query.get("endTime", str(2**62)))
        fills = [
            f
            for f in self.core.fills(market.info.symbol)
            if start <= f.time_ms <= end and (not query.get("orderId") or f.order_id == query["orderId"])
        ]
        fills.reverse()
        limit = int(query["limit"]) if query.get("limit", "").isdigit() else 100
        return fills[:limit]

    def _spot_fills(self, query: Params) -> Any:
        market = self._spot_market(query)
        return [payloads.spot_fill(f, market) for f in self._fills_of(market, query)]

    def _mix_fills(self, query: Params) -> Any:
        market = self._mix_market(query, required=False)
        markets = [market] if market is not None else list(self._mix_ids.values())
        fills = [payloads.mix_fill(f, m) for m in markets for f in self._fills_of(m, query)]
        return {"fillList": fills, "endId": fills[-1]["tradeId"] if fills else None}

    # ---------------------------------------------------------------- streams

    def _stream_route(self, endpoint: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def route(request: web.Request) -> web.StreamResponse:
            return await self.websocket(request, endpoint, self._on_message, self._on_open)

        return route

    async def _on_open(self, session: WsSession) -> bool:
        session.state["topics"] = {}
        return True

    def _ids_by_type(self) -> dict[str, set[str]]:
        return {"SPOT": set(self._spot_ids), PRODUCT_TYPE: set(self._mix_ids)}

    async def _on_message(self, session: WsSession, text: str) -> None:
        if text == "ping":
            session.send_text("pong")
            return
        message = _loads(text)
        if not isinstance(message, dict):
            session.send(streams.error_event(errors.WS_PARAM_ERROR))
            return
        op = message.get("op")
        args = message.get("args")
        try:
            if op == "login":
                auth.verify_ws_login(args, self.credentials, self.core.now_ms())
                session.authenticated = True
                session.send({"event": "login", "code": 0, "msg": ""})
                return
            if op not in ("subscribe", "unsubscribe") or not isinstance(args, list) or not args:
                raise errors.WS_PARAM_ERROR
        except WsError as error:
            session.send(streams.error_event(error))
            return
        for arg in args:
            try:
                self._subscribe(session, arg, subscribe=op == "subscribe")
            except WsError as error:
                session.send(streams.error_event(error, arg if isinstance(arg, dict) else None))

    def _subscribe(self, session: WsSession, arg: object, *, subscribe: bool) -> None:
        topic = streams.parse_arg(session.channel, arg, self._ids_by_type())
        if session.channel == streams.PRIVATE and not session.authenticated:
            raise errors.WS_NOT_LOGGED_IN
        topics: dict[str, streams.Topic] = session.state["topics"]
        if not subscribe:
            topics.pop(topic.key, None)
            session.send({"event": "unsubscribe", "arg": topic.arg})
            return
        topics[topic.key] = topic
        session.send({"event": "subscribe", "arg": topic.arg})
        now = self.core.now_ms()
        if topic.channel == "ticker":
            market = self._market_of(topic.inst_type, topic.inst_id)
            session.send(streams.push(topic, [self._ticker_of(market, ws=True)], now))
        elif topic.channel.startswith("candle"):
            market = self._market_of(topic.inst_type, topic.inst_id)
            interval = streams.BARS[topic.channel.removeprefix("candle")]
            current = self.core.klines(market.info.symbol, interval, 1)
            session.send(streams.push(topic, [payloads.candle(k) for k in current], now))

    def _market_of(self, inst_type: str, inst_id: str) -> BitgetMarket:
        return (self._spot_ids if inst_type == "SPOT" else self._mix_ids)[inst_id]

    def _targets(self, endpoint: str, keys: tuple[str, ...]) -> list[tuple[WsSession, streams.Topic]]:
        found = []
        for session in self.sessions(endpoint):
            if endpoint == streams.PRIVATE and not session.authenticated:
                continue
            topics = session.state.get("topics", {})
            for key in keys:
                if key in topics:
                    found.append((session, topics[key]))
                    break
        return found

    def public_ready(self, symbol: str, stream: StreamKind) -> bool:
        market = self.markets[symbol]
        channel = {"ticker": "ticker", "kline": "candle1m"}.get(stream)
        if channel is None:
            return False
        return bool(
            self._targets(streams.PUBLIC, (streams.topic_key(market.inst_type, channel, market.market_id),))
        )

    def private_ready(self, market_type: MarketType, streams_wanted: frozenset[StreamKind]) -> bool:
        inst_type = "SPOT" if market_type is MarketType.SPOT else PRODUCT_TYPE
        channels = {"orders": "orders", "trades": "fill"}
        for stream in streams_wanted:
            channel = channels.get(stream)
            if channel is None:
                return False
            prefix = f"{inst_type}|{channel}|"
            if not any(
                s.authenticated and any(k.startswith(prefix) for k in s.state.get("topics", {}))
                for s in self.sessions(streams.PRIVATE)
            ):
                return False
        return True

    def before_shutdown(self, session: WsSession) -> None:
        """Bitget closes a stream without a farewell message."""

    # ---------------------------------------------------------------- core events

    def on_order_update(self, update: OrderUpdate) -> None:
        order = update.order
        if update.fill is not None:
            self._fills.setdefault(order.venue_id, []).append(update.fill)
        meta = self._meta.get(order.info.client_order_id)
        if meta is None:
            return
        market = self.markets[order.info.symbol]
        inst_type = market.inst_type
        now = self.core.now_ms()
        keys = (
            streams.topic_key(inst_type, "orders", market.market_id),
            streams.topic_key(inst_type, "orders", streams.DEFAULT),
        )
        targets = self._targets(streams.PRIVATE, keys)
        if targets:
            leverage = self.core.leverage(order.info.symbol)
            item = payloads.ws_order(
                order, meta, market, self._fills.get(order.venue_id, []), update.fill, leverage
            )
            for session, topic in targets:
                session.send(streams.push(topic, [item], now))
        if update.fill is None:
            return
        keys = (
            streams.topic_key(inst_type, "fill", market.market_id),
            streams.topic_key(inst_type, "fill", streams.DEFAULT),
        )
        fill_item = payloads.ws_fill(update.fill, market)
        for session, topic in self._targets(streams.PRIVATE, keys):
            session.send(streams.push(topic, [fill_item], now))

    def on_ticker(self, ticker: TickerInfo) -> None:
        market = self.markets[ticker.symbol]
        key = streams.topic_key(market.inst_type, "ticker", market.market_id)
        targets = self._targets(streams.PUBLIC, (key,))
        if targets:
            data = [self._ticker_of(market, ws=True)]
            for session, topic in targets:
                session.send(streams.push(topic, data, self.core.now_ms()))

    def on_kline(self, kline: KlineInfo) -> None:
        bar = streams.BAR_OF.get(kline.interval)
        if bar is None:
            return
        market = self.markets[kline.symbol]
        key = streams.topic_key(market.inst_type, f"candle{bar}", market.market_id)
        for session, topic in self._targets(streams.PUBLIC, (key,)):
            session.send(streams.push(topic, [payloads.candle(kline)], self.core.now_ms(), action="update"))


def _dumps(payload: Any) -> str:
    return json.dumps(payload, separators=(",", ":"))


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None
