"""Pure reconciliation: compare the grid's state with what the venue reports, list the repairs.

The venue is the source of truth. Given its open orders and its position, `reconcile` returns:

- `cancels`: open orders carrying this strategy's client-id prefix that no slot owns as its
  current order (left over from a crash, or a state older than the venue) → CancelOrder.
  Orders of other strategies or made by hand are never touched (listed in `foreign_orders`).
- `lookups`: client ids of slots that are PENDING or LOCKED but not open at the venue. The order
  ended (or never arrived); the runtime must look each up (GetOrder by client id) and feed the
  answer back as an OrderUpdate — or, when the venue never saw it, as
  OrderRejected(reason=OTHER, detail="not found at venue").
- `updates`: OrderUpdate events for open orders the state already owns but knows less about (still
  PENDING, or the venue reports more filled). Feeding them through `GridStrategy.handle` is safe:
  progress only ever moves forward.
- `drift`: ``venue position − Σ slot positions``, classified (rule below).
- `max_generation_seen`: the largest generation among this strategy's ids at the venue. When it is
  >= `state.next_generation` the state is older than the venue's orders (a stale snapshot was
  restored): new ids could collide with old orders, so the runtime must not trade from it.

Drift rule: with ``step`` the step size and ``one_order`` the buy quantity of one order at the last
price (anchor before any price), never less than one step:
``|drift| < step`` → NONE (rounding); ``|drift| <= one_order`` → SMALL (log it, fix it: e.g. a
missed fill; trading may go on); otherwise LARGE (halt and alert: the grid no longer knows what it
holds). On spot, pass as venue position the base balance that belongs to this grid.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from opensqt_common.enums import OrderStatus, Side

from .actions import CancelOrder, CancelReason
from .client_ids import parse_client_order_id
from .config import GridConfig, MarketRules
from .events import OrderUpdate
from .levels import buy_quantity
from .slots import SlotStatus
from .state import GridState

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class VenueOrder:
    """One open order as the venue reports it (quantities in base units)."""

    client_order_id: str
    order_id: str
    side: Side
    price: Decimal
    quantity: Decimal
    filled_quantity: Decimal
    average_price: Decimal | None = None


class DriftSeverity(enum.Enum):
    NONE = "none"
    SMALL = "small"
    LARGE = "large"


@dataclass(frozen=True, slots=True)
class PositionDrift:
    venue_position: Decimal
    local_position: Decimal
    drift: Decimal  # venue − local
    one_order: Decimal  # the SMALL/LARGE threshold used
    severity: DriftSeverity


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    cancels: tuple[CancelOrder, ...]
    lookups: tuple[str, ...]
    updates: tuple[OrderUpdate, ...]
    drift: PositionDrift
    foreign_orders: tuple[str, ...]
    max_generation_seen: int  # -1 when the venue holds no order of this strategy
    stale_state: bool  # max_generation_seen >= state.next_generation

    @property
    def clean(self) -> bool:
        """Nothing to repair."""
        return (
            not self.cancels
            and not self.lookups
            and not self.updates
            and self.drift.severity is DriftSeverity.NONE
            and not self.stale_state
        )


def classify_drift(
    config: GridConfig, rules: MarketRules, state: GridState, venue_position: Decimal
) -> PositionDrift:
    local = state.position
    drift = venue_position - local
    step = rules.step_size
    reference = state.last_price if state.last_price is not None else state.anchor
    one_order = step
    if reference is not None:
        one_order = max(step, buy_quantity(reference, config.order_amount, step))
    size = abs(drift)
    if size < step:
        severity = DriftSeverity.NONE
    elif size <= one_order:
        severity = DriftSeverity.SMALL
    else:
        severity = DriftSeverity.LARGE
    return PositionDrift(venue_position, local, drift, one_order, severity)


def reconcile(
    config: GridConfig,
    rules: MarketRules,
    state: GridState,
    open_orders: Iterable[VenueOrder],
    venue_position: Decimal,
) -> ReconcileReport:
    """The repairs that bring `state` in line with the venue (see the module doc). Pure."""
    current = {slot.client_order_id: slot for slot in state.slots.values() if slot.is_live}
    seen: set[str] = set()
    cancels: list[CancelOrder] = []
    updates: list[OrderUpdate] = []
    foreign: list[str] = []
    max_generation = -1
    for order in open_orders:
        parsed = parse_client_order_id(order.client_order_id)
        if parsed is None or parsed.strategy_id != config.strategy_id:
            foreign.append(order.client_order_id)
            continue
        max_generation = max(max_generation, parsed.generation)
        seen.add(order.client_order_id)
        slot = current.get(order.client_order_id)
        if slot is None:
            reason = CancelReason.UNKNOWN_ORDER
            cancels.append(CancelOrder(parsed.level_index, order.client_order_id, order.order_id, reason))
            continue
        behind = order.filled_quantity > slot.filled_quantity
        if slot.status is SlotStatus.PENDING or behind:
            status = OrderStatus.PARTIALLY_FILLED if order.filled_quantity > ZERO else OrderStatus.NEW
            filled = order.filled_quantity
            updates.append(
                OrderUpdate(order.client_order_id, order.order_id, status, filled, order.average_price)
            )
    lookups = sorted(
        (slot for cid, slot in current.items() if cid not in seen), key=lambda slot: slot.level_index
    )
    cancels.sort(key=lambda cancel: (cancel.level_index, cancel.client_order_id))
    updates.sort(key=lambda update: update.client_order_id)
    return ReconcileReport(
        cancels=tuple(cancels),
        lookups=tuple(slot.client_order_id for slot in lookups),
        updates=tuple(updates),
        drift=classify_drift(config, rules, state, venue_position),
        foreign_orders=tuple(sorted(foreign)),
        max_generation_seen=max_generation,
        stale_state=max_generation >= state.next_generation,
    )
