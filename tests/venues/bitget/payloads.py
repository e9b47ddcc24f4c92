"""Bitget v2 payload shapes: REST answers and WebSocket pushes.

Field names follow the v2 pages "Get Order Info" / "Get Current Orders" / "Get Fills"
(spot), "Get Order Detail" / "Get Pending Orders" / "Get Order Fill Details" (mix),
"Get Account Assets", "Get Account List", "Get All Positions" and the WebSocket
ticker / candle / orders / fill channels. Numbers are strings; fees are signed as
Bitget signs them (a charge is negative).

Two quirks kept because the venue has them and ccxt reads them so: spot current-order
entries carry the limit price in "priceAvg" and the average fill price in
"basePrice"; the spot order-info "feeDetail" is a JSON string. Documented
simplification: candle quote volumes are volume x close (the klines carry no turnover).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from opensqt_common.decimals import ZERO, format_decimal
from opensqt_common.enums import OrderStatus, OrderType, Side
from opensqt_connector.models import BalanceInfo, FillInfo, KlineInfo, PositionInfo, TickerInfo

from ..framework.core import VenueOrder
from ..framework.fees import venue_fee
from .markets import BitgetMarket

MAINTENANCE_RATE = Decimal("0.004")
USER_ID = "7264631750"
SIDE = {Side.BUY: "buy", Side.SELL: "sell"}
STATUS = {
    OrderStatus.PENDING_NEW: "live",
    OrderStatus.NEW: "live",
    OrderStatus.PARTIALLY_FILLED: "partially_filled",
    OrderStatus.FILLED: "filled",
    OrderStatus.CANCELED: "cancelled",
    OrderStatus.EXPIRED: "cancelled",
    OrderStatus.REJECTED: "cancelled",
}


def s(value: Decimal) -> str:
    return format_decimal(value)


@dataclass(frozen=True, slots=True)
class OrderMeta:
    client_oid: str  # as the venue reports it (generated when the client sent none)
    force: str  # gtc | ioc | fok | post_only
    margin_mode: str  # crossed | isolated (mix only)
    quote_size: Decimal | None  # a spot market buy's size (quote), as sent


def trade_id(fill: FillInfo) -> str:
    return str(1_111_468_664_328_000_000 + int(fill.trade_id))


def status(order: VenueOrder, mix_rest: bool) -> str:
    text = STATUS[order.info.status]
    return "canceled" if mix_rest and text == "cancelled" else text


def _fee(fills: Sequence[FillInfo], market: BitgetMarket) -> tuple[Decimal, str]:
    amount = sum((venue_fee(f, market.info)[0] for f in fills), ZERO)
    asset = venue_fee(fills[0], market.info)[1] if fills else market.info.quote
    return amount, asset


def _quote_volume(order: VenueOrder) -> Decimal:
    info = order.info
    return (info.average_fill_price or ZERO) * info.filled_quantity


def _size(order: VenueOrder, meta: OrderMeta) -> Decimal:
    return meta.quote_size if meta.quote_size is not None else order.info.quantity


def spot_fee_detail(fills: Sequence[FillInfo], market: BitgetMarket) -> str:
    """The spot order-info feeDetail: a JSON string with exact decimal literals."""
    amount, asset = _fee(fills, market)
    fee = s(-amount)
    return (
        '{"newFees":{"c":0,"d":0,"deduction":false,"r":'
        + fee
        + ',"t":'
        + fee
        + ',"totalDeductionFee":0},"'
        + asset
        + '":{"deduction":false,"feeCoinCode":"'
        + asset
        + '","totalDeductionFee":0,"totalFee":'
        + fee
        + "}}"
    )


def spot_order_info(
    order: VenueOrder, meta: OrderMeta, market: BitgetMarket, fills: Sequence[FillInfo]
) -> dict[str, Any]:
    """One entry of GET /api/v2/spot/trade/orderInfo."""
    info = order.info
    body: dict[str, Any] = {
        "userId": USER_ID,
        "symbol": market.market_id,
        "orderId": order.venue_id,
        "clientOid": meta.client_oid,
        "price": s(info.price) if info.price is not None else "0",
        "size": s(_size(order, meta)),
        "orderType": "market" if info.type is OrderType.MARKET else "limit",
        "side": SIDE[info.side],
        "status": status(order, mix_rest=False),
        "priceAvg": s(info.average_fill_price) if info.average_fill_price is not None else "0",
        "baseVolume": s(info.filled_quantity),
        "quoteVolume": s(_quote_volume(order)),
        "enterPointSource": "API",
        "orderSource": "normal",
        "cancelReason": "",
        "triggerPrice": None,
        "tpslType": "normal",
        "cTime": str(info.created_ms),
        "uTime": str(info.updated_ms),
    }
    if fills:
        body["feeDetail"] = spot_fee_detail(fills, market)
    return body


def spot_open_order(order: VenueOrder, meta: OrderMeta, market: BitgetMarket) -> dict[str, Any]:
    """One entry of GET /api/v2/spot/trade/unfilled-orders (limit price in priceAvg)."""
    info = order.info
    return {
        "userId": USER_ID,
        "symbol": market.market_id,
        "orderId": order.venue_id,
        "clientOid": meta.client_oid,
        "priceAvg": s(info.price) if info.price is not None else "0",
        "size": s(_size(order, meta)),
        "orderType": "market" if info.type is OrderType.MARKET else "limit",
        "side": SIDE[info.side],
        "status": status(order, mix_rest=False),
        "basePrice": s(info.average_fill_price) if info.average_fill_price is not None else "0",
        "baseVolume": s(info.filled_quantity),
        "quoteVolume": s(_quote_volume(order)),
        "enterPointSource": "API",
        "orderSource": "normal",
        "triggerPrice": None,
        "tpslType": "normal",
        "cTime": str(info.created_ms),
        "uTime": str(info.updated_ms),
    }


def mix_order(
    order: VenueOrder,
    meta: OrderMeta,
    market: BitgetMarket,
    fills: Sequence[FillInfo],
    leverage: Decimal,
    *,
    key: str = "state",
) -> dict[str, Any]:
    """GET /api/v2/mix/order/detail (key "state") and orders-pending entries (key "status")."""
    info = order.info
    fee, _ = _fee(fills, market)
    return {
        "symbol": market.market_id,
        "size": s(info.quantity),
        "orderId": order.venue_id,
        "clientOid": meta.client_oid,
        "baseVolume": s(info.filled_quantity),
        "fee": s(-fee),
        "price": s(info.price) if info.price is not None else "0",
        "priceAvg": s(info.average_fill_price) if info.average_fill_price is not None else "",
        key: status(order, mix_rest=True),
        "side": SIDE[info.side],
        "force": meta.force,
        "totalProfits": "0",
        "posSide": "net",
        "marginCoin": market.info.settle,
        "presetStopSurplusPrice": "",
        "presetStopLossPrice": "",
        "quoteVolume": s(_quote_volume(order)),
        "orderType": "market" if info.type is OrderType.MARKET else "limit",
        "leverage": s(leverage),
        "marginMode": meta.margin_mode,
        "reduceOnly": "YES" if info.reduce_only else "NO",
        "enterPointSource": "API",
        "tradeSide": "buy_single" if info.side is Side.BUY else "sell_single",
        "posMode": "one_way_mode",
        "orderSource": "normal",
        "cancelReason": "",
        "cTime": str(info.created_ms),
        "uTime": str(info.updated_ms),
    }


def ws_order(
    order: VenueOrder,
    meta: OrderMeta,
    market: BitgetMarket,
    fills: Sequence[FillInfo],
    fill: FillInfo | None,
    leverage: Decimal,
) -> dict[str, Any]:
    """One entry of the "orders" channel (spot or USDT-FUTURES)."""
    info = order.info
    fee, fee_asset = _fee(fills, market)
    body: dict[str, Any] = {
        "instId": market.market_id,
        "orderId": order.venue_id,
        "clientOid": meta.client_oid,
        "orderType": "market" if info.type is OrderType.MARKET else "limit",
        "force": meta.force,
        "side": SIDE[info.side],
        "accBaseVolume": s(info.filled_quantity),
        "priceAvg": s(info.average_fill_price) if info.average_fill_price is not None else "0",
        "status": STATUS[info.status],
        "cTime": str(info.created_ms),
        "uTime": str(info.updated_ms),
        "feeDetail": [{"feeCoin": fee_asset, "fee": s(-fee)}] if fills else [],
        "enterPointSource": "API",
        "stpMode": "none",
    }
    if info.price is not None:
        body["price"] = s(info.price)
    if market.spot:
        size = _size(order, meta)
        body |= {
            "newSize": s(size),
            "size": s(size * (info.price or ZERO)),
            "notional": s(size * (info.price or ZERO)),
        }
    else:
        body |= {
            "size": s(info.quantity),
            "leverage": s(leverage),
            "marginCoin": market.info.settle,
            "marginMode": meta.margin_mode,
            "notionalUsd": s(info.quantity * (info.price or ZERO)),
            "posMode": "one_way_mode",
            "posSide": "net",
            "reduceOnly": "yes" if info.reduce_only else "no",
            "tradeSide": "buy_single" if info.side is Side.BUY else "sell_single",
        }
        if info.price is None:
            body["price"] = "0"
    if fill is not None:
        amount, asset = venue_fee(fill, market.info)
        body |= {
            "fillPrice": s(fill.price),
            "tradeId": trade_id(fill),
            "baseVolume": s(fill.quantity),
            "fillTime": str(fill.time_ms),
            "fillFee": s(-amount),
            "fillFeeCoin": asset,
            "tradeScope": "M" if fill.maker else "T",
        }
        if not market.spot:
            body |= {"fillNotionalUsd": s(fill.price * fill.quantity), "pnl": "0"}
    return body


def _fee_detail(fill: FillInfo, market: BitgetMarket) -> dict[str, Any]:
    amount, asset = venue_fee(fill, market.info)
    return {"deduction": "no", "feeCoin": asset, "totalDeductionFee": "0", "totalFee": s(-amount)}


def spot_fill(fill: FillInfo, market: BitgetMarket) -> dict[str, Any]:
    """GET /api/v2/spot/trade/fills entries (feeDetail an object)."""
    return {
        "userId": USER_ID,
        "symbol": market.market_id,
        "orderId": fill.order_id,
        "tradeId": trade_id(fill),
        "orderType": "limit",
        "side": SIDE[fill.side],
        "priceAvg": s(fill.price),
        "size": s(fill.quantity),
        "amount": s(fill.price * fill.quantity),
        "feeDetail": _fee_detail(fill, market),
        "tradeScope": "maker" if fill.maker else "taker",
        "cTime": str(fill.time_ms),
        "uTime": str(fill.time_ms),
    }


def mix_fill(fill: FillInfo, market: BitgetMarket) -> dict[str, Any]:
    """GET /api/v2/mix/order/fills fillList entries (feeDetail a list)."""
    return {
        "tradeId": trade_id(fill),
        "symbol": market.market_id,
        "orderId": fill.order_id,
        "price": s(fill.price),
        "baseVolume": s(fill.quantity),
        "feeDetail": [_fee_detail(fill, market)],
        "side": SIDE[fill.side],
        "quoteVolume": s(fill.price * fill.quantity),
        "profit": "0",
        "enterPointSource": "API",
        "tradeSide": "buy_single" if fill.side is Side.BUY else "sell_single",
        "posMode": "one_way_mode",
        "tradeScope": "maker" if fill.maker else "taker",
        "cTime": str(fill.time_ms),
    }


def ws_fill(fill: FillInfo, market: BitgetMarket) -> dict[str, Any]:
    """One entry of the "fill" channel: the spot shape or the futures shape."""
    detail = [_fee_detail(fill, market)]
    common = {
        "orderId": fill.order_id,
        "tradeId": trade_id(fill),
        "symbol": market.market_id,
        "orderType": "limit",
        "side": SIDE[fill.side],
        "tradeScope": "maker" if fill.maker else "taker",
        "feeDetail": detail,
        "cTime": str(fill.time_ms),
        "uTime": str(fill.time_ms),
    }
    if market.spot:
        return common | {
            "priceAvg": s(fill.price),
            "size": s(fill.quantity),
            "amount": s(fill.price * fill.quantity),
        }
    return common | {
        "price": s(fill.price),
        "baseVolume": s(fill.quantity),
        "quoteVolume": s(fill.price * fill.quantity),
        "profit": "0",
        "tradeSide": "buy_single" if fill.side is Side.BUY else "sell_single",
        "posMode": "one_way_mode",
    }


def ticker(market: BitgetMarket, tick: TickerInfo, day: Sequence[KlineInfo], ws: bool) -> dict[str, Any]:
    opened = day[0].open if day else tick.last
    volume = sum((k.volume for k in day), ZERO)
    turnover = sum((k.volume * k.close for k in day), ZERO)
    change = (tick.last - opened) / opened if opened else ZERO
    body: dict[str, Any] = {
        "instId" if ws else "symbol": market.market_id,
        "lastPr": s(tick.last),
        "open24h": s(opened),
        "high24h": s(max([k.high for k in day] + [tick.last])),
        "low24h": s(min([k.low for k in day] + [tick.last])),
        "change24h": s(change.quantize(Decimal("0.00001"))),
        "bidPr": s(tick.bid),
        "askPr": s(tick.ask),
        "bidSz": "1",
        "askSz": "1",
        "baseVolume": s(volume),
        "quoteVolume": s(turnover),
        "usdtVolume": s(turnover),
        "openUtc": s(opened),
        "changeUtc24h": s(change.quantize(Decimal("0.00001"))),
        "ts": str(tick.time_ms),
    }
    if market.spot:
        return body | ({} if ws else {"open": s(opened)})
    return body | {
        "symbol": market.market_id,
        "indexPrice": s(tick.last),
        "markPrice": s(tick.last),
        "fundingRate": "0.0001",
        "nextFundingTime": "1800000000000",
        "holdingAmount": "0",
        "deliveryStartTime": None,
        "deliveryTime": None,
        "deliveryStatus": "",
        "deliveryPrice": "0",
    }


def candle(kline: KlineInfo) -> list[str]:
    """[ts, open, high, low, close, base volume, quote volume, usdt volume]."""
    quote = s(kline.volume * kline.close)
    return [
        str(kline.open_time_ms),
        s(kline.open),
        s(kline.high),
        s(kline.low),
        s(kline.close),
        s(kline.volume),
        quote,
        quote,
    ]


def spot_asset(balance: BalanceInfo, now_ms: int) -> dict[str, Any]:
    return {
        "coin": balance.asset,
        "available": s(balance.free),
        "limitAvailable": "0",
        "frozen": s(balance.used),
        "locked": "0",
        "uTime": str(now_ms),
    }


def mix_account(balance: BalanceInfo, upl: Decimal) -> dict[str, Any]:
    return {
        "marginCoin": balance.asset,
        "locked": s(balance.used),
        "available": s(balance.free),
        "crossedMaxAvailable": s(balance.free),
        "isolatedMaxAvailable": s(balance.free),
        "maxTransferOut": s(balance.free),
        "accountEquity": s(balance.total),
        "usdtEquity": s(balance.total),
        "btcEquity": "0",
        "crossedRiskRate": "0",
        "unrealizedPL": s(upl),
        "coupon": "0",
        "unionTotalMagin": s(balance.total),
        "unionAvailable": s(balance.free),
        "unionMm": "0",
        "assetList": [],
        "isolatedMargin": "0",
        "crossedMargin": s(balance.used),
        "crossedUnrealizedPL": s(upl),
        "isolatedUnrealizedPL": "0",
        "assetMode": "single",
    }


def position(info: PositionInfo, market: BitgetMarket, mark: Decimal, now_ms: int) -> dict[str, Any]:
    size = abs(info.quantity)
    return {
        "marginCoin": market.info.settle,
        "symbol": market.market_id,
        "holdSide": "long" if info.quantity > 0 else "short",
        "openDelegateSize": "0",
        "marginSize": s(info.margin),
        "available": s(size),
        "locked": "0",
        "total": s(size),
        "leverage": s(info.leverage),
        "achievedProfits": s(info.realized_pnl),
        "openPriceAvg": s(info.entry_price),
        "marginMode": "crossed",
        "posMode": "one_way_mode",
        "unrealizedPL": s(info.unrealized_pnl),
        "liquidationPrice": "0",
        "keepMarginRate": s(MAINTENANCE_RATE),
        "markPrice": s(mark),
        "marginRatio": "0",
        "breakEvenPrice": s(info.entry_price),
        "totalFee": "0",
        "deductedFee": "0",
        "cTime": str(now_ms),
        "uTime": str(now_ms),
    }
