"""Start-up recovery: the saved grid state, then every intent whose fate is unknown.

Before the engine does anything else it:

1. loads the last snapshot (the anchor and the slots survive restarts) or starts fresh;
2. asks the connector (GetOrder by client order id) about every journal intent without a
   final outcome, oldest first, and feeds the answers to the core. An order the snapshot
   does not know yet (sent after the last save) is *adopted*: its slot is put back in
   PENDING with that order, exactly as the core would have done, then the venue's view
   of it is applied (fills included). An order that cannot be adopted (its slot already
   holds another order, or a sell whose position the snapshot lacks) is left to
   reconciliation, which cancels it at the venue and reports any drift it caused.

With the durable store (`recover_durably`) step 2 is DBOS's `recover_open_intents` workflow,
which also knows that "not found" proves nothing while an order may still be in flight: such
an intent is *deferred* — adopted by its slot (PENDING, so the level is not placed again) and
settled later by its `order_lifecycle` workflow. Because DBOS workflows record final outcomes
themselves (the runtime records one only after a snapshot that contains it), the durable path
also looks up every intent created since the snapshot was taken, final or not: an order the
snapshot never knew is adopted even when a workflow already closed it, so its fills find it.

The state is recovered without a price (`last_price` None), so the core records what
happened but places and cancels nothing until the first live price arrives.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from opensqt.exchange.v1 import types_pb2
from opensqt_common.enums import OrderStatus, Side
from opensqt_common.logging import get_logger
from opensqt_engine.core import (
    GridState,
    GridStrategy,
    LevelGrid,
    OrderRejected,
    OrderUpdate,
    RejectReason,
    Slot,
    SlotStatus,
    parse_client_order_id,
)
from opensqt_engine.journal import EngineJournal, IntentRecord, Outcome
from opensqt_engine.runtime import convert
from opensqt_engine.runtime.crashpoints import CrashPoint, CrashPoints
from opensqt_engine.runtime.gateway import ConnectorGateway, GatewayError
from opensqt_engine.runtime.links import Backoff

if TYPE_CHECKING:
    from opensqt_engine.durable import Settlement, SqlJournal
    from opensqt_engine.runtime.durability import Durability

_log = get_logger(__name__)

RUNTIME_KEY = "runtime"
NOT_FOUND_DETAIL = "not found at the venue"
# The durable path looks up every intent created this long before the snapshot was taken, too
# (wall-clock steps; a margin costs one GetOrder per extra intent, nothing else).
SNAPSHOT_MARGIN_MS = 5_000


@dataclass(frozen=True, slots=True)
class RecoveredOutcome:
    client_order_id: str
    outcome: Outcome
    order_id: str = ""
    detail: str = ""


@dataclass
class Recovery:
    state: GridState
    restored: bool
    last_fill_ms: int
    pause_reasons: set[str]
    outcomes: list[RecoveredOutcome] = field(default_factory=list)
    adopted: list[str] = field(default_factory=list)
    unadoptable: list[str] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)  # may still be in flight: settled later
    looked_up: list[str] = field(default_factory=list)  # the intents whose fate was applied
    acked: list[str] = field(default_factory=list)  # live at the venue, ACKED in the journal


@dataclass(frozen=True, slots=True)
class VenueFate:
    """What the venue says of one intent's order (None where it has no such order)."""

    order_id: str
    status: OrderStatus
    filled_quantity: Decimal

    @classmethod
    def of(cls, order: types_pb2.Order) -> VenueFate:
        update = convert.order_update(order, None)
        return cls(update.order_id, update.status, update.filled_quantity)


def _generation(intent: IntentRecord) -> int:
    parsed = parse_client_order_id(intent.client_order_id)
    return parsed.generation if parsed is not None else -1


def owning_slot(state: GridState, client_order_id: str) -> Slot | None:
    parsed = parse_client_order_id(client_order_id)
    if parsed is None or parsed.strategy_id != state.strategy_id:
        return None
    slot = state.slots.get(parsed.level_index)
    if slot is None or slot.status is SlotStatus.FREE or slot.client_order_id != client_order_id:
        return None
    return slot


