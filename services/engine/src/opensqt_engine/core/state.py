"""Everything the grid core remembers between events, and its durable snapshot form.

The durable layer persists `GridState.to_snapshot()` (plain JSON-able dicts: decimals as
strings in their exact `str()` form, times as floats) and restores it with `from_snapshot`;
the round trip is exact. Fields marked transient are caches rebuilt by the next evaluation.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from opensqt_common.enums import Side, TradingState

from .slots import Slot, SlotStatus

ZERO = Decimal(0)
SNAPSHOT_VERSION = 1


class SnapshotError(ValueError):
    """A snapshot is malformed or of an unknown version."""


class TradeIdMemory:
    """The most recent `capacity` trade ids, for fill deduplication (oldest forgotten first)."""

    __slots__ = ("_order", "_seen", "capacity")

    def __init__(self, capacity: int, ids: list[str] | None = None) -> None:
        self.capacity = capacity
        self._order: deque[str] = deque()
        self._seen: set[str] = set()
        for trade_id in ids or ():
            self.add(trade_id)

    def __contains__(self, trade_id: str) -> bool:
        return trade_id in self._seen

    def __len__(self) -> int:
        return len(self._order)

    def add(self, trade_id: str) -> None:
        if trade_id in self._seen:
            return
        self._order.append(trade_id)
        self._seen.add(trade_id)
        while len(self._order) > self.capacity:
            self._seen.discard(self._order.popleft())

    def ids(self) -> list[str]:
        return list(self._order)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TradeIdMemory):
            return NotImplemented
        return self.capacity == other.capacity and self._order == other._order

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class RecentOrder:
    """A terminated order, kept so its late fills still count in fees and PnL."""

    level_index: int
    side: Side
    level_price: Decimal


class RecentOrders:
    """The last `capacity` terminated orders by client order id (oldest forgotten first)."""

    __slots__ = ("_orders", "capacity")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._orders: OrderedDict[str, RecentOrder] = OrderedDict()

    def add(self, client_order_id: str, order: RecentOrder) -> None:
        self._orders[client_order_id] = order
        self._orders.move_to_end(client_order_id)
        while len(self._orders) > self.capacity:
            self._orders.popitem(last=False)

    def get(self, client_order_id: str) -> RecentOrder | None:
        return self._orders.get(client_order_id)

    def items(self) -> list[tuple[str, RecentOrder]]:
        return list(self._orders.items())

    def __len__(self) -> int:
        return len(self._orders)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RecentOrders):
            return NotImplemented
        return self.capacity == other.capacity and list(self._orders.items()) == list(other._orders.items())

    __hash__ = None  # type: ignore[assignment]


@dataclass(slots=True)
class GridState:
    """Mutable state of one grid. Only the strategy changes it (inside `GridStrategy.handle`).

    - `anchor`: level 0, set once (config or first price) and kept across restarts.
    - `slots`: by level index; a slot with nothing to remember (free, flat, no failures or
      backoff) is dropped, so this holds only levels in use.
    - `realized_pnl`: Σ over sell fills of qty × (fill price − level price), gross of fees.
    - `fees_paid`: Σ of all fill fees, both sides, in quote units (a fee taken in the base asset
      at its fill's price). Net profit = realized_pnl − fees_paid.
    - `next_generation`: a counter across the whole grid, so no client order id ever repeats,
      even for a slot that was dropped and later recreated.
    """

    strategy_id: str
    symbol: str
    trade_ids: TradeIdMemory
    recent_orders: RecentOrders
    anchor: Decimal | None = None
    last_price: Decimal | None = None
    now: float = 0.0
    slots: dict[int, Slot] = field(default_factory=dict)
    realized_pnl: Decimal = ZERO
    fees_paid: Decimal = ZERO
    fill_count: int = 0
    next_generation: int = 0
    margin_lock_until: float = 0.0
    trading_state: TradingState = TradingState.ACTIVE
    paused: bool = False
    # (kind, level) of the once-only notes already given (min size skips, dust, overfill)
    noted: set[tuple[str, int]] = field(default_factory=set)
    # transient: caches of the last evaluation, not persisted and not compared
    dirty: bool = field(default=True, compare=False)
    # while band_buy_low < price <= band_buy_high and band_sell_low <= price < band_sell_high,
    # the buy and sell boundaries of the last evaluation still hold
    band_buy_low: Decimal = field(default=ZERO, compare=False)
    band_buy_high: Decimal = field(default=ZERO, compare=False)
    band_sell_low: Decimal = field(default=ZERO, compare=False)
    band_sell_high: Decimal = field(default=ZERO, compare=False)
    # earliest time a backoff or the margin lock expires (inf when none is pending)
    wakeup: float = field(default=0.0, compare=False)

    @property
    def position(self) -> Decimal:
        """Base quantity held by all slots together."""
        total = ZERO
        for slot in self.slots.values():
            total += slot.position
        return total

    @property
    def net_pnl(self) -> Decimal:
        return self.realized_pnl - self.fees_paid

    def count(self, status: SlotStatus) -> int:
        return sum(1 for slot in self.slots.values() if slot.status is status)

    @property
    def open_orders(self) -> int:
        return sum(1 for slot in self.slots.values() if slot.is_live)

    def margin_locked(self) -> bool:
        return self.now < self.margin_lock_until

    # ---- snapshot -------------------------------------------------------------------------

    def to_snapshot(self) -> dict[str, Any]:
        return {
            "version": SNAPSHOT_VERSION,
            "strategy_id": self.strategy_id,
            "symbol": self.symbol,
            "anchor": _dec_out(self.anchor),
            "last_price": _dec_out(self.last_price),
            "now": self.now,
            "realized_pnl": str(self.realized_pnl),
            "fees_paid": str(self.fees_paid),
            "fill_count": self.fill_count,
            "next_generation": self.next_generation,
            "margin_lock_until": self.margin_lock_until,
            "trading_state": self.trading_state.value,
            "paused": self.paused,
            "trade_id_capacity": self.trade_ids.capacity,
            "trade_ids": self.trade_ids.ids(),
            "order_capacity": self.recent_orders.capacity,
            "recent_orders": [
                {
                    "client_order_id": cid,
                    "level_index": order.level_index,
                    "side": order.side.value,
                    "level_price": str(order.level_price),
                }
                for cid, order in self.recent_orders.items()
            ],
            "slots": [_slot_out(slot) for slot in self.slots.values()],
            "noted": [[kind, level] for kind, level in sorted(self.noted)],
        }

    @classmethod
    def from_snapshot(cls, data: dict[str, Any]) -> GridState:
        try:
            if data["version"] != SNAPSHOT_VERSION:
                raise SnapshotError(f"unknown snapshot version {data['version']!r}")
            recent = RecentOrders(_int(data["order_capacity"]))
            for item in data["recent_orders"]:
                recent.add(
                    str(item["client_order_id"]),
                    RecentOrder(_int(item["level_index"]), Side(item["side"]), _dec(item["level_price"])),
                )
            slots: dict[int, Slot] = {}
            for item in data["slots"]:
                slot = _slot_in(item)
                if slot.level_index in slots:
                    raise SnapshotError(f"level {slot.level_index} appears twice")
                slots[slot.level_index] = slot
            return cls(
                strategy_id=str(data["strategy_id"]),
                symbol=str(data["symbol"]),
                trade_ids=TradeIdMemory(_int(data["trade_id_capacity"]), [str(t) for t in data["trade_ids"]]),
                recent_orders=recent,
                anchor=_dec_in(data["anchor"]),
                last_price=_dec_in(data["last_price"]),
                now=_float(data["now"]),
                slots=slots,
                realized_pnl=_dec(data["realized_pnl"]),
                fees_paid=_dec(data["fees_paid"]),
                fill_count=_int(data["fill_count"]),
                next_generation=_int(data["next_generation"]),
                margin_lock_until=_float(data["margin_lock_until"]),
                trading_state=TradingState(data["trading_state"]),
                paused=_bool(data["paused"]),
                noted={(str(kind), _int(level)) for kind, level in data["noted"]},
            )
        except SnapshotError:
            raise
        except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
            raise SnapshotError(f"malformed snapshot: {exc!r}") from exc


def _dec(value: object) -> Decimal:
    if not isinstance(value, str):
        raise SnapshotError(f"expected a decimal string, got {value!r}")
    result = Decimal(value)
    if not result.is_finite():
        raise SnapshotError(f"decimal {value!r} is not finite")
    return result


def _dec_in(value: object) -> Decimal | None:
    return None if value is None else _dec(value)


def _dec_out(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _int(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise SnapshotError(f"expected an integer, got {value!r}")
    return value


def _float(value: object) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise SnapshotError(f"expected a number, got {value!r}")
    return float(value)


def _bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise SnapshotError(f"expected a boolean, got {value!r}")
    return value


def _slot_out(slot: Slot) -> dict[str, Any]:
    return {
        "level_index": slot.level_index,
        "level_price": str(slot.level_price),
        "status": slot.status.value,
        "position": str(slot.position),
        "client_order_id": slot.client_order_id,
        "order_id": slot.order_id,
        "side": None if slot.side is None else slot.side.value,
        "order_price": str(slot.order_price),
        "order_quantity": str(slot.order_quantity),
        "post_only": slot.post_only,
        "reduce_only": slot.reduce_only,
        "filled_quantity": str(slot.filled_quantity),
        "reported_filled": str(slot.reported_filled),
        "fills_quantity": str(slot.fills_quantity),
        "cancel_requested": slot.cancel_requested,
        "post_only_failures": slot.post_only_failures,
        "reject_streak": slot.reject_streak,
        "retry_after": slot.retry_after,
        "fee_pending_quantity": str(slot.fee_pending_quantity),
    }


def _slot_in(item: dict[str, Any]) -> Slot:
    side = item["side"]
    slot = Slot(
        level_index=_int(item["level_index"]),
        level_price=_dec(item["level_price"]),
        status=SlotStatus(item["status"]),
        position=_dec(item["position"]),
        client_order_id=str(item["client_order_id"]),
        order_id=str(item["order_id"]),
        side=None if side is None else Side(side),
        order_price=_dec(item["order_price"]),
        order_quantity=_dec(item["order_quantity"]),
        post_only=_bool(item["post_only"]),
        reduce_only=_bool(item["reduce_only"]),
        filled_quantity=_dec(item["filled_quantity"]),
        reported_filled=_dec(item["reported_filled"]),
        fills_quantity=_dec(item["fills_quantity"]),
        cancel_requested=_bool(item["cancel_requested"]),
        post_only_failures=_int(item["post_only_failures"]),
        reject_streak=_int(item["reject_streak"]),
        retry_after=_float(item["retry_after"]),
        fee_pending_quantity=_dec(item.get("fee_pending_quantity", "0")),  # absent before base fees
    )
    live = slot.status is not SlotStatus.FREE
    if live != bool(slot.client_order_id) or live != (slot.side is not None):
        raise SnapshotError(f"slot {slot.level_index}: status {slot.status.value} disagrees with its order")
    return slot
