"""Actions the grid core asks the runtime to carry out, in the order given.

Orders are always LIMIT, good-till-cancelled; `post_only` and `reduce_only` are flags on top.
Notes carry no instruction: they are decisions worth logging or streaming to the operator.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal

from opensqt_common.enums import Side


class CancelReason(enum.Enum):
    BELOW_BUY_WINDOW = "below_buy_window"
    ABOVE_SELL_WINDOW = "above_sell_window"
    MAX_OPEN_ORDERS = "max_open_orders"
    TRADING_STATE = "trading_state"
    MARGIN_LOCK = "margin_lock"
    UNKNOWN_ORDER = "unknown_order"


class NoteKind(enum.Enum):
    ANCHOR_SET = "anchor_set"
    SKIPPED_BELOW_MINIMUM = "skipped_below_minimum"
    DUST_POSITION = "dust_position"
    ORDER_REJECTED = "order_rejected"
    MARGIN_LOCK = "margin_lock"
    CANCEL_FAILED = "cancel_failed"
    UNKNOWN_ORDER = "unknown_order"
    DUPLICATE_FILL = "duplicate_fill"
    OVERFILL = "overfill"
    TRADING_STATE = "trading_state"
    PAUSED = "paused"


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    """Send a new limit order for the slot at `level_index`; its id is `client_order_id`."""

    level_index: int
    client_order_id: str
    side: Side
    price: Decimal
    quantity: Decimal
    post_only: bool
    reduce_only: bool


@dataclass(frozen=True, slots=True)
class CancelOrder:
    """Cancel the order `client_order_id` (venue id `order_id` when known, else "")."""

    level_index: int
    client_order_id: str
    order_id: str
    reason: CancelReason


@dataclass(frozen=True, slots=True)
class Note:
    """A decision worth logging; `level_index` is None when it concerns no level."""

    level_index: int | None
    kind: NoteKind
    text: str


Action = PlaceOrder | CancelOrder | Note
