"""Bitget v2 order-entry rules: POST /api/v2/spot/trade/place-order and
/api/v2/mix/order/place-order bodies turned into the core's `OrderRequest`, or the
venue's error.

Spot: side buy | sell, orderType limit | market, force gtc | post_only | fok | ioc
(limit orders need one), price to pricePrecision, size to quantityPrecision (a market
buy's size is quote). Mix (one-way position mode): productType USDT-FUTURES,
marginMode crossed | isolated, marginCoin USDT, size to volumePlace and at least
minTradeNum, tradeSide refused (hedge mode only), reduceOnly YES | NO. clientOid at
most 50 characters; unique per account.
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
from .errors import BitgetError
from .markets import PRODUCT_TYPE, BitgetMarket
from .payloads import OrderMeta

CLIENT_OID = re.compile(r"^[A-Za-z0-9_\-:.#]{1,50}$")
SIDES = {"buy": Side.BUY, "sell": Side.SELL}
FORCES: dict[str, tuple[TimeInForce, bool]] = {
    "gtc": (TimeInForce.GTC, False),
    "ioc": (TimeInForce.IOC, False),
    "fok": (TimeInForce.FOK, False),
    "post_only": (TimeInForce.GTC, True),
}


@dataclass(frozen=True, slots=True)
class Entry:
    request: OrderRequest
    meta: OrderMeta


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    return "" if value is None else str(value)


def _decimal(body: dict[str, Any], name: str) -> Decimal:
    text = _text(body, name)
    if not text:
        raise errors.empty(name)
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise errors.invalid(name) from None
    if not value.is_finite() or value <= 0:
        raise errors.invalid(name)
    return value


def _places(increment: Decimal) -> int:
    exponent = increment.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def _common(body: dict[str, Any]) -> tuple[Side, str, str]:
    side = SIDES.get(_text(body, "side"))
    if side is None:
        raise errors.invalid("side")
    kind = _text(body, "orderType")
    if kind not in ("limit", "market"):
        raise errors.invalid("orderType")
    force = _text(body, "force").lower() or ("gtc" if kind == "limit" else "ioc")
    if force not in FORCES:
        raise errors.invalid("force")
    return side, kind, force


def client_oid(body: dict[str, Any]) -> str:
    text = _text(body, "clientOid")
    if text and not CLIENT_OID.match(text):
        raise errors.INVALID_CLIENT_OID
    return text


def parse_spot(body: dict[str, Any], market: BitgetMarket, *, oid: str, best_ask: Decimal) -> Entry:
    side, kind, force = _common(body)
    info = market.info
    size = _decimal(body, "size")
    price: Decimal | None = None
    quote_size: Decimal | None = None
    if kind == "limit":
        price = _decimal(body, "price")
        if not is_multiple(price, info.tick_size):
            raise errors.scale("price", _text(body, "price"), _places(info.tick_size))
    if kind == "market" and side is Side.BUY:
        quote_size = size
        quantity = round_down(size / best_ask, info.step_size)
    else:
        if not is_multiple(size, info.step_size):
            raise errors.scale("size", _text(body, "size"), _places(info.step_size))
        quantity = size
    if quantity < info.min_quantity:
        raise errors.below_min_amount(format_decimal(info.min_notional), info.quote)
    tif, post_only = FORCES[force]
    request = OrderRequest(
        client_order_id=oid,
        symbol=info.symbol,
        side=side,
        type=OrderType.LIMIT if kind == "limit" else OrderType.MARKET,
        price=price,
        quantity=quantity,
        time_in_force=tif,
        post_only=post_only,
        reduce_only=False,
    )
    return Entry(request, OrderMeta(client_oid=oid, force=force, margin_mode="", quote_size=quote_size))


def parse_mix(body: dict[str, Any], market: BitgetMarket, *, oid: str) -> Entry:
    if _text(body, "productType").upper() != PRODUCT_TYPE:
        raise errors.invalid("productType")
    margin_mode = _text(body, "marginMode")
    if margin_mode not in ("crossed", "isolated"):
        raise errors.invalid("marginMode")
    if _text(body, "marginCoin").upper() != market.info.settle:
        raise errors.invalid("marginCoin")
    if _text(body, "tradeSide"):
        raise errors.ONE_WAY_TRADE_SIDE
    side, kind, force = _common(body)
    info = market.info
    size = _decimal(body, "size")
    if not is_multiple(size, info.step_size):
        raise errors.scale("size", _text(body, "size"), _places(info.step_size))
    if size < info.min_quantity:
        raise errors.below_min_quantity(format_decimal(info.min_quantity))
    price: Decimal | None = None
    if kind == "limit":
        price = _decimal(body, "price")
        if not is_multiple(price, info.tick_size):
            raise errors.scale("price", _text(body, "price"), _places(info.tick_size))
    reduce_text = _text(body, "reduceOnly").upper() or "NO"
    if reduce_text not in ("YES", "NO"):
        raise errors.invalid("reduceOnly")
    tif, post_only = FORCES[force]
    request = OrderRequest(
        client_order_id=oid,
        symbol=info.symbol,
        side=side,
        type=OrderType.LIMIT if kind == "limit" else OrderType.MARKET,
        price=price,
        quantity=size,
        time_in_force=tif,
        post_only=post_only,
        reduce_only=reduce_text == "YES",
    )
    return Entry(request, OrderMeta(client_oid=oid, force=force, margin_mode=margin_mode, quote_size=None))


def reduce_only_refusal(position: Decimal, request: OrderRequest) -> BitgetError | None:
    """Bitget's answer to a reduce-only order that cannot reduce `position` (signed)."""
    if request.reduce_only and (
        position == 0 or (position > 0) == (request.side is Side.BUY) or request.quantity > abs(position)
    ):
        return errors.NO_POSITION
    return None
