"""OKX v5 payload shapes: REST answers and WebSocket pushes.

Field names follow the v5 pages "Get ticker", "Get candlesticks", "Get balance",
"Get positions", "Get order details" / "Get order List", "Get transaction details"
and the WebSocket "Order channel". Every number is a string; sizes of SWAP orders,
fills and positions are contracts. Fees are signed as OKX signs them: a charge is
negative ("-0.0012"), a rebate positive.

Documented simplifications: `pnl` / `fillPnl` of an order are "0" (the shared core
keeps realised PnL per position, not per fill; the position's `realizedPnl` is
exact); `volCcyQuote` of a candle is volume x close (the klines carry no turnover);
`mmr` uses the first tier's 0.4 % rate.
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
from .markets import OkxMarket

MAINTENANCE_RATE = Decimal("0.004")
SIDE = {Side.BUY: "buy", Side.SELL: "sell"}
STATE = {
    OrderStatus.PENDING_NEW: "live",
    OrderStatus.NEW: "live",
    OrderStatus.PARTIALLY_FILLED: "partially_filled",
    OrderStatus.FILLED: "filled",
    OrderStatus.CANCELED: "canceled",
    OrderStatus.EXPIRED: "canceled",
    OrderStatus.REJECTED: "canceled",
}
# cancelSource values of the v5 order pages.
CANCEL_BY_USER = "1"
CANCEL_IOC = "14"
CANCEL_REDUCE_ONLY = "22"
CANCEL_POST_ONLY = "31"
CANCEL_SOURCE_REASON = {
    CANCEL_BY_USER: "Order canceled by user",
    CANCEL_IOC: "Order canceled: IOC order was partially canceled due to incompletely filled",
    CANCEL_REDUCE_ONLY: "Order canceled: Reduce-only orders only allow reducing your current position. "
    "System has already canceled this order.",
    CANCEL_POST_ONLY: "The post-only order will take liquidity in maker orders",
}


def s(value: Decimal | None) -> str:
    return "" if value is None else format_decimal(value)


@dataclass(frozen=True, slots=True)
class OrderMeta:
    """What the venue keeps about an order besides the core's state."""

    cl_ord_id: str  # as sent ("" when the client sent none)
    tag: str
    td_mode: str
    ord_type: str  # limit, post_only, ioc, fok, market, optimal_limit_ioc
    tgt_ccy: str
    lever: str


def trade_id(fill: FillInfo) -> str:
    return str(500_000_000 + int(fill.trade_id))


def bill_id(fill: FillInfo) -> str:
    return str(2_700_000_000_000_000_000 + int(fill.trade_id))


def cancel_source(order: VenueOrder) -> str:
    info = order.info
    if order.reject_reason:
        return order.reject_reason
    if info.status is OrderStatus.CANCELED:
        return CANCEL_BY_USER
    if info.status is OrderStatus.EXPIRED:
        return CANCEL_REDUCE_ONLY if info.reduce_only else CANCEL_IOC
    return ""


def _fee_ccy(order: VenueOrder, market: OkxMarket) -> str:
    info = market.info
    if market.spot and order.info.side is Side.BUY:
        return info.base
    return info.quote if market.spot else info.settle


def order(
    venue_order: VenueOrder, meta: OrderMeta, market: OkxMarket, fills: Sequence[FillInfo]
) -> dict[str, Any]:
    """GET /api/v5/trade/order (also orders-pending entries)."""
    info = venue_order.info
    fee = sum((venue_fee(f, market.info)[0] for f in fills), ZERO)
    last = fills[-1] if fills else None
    source = cancel_source(venue_order)
    spot = market.spot
    return {
        "accFillSz": s(market.to_venue(info.filled_quantity)),
        "algoClOrdId": "",
        "algoId": "",
        "attachAlgoClOrdId": "",
        "attachAlgoOrds": [],
        "avgPx": s(info.average_fill_price) if info.average_fill_price is not None else "",
        "cTime": str(info.created_ms),
        "cancelSource": source,
        "cancelSourceReason": CANCEL_SOURCE_REASON.get(source, ""),
        "category": "normal",
        "ccy": "",
        "clOrdId": meta.cl_ord_id,
        "fee": s(-fee),
        "feeCcy": _fee_ccy(venue_order, market),
        "fillPx": s(last.price) if last else "",
        "fillSz": s(market.to_venue(last.quantity)) if last else "0",
        "fillTime": str(last.time_ms) if last else "",
        "instId": market.inst_id,
        "instType": market.inst_type,
        "isTpLimit": "false",
        "lever": meta.lever,
        "linkedAlgoOrd": {"algoId": ""},
        "ordId": venue_order.venue_id,
        "ordType": meta.ord_type,
        "pnl": "0",
        "posSide": "" if spot else "net",
        "px": s(info.price) if info.type is OrderType.LIMIT else "",
        "pxType": "",
        "pxUsd": "",
        "pxVol": "",
        "quickMgnType": "",
        "rebate": "0",
        "rebateCcy": market.info.quote,
        "reduceOnly": "true" if info.reduce_only else "false",
        "side": SIDE[info.side],
        "slOrdPx": "",
        "slTriggerPx": "",
        "slTriggerPxType": "",
        "source": "",
        "state": STATE[info.status],
        "stpId": "",
        "stpMode": "cancel_maker",
        "sz": s(market.to_venue(info.quantity)),
        "tag": meta.tag,
        "tdMode": meta.td_mode,
        "tgtCcy": meta.tgt_ccy,
        "tpOrdPx": "",
        "tpTriggerPx": "",
        "tpTriggerPxType": "",
        "tradeId": trade_id(last) if last else "",
        "uTime": str(info.updated_ms),
    }


