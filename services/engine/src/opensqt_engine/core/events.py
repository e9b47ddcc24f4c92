"""Events the runtime feeds into the grid core, one at a time, in arrival order.

Every event is a frozen dataclass built by the runtime at the edge (from gRPC messages, the
risk stream or a timer). Times (`now`) are seconds as a float on any clock the runtime keeps
monotonic for one state; the core never reads a clock itself and uses the latest `now` it has
seen for anything that needs a time (backoffs, the margin lock). The events that can start a
backoff or the margin lock (OrderRejected, OrderUpdate, CancelFailed) take an optional `now` so
the timer starts from the moment of the answer rather than from the last price.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal

from opensqt_common.enums import OrderStatus, TradingState

ZERO = Decimal(0)


class RejectReason(enum.Enum):
    """Why a PlaceOrder did not become a live order (risk veto or venue rejection)."""

    POST_ONLY_WOULD_CROSS = "post_only_would_cross"
    INSUFFICIENT_MARGIN = "insufficient_margin"
    RISK_VETO = "risk_veto"
    MIN_NOTIONAL = "min_notional"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class PriceTick:
    """A new last price for the grid's symbol."""

    price: Decimal
    now: float

    def __post_init__(self) -> None:
        if not self.price > ZERO:
            raise ValueError(f"price must be > 0, got {self.price}")


@dataclass(frozen=True, slots=True)
class OrderAccepted:
    """The venue acknowledged a PlaceOrder: the order is live."""

    client_order_id: str
    order_id: str


@dataclass(frozen=True, slots=True)
class OrderRejected:
    """The PlaceOrder failed: vetoed by risk or rejected by the venue. No order exists."""

    client_order_id: str
    reason: RejectReason
    detail: str = ""
    now: float | None = None


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """The venue's view of an order. `filled_quantity` is cumulative for the whole order."""

    client_order_id: str
    order_id: str
    status: OrderStatus
    filled_quantity: Decimal
    average_price: Decimal | None = None  # informational: fills carry the prices the core books
    now: float | None = None

    def __post_init__(self) -> None:
        if self.filled_quantity < ZERO:
            raise ValueError(f"filled_quantity must be >= 0, got {self.filled_quantity}")


@dataclass(frozen=True, slots=True)
class Fill:
    """One trade of one of our orders.

    `fee` is what the trade cost in quote units. `base_fee` is a fee the venue took in the
    base asset instead (spot venues take a buy's fee from the coins bought): that much of
    `quantity` never reached the account, so it is not in the level's position either.
    """

    client_order_id: str
    trade_id: str
    price: Decimal
    quantity: Decimal
    fee: Decimal = ZERO
    base_fee: Decimal = ZERO

    def __post_init__(self) -> None:
        if not self.price > ZERO:
            raise ValueError(f"price must be > 0, got {self.price}")
        if not self.quantity > ZERO:
            raise ValueError(f"quantity must be > 0, got {self.quantity}")
        if not (self.base_fee.is_finite() and self.base_fee >= ZERO):
            raise ValueError(f"base_fee must be >= 0, got {self.base_fee}")
        if not self.trade_id:
            raise ValueError("trade_id must be set")


@dataclass(frozen=True, slots=True)
class CancelFailed:
    """A CancelOrder did not go through (rate limit, timeout, venue error).

    The slot may send the cancel again after its retry backoff. When the venue said the order
    is already gone, the runtime should look it up and feed the result as an OrderUpdate instead.
    """

    client_order_id: str
    detail: str = ""
    now: float | None = None


@dataclass(frozen=True, slots=True)
class TradingStateChanged:
    """The risk service's trading state (ACTIVE, REDUCE_ONLY or HALTED)."""

    state: TradingState


@dataclass(frozen=True, slots=True)
class Paused:
    """Operator pause: no new orders while paused; resting orders stay."""

    paused: bool


@dataclass(frozen=True, slots=True)
class Timer:
    """Time passes without a price: lets backoffs and the margin lock expire."""

    now: float


Event = (
    PriceTick
    | OrderAccepted
    | OrderRejected
    | OrderUpdate
    | Fill
    | CancelFailed
    | TradingStateChanged
    | Paused
    | Timer
)
