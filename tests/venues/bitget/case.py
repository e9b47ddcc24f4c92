"""The Bitget rows of the venue × market table (`tests/venues/cases.py`), as keyword
arguments of `VenueCase` so that table can import them without an import cycle.

Beyond the base table these rows need (see `EXTRA`): the API passphrase (ccxt's
`password`, required by ccxt's bitget); a crossing post_only comes back cancelled
(no marker field); ccxt's spot fetch_order has no postOnly (spot order info carries
no force); on a fill event watch_orders reports `filled` as that fill's size (the
cumulative size is info["accBaseVolume"]); fetch_balance of the futures account needs
defaultType swap.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ccxt.base import errors as ccxt_errors

from opensqt_common.enums import MarketType

from .replica import BitgetReplica


async def by_client_id(exchange: Any, symbol: str, client_order_id: str) -> dict[str, Any]:
    # ccxt sends clientOid instead of orderId; the order is found open or closed.
    order: dict[str, Any] = await exchange.fetch_order(None, symbol, {"clientOrderId": client_order_id})
    return order


EXTRA: dict[str, Any] = {
    "password": True,
    "cancel_finished_error": ccxt_errors.OrderNotFound,  # 43001 / 40768
    "ws_filled_is_last_fill": True,
}

ROWS: tuple[dict[str, Any], ...] = (
    {
        "id": "bitget-spot",
        "venue": "bitget",
        "market": MarketType.SPOT,
        "symbol": "BTC/USDT",
        "replica_factory": BitgetReplica,
        "ccxt_class": "bitget",
        "ccxt_options": {"fetchMarkets": {"types": ["spot"]}},
        "quantity": Decimal("0.01"),
        "partial": Decimal("0.004"),
        "rest_offset": Decimal(1000),
        "by_client_id": by_client_id,
        "post_only_cross_error": None,  # accepted, then cancelled
        "duplicate_error": ccxt_errors.ExchangeError,  # 40786, not in ccxt's table
        "rate_limit_error": ccxt_errors.DDoSProtection,  # {"code": "429"}
        "server_error": ccxt_errors.ExchangeError,  # 5xx with {"code": "40015"}
        "extra": EXTRA | {"spot_post_only_unreported": True},
    },
    {
        "id": "bitget-perp",
        "venue": "bitget",
        "market": MarketType.LINEAR_PERPETUAL,
        "symbol": "BTC/USDT:USDT",
        "replica_factory": BitgetReplica,
        "ccxt_class": "bitget",
        "ccxt_options": {"fetchMarkets": {"types": ["swap"]}, "defaultType": "swap"},
        "quantity": Decimal("0.01"),
        "partial": Decimal("0.004"),
        "rest_offset": Decimal(1000),
        "by_client_id": by_client_id,
        "post_only_cross_error": None,
        "duplicate_error": ccxt_errors.ExchangeError,
        "rate_limit_error": ccxt_errors.DDoSProtection,
        "server_error": ccxt_errors.ExchangeError,
        "reduce_only_error": ccxt_errors.ExchangeError,  # 22002, not in ccxt's table
        "extra": EXTRA,
    },
)
