"""Pure, deterministic grid strategy core ("Super Slot" system) of the engine.

Usage (the runtime and the backtester drive it the same way)::

    strategy = GridStrategy(config, rules)        # GridConfig, MarketRules (from the connector)
    state = strategy.new_state()                  # or strategy.restore_state(snapshot)
    for event in events:                          # PriceTick, OrderAccepted, OrderRejected, ...
        for action in strategy.handle(state, event):
            ...                                   # PlaceOrder / CancelOrder / Note
    snapshot = state.to_snapshot()                # JSON-able; persist it durably

No I/O, no clock, no gRPC/ccxt/DBOS: time arrives inside events. See `strategy` for the rules.

What the runtime owes the core (otherwise a slot can wait forever):

- Every PlaceOrder is answered, eventually, by OrderAccepted, OrderRejected or an OrderUpdate.
  When the outcome is unknown (timeout, crash), look the client order id up at the venue and
  feed what it says; when the venue never saw it, feed OrderRejected(reason=OTHER).
- Every CancelOrder is answered by a terminal OrderUpdate or by CancelFailed.
- Fills and order updates are fed as they come, in any order, duplicates allowed. After a
  reconnect, feed the venue's open orders (see `reconcile`) and any fills missed meanwhile.
- Persist ``state.to_snapshot()`` durably no later than sending the orders an event produced:
  its `next_generation` is what keeps client order ids from ever repeating.
"""

from .actions import Action, CancelOrder, CancelReason, Note, NoteKind, PlaceOrder
from .client_ids import (
    ClientOrderId,
    encode_client_order_id,
    is_own_client_order_id,
    parse_client_order_id,
    validate_strategy_id,
)
from .config import ConfigError, GridConfig, GridMode, MarketRules
from .events import (
    CancelFailed,
    Event,
    Fill,
    OrderAccepted,
    OrderRejected,
    OrderUpdate,
    Paused,
    PriceTick,
    RejectReason,
    Timer,
    TradingStateChanged,
)
from .levels import LevelGrid, anchor_on_tick, buy_quantity, sell_quantity, size_problem
from .reconcile import DriftSeverity, PositionDrift, ReconcileReport, VenueOrder, classify_drift, reconcile
from .slots import SLOT_TRANSITIONS, IllegalSlotTransition, Slot, SlotStatus
from .state import GridState, RecentOrder, RecentOrders, SnapshotError, TradeIdMemory
from .strategy import GridStrategy

__all__ = [
    "SLOT_TRANSITIONS",
    "Action",
    "CancelFailed",
    "CancelOrder",
    "CancelReason",
    "ClientOrderId",
    "ConfigError",
    "DriftSeverity",
    "Event",
    "Fill",
    "GridConfig",
    "GridMode",
    "GridState",
    "GridStrategy",
    "IllegalSlotTransition",
    "LevelGrid",
    "MarketRules",
    "Note",
    "NoteKind",
    "OrderAccepted",
    "OrderRejected",
    "OrderUpdate",
    "Paused",
    "PlaceOrder",
    "PositionDrift",
    "PriceTick",
    "RecentOrder",
    "RecentOrders",
    "ReconcileReport",
    "RejectReason",
    "Slot",
    "SlotStatus",
    "SnapshotError",
    "Timer",
    "TradeIdMemory",
    "TradingStateChanged",
    "VenueOrder",
    "anchor_on_tick",
    "buy_quantity",
    "classify_drift",
    "encode_client_order_id",
    "is_own_client_order_id",
    "parse_client_order_id",
    "reconcile",
    "sell_quantity",
    "size_problem",
    "validate_strategy_id",
]
