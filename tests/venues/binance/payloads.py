"""Binance payload shapes (REST answers and user-data / market stream events).

Field names follow the spot REST and WebSocket API pages and the USDⓈ-M "New Order",
"Query Order", "Account Trade List", "Position Information V3", "Account Information
V3", "Event: Order Update" and "Event: Balance and Position Update" pages. Decimals
are strings, ids and times integers, as the venue sends them.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from opensqt_common.decimals import ZERO, format_decimal
from opensqt_common.enums import OrderStatus, OrderType, Side, TimeInForce
from opensqt_connector.models import BalanceInfo, FillInfo, KlineInfo, OrderInfo, PositionInfo, TickerInfo

from ..framework.core import VenueOrder
from ..framework.fees import venue_fee
from .markets import BinanceMarket

STATUS = {
    OrderStatus.PENDING_NEW: "NEW",
    OrderStatus.NEW: "NEW",
    OrderStatus.PARTIALLY_FILLED: "PARTIALLY_FILLED",
    OrderStatus.FILLED: "FILLED",
    OrderStatus.CANCELED: "CANCELED",
    OrderStatus.REJECTED: "REJECTED",
    OrderStatus.EXPIRED: "EXPIRED",
}
EXECUTION_TYPE = {
    OrderStatus.PENDING_NEW: "NEW",
    OrderStatus.NEW: "NEW",
    OrderStatus.CANCELED: "CANCELED",
    OrderStatus.REJECTED: "REJECTED",
    OrderStatus.EXPIRED: "EXPIRED",
}
SIDE = {Side.BUY: "BUY", Side.SELL: "SELL"}
TIF = {TimeInForce.GTC: "GTC", TimeInForce.IOC: "IOC", TimeInForce.FOK: "FOK"}


def s(value: Decimal | None) -> str:
    return format_decimal(value if value is not None else ZERO)


def fixed(value: Decimal | None, places: int = 8) -> str:
    """Binance spot prints quantities with 8 decimals ("0.00100000")."""
    return f"{(value if value is not None else ZERO):.{places}f}"


def order_type(info: OrderInfo, spot: bool) -> str:
    if info.type is OrderType.MARKET:
        return "MARKET"
    return "LIMIT_MAKER" if spot and info.post_only else "LIMIT"


def time_in_force(info: OrderInfo, spot: bool) -> str:
    if info.post_only and not spot:
        return "GTX"
    return TIF[info.time_in_force]


def cum_quote(info: OrderInfo) -> Decimal:
    if info.average_fill_price is None:
        return ZERO
    return info.average_fill_price * info.filled_quantity


# ------------------------------------------------------------------ spot REST


def spot_order(order: VenueOrder, market: BinanceMarket) -> dict[str, Any]:
    """GET /api/v3/order (also the body of openOrders entries)."""
    info = order.info
    return {
        "symbol": market.venue_symbol,
        "orderId": int(order.venue_id),
        "orderListId": -1,
        "clientOrderId": info.client_order_id,
        "price": fixed(info.price),
        "origQty": fixed(info.quantity),
        "executedQty": fixed(info.filled_quantity),
        "cummulativeQuoteQty": fixed(cum_quote(info)),
        "status": STATUS[info.status],
        "timeInForce": time_in_force(info, True),
        "type": order_type(info, True),
        "side": SIDE[info.side],
        "stopPrice": fixed(ZERO),
        "icebergQty": fixed(ZERO),
        "time": info.created_ms,
        "updateTime": info.updated_ms,
        "isWorking": info.status.is_open,
        "workingTime": info.created_ms,
        "origQuoteOrderQty": fixed(ZERO),
        "selfTradePreventionMode": "EXPIRE_MAKER",
    }


def spot_order_full(order: VenueOrder, market: BinanceMarket, fills: Sequence[FillInfo]) -> dict[str, Any]:
    """POST /api/v3/order with newOrderRespType=FULL."""
    info = order.info
    return {
        "symbol": market.venue_symbol,
        "orderId": int(order.venue_id),
        "orderListId": -1,
        "clientOrderId": info.client_order_id,
        "transactTime": info.updated_ms,
        "price": fixed(info.price),
        "origQty": fixed(info.quantity),
        "executedQty": fixed(info.filled_quantity),
        "origQuoteOrderQty": fixed(ZERO),
        "cummulativeQuoteQty": fixed(cum_quote(info)),
        "status": STATUS[info.status],
        "timeInForce": time_in_force(info, True),
        "type": order_type(info, True),
        "side": SIDE[info.side],
        "workingTime": info.created_ms,
        "selfTradePreventionMode": "EXPIRE_MAKER",
        "fills": [
            {
                "price": fixed(f.price),
                "qty": fixed(f.quantity),
                "commission": fixed(venue_fee(f, market.info)[0]),
                "commissionAsset": venue_fee(f, market.info)[1],
                "tradeId": int(f.trade_id),
            }
            for f in fills
        ],
    }


def spot_cancel(order: VenueOrder, market: BinanceMarket, cancel_client_id: str) -> dict[str, Any]:
    """DELETE /api/v3/order (and each entry of DELETE /api/v3/openOrders)."""
    info = order.info
    return {
        "symbol": market.venue_symbol,
        "origClientOrderId": info.client_order_id,
        "orderId": int(order.venue_id),
        "orderListId": -1,
        "clientOrderId": cancel_client_id,
        "transactTime": info.updated_ms,
        "price": fixed(info.price),
        "origQty": fixed(info.quantity),
        "executedQty": fixed(info.filled_quantity),
        "origQuoteOrderQty": fixed(ZERO),
        "cummulativeQuoteQty": fixed(cum_quote(info)),
        "status": STATUS[info.status],
        "timeInForce": time_in_force(info, True),
        "type": order_type(info, True),
        "side": SIDE[info.side],
        "selfTradePreventionMode": "EXPIRE_MAKER",
    }


def spot_trade(fill: FillInfo, market: BinanceMarket) -> dict[str, Any]:
    """GET /api/v3/myTrades entry."""
    return {
        "symbol": market.venue_symbol,
        "id": int(fill.trade_id),
        "orderId": int(fill.order_id),
        "orderListId": -1,
        "price": fixed(fill.price),
        "qty": fixed(fill.quantity),
        "quoteQty": fixed(fill.price * fill.quantity),
        "commission": fixed(venue_fee(fill, market.info)[0]),
        "commissionAsset": venue_fee(fill, market.info)[1],
        "time": fill.time_ms,
        "isBuyer": fill.side is Side.BUY,
        "isMaker": fill.maker,
        "isBestMatch": True,
    }


def spot_account(balances: Sequence[BalanceInfo], now_ms: int) -> dict[str, Any]:
    """GET /api/v3/account."""
    return {
        "makerCommission": 10,
        "takerCommission": 10,
        "buyerCommission": 0,
        "sellerCommission": 0,
        "commissionRates": {
            "maker": "0.00100000",
            "taker": "0.00100000",
            "buyer": "0.00000000",
            "seller": "0.00000000",
        },
        "canTrade": True,
        "canWithdraw": True,
        "canDeposit": True,
        "brokered": False,
        "requireSelfTradePrevention": False,
        "preventSor": False,
        "updateTime": now_ms,
        "accountType": "SPOT",
        "balances": [{"asset": b.asset, "free": fixed(b.free), "locked": fixed(b.used)} for b in balances],
        "permissions": ["SPOT"],
        "uid": 354937868,
    }


# --------------------------------------------------------------- futures REST


def futures_order(order: VenueOrder, market: BinanceMarket) -> dict[str, Any]:
    """POST/GET/DELETE /fapi/v1/order and openOrders entries."""
    info = order.info
    return {
        "orderId": int(order.venue_id),
        "symbol": market.venue_symbol,
        "status": STATUS[info.status],
        "clientOrderId": info.client_order_id,
        "price": s(info.price),
        "avgPrice": s(info.average_fill_price),
        "origQty": s(info.quantity),
        "executedQty": s(info.filled_quantity),
        "cumQty": s(info.filled_quantity),
        "cumQuote": s(cum_quote(info)),
        "timeInForce": time_in_force(info, False),
        "type": order_type(info, False),
        "reduceOnly": info.reduce_only,
        "closePosition": False,
        "side": SIDE[info.side],
        "positionSide": "BOTH",
        "stopPrice": "0",
        "workingType": "CONTRACT_PRICE",
        "priceProtect": False,
        "origType": order_type(info, False),
        "priceMatch": "NONE",
        "selfTradePreventionMode": "EXPIRE_MAKER",
        "goodTillDate": 0,
        "time": info.created_ms,
        "updateTime": info.updated_ms,
    }


def futures_trade(fill: FillInfo, market: BinanceMarket) -> dict[str, Any]:
    """GET /fapi/v1/userTrades entry."""
    return {
        "buyer": fill.side is Side.BUY,
        "commission": s(fill.fee),
        "commissionAsset": fill.fee_asset,
        "id": int(fill.trade_id),
        "maker": fill.maker,
        "orderId": int(fill.order_id),
        "price": s(fill.price),
        "qty": s(fill.quantity),
        "quoteQty": s(fill.price * fill.quantity),
        "realizedPnl": "0",
        "side": SIDE[fill.side],
        "positionSide": "BOTH",
        "symbol": market.venue_symbol,
        "time": fill.time_ms,
    }


def futures_position(
    position: PositionInfo, market: BinanceMarket, mark: Decimal, now_ms: int
) -> dict[str, Any]:
    """GET /fapi/v3/positionRisk entry (V3 carries no leverage; see symbolConfig)."""
    notional = position.quantity * mark
    return {
        "symbol": market.venue_symbol,
        "positionSide": "BOTH",
        "positionAmt": s(position.quantity),
        "entryPrice": s(position.entry_price),
        "breakEvenPrice": s(position.entry_price),
        "markPrice": s(mark),
        "unRealizedProfit": s(position.unrealized_pnl),
        "liquidationPrice": "0",
        "isolatedMargin": "0",
        "notional": s(notional),
        "marginAsset": market.info.settle,
        "isolatedWallet": "0",
        "initialMargin": s(position.margin),
        "maintMargin": s(abs(notional) * Decimal("0.004")),
        "positionInitialMargin": s(position.margin),
        "openOrderInitialMargin": "0",
        "adl": 0,
        "bidNotional": "0",
        "askNotional": "0",
        "updateTime": now_ms,
    }


def futures_account(
    balances: Sequence[BalanceInfo], positions: Sequence[dict[str, Any]], now_ms: int
) -> dict[str, Any]:
    """GET /fapi/v3/account."""
    assets = [
        {
            "asset": b.asset,
            "walletBalance": s(b.total),
            "unrealizedProfit": "0",
            "marginBalance": s(b.total),
            "maintMargin": "0",
            "initialMargin": s(b.used),
            "positionInitialMargin": "0",
            "openOrderInitialMargin": s(b.used),
            "crossWalletBalance": s(b.total),
            "crossUnPnl": "0",
            "availableBalance": s(b.free),
            "maxWithdrawAmount": s(b.free),
            "updateTime": now_ms,
        }
        for b in balances
    ]
    total = sum((b.total for b in balances), ZERO)
    free = sum((b.free for b in balances), ZERO)
    return {
        "totalInitialMargin": s(total - free),
        "totalMaintMargin": "0",
        "totalWalletBalance": s(total),
        "totalUnrealizedProfit": "0",
        "totalMarginBalance": s(total),
        "totalPositionInitialMargin": "0",
        "totalOpenOrderInitialMargin": s(total - free),
        "totalCrossWalletBalance": s(total),
        "totalCrossUnPnl": "0",
        "availableBalance": s(free),
        "maxWithdrawAmount": s(free),
        "assets": assets,
        "positions": [_account_position(p) for p in positions],
    }


def _account_position(risk: dict[str, Any]) -> dict[str, Any]:
    """A `positions[]` entry of /fapi/v3/account from the positionRisk entry."""
    return {
        "symbol": risk["symbol"],
        "positionSide": "BOTH",
        "positionAmt": risk["positionAmt"],
        "unrealizedProfit": risk["unRealizedProfit"],
        "isolatedMargin": "0",
        "notional": risk["notional"],
        "isolatedWallet": "0",
        "initialMargin": risk["initialMargin"],
        "maintMargin": risk["maintMargin"],
        "updateTime": risk["updateTime"],
    }


# ---------------------------------------------------------------- market data


def kline_row(kline: KlineInfo, period_ms: int) -> list[Any]:
    """One row of GET /api/v3/klines or /fapi/v1/klines."""
    return [
        kline.open_time_ms,
        s(kline.open),
        s(kline.high),
        s(kline.low),
        s(kline.close),
        s(kline.volume),
        kline.open_time_ms + period_ms - 1,
        s(kline.volume * kline.close),
        0,
        "0",
        "0",
        "0",
    ]


def ticker_24hr(
    market: BinanceMarket, ticker: TickerInfo, day: Sequence[KlineInfo], now_ms: int
) -> dict[str, Any]:
    """GET /api/v3/ticker/24hr or /fapi/v1/ticker/24hr for one symbol."""
    open_price = day[0].open if day else ticker.last
    high = max((k.high for k in day), default=ticker.last)
    low = min((k.low for k in day), default=ticker.last)
    volume = sum((k.volume for k in day), ZERO)
    change = ticker.last - open_price
    payload: dict[str, Any] = {
        "symbol": market.venue_symbol,
        "priceChange": s(change),
        "priceChangePercent": s((change / open_price * 100).quantize(Decimal("0.001"))),
        "weightedAvgPrice": s(ticker.last),
        "lastPrice": s(ticker.last),
        "lastQty": "0",
        "openPrice": s(open_price),
        "highPrice": s(high),
        "lowPrice": s(low),
        "volume": s(volume),
        "quoteVolume": s(volume * ticker.last),
        "openTime": now_ms - 86_400_000,
        "closeTime": now_ms,
        "firstId": 0,
        "lastId": 0,
        "count": 0,
    }
    if market.spot:
        payload |= {
            "prevClosePrice": s(open_price),
            "bidPrice": s(ticker.bid),
            "bidQty": "1",
            "askPrice": s(ticker.ask),
            "askQty": "1",
        }
    return payload


def ws_24hr_ticker(rest: dict[str, Any], now_ms: int) -> dict[str, Any]:
    """`<symbol>@ticker` event built from the REST 24hr ticker of the same symbol."""
    event: dict[str, Any] = {
        "e": "24hrTicker",
        "E": now_ms,
        "s": rest["symbol"],
        "p": rest["priceChange"],
        "P": rest["priceChangePercent"],
        "w": rest["weightedAvgPrice"],
        "c": rest["lastPrice"],
        "Q": rest["lastQty"],
        "o": rest["openPrice"],
        "h": rest["highPrice"],
        "l": rest["lowPrice"],
        "v": rest["volume"],
        "q": rest["quoteVolume"],
        "O": rest["openTime"],
        "C": rest["closeTime"],
        "F": 0,
        "L": 0,
        "n": 0,
    }
    if "bidPrice" in rest:
        event |= {
            "x": rest["prevClosePrice"],
            "b": rest["bidPrice"],
            "B": rest["bidQty"],
            "a": rest["askPrice"],
            "A": rest["askQty"],
        }
    return event


def ws_mini_ticker(ticker: dict[str, Any]) -> dict[str, Any]:
    """`<symbol>@miniTicker` event: the 24hr ticker's close/open/high/low/volumes."""
    return {"e": "24hrMiniTicker"} | {key: ticker[key] for key in ("E", "s", "c", "o", "h", "l", "v", "q")}


