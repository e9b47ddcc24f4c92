"""Child process for the crash tests (run as a script; the parent SIGKILLs it).

durable_child.py intents URL STRATEGY    record intents forever, print each id once recorded
durable_child.py workflow URL STRATEGY first|second
    first:  journal an intent, start its lifecycle workflow, block inside the venue lookup,
            print BLOCKED, wait to be killed
    second: launch DBOS (which resumes the interrupted workflow), print its RESULT
"""

from __future__ import annotations

import asyncio
import sys

from dbos import DBOS, WorkflowHandleAsync

from opensqt_common.enums import OrderStatus
from opensqt_engine.durable import DurableApp, EngineWorkflows, Settlement, executor_id_for, open_journal
from opensqt_engine.durable.testing import FakeVenue, intent, venue_order


async def intents(url: str, strategy_id: str) -> None:
    journal = await open_journal(url)
    for generation in range(1_000_000):
        record = intent(strategy_id, level=generation % 50, generation=generation)
        await journal.record_intent(record)
        print(record.client_order_id, flush=True)


async def workflow(url: str, strategy_id: str, phase: str) -> None:
    journal = await open_journal(url)
    record = intent(strategy_id, created_ms=0)
    venue = FakeVenue([venue_order(record, OrderStatus.NEW, order_id="o-1")])
    if phase == "first":
        venue.hold_lookups = asyncio.Event()  # never set: the lookup hangs until the kill
    workflows = EngineWorkflows(
        strategy_id=strategy_id, symbol="BTCUSDT", journal=journal, venue=venue, ack_timeout_s=0, settle_ms=1
    )
    app = await DurableApp.launch(journal.location, executor_id=executor_id_for(strategy_id))
    if phase == "first":
        await journal.record_intent(record)
        await workflows.start_order_lifecycle(record.client_order_id)
        await venue.lookup_started.wait()
        print("BLOCKED", flush=True)
        await asyncio.Event().wait()
        return
    handle: WorkflowHandleAsync[Settlement] = await DBOS.retrieve_workflow_async(record.client_order_id)
    result = await handle.get_result()
    status = await handle.get_status()
    assert result.outcome is not None
    print(
        "RESULT", result.outcome.value, result.order_id, venue.calls["get_order"], status.status, flush=True
    )
    await app.close()
    await journal.close()


async def bystander(url: str, strategy_id: str, other: str) -> None:
    journal = await open_journal(url)
    EngineWorkflows(strategy_id=strategy_id, symbol="BTCUSDT", journal=journal, venue=FakeVenue())
    app = await DurableApp.launch(journal.location, executor_id=executor_id_for(strategy_id))
    status = await DBOS.get_workflow_status_async(intent(other, created_ms=0).client_order_id)
    assert status is not None
    print("STATUS", status.status, status.executor_id, flush=True)
    await app.close()
    await journal.close()


def main(argv: list[str]) -> None:
    mode, url, strategy_id, *rest = argv
    if mode == "intents":
        asyncio.run(intents(url, strategy_id))
    elif mode == "workflow":
        asyncio.run(workflow(url, strategy_id, rest[0]))
    elif mode == "bystander":
        asyncio.run(bystander(url, strategy_id, rest[0]))
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