def ws_order(
    venue_order: VenueOrder,
    meta: OrderMeta,
    market: OkxMarket,
    fills: Sequence[FillInfo],
    fill: FillInfo | None,
) -> dict[str, Any]:
    """One entry of the WebSocket "orders" channel; `fill` is the trade that caused it."""
    body = order(venue_order, meta, market, fills)
    body |= {
        "amendResult": "",
        "amendSource": "",
        "code": "0",
        "msg": "",
        "reqId": "",
        "notionalUsd": s(venue_order.info.quantity * (venue_order.info.price or ZERO)),
        "fillFwdPx": "",
        "fillMarkVol": "",
        "fillPxUsd": "",
        "fillPxVol": "",
        "fillNotionalUsd": "",
        "lastPx": "",
    }
    if fill is None:
        return body | {
            "fillPx": "",
            "fillSz": "0",
            "fillTime": "",
            "tradeId": "",
            "fillFee": "0",
            "fillFeeCcy": "",
            "execType": "",
            "fillPnl": "0",
            "fillMarkPx": "",
            "fillIdxPx": "",
        }
    amount, asset = venue_fee(fill, market.info)
    return body | {
        "fillPx": s(fill.price),
        "fillSz": s(market.to_venue(fill.quantity)),
        "fillTime": str(fill.time_ms),
        "tradeId": trade_id(fill),
        "fillFee": s(-amount),
        "fillFeeCcy": asset,
        "execType": "M" if fill.maker else "T",
        "fillPnl": "0",
        "fillNotionalUsd": s(fill.price * fill.quantity),
        "fillMarkPx": s(fill.price),
        "fillIdxPx": s(fill.price),
    }


def fill_entry(fill: FillInfo, market: OkxMarket, cl_ord_id: str, fee_rate: Decimal) -> dict[str, Any]:
    """One entry of GET /api/v5/trade/fills and /fills-history."""
    amount, asset = venue_fee(fill, market.info)
    return {
        "billId": bill_id(fill),
        "clOrdId": cl_ord_id,
        "execType": "M" if fill.maker else "T",
        "fee": s(-amount),
        "feeCcy": asset,
        "feeRate": s(-fee_rate),
        "fillIdxPx": s(fill.price),
        "fillMarkPx": "" if market.spot else s(fill.price),
        "fillMarkVol": "",
        "fillFwdPx": "",
        "fillPnl": "0",
        "fillPx": s(fill.price),
        "fillPxUsd": "",
        "fillPxVol": "",
        "fillSz": s(market.to_venue(fill.quantity)),
        "fillTime": str(fill.time_ms),
        "instId": market.inst_id,
        "instType": market.inst_type,
        "ordId": fill.order_id,
        "posSide": "" if market.spot else "net",
        "side": SIDE[fill.side],
        "subType": "1" if fill.side is Side.BUY else "2",
        "tag": "",
        "tradeId": trade_id(fill),
        "ts": str(fill.time_ms),
    }


def ticker(market: OkxMarket, tick: TickerInfo, day: Sequence[KlineInfo]) -> dict[str, Any]:
    """GET /api/v5/market/ticker and the "tickers" channel."""
    opened = day[0].open if day else tick.last
    volume = sum((k.volume for k in day), ZERO)
    turnover = sum((k.volume * k.close for k in day), ZERO)
    high = max([k.high for k in day] + [tick.last])
    low = min([k.low for k in day] + [tick.last])
    return {
        "instType": market.inst_type,
        "instId": market.inst_id,
        "last": s(tick.last),
        "lastSz": s(market.to_venue(market.info.step_size)),
        "askPx": s(tick.ask),
        "askSz": "1",
        "bidPx": s(tick.bid),
        "bidSz": "1",
        "open24h": s(opened),
        "high24h": s(high),
        "low24h": s(low),
        "volCcy24h": s(turnover if market.spot else volume),
        "vol24h": s(volume if market.spot else market.to_venue(volume)),
        "ts": str(tick.time_ms),
        "sodUtc0": s(opened),
        "sodUtc8": s(opened),
    }


