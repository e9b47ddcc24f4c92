"""Venue-neutral domain records the connector passes between venue adapters and the
gRPC layer. Exact decimals, times in integer milliseconds since the epoch (UTC).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal

from opensqt_common.enums import MarketType, OrderStatus, OrderType, Side, TimeInForce, Venue


class KlineInterval(enum.Enum):
    S1 = "1s"
    M1 = "1m"
    M3 = "3m"
    M5 = "5m"
    M15 = "15m"
    M30 = "30m"
    H1 = "1h"
    H4 = "4h"
    D1 = "1d"

    @property
    def milliseconds(self) -> int:
        return _INTERVAL_MS[self]


_INTERVAL_MS = {
    KlineInterval.S1: 1_000,
    KlineInterval.M1: 60_000,
    KlineInterval.M3: 180_000,
    KlineInterval.M5: 300_000,
    KlineInterval.M15: 900_000,
    KlineInterval.M30: 1_800_000,
    KlineInterval.H1: 3_600_000,
    KlineInterval.H4: 14_400_000,
    KlineInterval.D1: 86_400_000,
}


@dataclass(frozen=True, slots=True)
class MarketInfo:
    symbol: str
    venue_symbol: str
    venue: Venue
    market_type: MarketType
    base: str
    quote: str
    settle: str
    tick_size: Decimal
    step_size: Decimal
    min_quantity: Decimal
    min_notional: Decimal
    contract_size: Decimal
    maker_fee: Decimal
    taker_fee: Decimal
    max_leverage: Decimal


@dataclass(frozen=True, slots=True)
class TickerInfo:
    symbol: str
    last: Decimal
    bid: Decimal
    ask: Decimal
    time_ms: int


@dataclass(frozen=True, slots=True)
class BalanceInfo:
    asset: str
    free: Decimal
    used: Decimal
    total: Decimal


@dataclass(frozen=True, slots=True)
class PositionInfo:
    """One-way position: quantity > 0 long, < 0 short, in base units."""

    symbol: str
    quantity: Decimal
    entry_price: Decimal
    unrealized_pnl: Decimal
    realized_pnl: Decimal
    leverage: Decimal
    margin: Decimal
    liquidation_price: Decimal | None


@dataclass(frozen=True, slots=True)
class OrderRequest:
    client_order_id: str
    symbol: str
    side: Side
    type: OrderType
    price: Decimal | None
    quantity: Decimal
    time_in_force: TimeInForce
    post_only: bool
    reduce_only: bool


@dataclass(frozen=True, slots=True)
class OrderInfo:
    client_order_id: str
    order_id: str
    symbol: str
    side: Side
    type: OrderType
    time_in_force: TimeInForce
    post_only: bool
    reduce_only: bool
    price: Decimal | None
    quantity: Decimal
    filled_quantity: Decimal
    average_fill_price: Decimal | None
    status: OrderStatus
    created_ms: int
    updated_ms: int
    status_detail: str = ""


@dataclass(frozen=True, slots=True)
class FillInfo:
    trade_id: str
    order_id: str
    client_order_id: str
    symbol: str
    side: Side
    price: Decimal
    quantity: Decimal
    fee: Decimal
    fee_asset: str
    maker: bool
    time_ms: int


@dataclass(frozen=True, slots=True)
class KlineInfo:
    symbol: str
    interval: KlineInterval
    open_time_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    closed: bool
