"""The slot of one grid level and its lifecycle.

A slot owns at most one order at a time (so a level never has two live orders) and the base
quantity bought at its level and not yet sold (its position).

Lifecycle (the "Super Slot" machine), as a table; any other move raises:

    FREE    → PENDING   a PlaceOrder was emitted (request sent, no answer yet)
    PENDING → LOCKED    the venue acknowledged it (accept, an open update, or a partial fill)
    PENDING → FREE      rejected / vetoed, or it ended before the acknowledgement arrived
    LOCKED  → FREE      a terminal update (filled, cancelled, expired, rejected) or fully filled
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal

from opensqt_common.enums import Side

ZERO = Decimal(0)


class SlotStatus(enum.Enum):
    FREE = "free"
    PENDING = "pending"
    LOCKED = "locked"


class IllegalSlotTransition(RuntimeError):
    """A slot was asked to make a move its lifecycle does not allow (a bug in the caller)."""


SLOT_TRANSITIONS: frozenset[tuple[SlotStatus, SlotStatus]] = frozenset(
    {
        (SlotStatus.FREE, SlotStatus.PENDING),
        (SlotStatus.PENDING, SlotStatus.LOCKED),
        (SlotStatus.PENDING, SlotStatus.FREE),
        (SlotStatus.LOCKED, SlotStatus.FREE),
    }
)


@dataclass(slots=True)
class Slot:
    """One level: its position and the order it currently owns (fields empty when FREE).

    Order progress is tracked from two cumulative sources, neither trusted to be first:
    `reported_filled` (largest cumulative filled quantity in an OrderUpdate) and `fills_quantity`
    (sum of distinct fills). `filled_quantity` = min(order quantity, max of the two) is what has
    been applied to `position`; it only grows, so nothing is counted twice.

    `fee_pending_quantity`: quantity bought by earlier orders of this slot that is in `position`
    but whose fills have not arrived yet, so whose fee in the base asset (spot) is not known yet.
    """

    level_index: int
    level_price: Decimal
    status: SlotStatus = SlotStatus.FREE
    position: Decimal = ZERO
    client_order_id: str = ""
    order_id: str = ""
    side: Side | None = None
    order_price: Decimal = ZERO
    order_quantity: Decimal = ZERO
    post_only: bool = False
    reduce_only: bool = False
    filled_quantity: Decimal = ZERO
    reported_filled: Decimal = ZERO
    fills_quantity: Decimal = ZERO
    cancel_requested: bool = False
    post_only_failures: int = 0
    reject_streak: int = 0
    retry_after: float = 0.0
    fee_pending_quantity: Decimal = ZERO

    def move(self, to: SlotStatus) -> None:
        if (self.status, to) not in SLOT_TRANSITIONS:
            raise IllegalSlotTransition(f"slot {self.level_index}: {self.status.value} → {to.value}")
        self.status = to

    @property
    def is_live(self) -> bool:
        return self.status is not SlotStatus.FREE

    def open_order(
        self,
        client_order_id: str,
        side: Side,
        price: Decimal,
        quantity: Decimal,
        post_only: bool,
        reduce_only: bool,
    ) -> None:
        """FREE → PENDING with a new order."""
        self.move(SlotStatus.PENDING)
        self.client_order_id = client_order_id
        self.order_id = ""
        self.side = side
        self.order_price = price
        self.order_quantity = quantity
        self.post_only = post_only
        self.reduce_only = reduce_only
        self.filled_quantity = ZERO
        self.reported_filled = ZERO
        self.fills_quantity = ZERO
        self.cancel_requested = False

    def close_order(self) -> None:
        """PENDING/LOCKED → FREE, forgetting the order (the position stays, and so does the part
        of a buy whose fills are still to come)."""
        self.move(SlotStatus.FREE)
        self.fee_pending_quantity += self._bought_without_fills()
        self.client_order_id = ""
        self.order_id = ""
        self.side = None
        self.order_price = ZERO
        self.order_quantity = ZERO
        self.post_only = False
        self.reduce_only = False
        self.filled_quantity = ZERO
        self.reported_filled = ZERO
        self.fills_quantity = ZERO
        self.cancel_requested = False

    def apply_progress(self) -> Decimal:
        """Bring `filled_quantity` up to what the two sources say; return the newly filled part.

        The caller adds (buy) or subtracts (sell) the returned quantity to/from the position.
        """
        known = self.reported_filled if self.reported_filled > self.fills_quantity else self.fills_quantity
        if known > self.order_quantity:
            known = self.order_quantity
        delta = known - self.filled_quantity
        if delta <= ZERO:
            return ZERO
        self.filled_quantity = known
        return delta

    def _bought_without_fills(self) -> Decimal:
        if self.side is not Side.BUY or self.fills_quantity >= self.filled_quantity:
            return ZERO
        return self.filled_quantity - self.fills_quantity

    @property
    def fee_unknown_quantity(self) -> Decimal:
        """Quantity in `position` whose fills (hence base-asset fees) have not arrived yet."""
        return self.fee_pending_quantity + self._bought_without_fills()

    def fills_arrived_late(self, quantity: Decimal) -> None:
        """Fills of an ended buy of this slot arrived: their quantity is no longer pending."""
        pending = self.fee_pending_quantity - quantity
        self.fee_pending_quantity = pending if pending > ZERO else ZERO

    @property
    def overfilled(self) -> bool:
        """The venue reported more than the order's quantity (capped; worth a note)."""
        return self.reported_filled > self.order_quantity or self.fills_quantity > self.order_quantity
