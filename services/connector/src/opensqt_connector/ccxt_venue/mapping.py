"""Pure conversions between ccxt's unified structures and the connector's records.

Numbers: the adapter sets `exchange.number = str`, so ccxt's parse functions keep the
venue's own decimal strings (they read fields with safe_string and do their
arithmetic with ccxt's string-based `Precise`); `to_decimal` then reads those strings
exactly. A few values ccxt computes as floats (e.g. fee rates from its static fee
table, or candles some ccxt.pro handlers build with safe_float) are converted through
`repr`, the shortest string that round-trips the float, which reproduces the venue's
decimal string whenever that had at most 15 significant digits. No money value is
ever produced by float arithmetic here.

Quantities are base units everywhere in the connector. Venues that count contracts
(OKX, Gate perpetuals) are converted with the market's contract size, both ways.

Order status comes from the venue's own status field first (per the venue table),
because ccxt's unified status loses information (Bybit "PartiallyFilledCanceled" is
"closed" to ccxt, Gate "poc" passes through untranslated). An open order with a
filled quantity is PARTIALLY_FILLED. A status nobody mapped is logged and raised as
`UnmappedVenueData`, never guessed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import grpc

from opensqt.common.v1 import common_pb2
from opensqt_common.decimals import format_decimal, is_multiple
from opensqt_common.enums import MarketType, OrderStatus, OrderType, Side, TimeInForce, Venue
from opensqt_common.errors import InvalidArgument, ServiceError
from opensqt_common.logging import get_logger
from opensqt_connector.ccxt_venue.tables import POST_ONLY_DETAIL, MarketRow, VenueRow
from opensqt_connector.models import (
    BalanceInfo,
    FillInfo,
    KlineInfo,
    KlineInterval,
    MarketInfo,
    OrderInfo,
    OrderRequest,
    PositionInfo,
    TickerInfo,
)
from opensqt_connector.venue_errors import InvalidOrder

_log = get_logger(__name__)

ZERO = Decimal(0)
ONE = Decimal(1)
TICK_SIZE_MODE = 4  # ccxt.base.decimal_to_precision.TICK_SIZE

UNIFIED_STATUSES: Mapping[str, OrderStatus] = {
    "open": OrderStatus.NEW,
    "closed": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELED,
    "expired": OrderStatus.EXPIRED,
    "rejected": OrderStatus.REJECTED,
}
"""ccxt's unified order statuses, used only when the venue's own field is absent."""

_TIME_IN_FORCE = {"GTC": TimeInForce.GTC, "IOC": TimeInForce.IOC, "FOK": TimeInForce.FOK}
_POST_ONLY_TIF = frozenset({"PO", "GTX", "POC", "POST_ONLY"})
_SIDES = {"buy": Side.BUY, "sell": Side.SELL}
_TYPES = {"limit": OrderType.LIMIT, "market": OrderType.MARKET}
_BALANCE_META = frozenset({"info", "free", "used", "total", "timestamp", "datetime", "debt"})


class UnmappedVenueData(ServiceError):
    """The venue sent something the tables do not cover (an unknown order status, a
    missing field): an explicit error with a log line, never a silent default."""

    code = grpc.StatusCode.INTERNAL
    reason = common_pb2.ERROR_REASON_INTERNAL


# -- numbers --------------------------------------------------------------------------


def to_decimal(value: object, field: str) -> Decimal:
    """An exact Decimal from a ccxt value (a decimal string, an int, or a float)."""
    result = opt_decimal(value, field)
    if result is None:
        raise UnmappedVenueData(f"venue value {field} is missing")
    return result


def opt_decimal(value: object, field: str) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise UnmappedVenueData(f"venue value {field} is not a number: {value!r}")
    try:
        if isinstance(value, Decimal):
            number = value
        elif isinstance(value, int | str):
            number = Decimal(value)
        elif isinstance(value, float):
            number = Decimal(repr(value))
        else:
            raise InvalidOperation
    except InvalidOperation:
        raise UnmappedVenueData(f"venue value {field} is not a number: {value!r}") from None
    if not number.is_finite():
        raise UnmappedVenueData(f"venue value {field} is not finite: {value!r}")
    return number + 0  # normalise "-0"


def _int(value: object, field: str) -> int:
    if isinstance(value, bool) or value is None:
        raise UnmappedVenueData(f"venue value {field} is missing")
    if isinstance(value, int):
        return value
    return int(to_decimal(value, field))


# -- markets --------------------------------------------------------------------------


def market_info(market: Mapping[str, Any], venue: Venue, market_type: MarketType) -> MarketInfo:
    """A ccxt market (TICK_SIZE precision) as MarketInfo, sizes in base units."""
    symbol = str(market["symbol"])
    contract_size = contract_size_of(market)
    precision = market.get("precision") or {}
    limits = market.get("limits") or {}
    step = to_decimal(precision.get("amount"), f"{symbol} amount precision")
    amount_limits = limits.get("amount") or {}
    min_amount = opt_decimal(amount_limits.get("min"), f"{symbol} min amount") or ZERO
    cost_limits = limits.get("cost") or {}
    leverage_limits = limits.get("leverage") or {}
    max_leverage = opt_decimal(leverage_limits.get("max"), f"{symbol} max leverage")
    if market_type is MarketType.SPOT:
        max_leverage = ONE
    return MarketInfo(
        symbol=symbol,
        venue_symbol=str(market["id"]),
        venue=venue,
        market_type=market_type,
        base=str(market["base"]),
        quote=str(market["quote"]),
        settle=str(market.get("settle") or "") if market_type is MarketType.LINEAR_PERPETUAL else "",
        tick_size=to_decimal(precision.get("price"), f"{symbol} price precision"),
        step_size=step * contract_size,
        min_quantity=max(min_amount, step) * contract_size,
        min_notional=opt_decimal(cost_limits.get("min"), f"{symbol} min cost") or ZERO,
        contract_size=contract_size,
        maker_fee=opt_decimal(market.get("maker"), f"{symbol} maker fee") or ZERO,
        taker_fee=opt_decimal(market.get("taker"), f"{symbol} taker fee") or ZERO,
        # Zero: the venue does not state it in its market list (e.g. Binance).
        max_leverage=max_leverage if max_leverage is not None else ZERO,
    )


def contract_size_of(market: Mapping[str, Any]) -> Decimal:
    if not market.get("contract"):
        return ONE
    size = opt_decimal(market.get("contractSize"), f"{market.get('symbol')} contract size")
    if size is None or size <= 0:
        raise UnmappedVenueData(f"{market.get('symbol')}: contract size missing")
    return size


def served_market_problem(market: Mapping[str, Any], market_type: MarketType) -> str | None:
    """Why a ccxt market cannot be served as `market_type`, or None."""
    if market_type is MarketType.SPOT and not market.get("spot"):
        return "is not a spot market"
    if market_type is MarketType.LINEAR_PERPETUAL and not (market.get("swap") and market.get("linear")):
        return "is not a linear perpetual"
    if market.get("active") is False:
        return "is not trading"
    return None


# -- orders ---------------------------------------------------------------------------


def raw_status(row: VenueRow, info: Mapping[str, Any]) -> str | None:
    for field in row.status_fields:
        value = info.get(field)
        if isinstance(value, str) and value:
            return value
    return None


def order_status(row: VenueRow, order: Mapping[str, Any], filled: Decimal) -> tuple[OrderStatus, str]:
    """(status, detail) of a ccxt order. Raises UnmappedVenueData when unknown."""
    info = order.get("info") or {}
    raw = raw_status(row, info)
    if raw is not None:
        status = row.statuses.get(raw)
        source = f"{row.venue.value} status {raw!r}"
    else:
        unified = order.get("status")
        status = UNIFIED_STATUSES.get(unified) if isinstance(unified, str) else None
        source = f"ccxt status {unified!r}"
    if status is None:
        _log.error("unknown_venue_order_status", venue=row.venue.value, status=source, order=order.get("id"))
        raise UnmappedVenueData(f"{row.venue.value}: unknown order status ({source})")
    if status in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED):
        status = OrderStatus.PARTIALLY_FILLED if filled > 0 else OrderStatus.NEW
    detail = ""
    if status.is_terminal and status is not OrderStatus.FILLED:
        if any(str(info.get(key)) == value for key, value in row.post_only_markers):
            detail = POST_ONLY_DETAIL
        elif raw is not None and not _plain_name(raw, status):
            detail = raw  # e.g. "PartiallyFilledCanceled", "EXPIRED_IN_MATCH", "stp"
    return status, detail


def _plain_name(raw: str, status: OrderStatus) -> bool:
    """Whether `raw` merely spells the status ("Cancelled", "canceled", "REJECTED")."""
    spelled = raw.lower().replace("_", "").replace("cancelled", "canceled")
    return spelled == status.name.lower().replace("_", "")


def has_status(row: VenueRow, order: Mapping[str, Any]) -> bool:
    """Whether a ccxt order says anything about its state (acks often do not)."""
    return raw_status(row, order.get("info") or {}) is not None or isinstance(order.get("status"), str)


def client_order_id(row: VenueRow, venue_id: object) -> str:
    """Our client order id from the venue's, or "" for an order that is not ours."""
    ours = row.client_id.from_venue(venue_id if isinstance(venue_id, str) else None)
    return ours or ""


