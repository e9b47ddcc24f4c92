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

The state is recovered without a price (`last_price` None), so the core records what
happened but places and cancels nothing until the first live price arrives.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from opensqt_common.enums import Side
from opensqt_common.logging import get_logger
from opensqt_engine.core import (
    GridState,
    GridStrategy,
    LevelGrid,
    OrderRejected,
    RejectReason,
    Slot,
    SlotStatus,
    parse_client_order_id,
)
from opensqt_engine.journal import EngineJournal, IntentRecord, Outcome
from opensqt_engine.runtime import convert
from opensqt_engine.runtime.gateway import ConnectorGateway, GatewayError
from opensqt_engine.runtime.links import Backoff

_log = get_logger(__name__)

RUNTIME_KEY = "runtime"
NOT_FOUND_DETAIL = "not found at the venue"


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


async def recover(
    strategy: GridStrategy,
    journal: EngineJournal,
    gateway: ConnectorGateway,
    *,
    clock: Callable[[], float],
    backoff: Backoff,
) -> Recovery:
    strategy_id = strategy.config.strategy_id
    snapshot = await journal.load_snapshot(strategy_id)
    state, last_fill_ms, reasons = restore(strategy, snapshot)
    state.last_price = None  # no orders until the first live price
    recovery = Recovery(state, snapshot is not None, last_fill_ms, reasons)
    intents: Sequence[IntentRecord] = sorted(await journal.open_intents(strategy_id), key=_generation)
    if intents and not recovery.last_fill_ms:
        recovery.last_fill_ms = min(intent.created_ms for intent in intents)
    for intent in intents:
        cid = intent.client_order_id
        order = await _ask(gateway, cid, backoff)
        slot = owning_slot(state, cid)
        if order is None:
            recovery.outcomes.append(RecoveredOutcome(cid, Outcome.NOT_FOUND, detail=NOT_FOUND_DETAIL))
            if slot is not None:
                strategy.handle(state, OrderRejected(cid, RejectReason.OTHER, NOT_FOUND_DETAIL, clock()))
            _log.info("recovery_intent_not_found", client_order_id=cid)
            continue
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
        update = convert.order_update(order, clock())
        if owning_slot(state, cid) is not None:
            strategy.handle(state, update)
        final = convert.final_outcome(update.status)
        outcome = final if final is not None else Outcome.ACKED
        recovery.outcomes.append(RecoveredOutcome(cid, outcome, order.order_id))
        _log.info(
            "recovery_intent_resolved", client_order_id=cid, status=update.status.value, outcome=outcome.value
        )
    return recovery
