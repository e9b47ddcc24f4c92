"""Domain types of the risk rules: intents, limits, vetoes, decisions, state updates.

Plain frozen dataclasses and enums; protobuf messages never reach this package's core
(`wire.py` converts at the edge). Times are integer nanoseconds since the Unix epoch,
injected by the caller; money and quantities are `Decimal`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from decimal import Decimal

from opensqt_common.enums import OrderStatus, OrderType, Side, TradingState
from opensqt_risk.rules.arith import NANOS_PER_SECOND, ZERO, sub


class VetoReason(enum.Enum):
    """Why an intent was refused. Closed set; mirrors `opensqt.risk.v1.VetoReason`."""

    HALTED = "halted"
    REDUCE_ONLY = "reduce_only"
    PRICE_BAND = "price_band"
    MAX_QUANTITY = "max_quantity"
    MAX_NOTIONAL = "max_notional"
    MAX_POSITION = "max_position"
    MAX_OPEN_ORDERS = "max_open_orders"
    INSUFFICIENT_MARGIN = "insufficient_margin"
    RATE = "rate"
    STALE_MARKET_DATA = "stale_market_data"
    REDUCE_ONLY_INCREASES = "reduce_only_increases"
    INVALID_INTENT = "invalid_intent"
    UNKNOWN_SYMBOL = "unknown_symbol"
    NO_ACCOUNT_DATA = "no_account_data"


class StateSource(enum.Enum):
    """Who or what set the trading state. Mirrors `opensqt.risk.v1.StateSource`."""

    STARTUP = "startup"
    OPERATOR = "operator"
    CRASH_DETECTOR = "crash_detector"
    DRAWDOWN = "drawdown"


class StartupCheckKind(enum.Enum):
    """Mirrors `opensqt.risk.v1.StartupCheckKind`."""

    BALANCE = "balance"
    LEVERAGE = "leverage"
    CAPACITY = "capacity"
    FEE_PROFITABILITY = "fee_profitability"


@dataclass(frozen=True, slots=True)
class Intent:
    """An order the engine intends to send. `price` is None for market orders.

    Quantities are in base units, the same unit as positions and `Limits.max_position`.
    """

    client_order_id: str
    symbol: str
    side: Side
    type: OrderType
    price: Decimal | None
    quantity: Decimal
    reduce_only: bool = False
    post_only: bool = False
    strategy_id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """Risk limits of one symbol (or the defaults). Every field of `opensqt.risk.v1.Limits`.

    The per-order quantity and the position limit depend on the instrument and have no
    default; the rest default to values suited to a small account (about 1,000 USDT).
    """

    # Largest quantity of one order, base units.
    max_order_quantity: Decimal
    # Largest absolute position after an order, base units, counting every resting
    # opening order on the same side as filled (worst case).
    max_position: Decimal
    # Largest price · quantity of one order, quote units.
    max_order_notional: Decimal = Decimal(100)
    # Open orders on the symbol after this order (resting, in flight and this one).
    max_open_orders: int = 40
    # Allowed distance of a limit price from the last price, as a fraction (0.05 = 5 %).
    price_band: Decimal = Decimal("0.05")
    # Opening orders per second let through; the burst is one second's worth (at least 1).
    max_order_rate_per_second: Decimal = Decimal(50)
    # No price (or kline) for longer than this vetoes opening orders.
    stale_after_seconds: int = 30
    # Realised + unrealised PnL below -drawdown_limit (quote units) trips the guard.
    drawdown_limit: Decimal = Decimal(100)
    # The state a drawdown trip puts the system in: HALTED or REDUCE_ONLY.
    drawdown_state: TradingState = TradingState.HALTED
    # Startup refuses a leverage above this.
    max_leverage: Decimal = Decimal(10)
    # Startup refuses fewer than this many order slots (free · leverage / order_amount).
    min_slots: int = 10
    stale_after_ns: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in (
            "max_order_quantity",
            "max_position",
            "max_order_notional",
            "max_order_rate_per_second",
            "drawdown_limit",
            "max_leverage",
        ):
            _require_positive(name, getattr(self, name))
        if not (self.price_band.is_finite() and 0 < self.price_band < 1):
            raise ValueError(f"price_band must be a fraction in (0, 1), got {self.price_band}")
        if self.max_leverage < 1:
            raise ValueError(f"max_leverage must be >= 1, got {self.max_leverage}")
        for name in ("max_open_orders", "stale_after_seconds", "min_slots"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if self.drawdown_state is TradingState.ACTIVE:
            raise ValueError("drawdown_state must be HALTED or REDUCE_ONLY, got ACTIVE")
        object.__setattr__(self, "stale_after_ns", self.stale_after_seconds * NANOS_PER_SECOND)


def _require_positive(name: str, value: object) -> None:
    if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
        raise ValueError(f"{name} must be a positive finite Decimal, got {value!r}")


@dataclass(frozen=True, slots=True)
class AppliedLimit:
    """One limit as it applied to a decision: its name, the limit and the value checked."""

    name: str
    limit: Decimal
    value: Decimal


@dataclass(frozen=True, slots=True)
class Veto:
    """A refusal: the reason, a human-readable detail with the numbers, the limits that applied.

    `field` names the offending intent field for INVALID_INTENT.
    """

    reason: VetoReason
    detail: str
    limits: tuple[AppliedLimit, ...] = ()
    field: str = ""


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer to one intent. Approved when `veto` is None.

    `closing` is True when the intent was reviewed as a close (reduce-only, or an order
    that only reduces the position), which skips the opening-only checks.
    """

    client_order_id: str
    veto: Veto | None
    decided_at_ns: int
    closing: bool = False

    @property
    def approved(self) -> bool:
        return self.veto is None


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """An order as the connector reports it (snapshot or live update)."""

    client_order_id: str
    symbol: str
    side: Side
    status: OrderStatus
    quantity: Decimal
    filled_quantity: Decimal
    price: Decimal | None = None
    reduce_only: bool = False

    @property
    def remaining(self) -> Decimal:
        left = sub(self.quantity, self.filled_quantity)
        return left if left > 0 else ZERO


@dataclass(frozen=True, slots=True)
class PositionSnapshot:
    """A position in one-way mode: quantity > 0 long, < 0 short, base units."""

    symbol: str
    quantity: Decimal
    realized_pnl: Decimal = Decimal(0)
    unrealized_pnl: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class Candle:
    """The fields of a kline the crash detector reads."""

    symbol: str
    open_time_ns: int
    close: Decimal
    volume: Decimal
    closed: bool


@dataclass(frozen=True, slots=True)
class StateUpdate:
    """The trading state as pushed to watchers. `since_ns`: when this state began."""

    state: TradingState
    reason: str
    source: StateSource
    since_ns: int
    sequence: int


@dataclass(frozen=True, slots=True)
class StartupCheck:
    """One startup check: passed or not, a detail with the numbers, the value and threshold."""

    kind: StartupCheckKind
    passed: bool
    detail: str
    value: Decimal
    threshold: Decimal
