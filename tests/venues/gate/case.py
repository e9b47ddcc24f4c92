"""The Gate rows of the venue × market table (`tests/venues/cases.py`), as keyword
arguments of `VenueCase` so that table can import them without an import cycle.

Beyond the base table these rows need (see `EXTRA`): ccxt's `uid` (the replica's
`user_id`) for the futures private streams; ccxt amounts in contracts on futures
(quantity 100 = 0.01 BTC; `partial` x contractSize is the core's max_fill; ccxt's
futures candle volume is in contracts too); ccxt reports the text with its "t-"
prefix as clientOrderId; a text in use is accepted (duplicate_error None); cancelling
a finished order answers ORDER_CANCELLED / ORDER_CLOSED (spot, InvalidOrder) or
ORDER_FINISHED (futures, ExchangeError); fetch_balance of the futures account needs
defaultType swap.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ccxt.base import errors as ccxt_errors

from opensqt_common.enums import MarketType

from .replica import GateReplica


async def by_client_id(exchange: Any, symbol: str, client_order_id: str) -> dict[str, Any]:
    # ccxt sends /orders/t-<id>; Gate finds it open or within the look-up window.
    order: dict[str, Any] = await exchange.fetch_order(None, symbol, {"clientOrderId": client_order_id})
    return order


SPOT_EXTRA: dict[str, Any] = {
    "uid": True,
    "client_id_prefix": "t-",
    "cancel_finished_error": ccxt_errors.InvalidOrder,  # ORDER_CANCELLED / ORDER_CLOSED
    "rate_limit_headers": ("X-Gate-RateLimit-Requests-Remain", "X-Gate-RateLimit-Reset-Timestamp"),
}
PERP_EXTRA: dict[str, Any] = SPOT_EXTRA | {
    "cancel_finished_error": ccxt_errors.ExchangeError,  # ORDER_FINISHED
    "candle_volume_in_contracts": True,
}

ROWS: tuple[dict[str, Any], ...] = (
    {
        "id": "gate-spot",
        "venue": "gate",
        "market": MarketType.SPOT,
        "symbol": "BTC/USDT",
        "replica_factory": GateReplica,
        "ccxt_class": "gate",
        "ccxt_options": {"fetchMarkets": {"types": ["spot"]}},
        "quantity": Decimal("0.01"),
        "partial": Decimal("0.004"),
        "rest_offset": Decimal(1000),
        "by_client_id": by_client_id,
        "post_only_cross_error": ccxt_errors.OrderImmediatelyFillable,  # POC_FILL_IMMEDIATELY
        "duplicate_error": None,  # Gate accepts a text in use; the newest order owns it
        "rate_limit_error": ccxt_errors.RateLimitExceeded,  # 429 TOO_MANY_REQUESTS
        "server_error": ccxt_errors.ExchangeNotAvailable,  # 503 TOO_BUSY
        "extra": SPOT_EXTRA,
    },
    {
        "id": "gate-perp",
        "venue": "gate",
        "market": MarketType.LINEAR_PERPETUAL,
        "symbol": "BTC/USDT:USDT",
        "replica_factory": GateReplica,
        "ccxt_class": "gate",
        "ccxt_options": {"fetchMarkets": {"types": ["swap"]}, "defaultType": "swap"},
        "quantity": Decimal(100),  # contracts of 0.0001 BTC
        "partial": Decimal(40),
        "rest_offset": Decimal(1000),
        "by_client_id": by_client_id,
        "post_only_cross_error": ccxt_errors.OrderImmediatelyFillable,  # ORDER_POC_IMMEDIATE
        "duplicate_error": None,
        "rate_limit_error": ccxt_errors.RateLimitExceeded,
        "server_error": ccxt_errors.ExchangeNotAvailable,
        "reduce_only_error": ccxt_errors.InvalidOrder,  # POSITION_EMPTY
        "extra": PERP_EXTRA,
    },
)
