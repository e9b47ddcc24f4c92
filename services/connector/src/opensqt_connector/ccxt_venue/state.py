"""What the adapter has told the sink about orders and fills, to diff REST snapshots
against after a reconnect and to drop updates older than what was already pushed.

An order only moves forward: more filled, or from open to terminal. A stream message
delivered after a fresher REST snapshot is therefore recognised and not pushed (the
snapshot taken during a resync can overtake buffered live messages).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

from opensqt_common.enums import OrderStatus
from opensqt_connector.models import FillInfo, OrderInfo

_RANK = {
    OrderStatus.PENDING_NEW: 0,
    OrderStatus.NEW: 1,
    OrderStatus.PARTIALLY_FILLED: 2,
    OrderStatus.FILLED: 3,
    OrderStatus.CANCELED: 3,
    OrderStatus.REJECTED: 3,
    OrderStatus.EXPIRED: 3,
}


def is_newer(old: OrderInfo, new: OrderInfo) -> bool:
    """Whether `new` tells something `old` did not, without going back in time."""
    if old.status.is_terminal and new.status != old.status:
        return False  # a terminal order does not change state again
    if new.filled_quantity != old.filled_quantity:
        return new.filled_quantity > old.filled_quantity
    if _RANK[new.status] != _RANK[old.status]:
        return _RANK[new.status] > _RANK[old.status]
    return new != old and new.updated_ms >= old.updated_ms


class OrderBook:
    """Orders by venue order id: every open one and a bounded memory of closed ones."""

    def __init__(self, max_closed: int = 10_000) -> None:
        self._open: dict[str, OrderInfo] = {}
        self._closed: OrderedDict[str, OrderInfo] = OrderedDict()
        self._client_ids: OrderedDict[str, str] = OrderedDict()
        self._max_closed = max_closed

    def get(self, order_id: str) -> OrderInfo | None:
        return self._open.get(order_id) or self._closed.get(order_id)

    def accept(self, order: OrderInfo) -> bool:
        """Record `order`; True when it is news (push it), False when it is stale."""
        if order.client_order_id:
            self.remember_client_id(order.order_id, order.client_order_id)
        known = self.get(order.order_id)
        if known is not None and not is_newer(known, order):
            return False
        if order.status.is_terminal:
            self._open.pop(order.order_id, None)
            self._closed[order.order_id] = order
            self._closed.move_to_end(order.order_id)
            while len(self._closed) > self._max_closed:
                self._closed.popitem(last=False)
        else:
            self._open[order.order_id] = order
        return True

    def open_orders(self, symbols: Iterable[str] | None = None) -> list[OrderInfo]:
        wanted = None if symbols is None else frozenset(symbols)
        return [o for o in self._open.values() if wanted is None or o.symbol in wanted]

    def remember_client_id(self, order_id: str, client_order_id: str) -> None:
        self._client_ids[order_id] = client_order_id
        self._client_ids.move_to_end(order_id)
        while len(self._client_ids) > self._max_closed * 2:
            self._client_ids.popitem(last=False)

    def client_id(self, order_id: str) -> str | None:
        return self._client_ids.get(order_id)


class FillLedger:
    """Trade ids already pushed (bounded) and the time of the newest fill."""

    def __init__(self, max_fills: int = 50_000) -> None:
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._max = max_fills
        self.newest_ms = 0

    def accept(self, fill: FillInfo) -> bool:
        key = (fill.symbol, fill.trade_id)
        if key in self._seen:
            return False
        self._seen[key] = None
        while len(self._seen) > self._max:
            self._seen.popitem(last=False)
        self.newest_ms = max(self.newest_ms, fill.time_ms)
        return True


__all__ = ["FillLedger", "OrderBook", "is_newer"]
