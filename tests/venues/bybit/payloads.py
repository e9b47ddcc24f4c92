"""Bybit v5 payload shapes: REST `result` bodies and WebSocket topic messages.

Field names follow the v5 pages "Get Open & Closed Orders", "Get Trade History",
"Get Position Info", "Get Wallet Balance", "Get Tickers", "Get Kline" and the
WebSocket "Order", "Execution", "Ticker" and "Kline" topics. Numbers are strings,
as the venue sends them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from opensqt_common.decimals import ZERO, format_decimal
from opensqt_common.enums import OrderStatus, OrderType, Side, TimeInForce
from opensqt_connector.models import BalanceInfo, FillInfo, KlineInfo, OrderInfo, PositionInfo, TickerInfo

from ..framework.core import VenueOrder
from ..framework.fees import fee_rate, venue_fee
from .markets import BybitMarket

SIDE = {Side.BUY: "Buy", Side.SELL: "Sell"}
TIF = {TimeInForce.GTC: "GTC", TimeInForce.IOC: "IOC", TimeInForce.FOK: "FOK"}
POST_ONLY_REJECT = "EC_PostOnlyWillTakeLiquidity"
INTERVALS = {"1": "1m", "3": "3m", "5": "5m", "15": "15m", "30": "30m", "60": "1h", "240": "4h", "D": "1d"}
_EXEC_NAMESPACE = 0x7E2AE69C4EDF5800A352000000000000


def s(value: Decimal | None) -> str:
    return format_decimal(value if value is not None else ZERO)


def exec_id(trade_id: str) -> str:
    return str(uuid.UUID(int=_EXEC_NAMESPACE | int(trade_id)))


def order_status(info: OrderInfo, spot: bool) -> str:
    match info.status:
        case OrderStatus.NEW | OrderStatus.PENDING_NEW:
            return "New"
        case OrderStatus.PARTIALLY_FILLED:
            return "PartiallyFilled"
        case OrderStatus.FILLED:
            return "Filled"
        case OrderStatus.REJECTED:
            return "Rejected"
    if spot and info.filled_quantity > 0:
        return "PartiallyFilledCanceled"
    return "Cancelled"


def reject_reason(order: VenueOrder) -> str:
    if order.reject_reason:
        return order.reject_reason
    if order.info.status is OrderStatus.EXPIRED:
        return "EC_NoImmediateQtyToFill" if not order.info.reduce_only else "EC_ReduceOnlySetButNotReduce"
    return "EC_NoError"


def time_in_force(info: OrderInfo) -> str:
    if info.post_only:
        return "PostOnly"
    if info.type is OrderType.MARKET:
        return "IOC"
    return TIF[info.time_in_force]


def order_entry(order: VenueOrder, market: BybitMarket, cum_fee: Decimal) -> dict[str, Any]:
    """An order of GET /v5/order/realtime and /v5/order/history (and the WS order topic);
    `cum_fee` is the sum of its executions' fees as the venue reports them."""
    info = order.info
    filled = info.filled_quantity
    value = (info.average_fill_price or ZERO) * filled
    leaves = info.quantity - filled if info.status.is_open else ZERO
    canceled = info.status in (OrderStatus.CANCELED, OrderStatus.EXPIRED)
    entry: dict[str, Any] = {
        "orderId": order.venue_id,
        "orderLinkId": info.client_order_id,
        "blockTradeId": "",
        "symbol": market.venue_symbol,
        "price": s(info.price) if info.price is not None else "0",
        "qty": s(info.quantity),
        "side": SIDE[info.side],
        "isLeverage": "0" if market.spot else "",
        "positionIdx": 0,
        "orderStatus": order_status(info, market.spot),
        "createType": "CreateByUser",
        "cancelType": "CancelByUser" if canceled and not order.reject_reason else "UNKNOWN",
        "rejectReason": reject_reason(order),
        "avgPrice": s(info.average_fill_price)
        if info.average_fill_price is not None
        else ("" if market.spot else "0"),
        "leavesQty": s(leaves),
        "leavesValue": s(leaves * (info.price or ZERO)),
        "cumExecQty": s(filled),
        "cumExecValue": s(value),
        "cumExecFee": s(cum_fee),
        "timeInForce": time_in_force(info),
        "orderType": "Market" if info.type is OrderType.MARKET else "Limit",
        "stopOrderType": "",
        "orderIv": "",
        "marketUnit": "",
        "triggerPrice": "0",
        "takeProfit": "0",
        "stopLoss": "0",
        "tpslMode": "",
        "ocoTriggerBy": "",
        "tpLimitPrice": "0",
        "slLimitPrice": "0",
        "tpTriggerBy": "",
        "slTriggerBy": "",
        "triggerDirection": 0,
        "triggerBy": "",
        "lastPriceOnCreated": "",
        "basePrice": "",
        "reduceOnly": info.reduce_only,
        "closeOnTrigger": False,
        "placeType": "",
        "smpType": "None",
        "smpGroup": 0,
        "smpOrderId": "",
        "createdTime": str(info.created_ms),
        "updatedTime": str(info.updated_ms),
    }
    if market.spot:  # spot orders carry no TP/SL mode (ccxt tells spot from contract by it)
        del entry["tpslMode"]
    return entry