def candle(market: OkxMarket, kline: KlineInfo) -> list[str]:
    """[ts, o, h, l, c, vol, volCcy, volCcyQuote, confirm] (REST rows and channel data)."""
    quote = kline.volume * kline.close
    vol = kline.volume if market.spot else market.to_venue(kline.volume)
    vol_ccy = quote if market.spot else kline.volume
    return [
        str(kline.open_time_ms),
        s(kline.open),
        s(kline.high),
        s(kline.low),
        s(kline.close),
        s(vol),
        s(vol_ccy),
        s(quote),
        "1" if kline.closed else "0",
    ]


def balance_detail(balance: BalanceInfo, upl: Decimal, now_ms: int) -> dict[str, Any]:
    """One `details` entry of GET /api/v5/account/balance (single-currency margin mode)."""
    return {
        "availBal": s(balance.free),
        "availEq": s(balance.free),
        "borrowFroz": "",
        "cashBal": s(balance.total - upl),
        "ccy": balance.asset,
        "crossLiab": "",
        "disEq": s(balance.total),
        "eq": s(balance.total),
        "eqUsd": s(balance.total),
        "fixedBal": "0",
        "frozenBal": s(balance.used),
        "imr": "",
        "interest": "",
        "isoEq": "0",
        "isoLiab": "",
        "isoUpl": "0",
        "liab": "",
        "maxLoan": "",
        "mgnRatio": "",
        "mmr": "",
        "notionalLever": "",
        "ordFrozen": s(balance.used),
        "rewardBal": "0",
        "spotInUseAmt": "",
        "spotIsoBal": "0",
        "stgyEq": "0",
        "twap": "0",
        "uTime": str(now_ms),
        "upl": s(upl),
        "uplLiab": "",
    }


def position(position_info: PositionInfo, market: OkxMarket, mark: Decimal, now_ms: int) -> dict[str, Any]:
    """One entry of GET /api/v5/account/positions (net mode, cross margin)."""
    size = abs(position_info.quantity)
    notional = size * mark
    imr = notional / position_info.leverage
    ratio = position_info.unrealized_pnl / imr if imr else ZERO
    return {
        "adl": "1",
        "availPos": "",
        "avgPx": s(position_info.entry_price) if size else "",
        "baseBal": "",
        "baseBorrowed": "",
        "baseInterest": "",
        "bePx": s(position_info.entry_price) if size else "",
        "bizRefId": "",
        "bizRefType": "",
        "cTime": str(now_ms),
        "ccy": market.info.settle,
        "clSpotInUseAmt": "",
        "closeOrderAlgo": [],
        "deltaBS": "",
        "deltaPA": "",
        "fee": "0",
        "fundingFee": "0",
        "gammaBS": "",
        "gammaPA": "",
        "idxPx": s(mark),
        "imr": s(imr),
        "instId": market.inst_id,
        "instType": market.inst_type,
        "interest": "",
        "last": s(mark),
        "lever": s(position_info.leverage),
        "liab": "",
        "liabCcy": "",
        "liqPenalty": "0",
        "liqPx": "",
        "margin": "",
        "markPx": s(mark),
        "maxSpotInUseAmt": "",
        "mgnMode": "cross",
        "mgnRatio": "",
        "mmr": s(notional * MAINTENANCE_RATE),
        "notionalUsd": s(notional),
        "optVal": "",
        "pendingCloseOrdLiabVal": "",
        "pnl": s(position_info.realized_pnl),
        "pos": s(market.to_venue(position_info.quantity)),
        "posCcy": "",
        "posId": str(307_000_000_000_000_000 + sum(map(ord, market.inst_id))),
        "posSide": "net",
        "quoteBal": "",
        "quoteBorrowed": "",
        "quoteInterest": "",
        "realizedPnl": s(position_info.realized_pnl),
        "spotInUseAmt": "",
        "spotInUseCcy": "",
        "thetaBS": "",
        "thetaPA": "",
        "tradeId": "",
        "uTime": str(now_ms),
        "upl": s(position_info.unrealized_pnl),
        "uplLastPx": s(position_info.unrealized_pnl),
        "uplRatio": s(ratio),
        "uplRatioLastPx": s(ratio),
        "usdPx": "",
        "vegaBS": "",
        "vegaPA": "",
    }
