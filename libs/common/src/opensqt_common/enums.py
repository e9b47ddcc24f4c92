"""Domain enums shared by all services, with exact mappings to and from the wire enums.

The core logic uses these Python enums; proto enum numbers appear only at the gRPC edge.
Each mapping is total in both directions except UNSPECIFIED, which has no domain value
and raises `UnspecifiedEnumError` so that servers can reject it.
"""

from __future__ import annotations

import enum
from typing import Generic, TypeVar

from opensqt.common.v1 import common_pb2


class UnspecifiedEnumError(ValueError):
    """A wire enum was left at its UNSPECIFIED (0) value or holds an unknown number."""


class Side(enum.Enum):
    BUY = "buy"
    SELL = "sell"

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1


class OrderType(enum.Enum):
    LIMIT = "limit"
    MARKET = "market"


class TimeInForce(enum.Enum):
    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"


class OrderStatus(enum.Enum):
    PENDING_NEW = "pending_new"
    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL_STATUSES

    @property
    def is_open(self) -> bool:
        return not self.is_terminal


_TERMINAL_STATUSES = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED}
)


class Venue(enum.Enum):
    SIM = "sim"
    BINANCE = "binance"
    BITGET = "bitget"
    GATE = "gate"
    OKX = "okx"
    BYBIT = "bybit"


class MarketType(enum.Enum):
    SPOT = "spot"
    LINEAR_PERPETUAL = "perp"


class TradingState(enum.Enum):
    ACTIVE = "active"
    REDUCE_ONLY = "reduce_only"
    HALTED = "halted"


E = TypeVar("E", bound=enum.Enum)


class WireMap(Generic[E]):
    """A bijection between a domain enum and the numbers of its proto enum."""

    def __init__(self, domain: type[E], wire_name: str, pairs: dict[E, int]) -> None:
        missing = set(domain) - set(pairs)
        if missing:
            raise AssertionError(f"{domain.__name__} has no wire value for {missing}")
        self._domain = domain
        self._wire_name = wire_name
        self._to_wire = dict(pairs)
        self._from_wire = {number: member for member, number in pairs.items()}

    def to_proto(self, value: E) -> int:
        return self._to_wire[value]

    def from_proto(self, number: int, field: str = "") -> E:
        member = self._from_wire.get(number)
        if member is None:
            where = f"{field}: " if field else ""
            if number == 0:
                raise UnspecifiedEnumError(f"{where}{self._wire_name} must be set (got UNSPECIFIED)")
            raise UnspecifiedEnumError(f"{where}unknown {self._wire_name} value {number}")
        return member


pb = common_pb2

SIDE = WireMap(Side, "Side", {Side.BUY: pb.SIDE_BUY, Side.SELL: pb.SIDE_SELL})
ORDER_TYPE = WireMap(
    OrderType, "OrderType", {OrderType.LIMIT: pb.ORDER_TYPE_LIMIT, OrderType.MARKET: pb.ORDER_TYPE_MARKET}
)
TIME_IN_FORCE = WireMap(
    TimeInForce,
    "TimeInForce",
    {
        TimeInForce.GTC: pb.TIME_IN_FORCE_GTC,
        TimeInForce.IOC: pb.TIME_IN_FORCE_IOC,
        TimeInForce.FOK: pb.TIME_IN_FORCE_FOK,
    },
)
ORDER_STATUS = WireMap(
    OrderStatus,
    "OrderStatus",
    {
        OrderStatus.PENDING_NEW: pb.ORDER_STATUS_PENDING_NEW,
        OrderStatus.NEW: pb.ORDER_STATUS_NEW,
        OrderStatus.PARTIALLY_FILLED: pb.ORDER_STATUS_PARTIALLY_FILLED,
        OrderStatus.FILLED: pb.ORDER_STATUS_FILLED,
        OrderStatus.CANCELED: pb.ORDER_STATUS_CANCELED,
        OrderStatus.REJECTED: pb.ORDER_STATUS_REJECTED,
        OrderStatus.EXPIRED: pb.ORDER_STATUS_EXPIRED,
    },
)
VENUE = WireMap(
    Venue,
    "Venue",
    {
        Venue.SIM: pb.VENUE_SIM,
        Venue.BINANCE: pb.VENUE_BINANCE,
        Venue.BITGET: pb.VENUE_BITGET,
        Venue.GATE: pb.VENUE_GATE,
        Venue.OKX: pb.VENUE_OKX,
        Venue.BYBIT: pb.VENUE_BYBIT,
    },
)
MARKET_TYPE = WireMap(
    MarketType,
    "MarketType",
    {MarketType.SPOT: pb.MARKET_TYPE_SPOT, MarketType.LINEAR_PERPETUAL: pb.MARKET_TYPE_LINEAR_PERPETUAL},
)
TRADING_STATE = WireMap(
    TradingState,
    "TradingState",
    {
        TradingState.ACTIVE: pb.TRADING_STATE_ACTIVE,
        TradingState.REDUCE_ONLY: pb.TRADING_STATE_REDUCE_ONLY,
        TradingState.HALTED: pb.TRADING_STATE_HALTED,
    },
)