def execution(fill: FillInfo, info: OrderInfo, market: BybitMarket, seq: int) -> dict[str, Any]:
    """An execution of GET /v5/execution/list (and the WS execution topic)."""
    rate = fee_rate(fill, market.info)
    fee, fee_asset = venue_fee(fill, market.info)
    leaves = info.quantity - info.filled_quantity if info.status.is_open else ZERO
    entry: dict[str, Any] = {
        "symbol": market.venue_symbol,
        "orderId": fill.order_id,
        "orderLinkId": fill.client_order_id,
        "side": SIDE[fill.side],
        "orderPrice": s(info.price),
        "orderQty": s(info.quantity),
        "leavesQty": s(leaves),
        "createType": "CreateByUser",
        "orderType": "Market" if info.type is OrderType.MARKET else "Limit",
        "stopOrderType": "",
        "execFee": s(fee),
        "execId": exec_id(fill.trade_id),
        "execPrice": s(fill.price),
        "execQty": s(fill.quantity),
        "execType": "Trade",
        "execValue": s(fill.price * fill.quantity),
        "execTime": str(fill.time_ms),
        "feeCurrency": fee_asset,
        "isMaker": fill.maker,
        "feeRate": s(rate),
        "tradeIv": "",
        "markIv": "",
        "markPrice": s(fill.price),
        "indexPrice": "",
        "underlyingPrice": "",
        "blockTradeId": "",
        "closedSize": "0",
        "seq": seq,
    }
    if market.spot:  # spot executions carry no createType (ccxt tells spot from contract by it)
        del entry["createType"]
    return entry


def position(pos: PositionInfo, market: BybitMarket, mark: Decimal, now_ms: int) -> dict[str, Any]:
    """A position of GET /v5/position/list (one-way mode, positionIdx 0)."""
    size = abs(pos.quantity)
    return {
        "positionIdx": 0,
        "riskId": 1,
        "riskLimitValue": "2000000",
        "symbol": market.venue_symbol,
        "side": "" if size == 0 else ("Buy" if pos.quantity > 0 else "Sell"),
        "size": s(size),
        "avgPrice": s(pos.entry_price),
        "positionValue": s(size * pos.entry_price),
        "tradeMode": 0,
        "autoAddMargin": 0,
        "positionStatus": "Normal",
        "leverage": s(pos.leverage),
        "markPrice": s(mark),
        "liqPrice": "",
        "bustPrice": "",
        "positionIM": s(pos.margin),
        "positionMM": s(size * mark * Decimal("0.005")),
        "positionBalance": s(pos.margin),
        "takeProfit": "0",
        "stopLoss": "0",
        "trailingStop": "0",
        "sessionAvgPrice": "",
        "delta": "",
        "gamma": "",
        "vega": "",
        "theta": "",
        "unrealisedPnl": s(pos.unrealized_pnl),
        "curRealisedPnl": s(pos.realized_pnl),
        "cumRealisedPnl": s(pos.realized_pnl),
        "adlRankIndicator": 2 if size else 0,
        "createdTime": "1676538056258",
        "updatedTime": str(now_ms),
        "seq": now_ms,
        "isReduceOnly": False,
        "mmrSysUpdatedTime": "",
        "leverageSysUpdatedTime": "",
    }


