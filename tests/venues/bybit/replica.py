"""Bybit v5 replica (unified trading account): REST under /v5, public streams
/v5/public/spot and /v5/public/linear, private stream /v5/private.

Behaviours taken from the v5 documentation:
- A PostOnly order that would take liquidity is accepted (retCode 0, an orderId) and
  then cancelled at once with rejectReason EC_PostOnlyWillTakeLiquidity.
- orderLinkId is unique per account for ever: reusing one is refused (110072 linear,
  170141 spot), even after the first order ended.
- The private stream needs {"op": "auth"} before {"op": "subscribe"} to order /
  execution / position / wallet; the public streams push a snapshot on subscribe.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from aiohttp import web

from opensqt_common.decimals import ZERO, is_multiple, round_down
from opensqt_common.enums import MarketType, OrderStatus, OrderType, Side, TimeInForce, Venue
from opensqt_common.errors import ServiceError
from opensqt_connector.models import KlineInfo, KlineInterval, OrderInfo, OrderRequest, TickerInfo
from opensqt_connector.venue_errors import PostOnlyWouldCross

from ..framework.core import OrderUpdate, ReplicaCore, VenueOrder
from ..framework.faults import FaultKind, RequestFault
from ..framework.fees import venue_fee
from ..framework.server import Credentials, StreamKind, VenueReplica
from ..framework.ws import WsSession
from . import auth, errors, payloads
from .errors import BybitError
from .markets import DEFAULT_MARKETS, BybitMarket, linear_instrument, spot_instrument

Handler = Callable[[web.Request], Awaitable[web.Response]]

KLINE_INTERVALS = {
    "1": KlineInterval.M1,
    "3": KlineInterval.M3,
    "5": KlineInterval.M5,
    "15": KlineInterval.M15,
    "30": KlineInterval.M30,
    "60": KlineInterval.H1,
    "240": KlineInterval.H4,
    "D": KlineInterval.D1,
}
INTERVAL_IDS = {interval: key for key, interval in KLINE_INTERVALS.items()}
ORDER_LINK_ID = re.compile(errors.ORDER_LINK_ID_PATTERN)
PRIVATE_TOPICS = ("order", "execution", "position", "wallet")
PRIVATE_STREAM_TOPICS = {"orders": "order", "trades": "execution"}
DEFAULT_BALANCES = {"USDT": Decimal(100_000), "BTC": Decimal(1), "ETH": Decimal(10)}
RATE_LIMIT = 10
TEST_API_KEY = "XXVv0NGnZ6sCDOlhuD"
TEST_API_SECRET = "ZcK3bqMNdy3K6NMAZfqw2Y4T0eAoHS5e93EG"
_UUID_NAMESPACE = 0x5D1E2C3B4A59000080000000 << 32


def _order_id(seq: int, symbol: str) -> str:
    """Spot order ids are long decimal strings; derivatives ids are UUIDs."""
    if ":" in symbol:
        return str(uuid.UUID(int=_UUID_NAMESPACE | seq))
    return str(1_794_000_000_000_000_000 + seq)


@dataclass(frozen=True, slots=True)
class _Ack:
    result: dict[str, Any]


class BybitReplica(VenueReplica):
    venue: ClassVar[Venue] = Venue.BYBIT

    def __init__(
        self,
        *,
        credentials: Credentials | None = None,
        markets: tuple[BybitMarket, ...] = DEFAULT_MARKETS,
        balances: dict[str, Decimal] | None = None,
        core: ReplicaCore | None = None,
    ) -> None:
        self.markets = {m.info.symbol: m for m in markets}
        self._by_venue = {(m.category, m.venue_symbol): m for m in markets}
        core = core or ReplicaCore(
            [m.info for m in markets],
            balances if balances is not None else DEFAULT_BALANCES,
            {m.info.symbol: m.start_price for m in markets},
            order_id=_order_id,
        )
        super().__init__(core, credentials or Credentials(TEST_API_KEY, TEST_API_SECRET))
        self._hedged: set[str] = set()  # linear symbols switched to hedge mode
        self._exec_seq = 0
        self._conn_seq = 0
        self._message_seq = 0

    # ---------------------------------------------------------------- routes

    def add_routes(self, app: web.Application) -> None:
        r = app.router
        r.add_get("/v5/market/time", self._public(self._time))
        r.add_get("/v5/market/instruments-info", self._public(self._instruments))
        r.add_get("/v5/market/tickers", self._public(self._tickers))
        r.add_get("/v5/market/kline", self._public(self._klines))
        r.add_get("/v5/user/query-api", self._private(self._query_api))
        r.add_get("/v5/account/info", self._private(self._account_info))
        r.add_get("/v5/asset/coin/query-info", self._private(self._coin_info))
        r.add_get("/v5/account/wallet-balance", self._private(self._wallet_balance))
        r.add_get("/v5/account/fee-rate", self._private(self._fee_rate))
        r.add_get("/v5/position/list", self._private(self._positions))
        r.add_post("/v5/position/set-leverage", self._private(self._set_leverage))
        r.add_post("/v5/position/switch-mode", self._private(self._switch_mode))
        r.add_post("/v5/order/create", self._private(self._create))
        r.add_post("/v5/order/cancel", self._private(self._cancel))
        r.add_post("/v5/order/cancel-all", self._private(self._cancel_all))
        r.add_get("/v5/order/realtime", self._private(self._realtime))
        r.add_get("/v5/order/history", self._private(self._history))
        r.add_get("/v5/execution/list", self._private(self._executions))
        r.add_get("/v5/public/{category}", self._public_stream)
        r.add_get("/v5/private", self._private_stream)

    def market_type_of(self, symbol: str) -> MarketType:
        return self.markets[symbol].info.market_type

    # ---------------------------------------------------------------- plumbing

    def _envelope(self, result: Any, code: int = 0, msg: str = "OK") -> dict[str, Any]:
        return {
            "retCode": code,
            "retMsg": msg,
            "result": result,
            "retExtInfo": {},
            "time": self.core.now_ms(),
        }

    def _limit_headers(self) -> dict[str, str]:
        now = self.core.now_ms()
        used = sum(1 for r in self.requests if r.time_ms > now - 1_000)
        return {
            "X-Bapi-Limit": str(RATE_LIMIT),
            "X-Bapi-Limit-Status": str(max(RATE_LIMIT - used - 1, 0)),
            "X-Bapi-Limit-Reset-Timestamp": str(now + 1_000),
        }

    def _json(self, body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
        return web.json_response(body, status=status, headers=headers, dumps=_dumps)

    def _error(self, error: BybitError, headers: dict[str, str] | None = None) -> web.Response:
        return self._json(self._envelope({}, error.ret_code, error.ret_msg), error.status, headers)

    def fault_response(self, fault: RequestFault) -> web.Response:
        if fault.kind is FaultKind.RATE_LIMIT:
            now = self.core.now_ms()
            headers = {
                "X-Bapi-Limit": str(RATE_LIMIT),
                "X-Bapi-Limit-Status": "0",
                "X-Bapi-Limit-Reset-Timestamp": str(now + fault.retry_after_s * 1_000),
            }
            return self._error(errors.TOO_MANY_VISITS, headers)
        if fault.gateway:
            return web.Response(
                status=fault.status,
                text=f"<html><head><title>{fault.status} Bad Gateway</title></head><body></body></html>",
                content_type="text/html",
            )
        return self._json(
            self._envelope({}, errors.SERVER_ERROR.ret_code, errors.SERVER_ERROR.ret_msg), fault.status
        )

    def _public(self, fn: Callable[[dict[str, str]], Any]) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            try:
                return self._json(self._envelope(fn(dict(request.query))))
            except BybitError as error:
                return self._error(error)

        return handler

    def _private(self, fn: Callable[[dict[str, Any]], Any]) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            try:
                body = await request.text()
                payload = body if request.method == "POST" else request.rel_url.raw_query_string
                auth.verify_rest(
                    dict(request.headers),
                    payload,
                    api_key=self.credentials.api_key,
                    secret=self.credentials.api_secret,
                    now_ms=self.core.now_ms(),
                )
                params: dict[str, Any] = dict(request.query)
                if request.method == "POST":
                    parsed = _loads(body)
                    if not isinstance(parsed, dict):
                        raise errors.params_error("request body is not a JSON object")
                    params = parsed
                result = fn(params)
                headers = self._limit_headers()
                if isinstance(result, _Ack):
                    return await self.acknowledge(
                        request, self._json(self._envelope(result.result), headers=headers)
                    )
                return self._json(self._envelope(result), headers=headers)
            except BybitError as error:
                return self._error(error)

        return handler

    def _category(self, params: dict[str, Any], allowed: tuple[str, ...] = ("spot", "linear")) -> str:
        category = params.get("category")
        if category not in allowed:
            raise errors.params_error("category invalid")
        return str(category)

    def _market(self, params: dict[str, Any], category: str) -> BybitMarket:
        symbol = params.get("symbol")
        if not symbol:
            raise errors.params_error("symbol is required")
        market = self._by_venue.get((category, str(symbol)))
        if market is None:
            raise errors.NOT_SUPPORTED_SYMBOLS
        return market

    def _markets(self, params: dict[str, Any], category: str) -> list[BybitMarket]:
        if params.get("symbol"):
            return [self._market(params, category)]
        return [m for m in self.markets.values() if m.category == category]

    # ---------------------------------------------------------------- market data

    def _time(self, _params: dict[str, str]) -> Any:
        now = self.core.now_ms()
        return {"timeSecond": str(now // 1000), "timeNano": str(now * 1_000_000)}

    def _instruments(self, params: dict[str, str]) -> Any:
        category = self._category(params, ("spot", "linear", "inverse", "option"))
        markets = (
            []
            if params.get("status") == "PreLaunch" or category in ("inverse", "option")
            else (self._markets(params, category))
        )
        build = spot_instrument if category == "spot" else linear_instrument
        return {"category": category, "list": [build(m) for m in markets], "nextPageCursor": ""}

    def _ticker_entry(self, market: BybitMarket) -> dict[str, Any]:
        symbol = market.info.symbol
        day = self.core.klines(symbol, KlineInterval.H1, 24)
        return payloads.ticker(market, self.core.ticker(symbol), day)

    def _tickers(self, params: dict[str, str]) -> Any:
        category = self._category(params)
        return {
            "category": category,
            "list": [self._ticker_entry(m) for m in self._markets(params, category)],
        }

    def _klines(self, params: dict[str, str]) -> Any:
        category = self._category(params)
        market = self._market(params, category)
        interval = KLINE_INTERVALS.get(params.get("interval", ""))
        if interval is None:
            raise errors.params_error("interval invalid")
        limit = min(int(params.get("limit", "200")), 1000)
        start = int(params.get("start", "0"))
        end = int(params.get("end", str(2**62)))
        rows = [
            k for k in self.core.klines(market.info.symbol, interval, 1_500) if start <= k.open_time_ms <= end
        ]
        rows = rows[:limit] if "start" in params and "end" not in params else rows[-limit:]
        return {
            "symbol": market.venue_symbol,
            "category": category,
            "list": [payloads.kline_row(k) for k in reversed(rows)],
        }

    # ---------------------------------------------------------------- account

    def _query_api(self, _params: dict[str, Any]) -> Any:
        return {
            "id": "13770661",
            "note": "opensqt-replica",
            "apiKey": self.credentials.api_key,
            "readOnly": 0,
            "secret": "",
            "permissions": {
                "ContractTrade": ["Order", "Position"],
                "Spot": ["SpotTrade"],
                "Wallet": ["AccountTransfer", "SubMemberTransfer"],
                "Options": [],
                "Derivatives": [],
                "CopyTrading": [],
                "BlockTrade": [],
                "Exchange": [],
                "NFT": [],
                "Affiliate": [],
            },
            "ips": ["*"],
            "type": 1,
            "deadlineDay": 83,
            "expiredAt": "2027-05-15T03:21:05Z",
            "createdAt": "2026-02-16T02:24:40Z",
            "unified": 0,
            "uta": 1,
            "userID": 24600000,
            "inviterID": 0,
            "vipLevel": "No VIP",
            "mktMakerLevel": "0",
            "affiliateID": 0,
            "rsaPublicKey": "",
            "isMaster": True,
            "parentUid": "0",
            "kycLevel": "LEVEL_DEFAULT",
            "kycRegion": "",
        }

    def _account_info(self, _params: dict[str, Any]) -> Any:
        return {
            "unifiedMarginStatus": 5,
            "marginMode": "REGULAR_MARGIN",
            "isMasterTrader": False,
            "spotHedgingStatus": "OFF",
            "updatedTime": "1697078946000",
            "dcpStatus": "OFF",
            "timeWindow": 10,
            "smpGroup": 0,
        }

    def _coin_info(self, _params: dict[str, Any]) -> Any:
        coins = sorted({a for m in self.markets.values() for a in (m.info.base, m.info.quote)})
        return {
            "rows": [
                {
                    "name": coin,
                    "coin": coin,
                    "remainAmount": "1500000",
                    "chains": [
                        {
                            "chainType": coin,
                            "confirmation": "10000",
                            "withdrawFee": "0.0005",
                            "depositMin": "0.0005",
                            "withdrawMin": "0.001",
                            "chain": coin,
                            "chainDeposit": "1",
                            "chainWithdraw": "1",
                            "minAccuracy": "8",
                            "withdrawPercentageFee": "0",
                            "contractAddress": "",
                        }
                    ],
                }
                for coin in coins
            ]
        }

    def _wallet_balance(self, params: dict[str, Any]) -> Any:
        if params.get("accountType") != "UNIFIED":
            raise BybitError(10001, "accountType only support UNIFIED.")
        return payloads.wallet(self.core.balances())

    def _fee_rate(self, params: dict[str, Any]) -> Any:
        category = self._category(params)
        return {
            "list": [
                {
                    "symbol": m.venue_symbol,
                    "baseCoin": "" if not m.spot else m.info.base,
                    "takerFeeRate": payloads.s(m.info.taker_fee),
                    "makerFeeRate": payloads.s(m.info.maker_fee),
                }
                for m in self._markets(params, category)
            ]
        }

    def _positions(self, params: dict[str, Any]) -> Any:
        self._category(params, ("linear",))
        if not params.get("symbol") and not params.get("settleCoin"):
            raise errors.params_error("symbol or settleCoin is required")
        now = self.core.now_ms()
        entries = []
        for market in self._markets(params, "linear"):
            if params.get("settleCoin") and market.info.settle != params["settleCoin"]:
                continue
            for pos in self.core.positions(market.info.symbol):
                if pos.quantity == 0 and not params.get("symbol"):
                    continue
                mark = self.core.ticker(market.info.symbol).last
                entries.append(payloads.position(pos, market, mark, now))
        return {"list": entries, "nextPageCursor": "", "category": "linear"}

    def _set_leverage(self, params: dict[str, Any]) -> Any:
        self._category(params, ("linear",))
        market = self._market(params, "linear")
        buy, sell = str(params.get("buyLeverage", "")), str(params.get("sellLeverage", ""))
        if buy != sell:
            raise BybitError(110027, "buy leverage must equal sell leverage in one-way mode")
        try:
            leverage = Decimal(buy)
        except InvalidOperation:
            raise errors.params_error("buyLeverage invalid") from None
        if leverage == self.core.leverage(market.info.symbol):
            raise errors.LEVERAGE_NOT_MODIFIED
        try:
            self.core.set_leverage(market.info.symbol, leverage)
        except ServiceError:
            raise BybitError(110013, "Cannot set leverage, due to risk limit level.") from None
        return {}

    def _switch_mode(self, params: dict[str, Any]) -> Any:
        """POST /v5/position/switch-mode: mode 0 (one-way, merged single) or 3 (hedge,
        both sides), per symbol or per settle coin. The account starts one-way."""
        self._category(params, ("linear",))
        if params.get("symbol"):
            targets = [self._market(params, "linear").info.symbol]
        elif params.get("coin"):
            coin = str(params["coin"])
            targets = [m.info.symbol for m in self.markets.values() if not m.spot and m.info.settle == coin]
        else:
            raise errors.params_error("symbol or coin is required")
        mode = str(params.get("mode", ""))
        if mode not in ("0", "3"):
            raise errors.params_error("mode invalid")
        hedged = mode == "3"
        if all((symbol in self._hedged) == hedged for symbol in targets):
            raise errors.POSITION_MODE_NOT_MODIFIED
        if hedged and any(p.quantity != 0 for symbol in targets for p in self.core.positions(symbol)):
            raise errors.POSITION_MODE_HAS_POSITION
        for symbol in targets:
            if hedged:
                self._hedged.add(symbol)
            else:
                self._hedged.discard(symbol)
        return {}

    # ---------------------------------------------------------------- orders

    def _create(self, params: dict[str, Any]) -> _Ack:
        category = self._category(params)
        market = self._market(params, category)
        info = market.info
        spot = market.spot
        side = {"Buy": Side.BUY, "Sell": Side.SELL}.get(str(params.get("side", "")))
        if side is None:
            raise errors.params_error("side invalid")
        kind = params.get("orderType")
        if kind not in ("Limit", "Market"):
            raise errors.params_error("orderType invalid")
        link_id = str(params.get("orderLinkId") or "")
        if link_id and not ORDER_LINK_ID.match(link_id):
            raise errors.params_error("orderLinkId invalid")
        if not link_id:
            link_id = f"auto-{uuid.uuid4().hex[:24]}"
        if self.core.client_id_in_use(link_id, open_only=False):
            raise errors.duplicate_order_link_id(spot)
        quantity = _decimal(params, "qty")
        if quantity is None:
            raise errors.params_error("qty invalid")
        price: Decimal | None = None
        tif_text = str(params.get("timeInForce") or ("IOC" if kind == "Market" else "GTC"))
        post_only = tif_text == "PostOnly"
        if tif_text not in ("GTC", "IOC", "FOK", "PostOnly"):
            raise errors.params_error("timeInForce invalid")
        tif = TimeInForce.GTC if post_only else TimeInForce[tif_text]
        if kind == "Limit":
            price = _decimal(params, "price")
            if price is None:
                raise errors.params_error("price invalid")
            if price <= 0 or not is_multiple(price, info.tick_size):
                raise errors.tick_size(spot)
        else:
            tif = TimeInForce.GTC
            unit = params.get("marketUnit") or ("quoteCoin" if side is Side.BUY else "baseCoin")
            if spot and unit == "quoteCoin":
                quantity = round_down(quantity / self.core.ticker(info.symbol).last, info.step_size)
        if quantity <= 0 or not is_multiple(quantity, info.step_size):
            raise errors.qty_step(spot)
        if quantity < info.min_quantity:
            raise errors.qty_too_small(spot)
        reduce_only = params.get("reduceOnly") in (True, "true")
        if reduce_only and spot:
            raise errors.params_error("reduceOnly is not supported for spot")
        if not spot:
            one_way = str(params.get("positionIdx", "0")) == "0"
            if one_way == (info.symbol in self._hedged):
                raise errors.POSITION_IDX_MISMATCH
            if not one_way:
                raise errors.params_error("hedge-mode orders are not modelled by this replica")
        request = OrderRequest(
            client_order_id=link_id,
            symbol=info.symbol,
            side=side,
            type=OrderType.LIMIT if kind == "Limit" else OrderType.MARKET,
            price=price,
            quantity=quantity,
            time_in_force=tif,
            post_only=post_only,
            reduce_only=reduce_only,
        )
        try:
            order = self.core.place(request)
        except PostOnlyWouldCross:
            order = self._post_only_cancelled(request)
        except ServiceError as error:
            raise errors.from_sim(error, spot, payloads.s(info.min_notional), info.quote) from None
        return _Ack({"orderId": order.venue_id, "orderLinkId": order.info.client_order_id})

    def _post_only_cancelled(self, request: OrderRequest) -> VenueOrder:
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
            status_detail=payloads.POST_ONLY_REJECT,
        )
        return self.core.record_local(info, payloads.POST_ONLY_REJECT)

    def _find(self, params: dict[str, Any], market: BybitMarket) -> VenueOrder | None:
        order_id = str(params.get("orderId") or "")
        link_id = str(params.get("orderLinkId") or "")
        if not order_id and not link_id:
            raise errors.params_error("orderId or orderLinkId is required")
        order = self.core.find(market.info.symbol, venue_id=order_id, client_order_id=link_id)
        if order is not None and order_id and link_id and order.info.client_order_id != link_id:
            return None
        return order

    def _cancel(self, params: dict[str, Any]) -> _Ack:
        category = self._category(params)
        market = self._market(params, category)
        order = self._find(params, market)
        if order is None or order.info.status.is_terminal:
            raise errors.order_not_found(market.spot)
        canceled = self.core.cancel(market.info.symbol, venue_id=order.venue_id)
        return _Ack({"orderId": canceled.venue_id, "orderLinkId": canceled.info.client_order_id})

    def _cancel_all(self, params: dict[str, Any]) -> Any:
        category = self._category(params)
        if category == "linear" and not any(params.get(k) for k in ("symbol", "baseCoin", "settleCoin")):
            raise errors.params_error("symbol or baseCoin or settleCoin is required")
        canceled = [
            order
            for market in self._markets(params, category)
            for order in self.core.cancel_all(market.info.symbol)
        ]
        return {
            "list": [{"orderId": o.venue_id, "orderLinkId": o.info.client_order_id} for o in canceled],
            "success": "1",
        }

    def _order_list(self, params: dict[str, Any], orders: list[VenueOrder], category: str) -> Any:
        limit = min(int(params.get("limit", "20")), 50)
        newest = sorted(orders, key=lambda o: (o.info.created_ms, o.venue_id), reverse=True)[:limit]
        return {
            "list": [self._order_entry(o) for o in newest],
            "nextPageCursor": "",
            "category": category,
        }

    def _order_entry(self, order: VenueOrder) -> dict[str, Any]:
        market = self.markets[order.info.symbol]
        fills = [f for f in self.core.fills(order.info.symbol) if f.order_id == order.venue_id]
        cum_fee = sum((venue_fee(f, market.info)[0] for f in fills), ZERO)
        return payloads.order_entry(order, market, cum_fee)

    def _realtime(self, params: dict[str, Any]) -> Any:
        category = self._category(params)
        markets = self._markets(params, category)
        if params.get("orderId") or params.get("orderLinkId"):
            found = [o for m in markets if (o := self._find(params, m)) is not None]
            return self._order_list(params, found, category)
        if str(params.get("openOnly", "0")) == "1":
            closed = [
                o for m in markets for o in self.core.orders(m.info.symbol) if o.info.status.is_terminal
            ]
            return self._order_list(params, closed[-500:], category)
        open_orders = [o for m in markets for o in self.core.open_orders(m.info.symbol)]
        return self._order_list(params, open_orders, category)

    def _history(self, params: dict[str, Any]) -> Any:
        category = self._category(params)
        markets = self._markets(params, category)
        if params.get("orderId") or params.get("orderLinkId"):
            found = [o for m in markets if (o := self._find(params, m)) is not None]
            return self._order_list(params, found, category)
        orders = [o for m in markets for o in self.core.orders(m.info.symbol)]
        wanted = params.get("orderStatus")
        if wanted:
            orders = [
                o for o in orders if payloads.order_status(o.info, self.markets[o.info.symbol].spot) == wanted
            ]
        return self._order_list(params, orders, category)

    def _executions(self, params: dict[str, Any]) -> Any:
        category = self._category(params)
        markets = self._markets(params, category)
        start = int(params.get("startTime", "0"))
        limit = min(int(params.get("limit", "50")), 100)
        entries = []
        for market in markets:
            for fill in self.core.fills(market.info.symbol, start):
                if params.get("orderId") and fill.order_id != params["orderId"]:
                    continue
                order = self.core.find(market.info.symbol, venue_id=fill.order_id)
                assert order is not None
                entries.append(
                    (
                        fill.time_ms,
                        int(fill.trade_id),
                        payloads.execution(fill, order.info, market, int(fill.trade_id)),
                    )
                )
        entries.sort(key=lambda e: (e[0], e[1]), reverse=True)
        return {"nextPageCursor": "", "category": category, "list": [e[2] for e in entries[:limit]]}

    # ---------------------------------------------------------------- streams

    async def _public_stream(self, request: web.Request) -> web.StreamResponse:
        category = request.match_info["category"]
        if category not in ("spot", "linear"):
            raise web.HTTPNotFound()
        return await self.websocket(request, f"public-{category}", self._on_public_message)

    async def _private_stream(self, request: web.Request) -> web.StreamResponse:
        return await self.websocket(request, "private", self._on_private_message)

    def _conn_id(self, session: WsSession) -> str:
        if "conn_id" not in session.state:
            self._conn_seq += 1
            session.state["conn_id"] = f"cpv8fvmj4d{self._conn_seq:06d}-1ndm"
        return str(session.state["conn_id"])

    def _op_reply(
        self, session: WsSession, op: str, req_id: Any, success: bool, ret_msg: str
    ) -> dict[str, Any]:
        reply: dict[str, Any] = {
            "success": success,
            "ret_msg": ret_msg,
            "conn_id": self._conn_id(session),
            "op": op,
        }
        if req_id is not None:
            reply["req_id"] = req_id
        return reply

    async def _on_public_message(self, session: WsSession, text: str) -> None:
        message = _loads(text)
        if not isinstance(message, dict):
            session.send(
                {
                    "success": False,
                    "ret_msg": "error:invalid op",
                    "conn_id": self._conn_id(session),
                    "request": {"op": "", "args": None},
                }
            )
            return
        op = message.get("op")
        req_id = message.get("req_id")
        if op == "ping":
            session.send(self._op_reply(session, "ping", req_id, True, "pong"))
            return
        if op not in ("subscribe", "unsubscribe"):
            session.send(self._op_reply(session, str(op), req_id, False, f"error:invalid op {op}"))
            return
        topics = message.get("args") or []
        category = session.channel.removeprefix("public-")
        for topic in topics:
            if not isinstance(topic, str) or self._public_topic(category, topic) is None:
                session.send(self._op_reply(session, op, req_id, False, f"Invalid symbol :[{topic}]"))
                return
        if op == "unsubscribe":
            session.topics.difference_update(topics)
            session.send(self._op_reply(session, op, req_id, True, ""))
            return
        session.topics.update(topics)
        session.send(self._op_reply(session, op, req_id, True, "subscribe"))
        for topic in topics:
            self._push_snapshot(session, category, topic)

    def _public_topic(self, category: str, topic: str) -> tuple[str, BybitMarket, str] | None:
        parts = topic.split(".")
        market = self._by_venue.get((category, parts[-1]))
        if market is None:
            return None
        if parts[0] == "tickers" and len(parts) == 2:
            return "tickers", market, ""
        if parts[0] == "kline" and len(parts) == 3 and parts[1] in KLINE_INTERVALS:
            return "kline", market, parts[1]
        return None

    def _push_snapshot(self, session: WsSession, category: str, topic: str) -> None:
        parsed = self._public_topic(category, topic)
        assert parsed is not None
        kind, market, interval = parsed
        if kind == "tickers":
            self._send_ticker(session, market, "snapshot")
        else:
            current = self.core.klines(market.info.symbol, KLINE_INTERVALS[interval], 1)
            self._send_kline(session, market, interval, current)

    def _send_ticker(self, session: WsSession, market: BybitMarket, kind: str) -> None:
        now = self.core.now_ms()
        body = {
            "topic": f"tickers.{market.venue_symbol}",
            "ts": now,
            "type": kind,
            "data": self._ticker_entry(market),
        }
        if not market.spot:
            body |= {"cs": now}
        session.send(body)

    def _send_kline(
        self, session: WsSession, market: BybitMarket, interval: str, klines: list[KlineInfo]
    ) -> None:
        now = self.core.now_ms()
        session.send(
            {
                "topic": f"kline.{interval}.{market.venue_symbol}",
                "data": [payloads.ws_kline(k, interval, now) for k in klines],
                "ts": now,
                "type": "snapshot",
            }
        )

    async def _on_private_message(self, session: WsSession, text: str) -> None:
        message = _loads(text)
        if not isinstance(message, dict):
            session.send(
                {
                    "success": False,
                    "ret_msg": "error:invalid op",
                    "conn_id": self._conn_id(session),
                    "request": {"op": "", "args": None},
                }
            )
            return
        op = message.get("op")
        req_id = message.get("req_id")
        if op == "ping":
            session.send(
                {
                    "req_id": req_id,
                    "op": "pong",
                    "args": [str(self.core.now_ms())],
                    "conn_id": self._conn_id(session),
                }
            )
            return
        if op == "auth":
            failure = auth.verify_ws(
                message.get("args"),
                api_key=self.credentials.api_key,
                secret=self.credentials.api_secret,
                now_ms=self.core.now_ms(),
            )
            if failure:
                session.send(self._op_reply(session, "auth", req_id, False, failure) | {"request": message})
                return
            session.authenticated = True
            session.send(self._op_reply(session, "auth", req_id, True, ""))
            return
        if op not in ("subscribe", "unsubscribe"):
            session.send(self._op_reply(session, str(op), req_id, False, f"error:invalid op {op}"))
            return
        if not session.authenticated:
            session.send(self._op_reply(session, op, req_id, False, "Request not authorized"))
            return
        topics = message.get("args") or []
        if any(t not in PRIVATE_TOPICS for t in topics):
            session.send(self._op_reply(session, op, req_id, False, f"Invalid topic :{topics}"))
            return
        if op == "subscribe":
            session.topics.update(topics)
        else:
            session.topics.difference_update(topics)
        session.send(self._op_reply(session, op, req_id, True, ""))

    # ---------------------------------------------------------------- core events

    def _private_message(self, topic: str, data: list[dict[str, Any]]) -> dict[str, Any]:
        self._message_seq += 1
        return {
            "id": f"{self._message_seq:08d}-replica-{topic}",
            "topic": topic,
            "creationTime": self.core.now_ms(),
            "data": data,
        }

    def on_order_update(self, update: OrderUpdate) -> None:
        market = self.markets[update.order.info.symbol]
        sessions = [s for s in self.sessions("private") if s.authenticated]
        if not sessions:
            return
        order_message = self._private_message(
            "order", [self._order_entry(update.order) | {"category": market.category}]
        )
        execution = None
        if update.fill is not None:
            self._exec_seq += 1
            entry = payloads.execution(update.fill, update.order.info, market, self._exec_seq)
            execution = self._private_message("execution", [entry | {"category": market.category}])
        for session in sessions:
            if execution is not None and "execution" in session.topics:
                session.send(execution)
            if "order" in session.topics:
                session.send(order_message)
            if update.fill is not None and "wallet" in session.topics:
                session.send(self._private_message("wallet", payloads.wallet(self.core.balances())["list"]))

    def on_ticker(self, ticker: TickerInfo) -> None:
        market = self.markets[ticker.symbol]
        topic = f"tickers.{market.venue_symbol}"
        for session in self.sessions(f"public-{market.category}"):
            if topic in session.topics:
                self._send_ticker(session, market, "snapshot" if market.spot else "delta")

    def public_ready(self, symbol: str, stream: StreamKind) -> bool:
        market = self.markets[symbol]
        topic = f"tickers.{market.venue_symbol}" if stream == "ticker" else f"kline.1.{market.venue_symbol}"
        return any(topic in s.topics for s in self.sessions(f"public-{market.category}"))

    def private_ready(self, market_type: MarketType, streams: frozenset[StreamKind]) -> bool:
        wanted = {PRIVATE_STREAM_TOPICS[s] for s in streams if s in PRIVATE_STREAM_TOPICS}
        return any(s.authenticated and wanted <= s.topics for s in self.sessions("private"))

    def before_shutdown(self, session: WsSession) -> None:
        """Bybit sends nothing before closing a stream."""

    def on_kline(self, kline: KlineInfo) -> None:
        market = self.markets[kline.symbol]
        interval = INTERVAL_IDS.get(kline.interval)
        if interval is None:
            return
        topic = f"kline.{interval}.{market.venue_symbol}"
        for session in self.sessions(f"public-{market.category}"):
            if topic in session.topics:
                self._send_kline(session, market, interval, [kline])


def _decimal(params: dict[str, Any], name: str) -> Decimal | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise errors.params_error(f"{name} invalid") from None
    if not number.is_finite():
        raise errors.params_error(f"{name} invalid")
    return number


def _dumps(payload: Any) -> str:
    return json.dumps(payload, separators=(",", ":"))


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None
