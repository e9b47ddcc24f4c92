"""The one interface every venue implements: the built-in `sim` and the ccxt adapter.

An adapter owns its connections. Requests are plain async methods that return
domain records or raise the errors of `venue_errors`. Market data and private
updates are pushed to the `VenueEvents` sink the gRPC layer hands to `start`:
the adapter keeps its streams alive (reconnect with backoff and jitter), and after
every reconnect fetches a REST snapshot and pushes what changed (open orders,
recent fills) before live updates, because venues do not replay missed events.
The sink deduplicates fills by trade id and orders by (id, status, filled), so an
adapter may push the same record twice but must never skip one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Protocol

from opensqt_common.enums import Side, Venue
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


class VenueEvents(Protocol):
    """Where an adapter pushes what it observes. Calls are cheap and never block."""

    def on_ticker(self, ticker: TickerInfo) -> None: ...

    def on_order(self, order: OrderInfo) -> None: ...

    def on_fill(self, fill: FillInfo) -> None: ...

    def on_kline(self, kline: KlineInfo) -> None: ...

    def on_stream_state(self, stream: str, connected: bool, detail: str = "") -> None:
        """A venue stream is up (first connected, or back after its resync was pushed) or down."""


class VenueAdapter(Protocol):
    venue: Venue

    async def start(self, events: VenueEvents, kline_interval: KlineInterval) -> None:
        """Load markets, then start pushing tickers, orders, fills and klines
        (of `kline_interval`) for the served symbols to `events`."""

    async def close(self) -> None: ...

    def markets(self) -> Mapping[str, MarketInfo]:
        """The served markets by unified symbol (available after `start`)."""

    async def fetch_ticker(self, symbol: str) -> TickerInfo: ...

    async def fetch_balances(self) -> Sequence[BalanceInfo]: ...

    async def fetch_positions(self, symbol: str | None) -> Sequence[PositionInfo]: ...

    async def place_order(self, request: OrderRequest) -> OrderInfo:
        """Place one order. Raises DuplicateClientOrderId when the venue already has
        this client order id (the caller then looks the order up)."""

    async def cancel_order(
        self, symbol: str, *, client_order_id: str = "", order_id: str = ""
    ) -> OrderInfo: ...

    async def cancel_all_orders(self, symbol: str | None, side: Side | None) -> Sequence[OrderInfo]: ...

    async def fetch_order(self, symbol: str, *, client_order_id: str = "", order_id: str = "") -> OrderInfo:
        """Raises OrderNotFound when the venue has no such order."""

    async def fetch_open_orders(self, symbol: str | None) -> Sequence[OrderInfo]: ...

    async def fetch_fills(self, symbol: str, since_ms: int) -> Sequence[FillInfo]: ...

    async def set_leverage(self, symbol: str, leverage: Decimal) -> Decimal: ...

    async def fetch_klines(self, symbol: str, interval: KlineInterval, limit: int) -> Sequence[KlineInfo]: ...