def wallet(balances: Sequence[BalanceInfo]) -> dict[str, Any]:
    """The `result` of GET /v5/account/wallet-balance?accountType=UNIFIED."""
    total = sum((b.total for b in balances if b.asset == "USDT"), ZERO)
    free = sum((b.free for b in balances if b.asset == "USDT"), ZERO)
    coins = [
        {
            "coin": b.asset,
            "equity": s(b.total),
            "usdValue": s(b.total) if b.asset == "USDT" else "0",
            "walletBalance": s(b.total),
            "locked": s(b.used),
            "spotHedgingQty": "0",
            "borrowAmount": "",
            "accruedInterest": "0",
            "totalOrderIM": "0",
            "totalPositionIM": "0",
            "totalPositionMM": "0",
            "unrealisedPnl": "0",
            "cumRealisedPnl": "0",
            "bonus": "0",
            "marginCollateral": True,
            "collateralSwitch": True,
        }
        for b in balances
    ]
    return {
        "list": [
            {
                "accountType": "UNIFIED",
                "accountIMRate": "0",
                "accountMMRate": "0",
                "accountLTV": "0",
                "totalEquity": s(total),
                "totalWalletBalance": s(total),
                "totalMarginBalance": s(total),
                "totalAvailableBalance": s(free),
                "totalPerpUPL": "0",
                "totalInitialMargin": s(total - free),
                "totalMaintenanceMargin": "0",
                "coin": coins,
            }
        ]
    }


def ticker(market: BybitMarket, tick: TickerInfo, day: Sequence[KlineInfo]) -> dict[str, Any]:
    """An entry of GET /v5/market/tickers (and the WS tickers topic snapshot)."""
    open_price = day[0].open if day else tick.last
    volume = sum((k.volume for k in day), ZERO)
    common = {
        "symbol": market.venue_symbol,
        "bid1Price": s(tick.bid),
        "bid1Size": "1",
        "ask1Price": s(tick.ask),
        "ask1Size": "1",
        "lastPrice": s(tick.last),
        "prevPrice24h": s(open_price),
        "price24hPcnt": s(((tick.last - open_price) / open_price).quantize(Decimal("0.0001"))),
        "highPrice24h": s(max((k.high for k in day), default=tick.last)),
        "lowPrice24h": s(min((k.low for k in day), default=tick.last)),
        "turnover24h": s(volume * tick.last),
        "volume24h": s(volume),
    }
    if market.spot:
        return common | {"usdIndexPrice": s(tick.last)}
    return common | {
        "indexPrice": s(tick.last),
        "markPrice": s(tick.last),
        "prevPrice1h": s(open_price),
        "openInterest": "0",
        "openInterestValue": "0",
        "fundingRate": "0.0001",
        "nextFundingTime": "0",
        "predictedDeliveryPrice": "",
        "basisRate": "",
        "deliveryFeeRate": "",
        "deliveryTime": "0",
        "basis": "",
    }


def kline_row(kline: KlineInfo) -> list[str]:
    """A row of GET /v5/market/kline: start, open, high, low, close, volume, turnover."""
    return [
        str(kline.open_time_ms),
        s(kline.open),
        s(kline.high),
        s(kline.low),
        s(kline.close),
        s(kline.volume),
        s(kline.volume * kline.close),
    ]


def ws_kline(kline: KlineInfo, interval: str, now_ms: int) -> dict[str, Any]:
    """An entry of the WS `kline.<interval>.<symbol>` topic."""
    return {
        "start": kline.open_time_ms,
        "end": kline.open_time_ms + kline.interval.milliseconds - 1,
        "interval": interval,
        "open": s(kline.open),
        "close": s(kline.close),
        "high": s(kline.high),
        "low": s(kline.low),
        "volume": s(kline.volume),
        "turnover": s(kline.volume * kline.close),
        "confirm": kline.closed,
        "timestamp": now_ms,
    }
