"""Gate v4 replica (classic account, single position mode): REST under /api/v4 for
spot and USDT-settled futures, WebSocket /ws/v4/ (spot) and /v4/ws/usdt (futures).

Behaviours taken from the v4 documentation and ccxt's error table:
- A poc (post-only) order that would match is refused: spot 400 POC_FILL_IMMEDIATELY,
  futures 400 ORDER_POC_IMMEDIATE (both ccxt OrderImmediatelyFillable).
- A text ("t-…" client order id) already in use is accepted; the newest order owns it
  for look-ups by text (/orders/t-… works while the order is open and for
  `TEXT_LOOKUP_WINDOW_MS` after it finished, then only the order id does).
- Private WebSocket channels authenticate every subscription; futures ones need the
  user id (ccxt's `uid`) as the first payload item.
- Every REST answer carries X-Gate-RateLimit-Requests-Remain / -Limit /
  -Reset-Timestamp; the 429 answer carries TOO_MANY_REQUESTS with Remain 0.
The classic account keeps spot and futures wallets apart; the shared core has one
wallet, so both accounts show the same asset balances (documented deviation).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from aiohttp import web

from opensqt_common.decimals import ZERO, format_decimal
from opensqt_common.enums import MarketType, OrderStatus, Side, Venue
from opensqt_common.errors import ServiceError
from opensqt_connector.models import FillInfo, KlineInfo, KlineInterval, TickerInfo
from opensqt_connector.venue_errors import (
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
from .errors import GateError, WsError
from .markets import DEFAULT_MARKETS, GateMarket, contract, currency, currency_pair
from .orders import Entry, parse_futures, parse_spot, reduce_only_refusal
from .payloads import OrderMeta

Handler = Callable[[web.Request], Awaitable[web.Response]]
Params = dict[str, str]

FIRST_SPOT_ORDER_ID = 95_282_841_000
FIRST_FUTURES_ORDER_ID = 95_938_572_000
DEFAULT_BALANCES = {"USDT": Decimal(100_000), "BTC": Decimal(1), "ETH": Decimal(10)}
USER_ID = 10406147
RATE_LIMIT = 200  # requests per 10 s per endpoint (v4 "Frequency limit rule")
TEXT_LOOKUP_WINDOW_MS = 3_600_000
# Test keys shaped like Gate's: a 32-hex key and a 64-hex secret.
TEST_API_KEY = "9f4c2a71d3e85b60a1c7e2f4b8d90356"
TEST_API_SECRET = "5d1e0f3a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e"


@dataclass(frozen=True, slots=True)
class _Created:
    """An order placement's answer (201): delivered through the ack faults."""

    body: dict[str, Any]


