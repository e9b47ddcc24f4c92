"""The OKX rows of the venue × market table (`tests/venues/cases.py`), as keyword
arguments of `VenueCase` so that table can import them without an import cycle.

Beyond the base table these rows need (see `EXTRA`): the API passphrase (ccxt's
`password`, required by ccxt's okx); ccxt amounts in contracts on SWAP (quantity 2 =
0.02 BTC; `partial` x contractSize is the core's max_fill); clOrdId alphanumeric only;
no cancel-all (ccxt `has['cancelAllOrders']` is False: cancel the open orders with
cancel_orders); a crossing post_only comes back cancelled with info.cancelSource "31".
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ccxt.base import errors as ccxt_errors

from opensqt_common.enums import MarketType

from .replica import OkxReplica


async def by_client_id(exchange: Any, symbol: str, client_order_id: str) -> dict[str, Any]:
    # ccxt sends clOrdId instead of ordId; the order is found open or closed.
    order: dict[str, Any] = await exchange.fetch_order(None, symbol, {"clientOrderId": client_order_id})
    return order


async def cancel_all(exchange: Any, symbol: str) -> list[dict[str, Any]]:
    ids = [order["id"] for order in await exchange.fetch_open_orders(symbol)]
    if not ids:
        return []
    orders: list[dict[str, Any]] = await exchange.cancel_orders(ids, symbol)
    return orders


EXTRA: dict[str, Any] = {
    "password": True,  # ccxt needs the replica's passphrase (credentials.passphrase)
    "cancel_all": cancel_all,
    "post_only_cancel_info": ("cancelSource", "31"),
    "cancel_finished_error": ccxt_errors.OrderNotFound,  # 51401 / 51402
    "client_id_pattern": r"^[A-Za-z0-9]{1,32}$",
}

ROWS: tuple[dict[str, Any], ...] = (
    {
        "id": "okx-spot",
        "venue": "okx",
        "market": MarketType.SPOT,
        "symbol": "BTC/USDT",
        "replica_factory": OkxReplica,
        "ccxt_class": "okx",
        "ccxt_options": {"fetchMarkets": {"types": ["spot"]}},
        "quantity": Decimal("0.01"),
        "partial": Decimal("0.004"),
        "rest_offset": Decimal(1000),
        "by_client_id": by_client_id,
        "post_only_cross_error": None,  # accepted, then cancelled with cancelSource 31
        "duplicate_error": ccxt_errors.InvalidOrder,  # sCode 51016
        "rate_limit_error": ccxt_errors.RateLimitExceeded,  # 429 {"code": "50011"}
        "server_error": ccxt_errors.ExchangeNotAvailable,  # 503 {"code": "50026"}
        "extra": EXTRA,
    },
    {
        "id": "okx-perp",
        "venue": "okx",
        "market": MarketType.LINEAR_PERPETUAL,
        "symbol": "BTC/USDT:USDT",
        "replica_factory": OkxReplica,
        "ccxt_class": "okx",
        "ccxt_options": {"fetchMarkets": {"types": ["swap"]}},
        "quantity": Decimal(2),  # contracts of 0.01 BTC
        "partial": Decimal(1),
        "rest_offset": Decimal(1000),
        "by_client_id": by_client_id,
        "post_only_cross_error": None,
        "duplicate_error": ccxt_errors.InvalidOrder,
        "rate_limit_error": ccxt_errors.RateLimitExceeded,
        "server_error": ccxt_errors.ExchangeNotAvailable,
        "reduce_only_error": ccxt_errors.ExchangeError,  # 51169, not in ccxt's table
        "extra": EXTRA,
    },
)