def order_info(
    row: VenueRow, order: Mapping[str, Any], market: Mapping[str, Any], *, detail: str = ""
) -> OrderInfo:
    """A parsed ccxt order (with a status) as OrderInfo."""
    order_id = order.get("id")
    if order_id is None or order_id == "":
        raise UnmappedVenueData(f"{row.venue.value}: order without an id")
    size = contract_size_of(market)
    side = _SIDES.get(str(order.get("side")))
    order_type = _TYPES.get(str(order.get("type")))
    if side is None or order_type is None:
        _log.error(
            "unknown_venue_order_shape", venue=row.venue.value, side=order.get("side"), type=order.get("type")
        )
        raise UnmappedVenueData(
            f"{row.venue.value}: order {order_id} has side {order.get('side')!r} / type {order.get('type')!r}"
        )
    time_in_force, post_only = _time_in_force(row, order, order_type)
    info = order.get("info") or {}
    raw_filled = next((info[key] for key in row.filled_fields if info.get(key) not in (None, "")), None)
    filled = (opt_decimal(order.get("filled") if raw_filled is None else raw_filled, "filled") or ZERO) * size
    status, status_detail = order_status(row, order, filled)
    average = opt_decimal(order.get("average"), "average")
    updated = order.get("lastUpdateTimestamp") or order.get("lastTradeTimestamp") or order.get("timestamp")
    # Some stream messages carry only the event time (Binance futures ORDER_TRADE_UPDATE).
    created = order.get("timestamp") or updated
    venue_client_id = next(
        (info[key] for key in row.client_id_fields if isinstance(info.get(key), str) and info[key]),
        order.get("clientOrderId"),
    )
    return OrderInfo(
        client_order_id=client_order_id(row, venue_client_id),
        order_id=str(order_id),
        symbol=str(market["symbol"]),
        side=side,
        type=order_type,
        time_in_force=time_in_force,
        post_only=post_only,
        reduce_only=bool(order.get("reduceOnly")),
        price=to_decimal(order.get("price"), "price") if order_type is OrderType.LIMIT else None,
        quantity=to_decimal(order.get("amount"), "amount") * size,
        filled_quantity=filled,
        average_fill_price=average if average is not None and average > 0 and filled > 0 else None,
        status=status,
        created_ms=_int(created, "timestamp") if created is not None else 0,
        updated_ms=_int(updated, "lastUpdateTimestamp") if updated is not None else 0,
        status_detail=detail or status_detail,
    )


