"""Level arithmetic: where the levels are, which of them are in the windows, and order sizes.

Level k sits at ``round_to_tick(anchor + k·interval)`` (nearest tick, ties to even). The anchor
itself is put on the tick grid first, so with an interval that is a multiple of the tick every
level is exact and rounding never happens. With `interval >= tick` (enforced by
`GridConfig.check_rules`) rounding is monotone and distinct levels never share a price.

Windows for a price p:
- buy boundary ``kb`` = the highest level strictly below ``p − interval/10``; the buy window is
  ``kb − buy_window + 1 … kb``;
- sell boundary ``ka`` = the lowest level strictly above p; the sell window allows take-profit
  prices up to level ``ka + sell_window − 1`` (take-profits already at or below p are in the money
  and are allowed too: placing them realises the profit instead of waiting for a round trip).
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal

from .config import MarketRules

ZERO = Decimal(0)
TEN = Decimal(10)
_CACHE_LIMIT = 4096


def anchor_on_tick(price: Decimal, tick_size: Decimal) -> Decimal:
    """The anchor a price gives: the price rounded to the nearest tick (ties to even)."""
    anchor = (price / tick_size).to_integral_value(rounding=ROUND_HALF_EVEN) * tick_size
    if anchor <= ZERO:
        raise ValueError(f"price {price} rounds to a non-positive anchor on tick {tick_size}")
    return anchor


class LevelGrid:
    """Prices of the levels around one anchor, and the window boundaries for a price."""

    __slots__ = ("_cache", "_exact", "anchor", "buffer", "interval", "tick_size")

    def __init__(self, anchor: Decimal, interval: Decimal, tick_size: Decimal) -> None:
        if interval < tick_size:
            raise ValueError(f"interval {interval} is smaller than the tick size {tick_size}")
        self.anchor = anchor
        self.interval = interval
        self.tick_size = tick_size
        self.buffer = interval / TEN
        self._exact = (anchor % tick_size).is_zero() and (interval % tick_size).is_zero()
        self._cache: dict[int, Decimal] = {}

    def price(self, index: int) -> Decimal:
        """Price of level `index` on the tick grid (may be <= 0 far below the anchor)."""
        cached = self._cache.get(index)
        if cached is not None:
            return cached
        raw = self.anchor + index * self.interval
        if self._exact:
            value = raw
        else:
            steps = (raw / self.tick_size).to_integral_value(rounding=ROUND_HALF_EVEN)
            value = steps * self.tick_size
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[index] = value
        return value

    def _floor_index(self, price: Decimal) -> int:
        return int(((price - self.anchor) / self.interval).to_integral_value(rounding=ROUND_FLOOR))

    def buy_boundary(self, price: Decimal) -> int:
        """Highest level whose price is strictly below ``price − interval/10``."""
        threshold = price - self.buffer
        index = self._floor_index(threshold)
        while self.price(index + 1) < threshold:
            index += 1
        while self.price(index) >= threshold:
            index -= 1
        return index

    def sell_boundary(self, price: Decimal) -> int:
        """Lowest level whose price is strictly above `price`."""
        index = self._floor_index(price) + 1
        while self.price(index - 1) > price:
            index -= 1
        while self.price(index) <= price:
            index += 1
        return index


def buy_quantity(price: Decimal, order_amount: Decimal, step_size: Decimal) -> Decimal:
    """``order_amount / price`` rounded down to the step grid (exact integer division)."""
    return (order_amount // (price * step_size)) * step_size


def sell_quantity(position: Decimal, step_size: Decimal) -> Decimal:
    """The position rounded down to the step grid."""
    return (position // step_size) * step_size


def size_problem(price: Decimal, quantity: Decimal, rules: MarketRules, min_value: Decimal) -> str | None:
    """Why an order of this size may not be sent, or None when it may.

    `min_value` is the larger of the venue's min notional and, for buys, the grid's min order value.
    """
    if quantity <= ZERO or quantity < rules.min_quantity:
        return f"quantity {quantity} is below the minimum {rules.min_quantity}"
    floor = max(rules.min_notional, min_value)
    if price * quantity < floor:
        return f"notional {price * quantity} is below the minimum {floor}"
    return None
