"""Pure decisions of the durable workflows: what a venue lookup means for an intent.

No I/O, no clock: `now_ms` is passed in. The workflows only gather facts (journal, venue),
call these, and record the result, so every rule here is testable without DBOS.

The one subtle rule: the venue not knowing an order proves nothing while the order may still be
on its way. An intent is journaled *before* the order leaves, so a lookup made less than
`settle_ms` after `created_ms` (the longest a submission can stay in flight: the connector's
submit timeout plus margin) answers WAIT, never NOT_FOUND; only after that window is "not found"
final, and the core may then place that level again (under a new generation, so never under the
same client order id).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from opensqt_common.enums import OrderStatus
from opensqt_engine.core.client_ids import is_own_client_order_id
from opensqt_engine.journal import IntentRecord, Outcome

from .venue import VenueOrderView

ZERO = Decimal(0)

_STATUS_OUTCOME: Mapping[OrderStatus, Outcome] = {
    OrderStatus.PENDING_NEW: Outcome.ACKED,
    OrderStatus.NEW: Outcome.ACKED,
    OrderStatus.PARTIALLY_FILLED: Outcome.ACKED,
    OrderStatus.FILLED: Outcome.FILLED,
    OrderStatus.CANCELED: Outcome.CANCELED,
    OrderStatus.REJECTED: Outcome.REJECTED,
    OrderStatus.EXPIRED: Outcome.EXPIRED,
}


def outcome_for_status(status: OrderStatus) -> Outcome:
    """The journal outcome of a venue status (open statuses are ACKED: live at the venue)."""
    return _STATUS_OUTCOME[status]


class Verdict(enum.Enum):
    ADOPT = "adopt"  # the venue has it: record what it says; never send it again
    NOT_FOUND = "not_found"  # the venue never saw it and it can no longer arrive
    WAIT = "wait"  # not found yet, but it may still be in flight: look again at `recheck_ms`


@dataclass(frozen=True, slots=True)
class Settlement:
    """What became of one intent, as decided from the venue's answer."""

    client_order_id: str
    verdict: Verdict
    outcome: Outcome | None = None  # ADOPT: from the venue status; NOT_FOUND: NOT_FOUND
    order_id: str = ""
    status: OrderStatus | None = None
    filled_quantity: Decimal = ZERO
    recheck_ms: int = 0  # WAIT only
    detail: str = ""


def adopt(venue: VenueOrderView) -> Settlement:
    """The venue has this order: its status is the outcome (never send it again)."""
    return Settlement(
        client_order_id=venue.client_order_id,
        verdict=Verdict.ADOPT,
        outcome=outcome_for_status(venue.status),
        order_id=venue.order_id,
        status=venue.status,
        filled_quantity=venue.filled_quantity,
        detail=venue.detail,
    )


def settle(intent: IntentRecord, venue: VenueOrderView | None, *, now_ms: int, settle_ms: int) -> Settlement:
    """Decide an intent's fate from a GetOrder answer (`venue`: None for not found)."""
    if venue is not None:
        if venue.client_order_id != intent.client_order_id:
            raise ValueError(f"venue answered {venue.client_order_id!r} for {intent.client_order_id!r}")
        return adopt(venue)
    settled_at = intent.created_ms + settle_ms
    if now_ms < settled_at:
        return Settlement(intent.client_order_id, Verdict.WAIT, recheck_ms=settled_at)
    return Settlement(
        intent.client_order_id, Verdict.NOT_FOUND, outcome=Outcome.NOT_FOUND, detail="not found at venue"
    )


@dataclass(frozen=True, slots=True)
class ReconcilePlan:
    adopt: tuple[Settlement, ...]  # open intents the venue lists as open
    lookups: tuple[IntentRecord, ...]  # open intents the venue does not list: GetOrder each
    orphans: tuple[VenueOrderView, ...]  # this strategy's open orders with no open intent


def plan_reconcile(
    strategy_id: str, intents: Sequence[IntentRecord], venue_open: Iterable[VenueOrderView]
) -> ReconcilePlan:
    """Match the journal's open intents against the venue's open orders."""
    by_id = {intent.client_order_id: intent for intent in intents}
    adopted: list[Settlement] = []
    orphans: list[VenueOrderView] = []
    seen: set[str] = set()
    for order in venue_open:
        intent = by_id.get(order.client_order_id)
        if intent is not None:
            seen.add(order.client_order_id)
            adopted.append(adopt(order))
        elif is_own_client_order_id(order.client_order_id, strategy_id):
            orphans.append(order)
    lookups = tuple(intent for intent in intents if intent.client_order_id not in seen)
    return ReconcilePlan(tuple(adopted), lookups, tuple(orphans))


def own_open_orders(strategy_id: str, venue_open: Iterable[VenueOrderView]) -> tuple[VenueOrderView, ...]:
    """This strategy's open orders (never another strategy's or a manual one)."""
    return tuple(
        order
        for order in venue_open
        if order.status.is_open and is_own_client_order_id(order.client_order_id, strategy_id)
    )