def _time_in_force(
    row: VenueRow, order: Mapping[str, Any], order_type: OrderType
) -> tuple[TimeInForce, bool]:
    raw = order.get("timeInForce")
    post_only = bool(order.get("postOnly"))
    if order_type is OrderType.MARKET:
        return TimeInForce.IOC, False
    if raw is None or raw == "":
        return TimeInForce.GTC, post_only
    text = str(raw).upper()
    if text in _POST_ONLY_TIF:
        return TimeInForce.GTC, True
    tif = _TIME_IN_FORCE.get(text)
    if tif is None:
        _log.error("unknown_venue_time_in_force", venue=row.venue.value, time_in_force=raw)
        raise UnmappedVenueData(f"{row.venue.value}: unknown time in force {raw!r}")
    return tif, post_only


def acknowledged_order(
    row: VenueRow, order: Mapping[str, Any], market: Mapping[str, Any], request: OrderRequest, now_ms: int
) -> OrderInfo:
    """The answer to a place request. Venues that only acknowledge (an id, no state:
    OKX, Bybit, Bitget) give PENDING_NEW built from the request; the stream brings
    the order's state. A full answer is mapped like any order."""
    if has_status(row, order):
        return order_info(row, order, market)
    order_id = order.get("id")
    if order_id is None or order_id == "":
        raise UnmappedVenueData(f"{row.venue.value}: order acknowledgement without an id")
    created = order.get("timestamp")
    return OrderInfo(
        client_order_id=request.client_order_id,
        order_id=str(order_id),
        symbol=request.symbol,
        side=request.side,
        type=request.type,
        time_in_force=request.time_in_force if request.type is OrderType.LIMIT else TimeInForce.IOC,
        post_only=request.post_only,
        reduce_only=request.reduce_only,
        price=request.price,
        quantity=request.quantity,
        filled_quantity=ZERO,
        average_fill_price=None,
        status=OrderStatus.PENDING_NEW,
        created_ms=_int(created, "timestamp") if created is not None else now_ms,
        updated_ms=_int(created, "timestamp") if created is not None else now_ms,
    )