def ws_book_ticker(market: BinanceMarket, ticker: TickerInfo, update_id: int) -> dict[str, Any]:
    """`<symbol>@bookTicker` event (spot has no event type or times; futures has them)."""
    event: dict[str, Any] = {
        "u": update_id,
        "s": market.venue_symbol,
        "b": s(ticker.bid),
        "B": "1",
        "a": s(ticker.ask),
        "A": "1",
    }
    if not market.spot:
        event = {"e": "bookTicker", "E": ticker.time_ms, "T": ticker.time_ms} | event
    return event


def ws_kline(
    market: BinanceMarket, kline: KlineInfo, interval: str, period_ms: int, now_ms: int
) -> dict[str, Any]:
    """`<symbol>@kline_<interval>` event."""
    return {
        "e": "kline",
        "E": now_ms,
        "s": market.venue_symbol,
        "k": {
            "t": kline.open_time_ms,
            "T": kline.open_time_ms + period_ms - 1,
            "s": market.venue_symbol,
            "i": interval,
            "f": 0,
            "L": 0,
            "o": s(kline.open),
            "c": s(kline.close),
            "h": s(kline.high),
            "l": s(kline.low),
            "v": s(kline.volume),
            "n": 0,
            "x": kline.closed,
            "q": s(kline.volume * kline.close),
            "V": "0",
            "Q": "0",
            "B": "0",
        },
    }


