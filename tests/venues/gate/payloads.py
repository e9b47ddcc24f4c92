"""Gate v4 payload shapes: REST answers and WebSocket pushes.

Field names follow the v4 schemas Order, FuturesOrder, Trade, MyFuturesTrade,
Position, FuturesAccount, SpotAccount, Ticker, FuturesTicker and the WebSocket
spot.orders / futures.orders / *.usertrades / *.tickers / *.candlesticks pages.
Spot numbers are strings; futures ids, sizes and seconds are JSON numbers, sizes are
signed whole contracts (positive bid, negative ask).

Documented simplifications: the futures candle "sum" and the spot candle quote
volume are volume x close (the klines carry no turnover); position
maintenance_margin uses the first tier's 0.4 % rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from opensqt_common.decimals import ZERO, format_decimal
from opensqt_common.enums import OrderStatus, OrderType, Side, TimeInForce
from opensqt_connector.models import BalanceInfo, FillInfo, KlineInfo, PositionInfo, TickerInfo

from ..framework.core import VenueOrder
from ..framework.fees import venue_fee
from .markets import GateMarket

MAINTENANCE_RATE = Decimal("0.004")
SIDE = {Side.BUY: "buy", Side.SELL: "sell"}
TIF = {TimeInForce.GTC: "gtc", TimeInForce.IOC: "ioc", TimeInForce.FOK: "fok"}


def s(value: Decimal) -> str:
    return format_decimal(value)


@dataclass(frozen=True, slots=True)
class OrderMeta:
    """What the venue keeps about an order besides the core's state."""

    text: str  # the order's text as the venue reports it ("t-…", "apiv4" or "api")
    account: str  # spot only
    quote_amount: Decimal | None  # a spot market buy's amount (quote), as sent


def trade_id(fill: FillInfo) -> int:
    return 880_000_000 + int(fill.trade_id)