def adopt(strategy: GridStrategy, state: GridState, intent: IntentRecord) -> bool:
    """Give the intent's slot this order (PENDING), as the core did when it decided it.

    Refused (False) when the anchor is unknown, the id is not this grid's, the order
    already ended in this state, the slot holds another order, a buy's slot holds a
    position, or a sell's slot holds less than the sell's quantity.
    """
    parsed = parse_client_order_id(intent.client_order_id)
    if state.anchor is None or parsed is None or parsed.strategy_id != strategy.config.strategy_id:
        return False
    if parsed.level_index != intent.level_index or parsed.side is not intent.side:
        return False
    if state.recent_orders.get(intent.client_order_id) is not None:
        return False
    slot = state.slots.get(intent.level_index)
    if slot is not None and slot.status is not SlotStatus.FREE:
        return False
    position = slot.position if slot is not None else convert.ZERO
    if intent.side is Side.BUY and position > 0:
        return False
    if intent.side is Side.SELL and position < intent.quantity:
        return False
    if slot is None:
        grid = LevelGrid(state.anchor, strategy.config.price_interval, strategy.rules.tick_size)
        slot = Slot(intent.level_index, grid.price(intent.level_index))
        state.slots[intent.level_index] = slot
    slot.open_order(
        intent.client_order_id,
        intent.side,
        intent.price,
        intent.quantity,
        intent.post_only,
        intent.reduce_only,
    )
    if parsed.generation >= state.next_generation:
        state.next_generation = parsed.generation + 1
    state.dirty = True
    return True


def restore(strategy: GridStrategy, snapshot: dict[str, Any] | None) -> tuple[GridState, int, set[str]]:
    """The grid state of a snapshot (or a fresh one), its last fill time and pause reasons."""
    if snapshot is None:
        return strategy.new_state(), 0, set()
    state = strategy.restore_state(snapshot)
    meta = snapshot.get(RUNTIME_KEY) or {}
    last_fill_ms = meta.get("last_fill_ms", 0)
    reasons = meta.get("pause_reasons", [])
    if not isinstance(last_fill_ms, int) or not isinstance(reasons, list):
        last_fill_ms, reasons = 0, []
    return state, last_fill_ms, {str(reason) for reason in reasons}


async def _ask(gateway: ConnectorGateway, client_order_id: str, backoff: Backoff) -> Any:
    while True:
        try:
            return await gateway.order(client_order_id)
        except GatewayError as exc:
            delay = backoff.next_delay()
            _log.warning(
                "recovery_lookup_failed", client_order_id=client_order_id, error=str(exc), retry_in_s=delay
            )
            await asyncio.sleep(delay)


def apply_fate(
    strategy: GridStrategy,
    state: GridState,
    intent: IntentRecord,
    fate: VenueFate | None,
    now: float,
    recovery: Recovery,
) -> None:
    """Feed one intent's fate to the core: adopt its order when no slot holds it yet, then
    apply the venue's view of it; "not found" frees the slot that waits for it."""
    cid = intent.client_order_id
    recovery.looked_up.append(cid)
    slot = owning_slot(state, cid)
    if slot is None and state.recent_orders.get(cid) is not None:
        return  # the saved state already has this order's end
    if fate is None:
        if slot is not None:
            strategy.handle(state, OrderRejected(cid, RejectReason.OTHER, NOT_FOUND_DETAIL, now))
        _log.info("recovery_intent_not_found", client_order_id=cid)
        return
    if slot is None:
        if adopt(strategy, state, intent):
            recovery.adopted.append(cid)
        else:
            recovery.unadoptable.append(cid)
            _log.warning(
                "recovery_order_not_adopted",
                client_order_id=cid,
                detail="left to reconciliation (cancelled if open, drift reported)",
            )
    if owning_slot(state, cid) is not None:
        strategy.handle(state, OrderUpdate(cid, fate.order_id, fate.status, fate.filled_quantity, now=now))
    _log.info("recovery_intent_resolved", client_order_id=cid, status=fate.status.value)


def _begin(strategy: GridStrategy, snapshot: dict[str, Any] | None) -> Recovery:
    state, last_fill_ms, reasons = restore(strategy, snapshot)
    state.last_price = None  # no orders until the first live price
    return Recovery(state, snapshot is not None, last_fill_ms, reasons)


