"""The replicas' shared exchange state: the sim's matching core plus what a venue adds.

`ReplicaCore` wraps `SimExchange` (orders, fills, balances, positions) and one
`KlineSeries` per symbol and interval, and keeps a ledger of venue order ids:

- every order gets a venue id from the venue's own id scheme (Binance numbers, Bybit
  UUIDs), mapped to and from the sim's id;
- a venue that records an order the sim refused (Bybit keeps a post-only order that
  would cross as Cancelled) stores it here as a local, already-final order.

Every state change is pushed, in the sim's event order, to the registered listeners as
`OrderUpdate` (an order state, with the fill that caused it if any), `TickerInfo` and
`KlineInfo`. The core is synchronous; time comes from the injected clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Protocol

from opensqt_common.enums import Side
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
from opensqt_connector.sim.klines import KlineSeries
from opensqt_connector.sim.matching import SimEvent, SimExchange
from opensqt_connector.venue_errors import OrderNotFound

Clock = Callable[[], int]
KLINE_HISTORY = 1_500
SEED_KLINES = 120


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class VenueOrder:
    """An order as the venue knows it: its venue id, latest state and reject reason."""

    venue_id: str
    info: OrderInfo
    reject_reason: str = ""


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """One change of one order; `fill` is set when a trade caused it."""

    order: VenueOrder
    fill: FillInfo | None


class CoreListener(Protocol):
    def on_order_update(self, update: OrderUpdate) -> None: ...

    def on_ticker(self, ticker: TickerInfo) -> None: ...

    def on_kline(self, kline: KlineInfo) -> None: ...


class ReplicaCore:
    """One account at one venue: the sim's matching core behind venue order ids."""

    def __init__(
        self,
        markets: Iterable[MarketInfo],
        balances: Mapping[str, Decimal],
        start_prices: Mapping[str, Decimal],
        *,
        order_id: Callable[[int, str], str],
        clock: Clock = wall_clock_ms,
        leverage: Decimal = Decimal(10),
    ) -> None:
        self._markets = {market.symbol: market for market in markets}
        self.sim = SimExchange(self._markets.values(), balances, leverage=leverage)
        self._clock = clock
        self._make_id = order_id
        self._seq = 0
        self._venue_by_sim: dict[str, str] = {}
        self._sim_by_venue: dict[str, str] = {}
        self._local: dict[str, VenueOrder] = {}
        self._local_by_client: dict[str, str] = {}
        self._created: list[str] = []  # venue ids, oldest first
        self._listeners: list[CoreListener] = []
        self._klines = {
            symbol: {interval: KlineSeries(symbol, interval, KLINE_HISTORY) for interval in KlineInterval}
            for symbol in self._markets
        }
        now = clock()
        for symbol, price in start_prices.items():
            self._seed(symbol, price, now)

    # ------------------------------------------------------------- wiring

    def subscribe(self, listener: CoreListener) -> None:
        self._listeners.append(listener)

    def now_ms(self) -> int:
        return self._clock()

    @property
    def markets(self) -> Mapping[str, MarketInfo]:
        return self._markets

    def market(self, symbol: str) -> MarketInfo:
        return self._markets[symbol]

    # ------------------------------------------------------------- orders

    def place(self, request: OrderRequest) -> VenueOrder:
        """Place through the sim; raises the sim's venue errors before any change."""
        info, events = self.sim.place_order(request, self._clock())
        self._dispatch(events)
        return self._wrap(info)

    def record_local(self, info: OrderInfo, reject_reason: str) -> VenueOrder:
        """Keep an order the sim refused (already final) under a new venue id."""
        self._seq += 1
        venue_id = self._make_id(self._seq, info.symbol)
        order = VenueOrder(venue_id, replace(info, order_id=venue_id), reject_reason)
        self._local[venue_id] = order
        self._created.append(venue_id)
        self._local_by_client[info.client_order_id] = venue_id
        self._publish(OrderUpdate(order, None))
        return order

    def cancel(self, symbol: str, venue_id: str = "", client_order_id: str = "") -> VenueOrder:
        """Cancel an open order; raises OrderNotFound when it is unknown or already final."""
        order = self.find(symbol, venue_id=venue_id, client_order_id=client_order_id)
        if order is None or order.info.status.is_terminal or order.venue_id in self._local:
            raise OrderNotFound(f"no open order {venue_id or client_order_id} on {symbol}")
        info, events = self.sim.cancel_order(
            symbol, order_id=self._sim_by_venue[order.venue_id], now_ms=self._clock()
        )
        self._dispatch(events)
        return self._wrap(info)

    def cancel_all(self, symbol: str | None, side: Side | None = None) -> list[VenueOrder]:
        infos, events = self.sim.cancel_all(symbol, side, self._clock())
        self._dispatch(events)
        return [self._wrap(info) for info in infos]

    def find(self, symbol: str, *, venue_id: str = "", client_order_id: str = "") -> VenueOrder | None:
        """The order with this venue id or client order id on `symbol`, in any state."""
        if venue_id and venue_id in self._local:
            local = self._local[venue_id]
            return local if local.info.symbol == symbol else None
        if client_order_id and not venue_id and client_order_id in self._local_by_client:
            local = self._local[self._local_by_client[client_order_id]]
            if local.info.symbol == symbol:
                return local
        sim_id = self._sim_by_venue.get(venue_id, "") if venue_id else ""
        if venue_id and not sim_id:
            return None
        try:
            info = self.sim.get_order(symbol, order_id=sim_id, client_order_id=client_order_id)
        except OrderNotFound:
            return None
        return self._wrap(info)

    def client_id_in_use(self, client_order_id: str, *, open_only: bool) -> bool:
        """Whether an order (an open one, with `open_only`) already carries this client id."""
        for symbol in self._markets:
            order = self.find(symbol, client_order_id=client_order_id)
            if order is not None and (not open_only or order.info.status.is_open):
                return True
        return False

    def open_orders(self, symbol: str | None = None) -> list[VenueOrder]:
        return [self._wrap(info) for info in self.sim.open_orders(symbol)]

    def orders(self, symbol: str) -> list[VenueOrder]:
        """Every order on `symbol` the venue still remembers, in the order they were created."""
        return [
            order for venue_id in self._created if (order := self.find(symbol, venue_id=venue_id)) is not None
        ]

    def fills(self, symbol: str | None = None, since_ms: int = 0) -> list[FillInfo]:
        """Fills, oldest first, carrying the venue id of their order."""
        return [self._venue_fill(fill) for fill in self.sim.fills(symbol, since_ms)]

    def venue_id(self, sim_order_id: str) -> str:
        return self._venue_by_sim[sim_order_id]

    # ------------------------------------------------------------- account

    def balances(self) -> list[BalanceInfo]:
        return self.sim.balances()

    def positions(self, symbol: str | None = None) -> list[PositionInfo]:
        return self.sim.positions(symbol)

    def leverage(self, symbol: str) -> Decimal:
        return self.sim.leverage(symbol)

    def set_leverage(self, symbol: str, leverage: Decimal) -> Decimal:
        return self.sim.set_leverage(symbol, leverage)

    def set_balance(self, asset: str, amount: Decimal) -> None:
        self.sim.set_balance(asset, amount)

    # ------------------------------------------------------------- market

    def ticker(self, symbol: str) -> TickerInfo:
        return self.sim.ticker(symbol)

    def klines(self, symbol: str, interval: KlineInterval, limit: int) -> list[KlineInfo]:
        return self._klines[symbol][interval].history(limit)

    def trade(
        self, symbol: str, price: Decimal, volume: Decimal, max_fill: Decimal | None = None
    ) -> list[FillInfo]:
        """A trade print: move the price, fill what it reaches, update the klines."""
        now = self._clock()
        events = self.sim.apply_trade(symbol, price, now, max_fill)
        self._dispatch(events)
        for series in self._klines[symbol].values():
            for kline in series.on_trade(price, volume, now):
                for listener in self._listeners:
                    listener.on_kline(kline)
        return [event for event in events if isinstance(event, FillInfo)]

    # ------------------------------------------------------------- internals

    def _seed(self, symbol: str, price: Decimal, now: int) -> None:
        self.sim.apply_trade(symbol, price, now)
        for interval, series in self._klines[symbol].items():
            start = now - SEED_KLINES * interval.milliseconds
            series.on_trade(price, Decimal(0), start)
            series.on_trade(price, Decimal(0), now)

    def _wrap(self, info: OrderInfo) -> VenueOrder:
        venue_id = self._venue_by_sim.get(info.order_id)
        if venue_id is None:
            self._seq += 1
            venue_id = self._make_id(self._seq, info.symbol)
            self._venue_by_sim[info.order_id] = venue_id
            self._sim_by_venue[venue_id] = info.order_id
            self._created.append(venue_id)
        return VenueOrder(venue_id, replace(info, order_id=venue_id))

    def _venue_fill(self, fill: FillInfo) -> FillInfo:
        return replace(fill, order_id=self._venue_by_sim[fill.order_id])

    def _dispatch(self, events: Sequence[SimEvent]) -> None:
        pending: FillInfo | None = None
        for event in events:
            if isinstance(event, FillInfo):
                pending = event
            elif isinstance(event, OrderInfo):
                fill = pending if pending is not None and pending.order_id == event.order_id else None
                pending = None
                order = self._wrap(event)
                self._publish(OrderUpdate(order, None if fill is None else self._venue_fill(fill)))
            else:
                for listener in self._listeners:
                    listener.on_ticker(event)

    def _publish(self, update: OrderUpdate) -> None:
        for listener in self._listeners:
            listener.on_order_update(update)
