"""The few connector calls the durable workflows need, as a Protocol the runtime implements
over its gRPC client (GetOrder, ListOpenOrders, CancelOrder by client order id)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from opensqt_common.enums import OrderStatus, Side


@dataclass(frozen=True, slots=True)
class VenueOrderView:
    """One order as the venue reports it (quantities in base units)."""

    client_order_id: str
    order_id: str
    side: Side
    status: OrderStatus
    price: Decimal
    quantity: Decimal
    filled_quantity: Decimal
    detail: str = ""


class VenueOrders(Protocol):
    async def get_order(self, symbol: str, client_order_id: str) -> VenueOrderView | None:
        """The order with this client order id, open or closed; None when the venue has none
        (the connector's ORDER_NOT_FOUND). Any other failure raises."""

    async def open_orders(self, symbol: str) -> Sequence[VenueOrderView]:
        """Every open order on `symbol` of this account (all strategies, and manual ones)."""

    async def cancel_order(self, symbol: str, client_order_id: str) -> VenueOrderView | None:
        """Cancel by client order id; the order as the venue then reports it (it may have
        filled meanwhile), or None when the venue has no such order."""
