"""DBOS workflows on SQLite and PostgreSQL: exactly-once under one id, recovery decisions
against a fake venue (adopt, NOT_FOUND, defer, never re-send), reconciliation, shutdown."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from dbos import DBOS

from opensqt_common.enums import OrderStatus
from opensqt_engine.durable import (
    DurableAlreadyLaunchedError,
    DurableApp,
    EngineWorkflows,
    SqlJournal,
    Verdict,
    executor_id_for,
    open_journal,
)
from opensqt_engine.durable.testing import FakeVenue, intent, venue_order
from opensqt_engine.journal import Outcome

_strategy_numbers = itertools.count(1)
NOW_MS = 1_000_000


@dataclass
class Durable:
    journal: SqlJournal
    venue: FakeVenue
    workflows: EngineWorkflows
    app: DurableApp

    @property
    def strategy_id(self) -> str:
        return self.workflows.strategy_id


@pytest.fixture
async def durable(database_url: str) -> AsyncIterator[Durable]:
    # DBOS keeps configured instances for the life of the process: one strategy id per test.
    strategy_id = f"wf{next(_strategy_numbers)}"
    journal = await open_journal(database_url)
    venue = FakeVenue()
    workflows = EngineWorkflows(
        strategy_id=strategy_id,
        symbol="BTCUSDT",
        journal=journal,
        venue=venue,
        settle_ms=5_000,
        ack_timeout_s=0,
        shutdown_timeout_s=30,
        poll_s=0.01,
        clock_ms=lambda: NOW_MS,
    )
    app = await DurableApp.launch(journal.location, executor_id=executor_id_for(strategy_id))
    try:
        yield Durable(journal, venue, workflows, app)
    finally:
        await app.close()
        await journal.close()


async def test_dbos_is_a_singleton_per_process(durable: Durable) -> None:
    with pytest.raises(DurableAlreadyLaunchedError):
        await DurableApp.launch(durable.journal.location, executor_id="another")


async def test_lifecycle_takes_the_answer_the_runtime_recorded(durable: Durable) -> None:
    record = intent(durable.strategy_id)
    await durable.journal.record_intent(record)
    await durable.journal.record_outcome(record.client_order_id, Outcome.ACKED, order_id="o-7")
    handle = await durable.workflows.start_order_lifecycle(record.client_order_id)
    settlement = await handle.get_result()
    assert (settlement.verdict, settlement.outcome, settlement.order_id) == (
        Verdict.ADOPT,
        Outcome.ACKED,
        "o-7",
    )
    assert durable.venue.calls["get_order"] == 0
    assert handle.get_workflow_id() == record.client_order_id


async def test_lifecycle_asks_the_venue_when_no_answer_came_and_runs_once_per_id(durable: Durable) -> None:
    record = intent(durable.strategy_id)
    await durable.journal.record_intent(record)
    durable.venue.orders[record.client_order_id] = venue_order(
        record, OrderStatus.FILLED, "0.001", order_id="o-3"
    )
    first = await (await durable.workflows.start_order_lifecycle(record.client_order_id)).get_result()
    again = await (await durable.workflows.start_order_lifecycle(record.client_order_id)).get_result()
    assert first == again
    assert (first.outcome, first.order_id) == (Outcome.FILLED, "o-3")
    assert durable.venue.calls["get_order"] == 1  # the second run returned the recorded result
    history = await durable.journal.outcome_history(record.client_order_id)
    assert [(h.outcome, h.order_id) for h in history] == [(Outcome.FILLED, "o-3")]
    assert await durable.journal.open_intents(durable.strategy_id) == []


async def test_recovery_adopts_what_exists_and_finalises_what_never_arrived(durable: Durable) -> None:
    sid = durable.strategy_id
    live = intent(sid, level=1, created_ms=NOW_MS - 60_000)
    filled = intent(sid, level=2, created_ms=NOW_MS - 60_000)
    lost = intent(sid, level=3, created_ms=NOW_MS - 60_000)
    in_flight = intent(sid, level=4, created_ms=NOW_MS - 1_000)  # younger than settle_ms
    done = intent(sid, level=5, created_ms=NOW_MS - 60_000)
    for record in (live, filled, lost, in_flight, done):
        await durable.journal.record_intent(record)
    await durable.journal.record_outcome(done.client_order_id, Outcome.CANCELED)
    durable.venue.orders.update(
        {
            live.client_order_id: venue_order(
                live, OrderStatus.PARTIALLY_FILLED, "0.0004", order_id="o-live"
            ),
            filled.client_order_id: venue_order(filled, OrderStatus.FILLED, "0.001", order_id="o-filled"),
        }
    )
    report = await durable.workflows.recover("boot1")
    by_id = {s.client_order_id: s for s in report.settled}
    assert set(by_id) == {live.client_order_id, filled.client_order_id, lost.client_order_id}
    assert (by_id[live.client_order_id].verdict, by_id[live.client_order_id].outcome) == (
        Verdict.ADOPT,
        Outcome.ACKED,
    )
    assert by_id[filled.client_order_id].outcome is Outcome.FILLED
    assert (by_id[lost.client_order_id].verdict, by_id[lost.client_order_id].outcome) == (
        Verdict.NOT_FOUND,
        Outcome.NOT_FOUND,
    )
    assert report.deferred == (in_flight.client_order_id,)
    # Only lookups: nothing is sent, and the finished intent is not even asked about.
    assert sorted(durable.venue.lookups) == sorted(r.client_order_id for r in (live, filled, lost, in_flight))
    assert set(durable.venue.calls) == {"get_order"}
    live_state = await durable.journal.outcome_state(live.client_order_id)
    assert live_state is not None
    assert (live_state.outcome, live_state.order_id) == (Outcome.ACKED, "o-live")
    assert [r.client_order_id for r in await durable.journal.open_intents(sid)] == [
        live.client_order_id,
        in_flight.client_order_id,
    ]
    # Same boot id: the recorded report, no second round of lookups.
    assert await durable.workflows.recover("boot1") == report
    assert durable.venue.calls["get_order"] == 4


async def test_reconcile_adopts_open_orders_and_reports_orphans(durable: Durable) -> None:
    sid = durable.strategy_id
    open_one = intent(sid, level=1, created_ms=NOW_MS - 60_000)
    closed_one = intent(sid, level=2, created_ms=NOW_MS - 60_000)
    orphan = intent(sid, level=9, generation=3)
    foreign = intent("zz", level=1)
    for record in (open_one, closed_one):
        await durable.journal.record_intent(record)
    durable.venue.orders.update(
        {
            open_one.client_order_id: venue_order(open_one, order_id="o-1"),
            closed_one.client_order_id: venue_order(closed_one, OrderStatus.CANCELED, order_id="o-2"),
            orphan.client_order_id: venue_order(orphan, order_id="o-9"),
            foreign.client_order_id: venue_order(foreign, order_id="o-x"),
        }
    )
    report = await durable.workflows.reconcile("r1")
    assert {(s.client_order_id, s.outcome) for s in report.settled} == {
        (open_one.client_order_id, Outcome.ACKED),
        (closed_one.client_order_id, Outcome.CANCELED),
    }
    assert [o.client_order_id for o in report.orphans] == [orphan.client_order_id]
    assert report.deferred == ()
    assert durable.venue.lookups == [closed_one.client_order_id]  # only the one not listed as open
    # A second round records nothing new for an unchanged order.
    await durable.workflows.reconcile("r2")
    history = await durable.journal.outcome_history(open_one.client_order_id)
    assert [(h.outcome, h.order_id) for h in history] == [(Outcome.ACKED, "o-1")]


async def test_shutdown_cancels_only_this_strategys_orders_and_records_them(durable: Durable) -> None:
    sid = durable.strategy_id
    mine = [intent(sid, level=level) for level in (1, 2)]
    foreign = intent("zz", level=1)
    for record in mine:
        await durable.journal.record_intent(record)
        durable.venue.orders[record.client_order_id] = venue_order(record, order_id=f"o-{record.level_index}")
    durable.venue.orders[foreign.client_order_id] = venue_order(foreign, order_id="o-x")
    report = await durable.workflows.shutdown("boot1")
    assert report.still_open == ()
    assert sorted((s.client_order_id, s.outcome) for s in report.closed) == sorted(
        (r.client_order_id, Outcome.CANCELED) for r in mine
    )
    assert durable.venue.orders[foreign.client_order_id].status is OrderStatus.NEW
    assert durable.venue.calls["cancel_order"] == 2
    assert await durable.journal.open_intents(sid) == []
    assert await durable.workflows.shutdown("boot1") == report
    assert durable.venue.calls["cancel_order"] == 2


async def test_workflow_steps_reach_the_venue_on_the_runtime_loop(durable: Durable) -> None:
    record = intent(durable.strategy_id, created_ms=0)
    await durable.journal.record_intent(record)

    def run_elsewhere() -> object:
        async def start() -> object:
            with_id = durable.workflows.order_lifecycle
            from dbos import SetWorkflowID

            with SetWorkflowID(record.client_order_id):
                handle = await DBOS.start_workflow_async(with_id, record.client_order_id)
            return await handle.get_result()

        return asyncio.run(start())

    settlement = await asyncio.to_thread(run_elsewhere)  # the workflow runs on another loop
    assert getattr(settlement, "outcome", None) is Outcome.NOT_FOUND
    assert durable.venue.loops == {id(asyncio.get_running_loop())}
