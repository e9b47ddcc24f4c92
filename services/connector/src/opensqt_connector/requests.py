"""Parse and validate inbound requests into domain values, strictly.

Every function raises `InvalidArgument` naming the offending field (or
`UnknownSymbol`, `MinNotional`), so a bad request is answered precisely and never
reaches a venue.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from opensqt.exchange.v1 import exchange_service_pb2 as pb
from opensqt_common.decimals import format_decimal, is_multiple
from opensqt_common.enums import ORDER_TYPE, SIDE, TIME_IN_FORCE, MarketType, OrderType, Side, TimeInForce
from opensqt_common.errors import InvalidArgument
from opensqt_common.validation import (
    client_order_id_field,
    decimal_field,
    enum_field,
    symbol_field,
)
from opensqt_connector.convert import interval_from_proto
from opensqt_connector.models import KlineInterval, MarketInfo, OrderRequest
from opensqt_connector.venue_errors import MinNotional

Markets = Mapping[str, MarketInfo]

DEFAULT_KLINE_LIMIT = 100
MAX_KLINE_LIMIT = 1000
MAX_STREAM_SYMBOLS = 200
MAX_TRACE_ENTRIES = 8
MAX_TRACE_TEXT = 512
_ORDER_ID = re.compile(r"[A-Za-z0-9_\-:.]{1,64}")


@dataclass(frozen=True, slots=True)
class OrderRef:
    """One order named by the caller's client order id or the venue's order id."""

    symbol: str
    client_order_id: str = ""
    order_id: str = ""

    @property
    def label(self) -> str:
        return self.client_order_id or self.order_id


def market_of(symbol: str, markets: Markets, field: str = "symbol") -> MarketInfo:
    return markets[symbol_field(symbol, markets, field)]


def optional_symbol(symbol: str, markets: Markets, field: str = "symbol") -> str | None:
    """Empty means every served symbol (None); anything else must be served."""
    if not symbol:
        return None
    return symbol_field(symbol, markets, field)


def symbol_list(symbols: Sequence[str], markets: Markets, field: str = "symbols") -> tuple[str, ...]:
    """Empty means every served symbol."""
    if len(symbols) > MAX_STREAM_SYMBOLS:
        raise InvalidArgument(field, f"at most {MAX_STREAM_SYMBOLS} symbols (got {len(symbols)})")
    if not symbols:
        return tuple(markets)
    return tuple(dict.fromkeys(symbol_field(s, markets, f"{field}[{i}]") for i, s in enumerate(symbols)))


def trace_context(carrier: Mapping[str, str], field: str = "trace_context") -> dict[str, str]:
    if len(carrier) > MAX_TRACE_ENTRIES:
        raise InvalidArgument(field, f"at most {MAX_TRACE_ENTRIES} entries (got {len(carrier)})")
    for key, value in carrier.items():
        if len(key) > MAX_TRACE_TEXT or len(value) > MAX_TRACE_TEXT:
            raise InvalidArgument(field, f"keys and values must be at most {MAX_TRACE_TEXT} characters")
    return dict(carrier)


def place_order(request: pb.PlaceOrderRequest, markets: Markets, path: str = "") -> OrderRequest:
    """A fully checked order: enums set, decimals finite and positive, price and
    quantity on the market's tick and step, quantity and notional above the minimum."""
    client_order_id = client_order_id_field(request.client_order_id, f"{path}client_order_id")
    market = market_of(request.symbol, markets, f"{path}symbol")
    side: Side = enum_field(request.side, SIDE, f"{path}side")
    order_type: OrderType = enum_field(request.type, ORDER_TYPE, f"{path}type")
    quantity = decimal_field(request, "quantity", path=path)
    assert quantity is not None
    price: Decimal | None
    if order_type is OrderType.LIMIT:
        price = decimal_field(request, "price", path=path)
        time_in_force: TimeInForce = enum_field(request.time_in_force, TIME_IN_FORCE, f"{path}time_in_force")
    else:
        if request.HasField("price"):
            raise InvalidArgument(f"{path}price", "must be unset for MARKET orders")
        if request.time_in_force not in (0, TIME_IN_FORCE.to_proto(TimeInForce.IOC)):
            raise InvalidArgument(f"{path}time_in_force", "MARKET orders are always IOC")
        if request.post_only:
            raise InvalidArgument(f"{path}post_only", "cannot be set on a MARKET order")
        price = None
        time_in_force = TimeInForce.IOC
    if request.post_only and time_in_force is not TimeInForce.GTC:
        raise InvalidArgument(f"{path}post_only", "needs time_in_force GTC")
    if request.reduce_only and market.market_type is MarketType.SPOT:
        raise InvalidArgument(f"{path}reduce_only", f"{market.symbol} is a spot market")
    _check_increments(market, price, quantity, path)
    trace_context(request.trace_context, f"{path}trace_context")
    return OrderRequest(
        client_order_id=client_order_id,
        symbol=market.symbol,
        side=side,
        type=order_type,
        price=price,
        quantity=quantity,
        time_in_force=time_in_force,
        post_only=request.post_only,
        reduce_only=request.reduce_only,
    )