def _seconds(ms: int) -> str:
    return str(ms // 1000)


def _float_seconds(ms: int) -> float:
    return ms / 1000


def tif_of(order: VenueOrder) -> str:
    return "poc" if order.info.post_only else TIF[order.info.time_in_force]


def finish_as(order: VenueOrder, spot: bool) -> str:
    info = order.info
    if order.reject_reason:
        return order.reject_reason
    return {
        OrderStatus.PENDING_NEW: "open" if spot else "_new",
        OrderStatus.NEW: "open" if spot else "_new",
        OrderStatus.PARTIALLY_FILLED: "open" if spot else "_new",
        OrderStatus.FILLED: "filled",
        OrderStatus.CANCELED: "cancelled",
        OrderStatus.REJECTED: "cancelled",
        OrderStatus.EXPIRED: ("reduce_only" if info.reduce_only else TIF[info.time_in_force]),
    }[info.status]


def _fee_total(fills: Sequence[FillInfo], market: GateMarket) -> Decimal:
    return sum((venue_fee(f, market.info)[0] for f in fills), ZERO)


def spot_order(
    venue_order: VenueOrder, meta: OrderMeta, market: GateMarket, fills: Sequence[FillInfo]
) -> dict[str, Any]:
    """POST/GET /spot/orders answers (REST form: *_time_ms are numbers)."""
    info = venue_order.info
    filled_total = sum((f.price * f.quantity for f in fills), ZERO)
    status = info.status
    spot_status = "open" if status.is_open else "closed" if status is OrderStatus.FILLED else "cancelled"
    if meta.quote_amount is not None:
        amount = meta.quote_amount
        left = ZERO if status.is_terminal else meta.quote_amount - filled_total
    else:
        amount = info.quantity
        left = info.quantity - info.filled_quantity
    fee_currency = market.info.base if info.side is Side.BUY else market.info.quote
    body: dict[str, Any] = {
        "id": venue_order.venue_id,
        "text": meta.text,
        "amend_text": "-",
        "create_time": _seconds(info.created_ms),
        "update_time": _seconds(info.updated_ms),
        "create_time_ms": info.created_ms,
        "update_time_ms": info.updated_ms,
        "status": spot_status,
        "currency_pair": market.market_id,
        "type": "market" if info.type is OrderType.MARKET else "limit",
        "account": meta.account,
        "side": SIDE[info.side],
        "amount": s(amount),
        "price": s(info.price) if info.price is not None else "0",
        "time_in_force": tif_of(venue_order),
        "iceberg": "0",
        "left": s(left),
        "filled_amount": s(info.filled_quantity),
        "fill_price": s(filled_total),
        "filled_total": s(filled_total),
        "fee": s(_fee_total(fills, market)),
        "fee_currency": fee_currency,
        "point_fee": "0",
        "gt_fee": "0",
        "gt_maker_fee": "0",
        "gt_taker_fee": "0",
        "gt_discount": False,
        "rebated_fee": "0",
        "rebated_fee_currency": market.info.quote,
        "stp_id": 0,
        "stp_act": "-",
        "finish_as": finish_as(venue_order, spot=True),
    }
    if info.average_fill_price is not None:
        body["avg_deal_price"] = s(info.average_fill_price)
    return body


def ws_spot_order(
    venue_order: VenueOrder,
    meta: OrderMeta,
    market: GateMarket,
    fills: Sequence[FillInfo],
    event: str,
    user: int,
) -> dict[str, Any]:
    """One spot.orders entry: string times and the "put" / "update" / "finish" event."""
    body = spot_order(venue_order, meta, market, fills)
    body["create_time_ms"] = str(body["create_time_ms"])
    body["update_time_ms"] = str(body["update_time_ms"])
    body.setdefault("avg_deal_price", "0")
    return body | {"user": user, "event": event, "biz_info": "-"}


def futures_order(venue_order: VenueOrder, meta: OrderMeta, market: GateMarket, user: int) -> dict[str, Any]:
    """POST/GET /futures/usdt/orders answers (numbers as Gate sends them)."""
    info = venue_order.info
    sign = 1 if info.side is Side.BUY else -1
    size = int(market.to_contracts(info.quantity)) * sign
    left = int(market.to_contracts(info.quantity - info.filled_quantity)) * sign
    body: dict[str, Any] = {
        "id": int(venue_order.venue_id),
        "user": user,
        "contract": market.market_id,
        "create_time": _float_seconds(info.created_ms),
        "finish_as": finish_as(venue_order, spot=False),
        "status": "open" if info.status.is_open else "finished",
        "size": size,
        "iceberg": 0,
        "price": s(info.price) if info.price is not None else "0",
        "is_close": False,
        "is_reduce_only": info.reduce_only,
        "is_liq": False,
        "tif": tif_of(venue_order),
        "left": left,
        "fill_price": s(info.average_fill_price) if info.average_fill_price is not None else "0",
        "text": meta.text,
        "tkfr": s(market.info.taker_fee),
        "mkfr": s(market.info.maker_fee),
        "refu": 0,
        "refr": "0",
        "stp_id": 0,
        "stp_act": "-",
        "amend_text": "-",
        "biz_info": "-",
        "update_id": 1,
    }
    if info.status.is_terminal:
        body["finish_time"] = _float_seconds(info.updated_ms)
    return body


def ws_futures_order(
    venue_order: VenueOrder, meta: OrderMeta, market: GateMarket, user: int
) -> dict[str, Any]:
    body = futures_order(venue_order, meta, market, user)
    body["create_time_ms"] = venue_order.info.created_ms
    if venue_order.info.status.is_terminal:
        body["finish_time_ms"] = venue_order.info.updated_ms
    return body


def spot_trade(fill: FillInfo, market: GateMarket, text: str) -> dict[str, Any]:
    """GET /spot/my_trades entries and spot.usertrades pushes."""
    amount, asset = venue_fee(fill, market.info)
    return {
        "id": str(trade_id(fill)),
        "create_time": _seconds(fill.time_ms),
        "create_time_ms": f"{fill.time_ms}.000000",
        "currency_pair": market.market_id,
        "side": SIDE[fill.side],
        "role": "maker" if fill.maker else "taker",
        "amount": s(fill.quantity),
        "price": s(fill.price),
        "order_id": fill.order_id,
        "fee": s(amount),
        "fee_currency": asset,
        "point_fee": "0",
        "gt_fee": "0",
        "amend_text": "-",
        "sequence_id": str(trade_id(fill)),
        "text": text,
    }


def futures_trade(fill: FillInfo, market: GateMarket, text: str) -> dict[str, Any]:
    """GET /futures/usdt/my_trades(_timerange) entries and futures.usertrades pushes."""
    sign = 1 if fill.side is Side.BUY else -1
    return {
        "id": trade_id(fill),
        "create_time": _float_seconds(fill.time_ms),
        "create_time_ms": fill.time_ms,
        "contract": market.market_id,
        "order_id": fill.order_id,
        "size": int(market.to_contracts(fill.quantity)) * sign,
        "close_size": 0,
        "price": s(fill.price),
        "role": "maker" if fill.maker else "taker",
        "text": text,
        "fee": s(fill.fee),
        "point_fee": "0",
    }


def _day(tick: TickerInfo, day: Sequence[KlineInfo]) -> tuple[Decimal, Decimal, Decimal, Decimal, Decimal]:
    opened = day[0].open if day else tick.last
    high = max([k.high for k in day] + [tick.last])
    low = min([k.low for k in day] + [tick.last])
    volume = sum((k.volume for k in day), ZERO)
    turnover = sum((k.volume * k.close for k in day), ZERO)
    return opened, high, low, volume, turnover


def _change(opened: Decimal, last: Decimal) -> str:
    return s(((last - opened) / opened * 100).quantize(Decimal("0.01"))) if opened else "0"


def spot_ticker(market: GateMarket, tick: TickerInfo, day: Sequence[KlineInfo]) -> dict[str, Any]:
    opened, high, low, volume, turnover = _day(tick, day)
    return {
        "currency_pair": market.market_id,
        "last": s(tick.last),
        "lowest_ask": s(tick.ask),
        "lowest_size": "1",
        "highest_bid": s(tick.bid),
        "highest_size": "1",
        "change_percentage": _change(opened, tick.last),
        "change_utc0": "0",
        "change_utc8": "0",
        "base_volume": s(volume),
        "quote_volume": s(turnover),
        "high_24h": s(high),
        "low_24h": s(low),
    }


def futures_ticker(market: GateMarket, tick: TickerInfo, day: Sequence[KlineInfo]) -> dict[str, Any]:
    opened, high, low, volume, turnover = _day(tick, day)
    return {
        "contract": market.market_id,
        "last": s(tick.last),
        "change_percentage": _change(opened, tick.last),
        "total_size": "0",
        "low_24h": s(low),
        "high_24h": s(high),
        "volume_24h": s(market.to_contracts(volume)),
        "volume_24h_btc": s(volume),
        "volume_24h_usd": s(turnover),
        "volume_24h_base": s(volume),
        "volume_24h_quote": s(turnover),
        "volume_24h_settle": s(turnover),
        "mark_price": s(tick.last),
        "funding_rate": "0.0001",
        "funding_rate_indicative": "0.0001",
        "index_price": s(tick.last),
        "quanto_base_rate": "",
        "lowest_ask": s(tick.ask),
        "lowest_size": "1",
        "highest_bid": s(tick.bid),
        "highest_size": "1",
    }


def spot_candle(kline: KlineInfo) -> list[str]:
    """[t (s), quote volume, close, high, low, open, base volume, closed]."""
    return [
        _seconds(kline.open_time_ms),
        s(kline.volume * kline.close),
        s(kline.close),
        s(kline.high),
        s(kline.low),
        s(kline.open),
        s(kline.volume),
        "true" if kline.closed else "false",
    ]


def futures_candle(market: GateMarket, kline: KlineInfo) -> dict[str, Any]:
    return {
        "t": kline.open_time_ms // 1000,
        "v": int(market.to_contracts(kline.volume)),
        "c": s(kline.close),
        "h": s(kline.high),
        "l": s(kline.low),
        "o": s(kline.open),
        "sum": s(kline.volume * kline.close),
    }


def ws_candle(market: GateMarket, kline: KlineInfo, interval: str) -> dict[str, Any]:
    """One *.candlesticks push item ("n" names the subscription)."""
    return {
        "t": _seconds(kline.open_time_ms) if market.spot else kline.open_time_ms // 1000,
        "v": s(kline.volume * kline.close) if market.spot else int(market.to_contracts(kline.volume)),
        "c": s(kline.close),
        "h": s(kline.high),
        "l": s(kline.low),
        "o": s(kline.open),
        "n": f"{interval}_{market.market_id}",
        "a": s(kline.volume),
        "w": kline.closed,
    }


def spot_account(balance: BalanceInfo) -> dict[str, Any]:
    return {
        "currency": balance.asset,
        "available": s(balance.free),
        "locked": s(balance.used),
        "update_id": 1,
    }


def futures_account(
    balance: BalanceInfo, upl: Decimal, position_margin: Decimal, user: int
) -> dict[str, Any]:
    order_margin = balance.used - position_margin
    return {
        "user": user,
        "currency": balance.asset,
        "total": s(balance.total),
        "unrealised_pnl": s(upl),
        "position_margin": s(position_margin),
        "order_margin": s(order_margin),
        "available": s(balance.free),
        "point": "0",
        "bonus": "0",
        "in_dual_mode": False,
        "enable_credit": False,
        "position_initial_margin": s(position_margin),
        "maintenance_margin": "0",
        "enable_evolved_classic": True,
        "cross_order_margin": s(order_margin),
        "cross_initial_margin": s(balance.used),
        "cross_maintenance_margin": "0",
        "cross_unrealised_pnl": s(upl),
        "cross_available": s(balance.free),
        "cross_margin_balance": s(balance.total),
        "isolated_position_margin": "0",
        "history": {
            "dnw": s(balance.total - upl),
            "pnl": "0",
            "fee": "0",
            "refr": "0",
            "fund": "0",
            "point_dnw": "0",
            "point_fee": "0",
            "point_refr": "0",
            "bonus_dnw": "0",
            "bonus_offset": "0",
        },
    }


def position(info: PositionInfo, market: GateMarket, mark: Decimal, user: int, now_ms: int) -> dict[str, Any]:
    size = abs(info.quantity)
    value = size * mark
    return {
        "user": user,
        "contract": market.market_id,
        "size": int(market.to_contracts(info.quantity)),
        "leverage": s(info.leverage),
        "risk_limit": "1000000",
        "leverage_max": str(market.leverage_max),
        "maintenance_rate": s(MAINTENANCE_RATE),
        "value": s(value),
        "margin": s(info.margin),
        "entry_price": s(info.entry_price),
        "liq_price": "0",
        "mark_price": s(mark),
        "initial_margin": s(info.margin),
        "maintenance_margin": s(value * MAINTENANCE_RATE),
        "unrealised_pnl": s(info.unrealized_pnl),
        "realised_pnl": s(info.realized_pnl),
        "pnl_pnl": s(info.realized_pnl),
        "pnl_fund": "0",
        "pnl_fee": "0",
        "history_pnl": "0",
        "last_close_pnl": "0",
        "realised_point": "0",
        "history_point": "0",
        "adl_ranking": 5 if size else 6,
        "pending_orders": 0,
        "close_order": None,
        "mode": "single",
        "cross_leverage_limit": "0",
        "update_time": now_ms // 1000,
        "update_id": 1,
        "open_time": now_ms // 1000,
    }