# -- order requests -------------------------------------------------------------------


@dataclass(frozen=True)
class CreateOrderArgs:
    """Arguments of ccxt `create_order`, amounts as decimal strings."""

    symbol: str
    type: str
    side: str
    amount: str
    price: str | None
    params: Mapping[str, object]


def create_order_args(
    row: VenueRow, market_row: MarketRow, market: Mapping[str, Any], request: OrderRequest
) -> CreateOrderArgs:
    """Our OrderRequest as ccxt create_order arguments, or InvalidArgument/InvalidOrder."""
    try:
        venue_client_id = row.client_id.to_venue(request.client_order_id)
    except ValueError as exc:
        raise InvalidArgument("client_order_id", f"{row.venue.value}: {exc}") from None
    spot = not market.get("contract")
    if request.type is OrderType.LIMIT and request.price is None:
        raise InvalidArgument("price", "is required for LIMIT orders")
    if request.type is OrderType.MARKET and request.price is not None:
        raise InvalidArgument("price", "must be unset for MARKET orders")
    if request.post_only and (
        request.type is not OrderType.LIMIT or request.time_in_force is not TimeInForce.GTC
    ):
        raise InvalidArgument("post_only", "needs a LIMIT order with time in force GTC")
    if request.reduce_only and (spot or market_row.reduce_only_wire is None):
        raise InvalidArgument("reduce_only", "is only available on perpetual markets")
    params: dict[str, object] = {"clientOrderId": venue_client_id, **market_row.order_params}
    if request.type is OrderType.LIMIT:
        if request.post_only:
            params["postOnly"] = True
        else:
            params["timeInForce"] = request.time_in_force.name
    if request.reduce_only:
        params["reduceOnly"] = True
    if spot and request.type is OrderType.MARKET and request.side is Side.BUY:
        if market_row.market_buy_base_params is None:
            raise InvalidOrder(
                f"{row.venue.value} sizes spot market buys in the quote currency; "
                "use a LIMIT order with time in force IOC instead"
            )
        params.update(market_row.market_buy_base_params)
    size = contract_size_of(market)
    amount = request.quantity / size
    precision = market.get("precision") or {}
    step = to_decimal(precision.get("amount"), "amount precision")
    if request.quantity <= 0 or not is_multiple(amount, step):
        raise InvalidArgument(
            "quantity", f"must be a positive multiple of the step size {format_decimal(step * size)}"
        )
    price: str | None = None
    if request.price is not None:
        tick = to_decimal(precision.get("price"), "price precision")
        if request.price <= 0 or not is_multiple(request.price, tick):
            raise InvalidArgument(
                "price", f"must be a positive multiple of the tick size {format_decimal(tick)}"
            )
        price = format_decimal(request.price)
    return CreateOrderArgs(
        symbol=str(market["symbol"]),
        type=request.type.value,
        side=request.side.value,
        amount=format_decimal(amount),
        price=price,
        params=params,
    )