def _check_increments(market: MarketInfo, price: Decimal | None, quantity: Decimal, path: str) -> None:
    if price is not None and not is_multiple(price, market.tick_size):
        raise InvalidArgument(
            f"{path}price",
            f"must be a multiple of the tick size {format_decimal(market.tick_size)} (got {price})",
        )
    if not is_multiple(quantity, market.step_size):
        raise InvalidArgument(
            f"{path}quantity",
            f"must be a multiple of the step size {format_decimal(market.step_size)} (got {quantity})",
        )
    if quantity < market.min_quantity:
        raise InvalidArgument(
            f"{path}quantity", f"must be at least {format_decimal(market.min_quantity)} (got {quantity})"
        )
    if price is not None and price * quantity < market.min_notional:
        raise MinNotional(
            f"notional {format_decimal(price * quantity)} is below the minimum "
            f"{format_decimal(market.min_notional)} of {market.symbol}",
            metadata={"min_notional": format_decimal(market.min_notional)},
        )


def order_ref(
    request: pb.CancelOrderRequest | pb.GetOrderRequest, markets: Markets, path: str = ""
) -> OrderRef:
    symbol = market_of(request.symbol, markets, f"{path}symbol").symbol
    which = request.WhichOneof("id")
    if which == "client_order_id":
        return OrderRef(
            symbol, client_order_id=client_order_id_field(request.client_order_id, f"{path}client_order_id")
        )
    if which == "order_id":
        if not _ORDER_ID.fullmatch(request.order_id):
            raise InvalidArgument(
                f"{path}order_id", "must be 1-64 characters of A-Z, a-z, 0-9, '_', '-', ':' or '.'"
            )
        return OrderRef(symbol, order_id=request.order_id)
    raise InvalidArgument(f"{path}id", "client_order_id or order_id is required")


def cancel_order(request: pb.CancelOrderRequest, markets: Markets, path: str = "") -> OrderRef:
    ref = order_ref(request, markets, path)
    trace_context(request.trace_context, f"{path}trace_context")
    return ref


def cancel_all(request: pb.CancelAllOrdersRequest, markets: Markets) -> tuple[str | None, Side | None]:
    symbol = optional_symbol(request.symbol, markets)
    side: Side | None = enum_field(request.side, SIDE, "side") if request.HasField("side") else None
    return symbol, side


def leverage(request: pb.SetLeverageRequest, markets: Markets) -> tuple[str, Decimal]:
    market = market_of(request.symbol, markets)
    if market.market_type is not MarketType.LINEAR_PERPETUAL:
        raise InvalidArgument("symbol", f"{market.symbol} is a spot market; leverage applies to perpetuals")
    value = decimal_field(request, "leverage")
    assert value is not None
    if market.max_leverage > 0 and value > market.max_leverage:
        raise InvalidArgument(
            "leverage", f"must be at most {format_decimal(market.max_leverage)} (got {value})"
        )
    return market.symbol, value


def interval(number: int, field: str = "interval") -> KlineInterval:
    value = interval_from_proto(number)
    if value is None:
        what = "must be set (got UNSPECIFIED)" if number == 0 else f"unknown KlineInterval value {number}"
        raise InvalidArgument(field, what)
    return value


def klines(request: pb.GetKlinesRequest, markets: Markets) -> tuple[str, KlineInterval, int]:
    symbol = market_of(request.symbol, markets).symbol
    kline_interval = interval(request.interval)
    limit = request.limit or DEFAULT_KLINE_LIMIT
    if limit > MAX_KLINE_LIMIT:
        raise InvalidArgument("limit", f"must be 1-{MAX_KLINE_LIMIT} (got {limit})")
    return symbol, kline_interval, limit


def fills_since(request: pb.StreamFillsRequest) -> int:
    if request.since_unix_ms < 0:
        raise InvalidArgument("since_unix_ms", f"must be >= 0 (got {request.since_unix_ms})")
    return request.since_unix_ms