async def recover(
    strategy: GridStrategy,
    journal: EngineJournal,
    gateway: ConnectorGateway,
    *,
    clock: Callable[[], float],
    backoff: Backoff,
) -> Recovery:
    """Recovery on any journal (the in-memory one too): GetOrder for each open intent."""
    strategy_id = strategy.config.strategy_id
    recovery = _begin(strategy, await journal.load_snapshot(strategy_id))
    intents: Sequence[IntentRecord] = sorted(await journal.open_intents(strategy_id), key=_generation)
    if intents and not recovery.last_fill_ms:
        recovery.last_fill_ms = min(intent.created_ms for intent in intents)
    for intent in intents:
        cid = intent.client_order_id
        order = await _ask(gateway, cid, backoff)
        fate = None if order is None else VenueFate.of(order)
        apply_fate(strategy, recovery.state, intent, fate, clock(), recovery)
        if fate is None:
            recovery.outcomes.append(RecoveredOutcome(cid, Outcome.NOT_FOUND, detail=NOT_FOUND_DETAIL))
            continue
        final = convert.final_outcome(fate.status)
        outcome = final if final is not None else Outcome.ACKED
        recovery.outcomes.append(RecoveredOutcome(cid, outcome, fate.order_id))
        if outcome is Outcome.ACKED:
            recovery.acked.append(cid)
    return recovery


def snapshot_taken_ms(snapshot: dict[str, Any] | None) -> int:
    """When the snapshot's state was taken (epoch ms; 0 when unknown)."""
    meta = (snapshot or {}).get(RUNTIME_KEY) or {}
    taken = meta.get("saved_unix_ms", 0)
    return taken if isinstance(taken, int) and not isinstance(taken, bool) else 0


def _fate_of(settlement: Settlement) -> VenueFate | None:
    if settlement.status is None:  # NOT_FOUND: the venue has no such order, and it cannot arrive
        return None
    return VenueFate(settlement.order_id, settlement.status, settlement.filled_quantity)


async def recover_durably(
    strategy: GridStrategy,
    journal: SqlJournal,
    durability: Durability,
    gateway: ConnectorGateway,
    *,
    clock: Callable[[], float],
    backoff: Backoff,
    crash: CrashPoints,
) -> Recovery:
    """Recovery on the durable store, through DBOS's recovery workflow (module docstring)."""
    strategy_id = strategy.config.strategy_id
    snapshot = await journal.load_snapshot(strategy_id)
    recovery = _begin(strategy, snapshot)
    state = recovery.state
    # The snapshot may predate the last intents: ids continue above every journaled one.
    state.next_generation = max(state.next_generation, await journal.max_generation(strategy_id) + 1)
    report = await durability.recover(backoff)
    crash.hit(CrashPoint.AFTER_RECOVERY)
    decided = {settlement.client_order_id: settlement for settlement in report.settled}
    deferred = set(report.deferred)
    since = max(snapshot_taken_ms(snapshot) - SNAPSHOT_MARGIN_MS, 0) if snapshot is not None else 0
    intents = {intent.client_order_id: intent for intent in await journal.intents_since(strategy_id, since)}
    for cid in [*decided, *deferred]:
        if cid not in intents:
            record = await journal.intent(cid)
            if record is not None:
                intents[cid] = record
    ordered = sorted(intents.values(), key=_generation)
    if ordered and not recovery.last_fill_ms:
        recovery.last_fill_ms = min(intent.created_ms for intent in ordered)
    for intent in ordered:
        cid = intent.client_order_id
        if cid in deferred:
            if owning_slot(state, cid) is None:
                (recovery.adopted if adopt(strategy, state, intent) else recovery.unadoptable).append(cid)
            recovery.deferred.append(cid)
            continue
        settlement = decided.get(cid)
        if settlement is not None:
            fate = _fate_of(settlement)
        else:  # closed in the journal, but after the snapshot was taken: ask the venue again
            order = await _ask(gateway, cid, backoff)
            fate = None if order is None else VenueFate.of(order)
        apply_fate(strategy, state, intent, fate, clock(), recovery)
        if fate is not None and convert.final_outcome(fate.status) is None:
            recovery.acked.append(cid)
    return recovery
