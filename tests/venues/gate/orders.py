"""Gate v4 order-entry rules: POST /spot/orders and POST /futures/usdt/orders bodies
turned into the core's `OrderRequest`, or the venue's error.

Spot (schema Order): type limit | market; account spot (classic account); amount in
base, except a market buy whose amount is quote; time_in_force gtc | ioc | poc | fok
(market: ioc | fok only); text "t-" + at most 28 bytes of [0-9A-Za-z_.-].
Futures (schema FuturesOrder): size a signed whole number of contracts (positive bid,
negative ask) within order_size_min / max; price "0" with tif ioc is a market order;
tif gtc | ioc | poc | fok; reduce_only. Prices are multiples of the tick.

Gate does not refuse a text that is already in use: the newer order takes it over for
look-ups by text (a maintainer's answer on gateio/gateapi-go#41), so the replica gives
the core its own unique client id for every order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from opensqt_common.decimals import format_decimal, is_multiple, round_down
from opensqt_common.enums import OrderType, Side, TimeInForce
from opensqt_connector.models import OrderRequest

from . import errors
from .markets import GateMarket
from .payloads import OrderMeta

TEXT = re.compile(r"^t-[0-9A-Za-z_.\-]{1,28}$")
SIDES = {"buy": Side.BUY, "sell": Side.SELL}
TIFS: dict[str, tuple[TimeInForce, bool]] = {
    "gtc": (TimeInForce.GTC, False),
    "ioc": (TimeInForce.IOC, False),
    "fok": (TimeInForce.FOK, False),
    "poc": (TimeInForce.GTC, True),
}
SPOT_ACCOUNTS = ("spot",)
DEFAULT_SPOT_TEXT = "apiv4"
DEFAULT_FUTURES_TEXT = "api"


@dataclass(frozen=True, slots=True)
class Entry:
    request: OrderRequest
    meta: OrderMeta


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _decimal(body: dict[str, Any], name: str) -> Decimal:
    text = _text(body, name)
    if not text:
        raise errors.missing_param(name)
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise errors.invalid_param(name, text) from None
    if not value.is_finite():
        raise errors.invalid_param(name, text)
    return value


def _client_text(body: dict[str, Any], default: str) -> str:
    text = _text(body, "text")
    if not text:
        return default
    if not TEXT.match(text):
        raise errors.invalid_param("text", text)
    return text


def parse_spot(body: dict[str, Any], market: GateMarket, *, internal_id: str, best_ask: Decimal) -> Entry:
    side = SIDES.get(_text(body, "side"))
    if side is None:
        raise errors.invalid_param("side", _text(body, "side"))
    kind = _text(body, "type") or "limit"
    if kind not in ("limit", "market"):
        raise errors.invalid_param("type", kind)
    account = _text(body, "account") or "spot"
    if account not in SPOT_ACCOUNTS:
        raise errors.invalid_param("account", account)
    tif_text = _text(body, "time_in_force") or ("gtc" if kind == "limit" else "ioc")
    if tif_text not in TIFS or (kind == "market" and tif_text not in ("ioc", "fok")):
        raise errors.invalid_param("time_in_force", tif_text)
    tif, post_only = TIFS[tif_text]
    text = _client_text(body, DEFAULT_SPOT_TEXT)
    amount = _decimal(body, "amount")
    if amount <= 0:
        raise errors.invalid_param("amount", _text(body, "amount"))
    info = market.info
    quote_amount: Decimal | None = None
    price: Decimal | None = None
    if kind == "market" and side is Side.BUY:
        quote_amount = amount
        quantity = round_down(amount / best_ask, info.step_size)
    else:
        if not is_multiple(amount, info.step_size):
            raise errors.GateError(
                400, "INVALID_PRECISION", f"Invalid precision: amount {_text(body, 'amount')}"
            )
        quantity = amount
    if kind == "limit":
        price = _decimal(body, "price")
        if price <= 0 or not is_multiple(price, info.tick_size):
            raise errors.GateError(
                400, "INVALID_PRECISION", f"Invalid precision: price {_text(body, 'price')}"
            )
    if quantity <= 0:
        raise errors.amount_too_small(format_decimal(amount), format_decimal(info.min_notional), info.quote)
    request = OrderRequest(
        client_order_id=internal_id,
        symbol=info.symbol,
        side=side,
        type=OrderType.LIMIT if kind == "limit" else OrderType.MARKET,
        price=price,
        quantity=quantity,
        time_in_force=tif,
        post_only=post_only,
        reduce_only=False,
    )
    return Entry(request, OrderMeta(text=text, account=account, quote_amount=quote_amount))


def parse_futures(body: dict[str, Any], market: GateMarket, *, internal_id: str) -> Entry:
    size = _decimal(body, "size")
    if size == 0 or size != size.to_integral_value():
        raise errors.invalid_param("size", _text(body, "size"))
    if abs(size) < market.size_min:
        raise errors.SIZE_TOO_SMALL
    if abs(size) > market.size_max:
        raise errors.SIZE_TOO_LARGE
    price = _decimal(body, "price") if "price" in body else Decimal(0)
    tif_text = _text(body, "tif") or "gtc"
    if tif_text not in TIFS:
        raise errors.invalid_param("tif", tif_text)
    tif, post_only = TIFS[tif_text]
    market_order = price == 0
    if market_order and tif_text not in ("ioc", "fok"):
        raise errors.invalid_param("price", _text(body, "price"))
    if not market_order and (price < 0 or not is_multiple(price, market.info.tick_size)):
        raise errors.invalid_param("price", _text(body, "price"))
    reduce_only = _text(body, "reduce_only").lower() == "true"
    text = _client_text(body, DEFAULT_FUTURES_TEXT)
    request = OrderRequest(
        client_order_id=internal_id,
        symbol=market.info.symbol,
        side=Side.BUY if size > 0 else Side.SELL,
        type=OrderType.MARKET if market_order else OrderType.LIMIT,
        price=None if market_order else price,
        quantity=market.to_base(abs(size)),
        time_in_force=tif,
        post_only=post_only,
        reduce_only=reduce_only,
    )
    return Entry(request, OrderMeta(text=text, account="", quote_amount=None))


def reduce_only_refusal(position: Decimal, request: OrderRequest) -> errors.GateError | None:
    """Gate's answer to a reduce-only order that cannot reduce `position` (signed)."""
    if not request.reduce_only:
        return None
    if position == 0 or (position > 0) == (request.side is Side.BUY):
        return errors.POSITION_EMPTY
    if request.quantity > abs(position):
        return errors.REDUCE_EXCEEDED
    return None
