"""Test helpers for the durable store: record builders and a scripted in-memory venue.

Used by the engine's tests and the journal benchmark; never by the running engine.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from decimal import Decimal

from opensqt_common.enums import OrderStatus, Side
from opensqt_engine.core.client_ids import encode_client_order_id
from opensqt_engine.durable.venue import VenueOrderView
from opensqt_engine.journal import FillRecord, IntentRecord


def intent(
    strategy_id: str = "grid1",
    level: int = 1,
    generation: int = 0,
    *,
    side: Side = Side.BUY,
    created_ms: int = 1_000,
    price: str = "100.10",
    quantity: str = "0.00100",
) -> IntentRecord:
    return IntentRecord(
        client_order_id=encode_client_order_id(strategy_id, level, side, generation),
        strategy_id=strategy_id,
        symbol="BTCUSDT",
        level_index=level,
        side=side,
        price=Decimal(price),
        quantity=Decimal(quantity),
        post_only=True,
        reduce_only=False,
        created_ms=created_ms,
    )


def fill(
    record: IntentRecord, trade_id: str, quantity: str = "0.0005", *, order_id: str = "o-1"
) -> FillRecord:
    return FillRecord(
        trade_id=trade_id,
        client_order_id=record.client_order_id,
        order_id=order_id,
        symbol=record.symbol,
        side=record.side,
        price=record.price,
        quantity=Decimal(quantity),
        fee=Decimal("0.0000001"),
        fee_asset="BTC",
        time_ms=2_000,
    )


def venue_order(
    record: IntentRecord, status: OrderStatus = OrderStatus.NEW, filled: str = "0", *, order_id: str = "o-1"
) -> VenueOrderView:
    return VenueOrderView(
        client_order_id=record.client_order_id,
        order_id=order_id,
        side=record.side,
        status=status,
        price=record.price,
        quantity=record.quantity,
        filled_quantity=Decimal(filled),
    )


class FakeVenue:
    """Orders by client order id; counts every call. `hold_lookups` makes get_order wait."""

    def __init__(self, orders: Sequence[VenueOrderView] = ()) -> None:
        self.orders: dict[str, VenueOrderView] = {order.client_order_id: order for order in orders}
        self.calls: Counter[str] = Counter()
        self.lookups: list[str] = []
        self.lookup_started = asyncio.Event()
        self.hold_lookups: asyncio.Event | None = None
        self.loops: set[int] = set()

    async def get_order(self, symbol: str, client_order_id: str) -> VenueOrderView | None:
        self.calls["get_order"] += 1
        self.loops.add(id(asyncio.get_running_loop()))
        self.lookups.append(client_order_id)
        self.lookup_started.set()
        if self.hold_lookups is not None:
            await self.hold_lookups.wait()
        return self.orders.get(client_order_id)

    async def open_orders(self, symbol: str) -> Sequence[VenueOrderView]:
        self.calls["open_orders"] += 1
        return [order for order in self.orders.values() if order.status.is_open]

    async def cancel_order(self, symbol: str, client_order_id: str) -> VenueOrderView | None:
        self.calls["cancel_order"] += 1
        order = self.orders.get(client_order_id)
        if order is None:
            return None
        if order.status.is_open:
            order = VenueOrderView(
                order.client_order_id,
                order.order_id,
                order.side,
                OrderStatus.CANCELED,
                order.price,
                order.quantity,
                order.filled_quantity,
            )
            self.orders[client_order_id] = order
        return order