# -- fills, tickers, balances, positions, klines --------------------------------------


def trade_client_order_id(row: VenueRow, trade: Mapping[str, Any]) -> str | None:
    """Our client order id when the venue's trade names it (the client-id field of the
    venue's order, e.g. Bybit orderLinkId, OKX clOrdId, Gate text), else None."""
    info = trade.get("info") or {}
    value = info.get(row.client_id.param)
    if isinstance(value, str) and value:
        return client_order_id(row, value)
    return None


def fill_info(row: VenueRow, trade: Mapping[str, Any], market: Mapping[str, Any], client_id: str) -> FillInfo:
    """A parsed ccxt trade of ours as FillInfo. Fee: positive is paid, negative a rebate."""
    trade_id, order_id = trade.get("id"), trade.get("order")
    if not trade_id or not order_id:
        raise UnmappedVenueData(f"{row.venue.value}: trade without an id or order id")
    side = _SIDES.get(str(trade.get("side")))
    if side is None:
        raise UnmappedVenueData(f"{row.venue.value}: trade {trade_id} has side {trade.get('side')!r}")
    fee = trade.get("fee") or {}
    role = trade.get("takerOrMaker")
    if role not in ("maker", "taker"):
        _log.warning("trade_without_liquidity_role", venue=row.venue.value, trade=str(trade_id))
    return FillInfo(
        trade_id=str(trade_id),
        order_id=str(order_id),
        client_order_id=client_id,
        symbol=str(market["symbol"]),
        side=side,
        price=to_decimal(trade.get("price"), "trade price"),
        quantity=to_decimal(trade.get("amount"), "trade amount") * contract_size_of(market),
        fee=opt_decimal(fee.get("cost"), "fee") or ZERO,
        fee_asset=str(fee.get("currency") or ""),
        maker=role == "maker",
        time_ms=_int(trade.get("timestamp"), "trade timestamp"),
    )


@dataclass(frozen=True)
class TickerParts:
    """What one ticker or bid/ask message said; any part may be missing."""

    symbol: str
    last: Decimal | None
    bid: Decimal | None
    ask: Decimal | None
    time_ms: int | None


def ticker_parts(ticker: Mapping[str, Any]) -> TickerParts:
    timestamp = ticker.get("timestamp")
    return TickerParts(
        symbol=str(ticker["symbol"]),
        last=opt_decimal(ticker.get("last"), "last") or opt_decimal(ticker.get("close"), "close"),
        bid=opt_decimal(ticker.get("bid"), "bid"),
        ask=opt_decimal(ticker.get("ask"), "ask"),
        time_ms=_int(timestamp, "ticker timestamp") if timestamp is not None else None,
    )


def ticker_info(parts: TickerParts, now_ms: int) -> TickerInfo:
    if parts.last is None or parts.bid is None or parts.ask is None:
        raise UnmappedVenueData(f"ticker of {parts.symbol} lacks last, bid or ask")
    return TickerInfo(
        symbol=parts.symbol, last=parts.last, bid=parts.bid, ask=parts.ask, time_ms=parts.time_ms or now_ms
    )