# ------------------------------------------------------------ user data streams


def execution_type(order: VenueOrder, fill: FillInfo | None) -> str:
    if fill is not None:
        return "TRADE"
    return EXECUTION_TYPE.get(order.info.status, "NEW")


def execution_report(
    order: VenueOrder, fill: FillInfo | None, market: BinanceMarket, now_ms: int, cancel_client_id: str
) -> dict[str, Any]:
    """Spot `executionReport` user-data event."""
    info = order.info
    exec_type = execution_type(order, fill)
    canceled = exec_type == "CANCELED"
    fee, fee_asset = venue_fee(fill, market.info) if fill is not None else (ZERO, None)
    return {
        "e": "executionReport",
        "E": now_ms,
        "s": market.venue_symbol,
        "c": cancel_client_id if canceled else info.client_order_id,
        "S": SIDE[info.side],
        "o": order_type(info, True),
        "f": time_in_force(info, True),
        "q": fixed(info.quantity),
        "p": fixed(info.price),
        "P": fixed(ZERO),
        "F": fixed(ZERO),
        "g": -1,
        "C": info.client_order_id if canceled else "",
        "x": exec_type,
        "X": STATUS[info.status],
        "r": "NONE",
        "i": int(order.venue_id),
        "l": fixed(fill.quantity if fill else ZERO),
        "z": fixed(info.filled_quantity),
        "L": fixed(fill.price if fill else ZERO),
        "n": fixed(fee),
        "N": fee_asset,
        "T": info.updated_ms,
        "t": int(fill.trade_id) if fill else -1,
        "v": 0,
        "I": int(order.venue_id) * 2,
        "w": info.status.is_open,
        "m": fill.maker if fill else False,
        "M": False,
        "O": info.created_ms,
        "Z": fixed(cum_quote(info)),
        "Y": fixed(fill.price * fill.quantity if fill else ZERO),
        "Q": fixed(ZERO),
        "W": info.created_ms,
        "V": "EXPIRE_MAKER",
    }


