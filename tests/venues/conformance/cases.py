"""The venue × market rows of the conformance suite.

A row says how to start the replica, which flags and environment start the connector
against it, the order sizes that fit the market's filters, and the venue route an
order placement takes (for counting what the connector sent). Binance and Bybit reuse
the replica suite's rows (`tests/venues/cases.py`) for their sizes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from opensqt_common.enums import MarketType

from ..bitget.replica import BitgetReplica
from ..cases import CASES_BY_ID, VenueCase
from ..framework.core import VenueOrder
from ..framework.server import VenueReplica
from ..gate.replica import GateReplica
from ..okx.replica import OkxReplica


@dataclass(frozen=True)
class ConformanceCase:
    id: str
    venue: str
    market: MarketType
    symbol: str
    new_replica: Callable[[], VenueReplica]
    quantity: Decimal  # a resting order's size (base units): above min qty and min notional
    partial: Decimal  # the fill cap of the first print (a partial fill)
    rest_offset: Decimal  # how far below the last price a resting buy sits (a tick multiple)
    place_route: tuple[str, str]  # (HTTP method, path) of an order placement at the venue
    client_id_prefix: str = ""  # what the venue stores before our client order id (Gate "t-")
    # Seconds a client must wait after the venue's rate-limit answer when that answer
    # carries no time (OKX, Bitget: the venue's documented window); None: it does.
    rate_limit_window_s: int | None = None

    def stored_client_id(self, replica: VenueReplica, order: VenueOrder) -> str:
        """The client order id the venue stores for `order` (Gate keeps its "text"
        apart from the core, which gets a unique id per order)."""
        if isinstance(replica, GateReplica):
            return replica.venue_text(order)
        return order.info.client_order_id

    @property
    def perp(self) -> bool:
        return self.market is MarketType.LINEAR_PERPETUAL

    def argv(self, replica: VenueReplica, *, listen: str = "127.0.0.1:0") -> list[str]:
        """`opensqt-connector` flags serving this case against `replica`."""
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
            "--log-format",
            "json",
        ]

    def env(self, replica: VenueReplica, *, secret: str | None = None) -> dict[str, str]:
        """The connector's credentials (the replica's, or a wrong `secret`)."""
        credentials = replica.credentials
        env = {
            "OPENSQT_CONNECTOR_API_KEY": credentials.api_key,
            "OPENSQT_CONNECTOR_API_SECRET": credentials.api_secret if secret is None else secret,
        }
        if credentials.passphrase:
            env["OPENSQT_CONNECTOR_API_PASSPHRASE"] = credentials.passphrase
        return env

    def secrets(self, replica: VenueReplica) -> list[str]:
        """Every credential value that must never appear in the connector's logs."""
        credentials = replica.credentials
        return [v for v in (credentials.api_key, credentials.api_secret, credentials.passphrase) if v]


def _from_replica_case(case: VenueCase, place_route: tuple[str, str]) -> ConformanceCase:
    return ConformanceCase(
        id=case.id,
        venue=case.venue,
        market=case.market,
        symbol=case.symbol,
        new_replica=case.new_replica,
        quantity=case.quantity,
        partial=case.partial,
        rest_offset=case.rest_offset,
        place_route=place_route,
    )


def _row(
    venue: str,
    market: MarketType,
    new_replica: Callable[[], VenueReplica],
    place_route: tuple[str, str],
    client_id_prefix: str = "",
    rate_limit_window_s: int | None = None,
) -> ConformanceCase:
    """A row with the suite's usual sizes in base units: 0.01 BTC, first fill 0.004."""
    perp = market is MarketType.LINEAR_PERPETUAL
    return ConformanceCase(
        id=f"{venue}-{'perp' if perp else 'spot'}",
        venue=venue,
        market=market,
        symbol="BTC/USDT:USDT" if perp else "BTC/USDT",
        new_replica=new_replica,
        quantity=Decimal("0.01"),
        partial=Decimal("0.004"),
        rest_offset=Decimal(1000),
        place_route=place_route,
        client_id_prefix=client_id_prefix,
        rate_limit_window_s=rate_limit_window_s,
    )


SPOT, PERP = MarketType.SPOT, MarketType.LINEAR_PERPETUAL
OKX_PLACE = ("POST", "/api/v5/trade/batch-orders")  # ccxt's okx places single orders as a batch

CONFORMANCE_CASES: tuple[ConformanceCase, ...] = (
    _from_replica_case(CASES_BY_ID["binance-spot"], ("POST", "/api/v3/order")),
    _from_replica_case(CASES_BY_ID["binance-perp"], ("POST", "/fapi/v1/order")),
    _from_replica_case(CASES_BY_ID["bybit-spot"], ("POST", "/v5/order/create")),
    _from_replica_case(CASES_BY_ID["bybit-perp"], ("POST", "/v5/order/create")),
    _row("okx", SPOT, OkxReplica, OKX_PLACE, rate_limit_window_s=2),
    _row("okx", PERP, OkxReplica, OKX_PLACE, rate_limit_window_s=2),  # 0.01 BTC = 1 contract
    _row("gate", SPOT, GateReplica, ("POST", "/api/v4/spot/orders"), "t-"),
    _row("gate", PERP, GateReplica, ("POST", "/api/v4/futures/usdt/orders"), "t-"),  # 100 contracts
    _row("bitget", SPOT, BitgetReplica, ("POST", "/api/v2/spot/trade/place-order"), rate_limit_window_s=1),
    _row("bitget", PERP, BitgetReplica, ("POST", "/api/v2/mix/order/place-order"), rate_limit_window_s=1),
)