def balance_infos(balance: Mapping[str, Any]) -> list[BalanceInfo]:
    """Every asset of a ccxt balance with anything in it."""
    result = []
    for asset, entry in balance.items():
        if asset in _BALANCE_META or not isinstance(entry, Mapping):
            continue
        free = opt_decimal(entry.get("free"), f"{asset} free") or ZERO
        used = opt_decimal(entry.get("used"), f"{asset} used") or ZERO
        total = opt_decimal(entry.get("total"), f"{asset} total")
        total = free + used if total is None else total
        if free or used or total:
            result.append(BalanceInfo(asset=str(asset), free=free, used=used, total=total))
    return sorted(result, key=lambda b: b.asset)


def position_info(position: Mapping[str, Any], market: Mapping[str, Any]) -> PositionInfo | None:
    """A ccxt one-way position in base units, or None when flat."""
    contracts = opt_decimal(position.get("contracts"), "contracts") or ZERO
    if contracts == 0:
        return None
    side = position.get("side")
    if side not in ("long", "short"):
        raise UnmappedVenueData(f"position of {market['symbol']} has side {side!r}")
    size = opt_decimal(position.get("contractSize"), "contractSize") or contract_size_of(market)
    quantity = abs(contracts) * size * (1 if side == "long" else -1)
    return PositionInfo(
        symbol=str(market["symbol"]),
        quantity=quantity,
        entry_price=opt_decimal(position.get("entryPrice"), "entryPrice") or ZERO,
        unrealized_pnl=opt_decimal(position.get("unrealizedPnl"), "unrealizedPnl") or ZERO,
        realized_pnl=opt_decimal(position.get("realizedPnl"), "realizedPnl") or ZERO,
        leverage=opt_decimal(position.get("leverage"), "leverage") or ZERO,
        margin=(
            opt_decimal(position.get("initialMargin"), "initialMargin")
            or opt_decimal(position.get("collateral"), "collateral")
            or ZERO
        ),
        liquidation_price=opt_decimal(position.get("liquidationPrice"), "liquidationPrice") or None,
    )


def leverage_of(leverage: Mapping[str, Any] | None, quantity: Decimal) -> Decimal:
    """The leverage of a one-way position from a ccxt leverage structure (the side the
    position is on), or 0 when the venue did not say."""
    if not leverage:
        return ZERO
    key = "longLeverage" if quantity >= 0 else "shortLeverage"
    value = opt_decimal(leverage.get(key), key)
    if value is None:
        other = "shortLeverage" if key == "longLeverage" else "longLeverage"
        value = opt_decimal(leverage.get(other), other)
    return value or ZERO


def kline_info(
    symbol: str, interval: KlineInterval, candle: Sequence[object], *, volume_unit: Decimal, closed: bool
) -> KlineInfo:
    """A ccxt OHLCV row [time, open, high, low, close, volume]; `volume_unit` converts
    the venue's volume to base units (the contract size where it counts contracts)."""
    if len(candle) < 6:
        raise UnmappedVenueData(f"candle of {symbol} has {len(candle)} fields")
    return KlineInfo(
        symbol=symbol,
        interval=interval,
        open_time_ms=_int(candle[0], "candle time"),
        open=to_decimal(candle[1], "open"),
        high=to_decimal(candle[2], "high"),
        low=to_decimal(candle[3], "low"),
        close=to_decimal(candle[4], "close"),
        volume=(opt_decimal(candle[5], "volume") or ZERO) * volume_unit,
        closed=closed,
    )


__all__ = [
    "UNIFIED_STATUSES",
    "CreateOrderArgs",
    "TickerParts",
    "UnmappedVenueData",
    "acknowledged_order",
    "balance_infos",
    "client_order_id",
    "contract_size_of",
    "create_order_args",
    "fill_info",
    "has_status",
    "kline_info",
    "leverage_of",
    "market_info",
    "opt_decimal",
    "order_info",
    "order_status",
    "position_info",
    "raw_status",
    "served_market_problem",
    "ticker_info",
    "ticker_parts",
    "to_decimal",
    "trade_client_order_id",
]
