"""The pure decisions behind the durable workflows."""

from __future__ import annotations

from decimal import Decimal

import pytest

from opensqt_common.enums import OrderStatus
from opensqt_engine.durable import Verdict, outcome_for_status, plan_reconcile, settle
from opensqt_engine.durable.decisions import own_open_orders
from opensqt_engine.durable.testing import intent, venue_order
from opensqt_engine.journal import Outcome


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (OrderStatus.PENDING_NEW, Outcome.ACKED),
        (OrderStatus.NEW, Outcome.ACKED),
        (OrderStatus.PARTIALLY_FILLED, Outcome.ACKED),
        (OrderStatus.FILLED, Outcome.FILLED),
        (OrderStatus.CANCELED, Outcome.CANCELED),
        (OrderStatus.REJECTED, Outcome.REJECTED),
        (OrderStatus.EXPIRED, Outcome.EXPIRED),
    ],
)
def test_every_venue_status_has_an_outcome(status: OrderStatus, outcome: Outcome) -> None:
    assert outcome_for_status(status) is outcome
    assert outcome.is_final == status.is_terminal


def test_an_order_the_venue_has_is_adopted_with_its_state() -> None:
    record = intent()
    decision = settle(
        record, venue_order(record, OrderStatus.PARTIALLY_FILLED, "0.0004"), now_ms=10**12, settle_ms=0
    )
    assert decision.verdict is Verdict.ADOPT
    assert decision.outcome is Outcome.ACKED
    assert (decision.order_id, decision.status, decision.filled_quantity) == (
        "o-1",
        OrderStatus.PARTIALLY_FILLED,
        Decimal("0.0004"),
    )


def test_not_found_inside_the_flight_window_waits_and_after_it_is_final() -> None:
    record = intent(created_ms=1_000)
    early = settle(record, None, now_ms=5_999, settle_ms=5_000)
    assert (early.verdict, early.outcome, early.recheck_ms) == (Verdict.WAIT, None, 6_000)
    late = settle(record, None, now_ms=6_000, settle_ms=5_000)
    assert (late.verdict, late.outcome) == (Verdict.NOT_FOUND, Outcome.NOT_FOUND)


def test_an_answer_for_another_order_is_an_error() -> None:
    with pytest.raises(ValueError, match="venue answered"):
        settle(intent(level=1), venue_order(intent(level=2)), now_ms=0, settle_ms=0)


def test_reconcile_plan_adopts_open_looks_up_missing_and_reports_orphans() -> None:
    live, gone = intent(level=1), intent(level=2)
    orphan = intent(level=3, generation=5)
    foreign = intent("other", level=1)
    plan = plan_reconcile(
        "grid1",
        [live, gone],
        [
            venue_order(live, order_id="o-live"),
            venue_order(orphan, order_id="o-orphan"),
            venue_order(foreign),
        ],
    )
    assert [(s.client_order_id, s.order_id, s.outcome) for s in plan.adopt] == [
        (live.client_order_id, "o-live", Outcome.ACKED)
    ]
    assert plan.lookups == (gone,)
    assert [o.client_order_id for o in plan.orphans] == [orphan.client_order_id]


def test_own_open_orders_never_includes_other_strategies_or_closed_orders() -> None:
    mine, closed, foreign = intent(level=1), intent(level=2), intent("grid10", level=1)
    orders = [venue_order(mine), venue_order(closed, OrderStatus.FILLED), venue_order(foreign)]
    assert [o.client_order_id for o in own_open_orders("grid1", orders)] == [mine.client_order_id]
