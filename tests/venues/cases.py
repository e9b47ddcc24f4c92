"""The venue × market table every replica test (and the phase-2 connector conformance
suite) is parametrised over.

A case says how to start its replica, how to build the ccxt / ccxt.pro client the
connector's adapter would build (class, options, URL overrides), the order sizes that
fit the market's filters, and which ccxt exception class the venue's own errors come
out as through ccxt 4.5.90 with the URL overrides — recorded here, so a ccxt upgrade
that changes a mapping fails a test instead of silently changing the connector.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import ccxt.pro as ccxtpro
from ccxt.base import errors as ccxt_errors

from opensqt_common.enums import MarketType

from .binance.replica import BinanceReplica
from .bybit.replica import BybitReplica
from .framework.ccxt_urls import point_ccxt_at
from .framework.server import VenueReplica

ClientIdLookup = Callable[[Any, str, str], Awaitable[dict[str, Any]]]


async def _binance_by_client_id(exchange: Any, symbol: str, client_order_id: str) -> dict[str, Any]:
    # ccxt sends origClientOrderId and no orderId.
    order: dict[str, Any] = await exchange.fetch_order(None, symbol, {"clientOrderId": client_order_id})
    return order


async def _bybit_by_client_id(exchange: Any, symbol: str, client_order_id: str) -> dict[str, Any]:
    # ccxt's bybit fetch_order(None, ...) sends the literal "orderId=None"; the
    # realtime endpoint filtered by orderLinkId also returns a recently closed order.
    orders: list[dict[str, Any]] = await exchange.fetch_open_orders(
        symbol, None, None, {"orderLinkId": client_order_id}
    )
    if len(orders) != 1:
        raise ccxt_errors.OrderNotFound(f"no order with orderLinkId {client_order_id}")
    return orders[0]


@dataclass(frozen=True)
class VenueCase:
    id: str
    venue: str
    market: MarketType
    symbol: str
    replica_factory: Callable[[], VenueReplica]
    ccxt_class: str
    ccxt_options: Mapping[str, Any]
    quantity: Decimal  # a resting order's size: above min qty and min notional
    partial: Decimal  # the fill cap of the first print (a partial fill)
    rest_offset: Decimal  # how far below the price a resting buy sits
    by_client_id: ClientIdLookup
    # ccxt exception classes the venue's errors come out as (None: not an error).
    post_only_cross_error: type[Exception] | None
    duplicate_error: type[Exception]
    rate_limit_error: type[Exception]
    server_error: type[Exception]
    reduce_only_error: type[Exception] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def perp(self) -> bool:
        return self.market is MarketType.LINEAR_PERPETUAL

    def new_replica(self) -> VenueReplica:
        return self.replica_factory()

    def ccxt_exchange(self, replica: VenueReplica, *, api_key: str = "", secret: str = "") -> Any:
        """The ccxt.pro client pointed at `replica` (URL origins swapped, paths kept)."""
        exchange = getattr(ccxtpro, self.ccxt_class)(
            {
                "apiKey": api_key or replica.credentials.api_key,
                "secret": secret or replica.credentials.api_secret,
                "options": dict(self.ccxt_options),
                "enableLastResponseHeaders": True,
                # ccxt's own throttle (bybit: ~100 ms per private call) is client-side
                # pacing, not venue behaviour; the connector paces with its own bucket.
                "enableRateLimit": False,
            }
        )
        exchange.timeout_on_exit = 0  # ccxt waits 250 ms on close() for TLS transports; loopback has none
        point_ccxt_at(exchange, replica.rest_url, replica.ws_url)
        return exchange

    def connector_argv(self, replica: VenueReplica, listen: str) -> list[str]:
        """Flags of `opensqt-connector` serving this case against `replica` (phase 2)."""
        return [
            "--exchange",
            self.venue,
            "--market",
            "perp" if self.perp else "spot",
            "--symbols",
            self.symbol,
            "--api-url",
            replica.rest_url,
            "--ws-url",
            replica.ws_url,
            "--listen",
            listen,
        ]

    def connector_env(self, replica: VenueReplica) -> dict[str, str]:
        return {
            "OPENSQT_CONNECTOR_API_KEY": replica.credentials.api_key,
            "OPENSQT_CONNECTOR_API_SECRET": replica.credentials.api_secret,
        }


CASES: tuple[VenueCase, ...] = (
    VenueCase(
        id="binance-spot",
        venue="binance",
        market=MarketType.SPOT,
        symbol="BTC/USDT",
        replica_factory=BinanceReplica,
        ccxt_class="binance",
        ccxt_options={"fetchMarkets": {"types": ["spot"]}},
        quantity=Decimal("0.01"),
        partial=Decimal("0.004"),
        rest_offset=Decimal(1000),
        by_client_id=_binance_by_client_id,
        post_only_cross_error=ccxt_errors.OrderImmediatelyFillable,  # -2010 msg matched exactly by ccxt
        duplicate_error=ccxt_errors.InvalidOrder,  # -2010 "Duplicate order sent."
        rate_limit_error=ccxt_errors.DDoSProtection,  # HTTP 429 is mapped before the body is read
        server_error=ccxt_errors.OperationFailed,  # 503 {"code": -1001}
    ),
    VenueCase(
        id="binance-perp",
        venue="binance",
        market=MarketType.LINEAR_PERPETUAL,
        symbol="BTC/USDT:USDT",
        replica_factory=BinanceReplica,
        ccxt_class="binanceusdm",
        ccxt_options={"fetchMarkets": {"types": ["linear"]}},
        quantity=Decimal("0.01"),
        partial=Decimal("0.004"),
        rest_offset=Decimal(1000),
        by_client_id=_binance_by_client_id,
        # -5022 through binanceusdm's own exact table (the 'linear' table that would give
        # OrderNotFillable is chosen by the host name fapi.binance.com, not by the path).
        post_only_cross_error=ccxt_errors.InvalidOrder,
        duplicate_error=ccxt_errors.ExchangeError,  # -4116: only in the host-selected 'linear' table
        rate_limit_error=ccxt_errors.DDoSProtection,
        server_error=ccxt_errors.OperationFailed,
        reduce_only_error=ccxt_errors.ExchangeError,  # -2022: only in the host-selected 'linear' table
    ),
    VenueCase(
        id="bybit-spot",
        venue="bybit",
        market=MarketType.SPOT,
        symbol="BTC/USDT",
        replica_factory=BybitReplica,
        ccxt_class="bybit",
        ccxt_options={"fetchMarkets": {"types": ["spot"]}},
        quantity=Decimal("0.01"),
        partial=Decimal("0.004"),
        rest_offset=Decimal(1000),
        by_client_id=_bybit_by_client_id,
        post_only_cross_error=None,  # accepted, then Cancelled with EC_PostOnlyWillTakeLiquidity
        duplicate_error=ccxt_errors.InvalidOrder,  # 170141
        rate_limit_error=ccxt_errors.RateLimitExceeded,  # retCode 10006
        server_error=ccxt_errors.ExchangeError,  # 503 {"retCode": 10016}
    ),
    VenueCase(
        id="bybit-perp",
        venue="bybit",
        market=MarketType.LINEAR_PERPETUAL,
        symbol="BTC/USDT:USDT",
        replica_factory=BybitReplica,
        ccxt_class="bybit",
        ccxt_options={"fetchMarkets": {"types": ["linear"]}},
        quantity=Decimal("0.01"),
        partial=Decimal("0.004"),
        rest_offset=Decimal(1000),
        by_client_id=_bybit_by_client_id,
        post_only_cross_error=None,
        duplicate_error=ccxt_errors.InvalidOrder,  # 110072
        rate_limit_error=ccxt_errors.RateLimitExceeded,
        server_error=ccxt_errors.ExchangeError,
        reduce_only_error=ccxt_errors.InvalidOrder,  # 110017
    ),
)

CASES_BY_ID = {case.id: case for case in CASES}
