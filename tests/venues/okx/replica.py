"""OKX v5 replica (unified trading account, single-currency margin, net position mode):
REST under /api/v5, WebSocket /ws/v5/public, /ws/v5/business and /ws/v5/private.

Behaviours taken from the v5 documentation:
- An order is answered per item (sCode / sMsg); ccxt places through
  /trade/batch-orders by default, /trade/order is served too.
- A post_only order that would take liquidity is accepted (sCode 0, an ordId) and
  cancelled at once with cancelSource "31" ("The post-only order will take liquidity
  in maker orders"): it is not an error on the wire.
- clOrdId is unique per account: reusing one answers sCode 51016 "Duplicated clOrdId".
- OKX has no cancel-all for SPOT / SWAP (ccxt `has['cancelAllOrders']` is False):
  /trade/cancel-batch-orders cancels up to 20 orders.
- Demo trading (`demo=True`): every private request must carry x-simulated-trading: 1
  (50101 otherwise); live keys are refused with the header.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from aiohttp import web

from opensqt_common.decimals import ZERO
from opensqt_common.enums import MarketType, OrderStatus, Side, Venue
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
from .errors import ItemError, OkxError, WsError
from .markets import DEFAULT_MARKETS, OkxMarket, currency_entries, instrument
from .orders import Entry, parse_item, reduce_only_refusal
from .payloads import OrderMeta

Handler = Callable[[web.Request], Awaitable[web.Response]]
Params = dict[str, str]

FIRST_ORDER_ID = 2_657_625_147_249_000_000
DEFAULT_BALANCES = {"USDT": Decimal(100_000), "BTC": Decimal(1), "ETH": Decimal(10)}
UID = "44705892343619584"
MAX_BATCH = 20
# Test keys shaped like OKX's: a UUID key, a 32-hex secret, a user-chosen passphrase.
TEST_API_KEY = "6b9ad766-b55d-4e1c-9ad1-3f0d5e7c2a91"
TEST_API_SECRET = "A1F3C5E7092B4D6F8A0C2E4B6D8F0A1C"
TEST_PASSPHRASE = "Replica-Pass1"


def _order_id(seq: int, _symbol: str) -> str:
    return str(FIRST_ORDER_ID + seq)


@dataclass(frozen=True, slots=True)
class _Ack:
    """The answer of an order placement: delivered through the ack faults."""

    body: dict[str, Any]


class OkxReplica(VenueReplica):
    venue: ClassVar[Venue] = Venue.OKX
    shutdown_close_code: ClassVar[int] = 1001

    def __init__(
        self,
        *,
        credentials: Credentials | None = None,
        markets: tuple[OkxMarket, ...] = DEFAULT_MARKETS,
        balances: dict[str, Decimal] | None = None,
        demo: bool = False,
        core: ReplicaCore | None = None,
        clock: Clock = wall_clock_ms,
    ) -> None:
        self.markets = {m.info.symbol: m for m in markets}
        self._by_inst = {m.inst_id: m for m in markets}
        self.demo = demo
        core = core or ReplicaCore(
            [m.info for m in markets],
            balances if balances is not None else DEFAULT_BALANCES,
            {m.info.symbol: m.start_price for m in markets},
            order_id=_order_id,
            clock=clock,
        )
        super().__init__(core, credentials or Credentials(TEST_API_KEY, TEST_API_SECRET, TEST_PASSPHRASE))
        self._meta: dict[str, OrderMeta] = {}  # core client order id → venue bookkeeping
        self._fills: dict[str, list[FillInfo]] = {}  # venue order id → its fills
        self._internal_seq = 0

    # ---------------------------------------------------------------- routes

    def add_routes(self, app: web.Application) -> None:
        r = app.router
        p = "/api/v5"
        r.add_get(f"{p}/public/time", self._public(lambda _q: [{"ts": str(self.core.now_ms())}]))
        r.add_get(f"{p}/public/instruments", self._public(self._instruments))
        r.add_get(f"{p}/market/ticker", self._public(self._ticker))
        r.add_get(f"{p}/market/tickers", self._public(self._tickers))
        r.add_get(f"{p}/market/candles", self._public(self._candles))
        r.add_get(f"{p}/market/history-candles", self._public(self._candles))
        r.add_get(f"{p}/asset/currencies", self._private(lambda _q: currency_entries(self.core.sim.assets)))
        r.add_get(f"{p}/account/config", self._private(self._account_config))
        r.add_get(f"{p}/account/balance", self._private(self._balance))
        r.add_get(f"{p}/account/positions", self._private(self._positions))
        r.add_post(f"{p}/account/set-leverage", self._private(self._set_leverage))
        r.add_post(f"{p}/trade/order", self._private(self._place_single))
        r.add_post(f"{p}/trade/batch-orders", self._private(self._place_batch))
        r.add_post(f"{p}/trade/cancel-order", self._private(self._cancel_single))
        r.add_post(f"{p}/trade/cancel-batch-orders", self._private(self._cancel_batch))
        r.add_get(f"{p}/trade/order", self._private(self._order))
        r.add_get(f"{p}/trade/orders-pending", self._private(self._orders_pending))
        r.add_get(f"{p}/trade/fills", self._private(self._fills_history))
        r.add_get(f"{p}/trade/fills-history", self._private(self._fills_history))
        for path, endpoint in streams.ENDPOINTS.items():
            r.add_get(path, self._stream_route(endpoint))

    def market_type_of(self, symbol: str) -> MarketType:
        return self.markets[symbol].info.market_type

    # ---------------------------------------------------------------- plumbing

    def _json(self, payload: Any, status: int = 200) -> web.Response:
        return web.json_response(payload, status=status, dumps=_dumps)

    def _error(self, error: OkxError) -> web.Response:
        return self._json(error.body(), error.status)

    def fault_response(self, fault: RequestFault) -> web.Response:
        if fault.kind is FaultKind.RATE_LIMIT:
            return self._error(errors.TOO_MANY_REQUESTS)
        if fault.gateway:
            return web.Response(
                status=fault.status,
                text=f"<html><head><title>{fault.status} Service Unavailable</title></head></html>",
                content_type="text/html",
            )
        return self._json(errors.SYSTEM_ERROR.body(), fault.status)

    def _envelope(self, data: Any) -> dict[str, Any]:
        return {"code": "0", "msg": "", "data": data}

    def _public(self, fn: Callable[[Params], Any]) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            try:
                return self._json(self._envelope(fn(dict(request.query))))
            except OkxError as error:
                return self._error(error)

        return handler

    def _private(self, fn: Callable[[Any], Any]) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            body = await request.text()
            try:
                auth.verify_rest(
                    request.headers,
                    method=request.method,
                    request_path=request.raw_path,
                    body=body,
                    credentials=self.credentials,
                    now_ms=self.core.now_ms(),
                    demo=self.demo,
                )
                params: Any = dict(request.query)
                if request.method == "POST":
                    if not body:
                        raise errors.EMPTY_BODY
                    try:
                        params = json.loads(body)
                    except json.JSONDecodeError:
                        raise errors.EMPTY_BODY from None
                result = fn(params)
            except OkxError as error:
                return self._error(error)
            if isinstance(result, _Ack):
                return await self.acknowledge(request, self._json(result.body))
            if isinstance(result, dict) and "code" in result:
                return self._json(result)
            return self._json(self._envelope(result))

        return handler

    def _market(self, inst_id: str) -> OkxMarket:
        if not inst_id:
            raise errors.param_empty("instId")
        market = self._by_inst.get(inst_id)
        if market is None:
            raise errors.instrument_missing()
        return market

    def _markets_of(self, inst_type: str) -> list[OkxMarket]:
        return [m for m in self.markets.values() if m.inst_type == inst_type]

    # ---------------------------------------------------------------- market data

    def _instruments(self, query: Params) -> Any:
        inst_type = query.get("instType", "")
        if inst_type not in ("SPOT", "MARGIN", "SWAP", "FUTURES", "OPTION"):
            raise errors.param_error("instType")
        if inst_type == "OPTION" and not (query.get("uly") or query.get("instFamily")):
            raise errors.param_empty("uly")
        markets = self._markets_of(inst_type)
        if "instId" in query:
            markets = [m for m in markets if m.inst_id == query["instId"]]
        return [instrument(m) for m in markets]

    def _ticker_of(self, market: OkxMarket) -> dict[str, Any]:
        symbol = market.info.symbol
        day = self.core.klines(symbol, KlineInterval.H1, 24)
        return payloads.ticker(market, self.core.ticker(symbol), day)

    def _ticker(self, query: Params) -> Any:
        return [self._ticker_of(self._market(query.get("instId", "")))]

    def _tickers(self, query: Params) -> Any:
        return [self._ticker_of(m) for m in self._markets_of(query.get("instType", ""))]

    def _candles(self, query: Params) -> Any:
        market = self._market(query.get("instId", ""))
        interval = streams.BARS.get(query.get("bar", "1m"))
        if interval is None:
            raise errors.param_error("bar")
        limit_text = query.get("limit", "100")
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= 300:
            raise errors.param_error("limit")
        rows = self.core.klines(market.info.symbol, interval, 1_500)
        after = int(query.get("after", str(2**62)))  # older than this timestamp
        before = int(query.get("before", "0"))  # newer than this timestamp
        chosen = [k for k in rows if before < k.open_time_ms < after]
        chosen.reverse()  # newest first, as OKX sends them
        if "before" in query and "after" not in query:
            chosen = chosen[-int(limit_text) :]
        else:
            chosen = chosen[: int(limit_text)]
        return [payloads.candle(market, k) for k in chosen]

    # ---------------------------------------------------------------- account

    def _account_config(self, _query: Params) -> Any:
        return [
            {
                "uid": UID,
                "mainUid": UID,
                "acctLv": "2",
                "posMode": "net_mode",
                "autoLoan": False,
                "ctIsoMode": "automatic",
                "mgnIsoMode": "automatic",
                "greeksType": "PA",
                "level": "Lv1",
                "levelTmp": "",
                "perm": "read_only,trade",
                "ip": "",
                "label": "replica",
                "roleType": "0",
                "spotRoleType": "0",
                "traderInsts": [],
                "spotTraderInsts": [],
                "kycLv": "2",
                "acctStpMode": "cancel_maker",
                "type": "0",
                "settleCcy": "USDT",
                "settleCcyList": ["USDT"],
            }
        ]

    def _balance(self, query: Params) -> Any:
        wanted = {c for c in query.get("ccy", "").split(",") if c}
        now = self.core.now_ms()
        upl: dict[str, Decimal] = {}
        for position in self.core.positions():
            settle = self.markets[position.symbol].info.settle
            upl[settle] = upl.get(settle, ZERO) + position.unrealized_pnl
        details = [
            payloads.balance_detail(b, upl.get(b.asset, ZERO), now)
            for b in self.core.balances()
            if not wanted or b.asset in wanted
        ]
        total = sum((b.total for b in self.core.balances() if b.asset == "USDT"), ZERO)
        return [
            {
                "adjEq": "",
                "borrowFroz": "",
                "details": details,
                "imr": "",
                "isoEq": "0",
                "mgnRatio": "",
                "mmr": "",
                "notionalUsd": "",
                "ordFroz": "",
                "totalEq": payloads.s(total),
                "uTime": str(now),
                "upl": payloads.s(sum(upl.values(), ZERO)),
            }
        ]

    def _positions(self, query: Params) -> Any:
        inst_type = query.get("instType", "")
        if inst_type not in ("", "SWAP", "MARGIN", "FUTURES", "OPTION"):
            raise errors.param_error("instType")
        wanted = {i for i in query.get("instId", "").split(",") if i}
        now = self.core.now_ms()
        result = []
        for position in self.core.positions():
            market = self.markets[position.symbol]
            if position.quantity == 0 or (wanted and market.inst_id not in wanted):
                continue
            mark = self.core.ticker(position.symbol).last
            result.append(payloads.position(position, market, mark, now))
        return result

    def _set_leverage(self, body: Any) -> Any:
        if not isinstance(body, dict):
            raise errors.param_error("instId")
        market = self._market(str(body.get("instId", "")))
        mode = str(body.get("mgnMode", ""))
        if mode not in ("cross", "isolated"):
            raise errors.param_error("mgnMode")
        if market.spot:
            raise errors.param_error("instId")
        try:
            lever = Decimal(str(body.get("lever", "")))
        except InvalidOperation:
            raise errors.param_error("lever") from None
        if not lever.is_finite() or lever != lever.to_integral_value() or lever < 1:
            raise errors.param_error("lever")
        if lever > market.info.max_leverage:
            raise errors.LEVERAGE_TOO_HIGH
        try:
            self.core.set_leverage(market.info.symbol, lever)
        except InsufficientMargin:
            raise errors.LEVERAGE_MARGIN from None
        return [{"lever": payloads.s(lever), "mgnMode": mode, "instId": market.inst_id, "posSide": "net"}]

    # ---------------------------------------------------------------- orders

    def _trade_answer(self, results: list[dict[str, Any]], batch: bool) -> dict[str, Any]:
        now = str(self.core.now_ms() * 1000)
        failed = sum(1 for r in results if r["sCode"] != "0")
        if failed == 0:
            code, msg = "0", ""
        elif failed == len(results):
            code, msg = "1", "All operations failed" if batch else "Operation failed."
        else:
            code, msg = "2", "Batch operation partially succeeded"
        return {"code": code, "msg": msg, "data": results, "inTime": now, "outTime": now}

    def _place_single(self, body: Any) -> _Ack:
        if not isinstance(body, dict):
            raise errors.param_error("body")
        return _Ack(self._trade_answer([self._place_item(body)], batch=False))

    def _place_batch(self, body: Any) -> _Ack:
        items = body if isinstance(body, list) else [body]
        if not items or len(items) > MAX_BATCH or not all(isinstance(i, dict) for i in items):
            raise errors.param_error("body")
        return _Ack(self._trade_answer([self._place_item(item) for item in items], batch=True))

    def _place_item(self, item: dict[str, Any]) -> dict[str, Any]:
        cl_ord_id = str(item.get("clOrdId", "") or "")
        tag = str(item.get("tag", "") or "")
        try:
            venue_id = self._place(item)
        except ItemError as error:
            return {
                "clOrdId": cl_ord_id,
                "ordId": "",
                "tag": tag,
                "ts": str(self.core.now_ms()),
                "sCode": error.s_code,
                "sMsg": error.s_msg,
            }
        return {
            "clOrdId": cl_ord_id,
            "ordId": venue_id,
            "tag": tag,
            "ts": str(self.core.now_ms()),
            "sCode": "0",
            "sMsg": "Order placed",
        }

    def _place(self, item: dict[str, Any]) -> str:
        market = self._by_inst.get(str(item.get("instId", "")))
        if market is None:
            raise errors.item_instrument_missing()
        symbol = market.info.symbol
        self._internal_seq += 1
        ticker = self.core.ticker(symbol)
        lever = self.core.leverage(symbol) if not market.spot else Decimal(1)
        entry: Entry = parse_item(
            item, market, internal_id=f"~{self._internal_seq}", best_ask=ticker.ask, lever=lever
        )
        request = entry.request
        if entry.meta.cl_ord_id and self.core.client_id_in_use(request.client_order_id, open_only=False):
            raise errors.DUPLICATE_CL_ORD_ID
        if not market.spot:
            refusal = reduce_only_refusal(self._position_quantity(symbol), request)
            if refusal is not None:
                raise refusal
        self._meta[request.client_order_id] = entry.meta
        try:
            return self.core.place(request).venue_id
        except PostOnlyWouldCross:
            now = self.core.now_ms()
            info = OrderInfo(
                client_order_id=request.client_order_id,
                order_id="",
                symbol=symbol,
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
                status_detail=payloads.CANCEL_SOURCE_REASON[payloads.CANCEL_POST_ONLY],
            )
            return self.core.record_local(info, payloads.CANCEL_POST_ONLY).venue_id
        except ServiceError as error:
            del self._meta[request.client_order_id]
            raise _item_error(error, market, request.side) from None

    def _position_quantity(self, symbol: str) -> Decimal:
        return self.core.positions(symbol)[0].quantity

    def _find(self, params: dict[str, Any]) -> tuple[OkxMarket, VenueOrder | None]:
        market = self._market(str(params.get("instId", "")))
        ord_id = str(params.get("ordId", "") or "")
        cl_ord_id = str(params.get("clOrdId", "") or "")
        if not ord_id and not cl_ord_id:
            raise OkxError(400, "51003", "Either client order ID or order ID is required.")
        if ord_id:
            return market, self.core.find(market.info.symbol, venue_id=ord_id)
        return market, self.core.find(market.info.symbol, client_order_id=cl_ord_id)

    def _order(self, query: Params) -> Any:
        market, order = self._find(query)
        if order is None:
            raise errors.ORDER_NOT_FOUND
        return [self._order_payload(order, market)]

    def _order_payload(self, order: VenueOrder, market: OkxMarket) -> dict[str, Any]:
        meta = self._meta[order.info.client_order_id]
        return payloads.order(order, meta, market, self._fills.get(order.venue_id, []))

    def _orders_pending(self, query: Params) -> Any:
        inst_type = query.get("instType", "")
        inst_id = query.get("instId", "")
        if inst_id:
            self._market(inst_id)
        orders = [
            o
            for o in self.core.open_orders()
            if (not inst_id or self.markets[o.info.symbol].inst_id == inst_id)
            and (not inst_type or self.markets[o.info.symbol].inst_type == inst_type)
            and (not query.get("ordType") or self._meta[o.info.client_order_id].ord_type in query["ordType"])
        ]
        orders.reverse()  # newest first
        limit = int(query.get("limit", "100")) if query.get("limit", "100").isdigit() else 100
        return [self._order_payload(o, self.markets[o.info.symbol]) for o in orders[: min(limit, 100)]]

    def _cancel_item(self, params: dict[str, Any]) -> dict[str, Any]:
        cl_ord_id = str(params.get("clOrdId", "") or "")
        now = str(self.core.now_ms())
        try:
            market, order = self._find(params)
            if order is None:
                raise errors.CANCEL_MISSING
            if order.info.status is OrderStatus.FILLED:
                raise errors.CANCEL_FILLED
            if order.info.status.is_terminal:
                raise errors.CANCEL_CANCELED
            canceled = self.core.cancel(market.info.symbol, venue_id=order.venue_id)
        except ItemError as error:
            return {
                "clOrdId": cl_ord_id,
                "ordId": str(params.get("ordId", "") or ""),
                "ts": now,
                "sCode": error.s_code,
                "sMsg": error.s_msg,
            }
        except OkxError as error:
            return {
                "clOrdId": cl_ord_id,
                "ordId": str(params.get("ordId", "") or ""),
                "ts": now,
                "sCode": error.code,
                "sMsg": error.msg,
            }
        meta = self._meta[canceled.info.client_order_id]
        return {"clOrdId": meta.cl_ord_id, "ordId": canceled.venue_id, "ts": now, "sCode": "0", "sMsg": ""}

    def _cancel_single(self, body: Any) -> Any:
        if not isinstance(body, dict):
            raise errors.param_error("body")
        return self._trade_answer([self._cancel_item(body)], batch=False)

    def _cancel_batch(self, body: Any) -> Any:
        items = body if isinstance(body, list) else [body]
        if not items or len(items) > MAX_BATCH or not all(isinstance(i, dict) for i in items):
            raise errors.param_error("body")
        return self._trade_answer([self._cancel_item(item) for item in items], batch=True)

    def _fills_history(self, query: Params) -> Any:
        inst_type = query.get("instType", "")
        if not inst_type and query.get("instId") is None:
            raise errors.param_empty("instType")
        inst_id = query.get("instId", "")
        if inst_id:
            self._market(inst_id)
        begin = int(query["begin"]) if query.get("begin", "").isdigit() else 0
        end = int(query["end"]) if query.get("end", "").isdigit() else 2**62
        fills = [
            f
            for f in self.core.fills()
            if (not inst_type or self.markets[f.symbol].inst_type == inst_type)
            and (not inst_id or self.markets[f.symbol].inst_id == inst_id)
            and begin <= f.time_ms <= end
        ]
        fills.reverse()  # newest first
        limit = int(query["limit"]) if query.get("limit", "").isdigit() else 100
        result = []
        for fill in fills[: min(limit, 100)]:
            market = self.markets[fill.symbol]
            order = self.core.find(fill.symbol, venue_id=fill.order_id)
            meta = self._meta[order.info.client_order_id] if order else None
            rate = market.info.maker_fee if fill.maker else market.info.taker_fee
            result.append(payloads.fill_entry(fill, market, meta.cl_ord_id if meta else "", rate))
        return result

    # ---------------------------------------------------------------- streams

    def _stream_route(self, endpoint: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def route(request: web.Request) -> web.StreamResponse:
            return await self.websocket(request, endpoint, self._on_message, self._on_open)

        return route

    async def _on_open(self, session: WsSession) -> bool:
        session.state["conn_id"] = secrets.token_hex(4)
        session.state["topics"] = {}
        return True

    def _ws_error(self, session: WsSession, error: WsError) -> None:
        session.send(streams.error_event(error, session.state["conn_id"]))

    async def _on_message(self, session: WsSession, text: str) -> None:
        if text == "ping":
            session.send_text("pong")
            return
        message = _loads(text)
        if not isinstance(message, dict):
            self._ws_error(session, errors.ws_invalid_request(text))
            return
        op = message.get("op")
        args = message.get("args")
        try:
            if op == "login":
                self._login(session, args)
            elif op in ("subscribe", "unsubscribe"):
                if not isinstance(args, list) or not args:
                    raise errors.WS_INVALID_ARGS
                for arg in args:
                    self._subscribe(session, arg, subscribe=op == "subscribe")
            else:
                raise errors.ws_invalid_request(text)
        except WsError as error:
            self._ws_error(session, error)

    def _login(self, session: WsSession, args: object) -> None:
        if session.channel == streams.PUBLIC:
            raise errors.WS_LOGIN_ON_PUBLIC
        auth.verify_ws_login(args, self.credentials, self.core.now_ms())
        session.authenticated = True
        session.send({"event": "login", "code": "0", "msg": "", "connId": session.state["conn_id"]})

    def _subscribe(self, session: WsSession, arg: object, *, subscribe: bool) -> None:
        topic = streams.parse_arg(session.channel, arg, set(self._by_inst))
        if session.channel == streams.PRIVATE and not session.authenticated:
            raise errors.WS_NOT_LOGGED_IN
        topics: dict[str, streams.Topic] = session.state["topics"]
        event = "subscribe" if subscribe else "unsubscribe"
        if not subscribe:
            topics.pop(topic.key, None)
            session.topics.discard(topic.key)
            session.send({"event": event, "arg": topic.arg, "connId": session.state["conn_id"]})
            return
        topics[topic.key] = topic
        session.topics.add(topic.key)
        session.send({"event": event, "arg": topic.arg, "connId": session.state["conn_id"]})
        inst_id = str(topic.arg.get("instId", ""))
        if topic.channel == "tickers":
            session.send({"arg": topic.arg, "data": [self._ticker_of(self._by_inst[inst_id])]})
        elif topic.channel.startswith("candle"):
            market = self._by_inst[inst_id]
            interval = streams.BARS[topic.channel.removeprefix("candle")]
            current = self.core.klines(market.info.symbol, interval, 1)
            if current:
                session.send({"arg": topic.arg, "data": [payloads.candle(market, current[-1])]})

    def _subscribed(self, endpoint: str, key: str) -> list[tuple[WsSession, streams.Topic]]:
        found = []
        for session in self.sessions(endpoint):
            topic = session.state.get("topics", {}).get(key)
            if topic is not None:
                found.append((session, topic))
        return found

    def public_ready(self, symbol: str, stream: StreamKind) -> bool:
        inst_id = self.markets[symbol].inst_id
        if stream == "ticker":
            return bool(self._subscribed(streams.PUBLIC, streams.ticker_key(inst_id)))
        if stream == "kline":
            return bool(self._subscribed(streams.BUSINESS, streams.candle_key(KlineInterval.M1, inst_id)))
        return False

    def private_ready(self, market_type: MarketType, streams_wanted: frozenset[StreamKind]) -> bool:
        """OKX sends orders and fills on one channel: "orders" of the instType (or ANY)."""
        inst_type = "SPOT" if market_type is MarketType.SPOT else "SWAP"
        return any(
            session.authenticated and any(streams.orders_type_match(key, inst_type) for key in session.topics)
            for session in self.sessions(streams.PRIVATE)
        )

    def before_shutdown(self, session: WsSession) -> None:
        session.send(streams.notice_event(errors.SERVICE_UPGRADE_NOTICE, session.state.get("conn_id", "")))

    # ---------------------------------------------------------------- core events

    def on_order_update(self, update: OrderUpdate) -> None:
        order = update.order
        if update.fill is not None:
            self._fills.setdefault(order.venue_id, []).append(update.fill)
        market = self.markets[order.info.symbol]
        meta = self._meta.get(order.info.client_order_id)
        if meta is None:
            return
        event = payloads.ws_order(order, meta, market, self._fills.get(order.venue_id, []), update.fill)
        for session in self.sessions(streams.PRIVATE):
            if not session.authenticated:
                continue
            for key, topic in session.state.get("topics", {}).items():
                if key.startswith("orders|") and streams.orders_match(key, market.inst_type, market.inst_id):
                    session.send({"arg": topic.arg | {"uid": UID}, "data": [event]})
                    break

    def on_ticker(self, ticker: TickerInfo) -> None:
        market = self.markets[ticker.symbol]
        targets = self._subscribed(streams.PUBLIC, streams.ticker_key(market.inst_id))
        if targets:
            data = self._ticker_of(market)
            for session, topic in targets:
                session.send({"arg": topic.arg, "data": [data]})

    def on_kline(self, kline: KlineInfo) -> None:
        market = self.markets[kline.symbol]
        if kline.interval not in streams.BAR_OF:
            return
        key = streams.candle_key(kline.interval, market.inst_id)
        for session, topic in self._subscribed(streams.BUSINESS, key):
            session.send({"arg": topic.arg, "data": [payloads.candle(market, kline)]})

    # ---------------------------------------------------------------- test views

    def venue_client_id(self, order: VenueOrder) -> str:
        """The clOrdId the venue reports for `order` ("" when the client sent none)."""
        return self._meta[order.info.client_order_id].cl_ord_id


def _item_error(error: ServiceError, market: OkxMarket, side: Side) -> ItemError:
    """The sCode answer for an order the shared core refused."""
    match error:
        case DuplicateClientOrderId():
            return errors.DUPLICATE_CL_ORD_ID
        case InsufficientMargin():
            if not market.spot:
                return errors.insufficient(market.info.settle, swap=True)
            asset = market.info.quote if side is Side.BUY else market.info.base
            return errors.insufficient(asset, swap=False)
        case MinNotional():
            return errors.BELOW_MIN_SIZE
        case ReduceOnlyRejected():
            return errors.REDUCE_ONLY_UNAVAILABLE
    return ItemError("51000", error.message)


def _dumps(payload: Any) -> str:
    return json.dumps(payload, separators=(",", ":"))


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None
