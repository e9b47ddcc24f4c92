"""OKX order-entry rules: one item of POST /api/v5/trade/order or /batch-orders
turned into the core's `OrderRequest`, or the item's sCode error.

Rules (v5 "Place order"): ordType limit | post_only | ioc | fok | market |
optimal_limit_ioc; tdMode cash for SPOT, cross | isolated for SWAP (net position
mode, so posSide is absent or "net"); sz a positive multiple of lotSz and at least
minSz (contracts on SWAP; a SPOT market buy with tgtCcy quote_ccy gives quote);
px a multiple of tickSz for every ordType but market; clOrdId up to 32
alphanumerics; tag up to 16 alphanumerics; reduceOnly only on SWAP.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from opensqt_common.decimals import is_multiple, round_down
from opensqt_common.enums import OrderType, Side, TimeInForce
from opensqt_connector.models import OrderRequest

from . import errors
from .errors import ItemError
from .markets import OkxMarket
from .payloads import OrderMeta

CL_ORD_ID = re.compile(r"^[A-Za-z0-9]{1,32}$")
TAG = re.compile(r"^[A-Za-z0-9]{0,16}$")
SIDES = {"buy": Side.BUY, "sell": Side.SELL}
ORD_TYPES: dict[str, tuple[OrderType, TimeInForce, bool]] = {
    "limit": (OrderType.LIMIT, TimeInForce.GTC, False),
    "post_only": (OrderType.LIMIT, TimeInForce.GTC, True),
    "ioc": (OrderType.LIMIT, TimeInForce.IOC, False),
    "fok": (OrderType.LIMIT, TimeInForce.FOK, False),
    "market": (OrderType.MARKET, TimeInForce.IOC, False),
    "optimal_limit_ioc": (OrderType.MARKET, TimeInForce.IOC, False),
}


@dataclass(frozen=True, slots=True)
class Entry:
    """A valid order item: the core request, the venue's bookkeeping, the client's id."""

    request: OrderRequest
    meta: OrderMeta


def _text(item: dict[str, Any], name: str) -> str:
    value = item.get(name)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _decimal(item: dict[str, Any], name: str) -> Decimal:
    text = _text(item, name)
    if not text:
        raise ItemError("50014", f"Parameter {name} can not be empty.")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise errors.item_param_error(name) from None
    if not value.is_finite() or value <= 0:
        raise errors.item_param_error(name)
    return value


def _flag(item: dict[str, Any], name: str) -> bool:
    text = _text(item, name).lower()
    if text in ("", "false"):
        return False
    if text == "true":
        return True
    raise errors.item_param_error(name)


def parse_item(
    item: dict[str, Any], market: OkxMarket, *, internal_id: str, best_ask: Decimal | None, lever: Decimal
) -> Entry:
    """Validate one order item; `internal_id` stands in for a missing clOrdId."""
    side = SIDES.get(_text(item, "side"))
    if side is None:
        raise errors.item_param_error("side")
    kind = ORD_TYPES.get(_text(item, "ordType"))
    if kind is None:
        raise errors.item_param_error("ordType")
    order_type, tif, post_only = kind
    td_mode = _text(item, "tdMode")
    if not td_mode:
        raise ItemError("50014", "Parameter tdMode can not be empty.")
    if td_mode not in (("cash",) if market.spot else ("cross", "isolated")):
        raise errors.item_param_error("tdMode")
    pos_side = _text(item, "posSide")
    if pos_side not in ("", "net"):
        raise errors.item_param_error("posSide")
    cl_ord_id = _text(item, "clOrdId")
    if cl_ord_id and not CL_ORD_ID.match(cl_ord_id):
        raise errors.item_param_error("clOrdId")
    tag = _text(item, "tag")
    if not TAG.match(tag):
        raise errors.item_param_error("tag")
    reduce_only = _flag(item, "reduceOnly")
    if reduce_only and market.spot:
        raise errors.REDUCE_ONLY_UNAVAILABLE
    tgt_ccy = _text(item, "tgtCcy")
    if tgt_ccy not in ("", "base_ccy", "quote_ccy") or (tgt_ccy and not market.spot):
        raise errors.item_param_error("tgtCcy")
    size = _decimal(item, "sz")
    price: Decimal | None = None
    if order_type is OrderType.LIMIT:
        price = _decimal(item, "px")
        if not is_multiple(price, market.tick_sz):
            raise errors.item_param_error("px")
    if order_type is OrderType.MARKET and side is Side.BUY and tgt_ccy == "quote_ccy":
        if best_ask is None:
            raise errors.item_param_error("sz")
        quantity = round_down(size / best_ask, market.info.step_size)
    else:
        if not is_multiple(size, market.lot_sz):
            raise errors.LOT_SIZE
        if size < market.min_sz:
            raise errors.BELOW_MIN_SIZE
        quantity = market.to_base(size)
    request = OrderRequest(
        client_order_id=cl_ord_id or internal_id,
        symbol=market.info.symbol,
        side=side,
        type=order_type,
        price=price,
        quantity=quantity,
        time_in_force=tif,
        post_only=post_only,
        reduce_only=reduce_only,
    )
    meta = OrderMeta(
        cl_ord_id=cl_ord_id,
        tag=tag,
        td_mode=td_mode,
        ord_type=_text(item, "ordType"),
        tgt_ccy=tgt_ccy if market.spot else "",
        lever="" if market.spot else format(lever.normalize(), "f"),
    )
    return Entry(request, meta)


def reduce_only_refusal(position: Decimal, request: OrderRequest) -> ItemError | None:
    """The venue's answer to a reduce-only order that cannot reduce `position` (signed)."""
    if not request.reduce_only:
        return None
    if position == 0 or (position > 0) == (request.side is Side.BUY):
        return errors.REDUCE_NO_POSITION
    if request.quantity > abs(position):
        return errors.REDUCE_ONLY_UNAVAILABLE
    return None