def outbound_account_position(balances: Sequence[BalanceInfo], now_ms: int) -> dict[str, Any]:
    return {
        "e": "outboundAccountPosition",
        "E": now_ms,
        "u": now_ms,
        "B": [{"a": b.asset, "f": fixed(b.free), "l": fixed(b.used)} for b in balances],
    }


def order_trade_update(
    order: VenueOrder, fill: FillInfo | None, market: BinanceMarket, now_ms: int
) -> dict[str, Any]:
    """USDⓈ-M `ORDER_TRADE_UPDATE` user-data event."""
    info = order.info
    return {
        "e": "ORDER_TRADE_UPDATE",
        "E": now_ms,
        "T": info.updated_ms,
        "o": {
            "s": market.venue_symbol,
            "c": info.client_order_id,
            "S": SIDE[info.side],
            "o": order_type(info, False),
            "f": time_in_force(info, False),
            "q": s(info.quantity),
            "p": s(info.price),
            "ap": s(info.average_fill_price),
            "sp": "0",
            "x": execution_type(order, fill),
            "X": STATUS[info.status],
            "i": int(order.venue_id),
            "l": s(fill.quantity if fill else ZERO),
            "z": s(info.filled_quantity),
            "L": s(fill.price if fill else ZERO),
            "N": fill.fee_asset if fill else market.info.settle,
            "n": s(fill.fee if fill else ZERO),
            "T": info.updated_ms,
            "t": int(fill.trade_id) if fill else 0,
            "b": "0",
            "a": "0",
            "m": fill.maker if fill else False,
            "R": info.reduce_only,
            "wt": "CONTRACT_PRICE",
            "ot": order_type(info, False),
            "ps": "BOTH",
            "cp": False,
            "rp": "0",
            "pP": False,
            "si": 0,
            "ss": 0,
            "V": "EXPIRE_MAKER",
            "pm": "NONE",
            "gtd": 0,
        },
    }


def account_update(
    balances: Sequence[BalanceInfo],
    positions: Sequence[PositionInfo],
    markets: dict[str, BinanceMarket],
    now_ms: int,
) -> dict[str, Any]:
    """USDⓈ-M `ACCOUNT_UPDATE` user-data event (reason ORDER)."""
    return {
        "e": "ACCOUNT_UPDATE",
        "E": now_ms,
        "T": now_ms,
        "a": {
            "m": "ORDER",
            "B": [{"a": b.asset, "wb": s(b.total), "cw": s(b.total), "bc": "0"} for b in balances],
            "P": [
                {
                    "s": markets[p.symbol].venue_symbol,
                    "pa": s(p.quantity),
                    "ep": s(p.entry_price),
                    "bep": s(p.entry_price),
                    "cr": s(p.realized_pnl),
                    "up": s(p.unrealized_pnl),
                    "mt": "cross",
                    "iw": "0",
                    "ps": "BOTH",
                }
                for p in positions
            ],
        },
    }