class GateReplica(VenueReplica):
    venue: ClassVar[Venue] = Venue.GATE
    shutdown_close_code: ClassVar[int] = 1001

    def __init__(
        self,
        *,
        credentials: Credentials | None = None,
        markets: tuple[GateMarket, ...] = DEFAULT_MARKETS,
        balances: dict[str, Decimal] | None = None,
        core: ReplicaCore | None = None,
        clock: Clock = wall_clock_ms,
        text_lookup_window_ms: int = TEXT_LOOKUP_WINDOW_MS,
    ) -> None:
        self.markets = {m.info.symbol: m for m in markets}
        self._spot_ids = {m.market_id: m for m in markets if m.spot}
        self._futures_ids = {m.market_id: m for m in markets if not m.spot}
        core = core or ReplicaCore(
            [m.info for m in markets],
            balances if balances is not None else DEFAULT_BALANCES,
            {m.info.symbol: m.start_price for m in markets},
            order_id=self._order_id,
            clock=clock,
        )
        super().__init__(core, credentials or Credentials(TEST_API_KEY, TEST_API_SECRET))
        self.user_id = USER_ID
        self.text_lookup_window_ms = text_lookup_window_ms
        self._meta: dict[str, OrderMeta] = {}  # core client order id → venue bookkeeping
        self._fills: dict[str, list[FillInfo]] = {}  # venue order id → its fills
        self._by_text: dict[tuple[str, str], list[str]] = {}  # (symbol, text) → venue ids
        self._internal_seq = 0
        # Requests the venue itself answered 404 (ORDER_NOT_FOUND / CLIENT_ID_NOT_FOUND),
        # as opposed to paths the replica does not serve.
        self.venue_not_found: list[tuple[str, str]] = []
        self.dual_mode = False  # futures position mode: single (one-way) until switched

    def _order_id(self, seq: int, symbol: str) -> str:
        spot = self.markets[symbol].spot
        return str((FIRST_SPOT_ORDER_ID if spot else FIRST_FUTURES_ORDER_ID) + seq)

    # ---------------------------------------------------------------- routes

    def add_routes(self, app: web.Application) -> None:
        r = app.router
        p = "/api/v4"
        r.add_get(f"{p}/spot/time", self._public(lambda _q: {"server_time": self.core.now_ms()}))
        r.add_get(
            f"{p}/spot/currencies", self._public(lambda _q: [currency(a) for a in self.core.sim.assets])
        )
        r.add_get(
            f"{p}/spot/currency_pairs", self._public(lambda _q: [currency_pair(m) for m in self._spot()])
        )
        r.add_get(f"{p}/margin/currency_pairs", self._public(lambda _q: []))
        r.add_get(f"{p}/futures/{{settle}}/contracts", self._public(self._contracts, settle=True))
        r.add_get(f"{p}/delivery/{{settle}}/contracts", self._public(lambda _q: []))
        r.add_get(f"{p}/options/underlyings", self._public(lambda _q: []))
        r.add_get(f"{p}/spot/tickers", self._public(self._spot_tickers))
        r.add_get(f"{p}/futures/usdt/tickers", self._public(self._futures_tickers))
        r.add_get(f"{p}/spot/candlesticks", self._public(self._spot_candles))
        r.add_get(f"{p}/futures/usdt/candlesticks", self._public(self._futures_candles))
        r.add_get(f"{p}/account/detail", self._private(self._account_detail))
        r.add_get(f"{p}/spot/accounts", self._private(self._spot_accounts))
        r.add_get(f"{p}/futures/usdt/accounts", self._private(self._futures_accounts))
        r.add_get(f"{p}/futures/usdt/positions", self._private(self._positions))
        r.add_post(f"{p}/futures/usdt/positions/{{contract}}/leverage", self._private(self._set_leverage))
        r.add_post(f"{p}/futures/usdt/dual_mode", self._private(self._set_dual_mode))
        r.add_post(f"{p}/spot/orders", self._private(self._spot_place))
        r.add_get(f"{p}/spot/orders", self._private(self._spot_orders))
        r.add_delete(f"{p}/spot/orders", self._private(self._spot_cancel_all))
        r.add_get(f"{p}/spot/open_orders", self._private(self._spot_open_orders))
        r.add_get(f"{p}/spot/orders/{{order_id}}", self._private(self._spot_order))
        r.add_delete(f"{p}/spot/orders/{{order_id}}", self._private(self._spot_cancel))
        r.add_get(f"{p}/spot/my_trades", self._private(self._spot_trades))
        r.add_post(f"{p}/futures/usdt/orders", self._private(self._futures_place))
        r.add_get(f"{p}/futures/usdt/orders", self._private(self._futures_orders))
        r.add_delete(f"{p}/futures/usdt/orders", self._private(self._futures_cancel_all))
        r.add_get(f"{p}/futures/usdt/orders/{{order_id}}", self._private(self._futures_order))
        r.add_delete(f"{p}/futures/usdt/orders/{{order_id}}", self._private(self._futures_cancel))
        r.add_get(f"{p}/futures/usdt/my_trades", self._private(self._futures_trades))
        r.add_get(f"{p}/futures/usdt/my_trades_timerange", self._private(self._futures_trades))
        for path, endpoint in streams.ENDPOINTS.items():
            r.add_get(path, self._stream_route(endpoint))

    def market_type_of(self, symbol: str) -> MarketType:
        return self.markets[symbol].info.market_type

    def _spot(self) -> list[GateMarket]:
        return list(self._spot_ids.values())

    # ---------------------------------------------------------------- plumbing

    def _rate_headers(self, remain: int | None = None, reset_ms: int | None = None) -> dict[str, str]:
        now = self.core.now_ms()
        used = sum(1 for r in self.requests if r.time_ms > now - 10_000)
        left = max(RATE_LIMIT - used - 1, 0) if remain is None else remain
        return {
            "X-Gate-RateLimit-Requests-Remain": str(left),
            "X-Gate-RateLimit-Limit": str(RATE_LIMIT),
            "X-Gate-RateLimit-Reset-Timestamp": str(reset_ms if reset_ms is not None else now),
        }

    def _json(self, payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
        return web.json_response(
            payload, status=status, headers=headers or self._rate_headers(), dumps=_dumps
        )

    def _error(self, error: GateError) -> web.Response:
        return self._json(error.body(), error.status)

    def fault_response(self, fault: RequestFault) -> web.Response:
        if fault.kind is FaultKind.RATE_LIMIT:
            reset = self.core.now_ms() + fault.retry_after_s * 1000
            return self._json(errors.TOO_MANY_REQUESTS.body(), 429, self._rate_headers(0, reset))
        if fault.gateway:
            return web.Response(
                status=fault.status,
                text=f"<html><head><title>{fault.status} Bad Gateway</title></head></html>",
                content_type="text/html",
            )
        error = errors.TOO_BUSY if fault.status == 503 else errors.SERVER_ERROR
        return self._json(error.body(), fault.status)

    def _public(self, fn: Callable[..., Any], *, settle: bool = False) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            try:
                query = dict(request.query)
                if settle:
                    query["settle"] = request.match_info["settle"]
                return self._json(fn(query))
            except GateError as error:
                return self._error(error)

        return handler

    def _private(self, fn: Callable[[Params, Any], Any]) -> Handler:
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
                )
                params: Params = dict(request.query) | dict(request.match_info)
                payload: Any = None
                if body:
                    try:
                        payload = json.loads(body)
                    except json.JSONDecodeError:
                        raise GateError(400, "INVALID_REQUEST_BODY", "Invalid request body") from None
                result = fn(params, payload)
            except GateError as error:
                if error.status == 404:
                    self.venue_not_found.append((request.method, request.path))
                return self._error(error)
            if isinstance(result, _Created):
                return await self.acknowledge(request, self._json(result.body, 201))
            return self._json(result)

        return handler

    def _spot_market(self, pair: str) -> GateMarket:
        if not pair:
            raise errors.missing_param("currency_pair")
        market = self._spot_ids.get(pair)
        if market is None:
            raise errors.invalid_pair(pair)
        return market

    def _futures_market(self, name: str) -> GateMarket:
        if not name:
            raise errors.missing_param("contract")
        market = self._futures_ids.get(name)
        if market is None:
            raise errors.contract_not_found(name)
        return market

    # ---------------------------------------------------------------- market data

    def _contracts(self, query: Params) -> Any:
        if query["settle"] != "usdt":
            return []
        return [contract(m, self.core.ticker(m.info.symbol).last) for m in self._futures_ids.values()]

    def _day(self, market: GateMarket) -> tuple[TickerInfo, list[KlineInfo]]:
        symbol = market.info.symbol
        return self.core.ticker(symbol), self.core.klines(symbol, KlineInterval.H1, 24)

    def _spot_tickers(self, query: Params) -> Any:
        pair = query.get("currency_pair")
        markets = [self._spot_market(pair)] if pair else self._spot()
        return [payloads.spot_ticker(m, *self._day(m)) for m in markets]

    def _futures_tickers(self, query: Params) -> Any:
        name = query.get("contract")
        markets = [self._futures_market(name)] if name else list(self._futures_ids.values())
        return [payloads.futures_ticker(m, *self._day(m)) for m in markets]

    def _klines(self, market: GateMarket, query: Params) -> list[KlineInfo]:
        interval = streams.INTERVALS.get(query.get("interval", "30m"))
        if interval is None:
            raise errors.invalid_param("interval", query.get("interval", ""))
        rows = self.core.klines(market.info.symbol, interval, 1_500)
        if "from" in query or "to" in query:
            if "limit" in query:
                raise errors.invalid_param("limit", "limit conflicts with from and to")
            start = int(query.get("from", "0")) * 1000
            end = int(query.get("to", str(2**40))) * 1000
            return [k for k in rows if start <= k.open_time_ms <= end]
        limit_text = query.get("limit", "100")
        if not limit_text.isdigit() or int(limit_text) < 1:
            raise errors.invalid_param("limit", limit_text)
        return rows[-int(limit_text) :]

    def _spot_candles(self, query: Params) -> Any:
        market = self._spot_market(query.get("currency_pair", ""))
        return [payloads.spot_candle(k) for k in self._klines(market, query)]

    def _futures_candles(self, query: Params) -> Any:
        market = self._futures_market(query.get("contract", ""))
        return [payloads.futures_candle(market, k) for k in self._klines(market, query)]

    # ---------------------------------------------------------------- account

    def _account_detail(self, _query: Params, _body: Any) -> Any:
        return {
            "user_id": self.user_id,
            "ip_whitelist": [],
            "currency_pairs": [],
            "key": {"mode": 1},
            "tier": 2,
            "copy_trading_role": 0,
        }

    def _spot_accounts(self, query: Params, _body: Any) -> Any:
        wanted = query.get("currency")
        return [payloads.spot_account(b) for b in self.core.balances() if not wanted or b.asset == wanted]

    def _futures_accounts(self, _query: Params, _body: Any) -> Any:
        settle = self.core.sim.balance("USDT")
        upl = ZERO
        position_margin = ZERO
        for info in self.core.positions():
            upl += info.unrealized_pnl
            position_margin += info.margin
        account = payloads.futures_account(settle, upl, position_margin, self.user_id)
        return account | {"in_dual_mode": self.dual_mode}

    def _set_dual_mode(self, query: Params, body: Any) -> Any:
        """POST /futures/usdt/dual_mode?dual_mode=true|false (a query parameter, not a
        body); answers the futures account. The account starts in single mode."""
        value = query.get("dual_mode")
        if value is None:
            raise errors.missing_param("dual_mode")
        if value not in ("true", "false"):
            raise errors.invalid_param("dual_mode", value)
        self.dual_mode = value == "true"
        return self._futures_accounts(query, body)

    def _positions(self, _query: Params, _body: Any) -> Any:
        now = self.core.now_ms()
        return [
            payloads.position(
                info, self.markets[info.symbol], self.core.ticker(info.symbol).last, self.user_id, now
            )
            for info in self.core.positions()
            if info.quantity != 0
        ]

    def _set_leverage(self, query: Params, _body: Any) -> Any:
        market = self._futures_market(query.get("contract", ""))
        text = query.get("leverage", "")
        if text == "0":
            text = query.get("cross_leverage_limit", "")
        try:
            leverage = Decimal(text)
        except InvalidOperation:
            raise errors.invalid_param("leverage", text) from None
        if not leverage.is_finite() or leverage != leverage.to_integral_value():
            raise errors.invalid_param("leverage", text)
        if leverage > market.leverage_max:
            raise errors.LEVERAGE_TOO_HIGH
        if leverage < 1:
            raise errors.LEVERAGE_TOO_LOW
        try:
            self.core.set_leverage(market.info.symbol, leverage)
        except InsufficientMargin:
            raise errors.LIQUIDATE_IMMEDIATELY from None
        (info,) = self.core.positions(market.info.symbol)
        body = payloads.position(
            info, market, self.core.ticker(market.info.symbol).last, self.user_id, self.core.now_ms()
        )
        if query.get("leverage") == "0":
            body |= {"leverage": "0", "cross_leverage_limit": format_decimal(leverage)}
        return body

    # ---------------------------------------------------------------- order entry

    def _next_internal_id(self) -> str:
        self._internal_seq += 1
        return f"gate-{self._internal_seq}"

    def _place(self, entry: Entry, market: GateMarket) -> VenueOrder:
        request = entry.request
        if not market.spot:
            refusal = reduce_only_refusal(self.core.positions(market.info.symbol)[0].quantity, request)
            if refusal is not None:
                raise refusal
        self._meta[request.client_order_id] = entry.meta
        try:
            order = self.core.place(request)
        except ServiceError as error:
            del self._meta[request.client_order_id]
            raise self._refusal(error, entry, market) from None
        self._by_text.setdefault((market.info.symbol, entry.meta.text), []).append(order.venue_id)
        return order

    def _refusal(self, error: ServiceError, entry: Entry, market: GateMarket) -> GateError:
        match error:
            case PostOnlyWouldCross():
                if market.spot:
                    return errors.POC_FILL_IMMEDIATELY
                ticker = self.core.ticker(market.info.symbol)
                counter = ticker.ask if entry.request.side is Side.BUY else ticker.bid
                return errors.poc_immediate(
                    format_decimal(entry.request.price or ZERO), format_decimal(counter)
                )
            case InsufficientMargin():
                return errors.BALANCE_NOT_ENOUGH if market.spot else errors.INSUFFICIENT_AVAILABLE
            case MinNotional():
                info = market.info
                notional = entry.request.quantity * (
                    entry.request.price or self.core.ticker(info.symbol).last
                )
                return errors.amount_too_small(
                    format_decimal(notional), format_decimal(info.min_notional), info.quote
                )
            case ReduceOnlyRejected():
                return errors.REDUCE_EXCEEDED
        return GateError(400, "INVALID_PARAM_VALUE", error.message)

    def _spot_place(self, _query: Params, body: Any) -> _Created:
        if not isinstance(body, dict):
            raise GateError(400, "INVALID_REQUEST_BODY", "Invalid request body")
        market = self._spot_market(str(body.get("currency_pair", "")))
        ask = self.core.ticker(market.info.symbol).ask
        entry = parse_spot(body, market, internal_id=self._next_internal_id(), best_ask=ask)
        order = self._place(entry, market)
        return _Created(self._spot_payload(order))

    def _futures_place(self, _query: Params, body: Any) -> _Created:
        if not isinstance(body, dict):
            raise GateError(400, "INVALID_REQUEST_BODY", "Invalid request body")
        market = self._futures_market(str(body.get("contract", "")))
        if self.dual_mode:
            raise GateError(400, "INVALID_PARAM_VALUE", "dual-mode positions are not modelled here")
        entry = parse_futures(body, market, internal_id=self._next_internal_id())
        order = self._place(entry, market)
        return _Created(self._futures_payload(order))

    # ---------------------------------------------------------------- order views

    def _spot_payload(self, order: VenueOrder) -> dict[str, Any]:
        market = self.markets[order.info.symbol]
        meta = self._meta[order.info.client_order_id]
        return payloads.spot_order(order, meta, market, self._fills.get(order.venue_id, []))

    def _futures_payload(self, order: VenueOrder) -> dict[str, Any]:
        market = self.markets[order.info.symbol]
        return payloads.futures_order(order, self._meta[order.info.client_order_id], market, self.user_id)

    def _lookup(self, market: GateMarket, order_id: str) -> VenueOrder:
        symbol = market.info.symbol
        if not order_id.startswith("t-"):
            order = self.core.find(symbol, venue_id=order_id)
            if order is None:
                raise errors.ORDER_NOT_FOUND
            return order
        now = self.core.now_ms()
        for venue_id in reversed(self._by_text.get((symbol, order_id), [])):
            order = self.core.find(symbol, venue_id=venue_id)
            if order is not None and (
                order.info.status.is_open or now - order.info.updated_ms <= self.text_lookup_window_ms
            ):
                return order
        raise errors.client_id_not_found(order_id)

    def _spot_order(self, query: Params, _body: Any) -> Any:
        market = self._spot_market(query.get("currency_pair", ""))
        return self._spot_payload(self._lookup(market, query["order_id"]))

    def _futures_order(self, query: Params, _body: Any) -> Any:
        market = self._futures_order_market(query["order_id"])
        return self._futures_payload(self._lookup(market, query["order_id"]))

    def _futures_order_market(self, order_id: str) -> GateMarket:
        if order_id.startswith("t-"):
            for market in self._futures_ids.values():
                if self._by_text.get((market.info.symbol, order_id)):
                    return market
            raise errors.client_id_not_found(order_id)
        for market in self._futures_ids.values():
            if self.core.find(market.info.symbol, venue_id=order_id) is not None:
                return market
        raise errors.ORDER_NOT_FOUND

    def _spot_orders(self, query: Params, _body: Any) -> Any:
        market = self._spot_market(query.get("currency_pair", ""))
        status = query.get("status", "")
        if status not in ("open", "finished"):
            raise errors.invalid_param("status", status)
        orders = [
            o for o in self.core.orders(market.info.symbol) if o.info.status.is_open == (status == "open")
        ]
        orders.reverse()
        return [self._spot_payload(o) for o in orders[: _limit(query)]]

    def _spot_open_orders(self, query: Params, _body: Any) -> Any:
        groups = []
        for market in self._spot():
            orders = [o for o in self.core.open_orders(market.info.symbol)]
            if orders:
                groups.append(
                    {
                        "currency_pair": market.market_id,
                        "total": len(orders),
                        "orders": [self._spot_payload(o) for o in orders],
                    }
                )
        return groups

    def _futures_orders(self, query: Params, _body: Any) -> Any:
        status = query.get("status", "")
        if status not in ("open", "finished"):
            raise errors.invalid_param("status", status)
        name = query.get("contract")
        markets = [self._futures_market(name)] if name else list(self._futures_ids.values())
        orders = [
            o
            for m in markets
            for o in self.core.orders(m.info.symbol)
            if o.info.status.is_open == (status == "open")
        ]
        orders.sort(key=lambda o: o.info.created_ms, reverse=True)
        return [self._futures_payload(o) for o in orders[: _limit(query)]]

    def _spot_cancel(self, query: Params, _body: Any) -> Any:
        market = self._spot_market(query.get("currency_pair", ""))
        order = self._lookup(market, query["order_id"])
        if order.info.status is OrderStatus.FILLED:
            raise errors.ORDER_CLOSED
        if order.info.status.is_terminal:
            raise errors.ORDER_CANCELLED
        return self._spot_payload(self.core.cancel(market.info.symbol, venue_id=order.venue_id))

    def _futures_cancel(self, query: Params, _body: Any) -> Any:
        market = self._futures_order_market(query["order_id"])
        order = self._lookup(market, query["order_id"])
        if order.info.status.is_terminal:
            raise errors.ORDER_FINISHED
        return self._futures_payload(self.core.cancel(market.info.symbol, venue_id=order.venue_id))

    def _side_filter(self, query: Params) -> Side | None:
        side = query.get("side", "")
        if side and side not in ("buy", "sell", "ask", "bid"):
            raise errors.invalid_param("side", side)
        return {"buy": Side.BUY, "bid": Side.BUY, "sell": Side.SELL, "ask": Side.SELL}.get(side)

    def _spot_cancel_all(self, query: Params, _body: Any) -> Any:
        market = self._spot_market(query.get("currency_pair", ""))
        canceled = self.core.cancel_all(market.info.symbol, self._side_filter(query))
        return [self._spot_payload(o) | {"succeeded": True} for o in canceled]

    def _futures_cancel_all(self, query: Params, _body: Any) -> Any:
        market = self._futures_market(query.get("contract", ""))
        canceled = self.core.cancel_all(market.info.symbol, self._side_filter(query))
        return [self._futures_payload(o) for o in canceled]

    def _trades(self, market: GateMarket, query: Params) -> list[FillInfo]:
        start = int(query.get("from", "0")) * 1000
        end = int(query["to"]) * 1000 + 999 if "to" in query else 2**62
        fills = [
            f
            for f in self.core.fills(market.info.symbol)
            if start <= f.time_ms <= end and (not query.get("order_id") or f.order_id == query["order_id"])
        ]
        fills.reverse()
        return fills[: _limit(query)]

    def _text_of(self, fill: FillInfo) -> str:
        order = self.core.find(fill.symbol, venue_id=fill.order_id)
        return self._meta[order.info.client_order_id].text if order is not None else ""

    def _spot_trades(self, query: Params, _body: Any) -> Any:
        markets = [self._spot_market(query["currency_pair"])] if query.get("currency_pair") else self._spot()
        return [payloads.spot_trade(f, m, self._text_of(f)) for m in markets for f in self._trades(m, query)]

    def _futures_trades(self, query: Params, _body: Any) -> Any:
        name = query.get("contract")
        markets = [self._futures_market(name)] if name else list(self._futures_ids.values())
        return [
            payloads.futures_trade(f, m, self._text_of(f)) for m in markets for f in self._trades(m, query)
        ]

    # ---------------------------------------------------------------- streams

    def _stream_route(self, endpoint: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def route(request: web.Request) -> web.StreamResponse:
            return await self.websocket(request, endpoint, self._on_message, self._on_open)

        return route

    async def _on_open(self, session: WsSession) -> bool:
        session.state["conn_id"] = secrets.token_hex(8)
        return True

    def _market_ids(self, endpoint: str) -> set[str]:
        return set(self._spot_ids if endpoint == streams.SPOT else self._futures_ids)

    async def _on_message(self, session: WsSession, text: str) -> None:
        message = _loads(text)
        now = self.core.now_ms()
        conn_id = session.state["conn_id"]
        if not isinstance(message, dict):
            session.send(
                {
                    "time": now // 1000,
                    "time_ms": now,
                    "error": {"code": 1, "message": "invalid json"},
                    "result": None,
                }
            )
            return
        channel = str(message.get("channel", ""))
        if channel.endswith(".ping"):
            session.send(
                {
                    "time": now // 1000,
                    "time_ms": now,
                    "conn_id": conn_id,
                    "channel": channel.replace(".ping", ".pong"),
                    "event": "",
                    "result": None,
                }
            )
            return
        event = message.get("event")
        try:
            if event not in ("subscribe", "unsubscribe"):
                raise errors.ws_invalid(f"unknown event {event}")
            subscription = streams.parse(
                session.channel, message, self._market_ids(session.channel), self.user_id
            )
            if subscription.private:
                auth.verify_ws(message, self.credentials, now)
                session.authenticated = True
        except WsError as error:
            session.send(streams.answer(message, conn_id, now, error))
            return
        if event == "subscribe":
            session.topics.update(subscription.keys)
        else:
            session.topics.difference_update(subscription.keys)
        session.send(streams.answer(message, conn_id, now))

    def _sessions_for(self, endpoint: str, keys: tuple[str, ...]) -> list[WsSession]:
        return [s for s in self.sessions(endpoint) if any(k in s.topics for k in keys)]

    def public_ready(self, symbol: str, stream: StreamKind) -> bool:
        market = self.markets[symbol]
        endpoint = streams.SPOT if market.spot else streams.FUTURES
        if stream == "ticker":
            keys = (streams.key(f"{endpoint}.tickers", market.market_id),)
        elif stream == "kline":
            keys = (streams.key(f"{endpoint}.candlesticks", market.market_id, "1m"),)
        else:
            return False
        return bool(self._sessions_for(endpoint, keys))

    def private_ready(self, market_type: MarketType, streams_wanted: frozenset[StreamKind]) -> bool:
        endpoint = streams.SPOT if market_type is MarketType.SPOT else streams.FUTURES
        channels = {"orders": f"{endpoint}.orders", "trades": f"{endpoint}.usertrades"}
        for stream in streams_wanted:
            channel = channels.get(stream)
            if channel is None:
                return False
            if not any(
                s.authenticated and any(t.startswith(channel + "|") for t in s.topics)
                for s in self.sessions(endpoint)
            ):
                return False
        return True

    def before_shutdown(self, session: WsSession) -> None:
        """Gate closes a stream without a farewell message."""

    # ---------------------------------------------------------------- core events

    def on_order_update(self, update: OrderUpdate) -> None:
        order = update.order
        if update.fill is not None:
            self._fills.setdefault(order.venue_id, []).append(update.fill)
        meta = self._meta.get(order.info.client_order_id)
        if meta is None:
            return
        market = self.markets[order.info.symbol]
        endpoint = streams.SPOT if market.spot else streams.FUTURES
        now = self.core.now_ms()
        orders_channel = f"{endpoint}.orders"
        targets = self._sessions_for(
            endpoint,
            (streams.key(orders_channel, market.market_id), streams.key(orders_channel, streams.ALL)),
        )
        if targets:
            if market.spot:
                event = _spot_event(order, update.fill)
                item = payloads.ws_spot_order(
                    order, meta, market, self._fills.get(order.venue_id, []), event, self.user_id
                )
            else:
                item = payloads.ws_futures_order(order, meta, market, self.user_id)
            for session in targets:
                session.send(streams.update(orders_channel, [item], now))
        if update.fill is None:
            return
        trades_channel = f"{endpoint}.usertrades"
        targets = self._sessions_for(
            endpoint,
            (streams.key(trades_channel, market.market_id), streams.key(trades_channel, streams.ALL)),
        )
        if targets:
            trade = (
                payloads.spot_trade(update.fill, market, meta.text)
                if market.spot
                else payloads.futures_trade(update.fill, market, meta.text)
            )
            for session in targets:
                session.send(streams.update(trades_channel, [trade], now))

    def on_ticker(self, ticker: TickerInfo) -> None:
        market = self.markets[ticker.symbol]
        endpoint = streams.SPOT if market.spot else streams.FUTURES
        channel = f"{endpoint}.tickers"
        targets = self._sessions_for(endpoint, (streams.key(channel, market.market_id),))
        if not targets:
            return
        tick, day = self._day(market)
        if market.spot:
            result: Any = payloads.spot_ticker(market, tick, day)
        else:
            result = [payloads.futures_ticker(market, tick, day)]
        for session in targets:
            session.send(streams.update(channel, result, self.core.now_ms()))

    def on_kline(self, kline: KlineInfo) -> None:
        name = streams.INTERVAL_NAME.get(kline.interval)
        if name is None:
            return
        market = self.markets[kline.symbol]
        endpoint = streams.SPOT if market.spot else streams.FUTURES
        channel = f"{endpoint}.candlesticks"
        targets = self._sessions_for(endpoint, (streams.key(channel, market.market_id, name),))
        if not targets:
            return
        item = payloads.ws_candle(market, kline, name)
        result: Any = item if market.spot else [item]
        for session in targets:
            session.send(streams.update(channel, result, self.core.now_ms()))

    # ---------------------------------------------------------------- test views

    def venue_text(self, order: VenueOrder) -> str:
        return self._meta[order.info.client_order_id].text


def _spot_event(order: VenueOrder, fill: FillInfo | None) -> str:
    if order.info.status.is_terminal:
        return "finish"
    return "update" if fill is not None else "put"


def _limit(query: Params) -> int:
    text = query.get("limit", "100")
    if not text.isdigit() or not 1 <= int(text) <= 1000:
        raise errors.invalid_param("limit", text)
    return int(text)


def _dumps(payload: Any) -> str:
    return json.dumps(payload, separators=(",", ":"))


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None
