"""Static inputs of the grid core: the operator's grid settings and the venue's market rules.

Both are frozen and validated on construction, so the strategy never has to re-check them.
Money and quantities are `Decimal` only: a `float` is refused with `TypeError`, because a
float that slipped in here would silently break exact rounding downstream.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from decimal import Decimal

from opensqt_common.enums import MarketType

STRATEGY_ID_PATTERN = re.compile(r"[a-z0-9]{1,8}")


class ConfigError(ValueError):
    """A grid setting or market rule is missing, out of range or inconsistent."""


class GridMode(enum.Enum):
    """Direction of the grid. Only long grids exist for now (buy low, take profit above)."""

    LONG = "long"


def _require_decimal(name: str, value: object) -> Decimal:
    if not isinstance(value, Decimal):
        raise TypeError(f"{name} must be a Decimal, got {type(value).__name__}")
    if not value.is_finite():
        raise ConfigError(f"{name} must be finite, got {value}")
    return value


def _require_positive(name: str, value: object) -> None:
    if _require_decimal(name, value) <= 0:
        raise ConfigError(f"{name} must be > 0, got {value}")


def _require_non_negative(name: str, value: object) -> None:
    if _require_decimal(name, value) < 0:
        raise ConfigError(f"{name} must be >= 0, got {value}")


def _require_int(name: str, value: object, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")


def _require_seconds(name: str, value: object, *, positive: bool) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise TypeError(f"{name} must be a number of seconds, got {type(value).__name__}")
    if value != value or value in (float("inf"), float("-inf")):
        raise ConfigError(f"{name} must be finite, got {value}")
    if value < 0 or (positive and value == 0):
        raise ConfigError(f"{name} must be {'> 0' if positive else '>= 0'}, got {value}")


@dataclass(frozen=True, slots=True)
class MarketRules:
    """Trading rules of the instrument as the connector reports them (never hard-coded).

    Quantities are in base units; `min_notional` is in quote units. `base_fee_rate` is the most
    a trade may be charged in the base asset, as a fraction of its quantity (spot: the highest
    of the maker and taker fees; 0 on perpetuals, which settle fees in the settle asset).
    """

    tick_size: Decimal
    step_size: Decimal
    min_quantity: Decimal
    min_notional: Decimal
    base_fee_rate: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        _require_positive("tick_size", self.tick_size)
        _require_positive("step_size", self.step_size)
        _require_non_negative("min_quantity", self.min_quantity)
        _require_non_negative("min_notional", self.min_notional)
        _require_non_negative("base_fee_rate", self.base_fee_rate)
        if self.base_fee_rate >= 1:
            raise ConfigError(f"base_fee_rate must be < 1, got {self.base_fee_rate}")


@dataclass(frozen=True, slots=True)
class GridConfig:
    """Operator settings of one grid (one strategy id on one symbol).

    - `price_interval`: distance between levels, quote units.
    - `order_amount`: quote value of each buy; quantity = order_amount / level, rounded down to step.
    - `buy_window` / `sell_window`: how many levels below / above the price hold orders.
    - `min_order_value`: quote floor for a buy's notional, on top of the venue's min notional.
    - `anchor_price`: level 0; when unset the first price seen becomes the anchor (then persisted).
    - `post_only`, `post_only_max_failures`: maker-only orders; a slot falls back to a plain limit
      after that many post-only rejections.
    - `margin_lock_seconds`: after an insufficient-margin rejection, no new buys for this long and
      resting buys are cancelled.
    - `max_open_orders`: cap on live orders (pending or resting); the farthest are trimmed first.
    - `reject_backoff_seconds` / `reject_backoff_max_seconds`: a slot whose order was vetoed or
      rejected (other than post-only) waits base·2^(n−1) seconds (capped) before its n-th retry.
    - `trade_id_memory` / `order_memory`: how many trade ids (fill dedup) and terminated client
      order ids (late fills) the state remembers.
    """

    strategy_id: str
    symbol: str
    market: MarketType
    price_interval: Decimal
    order_amount: Decimal
    buy_window: int
    sell_window: int
    min_order_value: Decimal = Decimal(0)
    anchor_price: Decimal | None = None
    post_only: bool = True
    post_only_max_failures: int = 3
    margin_lock_seconds: float = 60.0
    max_open_orders: int = 50
    mode: GridMode = GridMode.LONG
    reject_backoff_seconds: float = 1.0
    reject_backoff_max_seconds: float = 60.0
    trade_id_memory: int = 10_000
    order_memory: int = 1_000

    def __post_init__(self) -> None:
        if not isinstance(self.strategy_id, str) or not STRATEGY_ID_PATTERN.fullmatch(self.strategy_id):
            raise ConfigError(f"strategy_id must match [a-z0-9]{{1,8}}, got {self.strategy_id!r}")
        if not isinstance(self.symbol, str) or not self.symbol:
            raise ConfigError("symbol must be a non-empty string")
        if not isinstance(self.market, MarketType):
            raise TypeError(f"market must be a MarketType, got {type(self.market).__name__}")
        if not isinstance(self.mode, GridMode):
            raise TypeError(f"mode must be a GridMode, got {type(self.mode).__name__}")
        _require_positive("price_interval", self.price_interval)
        _require_positive("order_amount", self.order_amount)
        _require_non_negative("min_order_value", self.min_order_value)
        if self.anchor_price is not None:
            _require_positive("anchor_price", self.anchor_price)
        if not isinstance(self.post_only, bool):
            raise TypeError("post_only must be a bool")
        _require_int("buy_window", self.buy_window, 1)
        _require_int("sell_window", self.sell_window, 1)
        _require_int("post_only_max_failures", self.post_only_max_failures, 0)
        _require_int("max_open_orders", self.max_open_orders, 1)
        _require_int("trade_id_memory", self.trade_id_memory, 1)
        _require_int("order_memory", self.order_memory, 1)
        _require_seconds("margin_lock_seconds", self.margin_lock_seconds, positive=False)
        _require_seconds("reject_backoff_seconds", self.reject_backoff_seconds, positive=True)
        _require_seconds("reject_backoff_max_seconds", self.reject_backoff_max_seconds, positive=True)
        if self.reject_backoff_max_seconds < self.reject_backoff_seconds:
            raise ConfigError("reject_backoff_max_seconds must be >= reject_backoff_seconds")

    def check_rules(self, rules: MarketRules) -> None:
        """Refuse a grid whose levels would collide on the venue's tick grid."""
        if self.price_interval < rules.tick_size:
            raise ConfigError(
                f"price_interval {self.price_interval} is smaller than the tick size {rules.tick_size}"
            )
