"""Cost of the engine's durable store (docs/benchmarks.md, "Durable store").

Run: ``.venv/bin/python bench/bench_journal.py [--intents N] [--workflows N] [--no-postgres]``

1. `record_intent` (the one durable append on the tick hot path): latency of ``await``, one at a
   time, on SQLite (WAL, synchronous=NORMAL, on the calling thread) and on PostgreSQL (writer
   thread, commit awaited; a throwaway local server with production fsync/synchronous_commit).
   Also a burst of concurrent appends on PostgreSQL (group commit) as appends per second.
2. DBOS: a workflow of two trivial steps (start + result), and the engine's `order_lifecycle`
   workflow when the runtime already recorded the venue's answer (its normal path), on the
   store's system database. SQLite is measured as the engine configures it (WAL) and with DBOS's
   default rollback journal, the "about 8 ms" reference.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from dbos import DBOS, SetWorkflowID

from opensqt_engine.durable import DurableApp, EngineWorkflows, executor_id_for, open_journal
from opensqt_engine.durable.pgtemp import PostgresUnavailableError, start_postgres
from opensqt_engine.durable.testing import FakeVenue, intent, venue_order
from opensqt_engine.journal import Outcome


@DBOS.step()
async def _step_one(value: int) -> int:
    return value + 1


@DBOS.step()
async def _step_two(value: int) -> int:
    return value * 2


@DBOS.workflow()
async def two_step_workflow(value: int) -> int:
    return await _step_two(await _step_one(value))


def _percentiles(samples_ns: list[int]) -> str:
    ordered = sorted(samples_ns)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1e6

    return (
        f"p50 {at(0.50):.3f} ms  p99 {at(0.99):.3f} ms  max {ordered[-1] / 1e6:.3f} ms  "
        f"mean {statistics.fmean(ordered) / 1e6:.3f} ms  (n={len(ordered)})"
    )


async def _timed(count: int, make: Callable[[int], Awaitable[object]]) -> list[int]:
    samples = []
    for index in range(count):
        started = time.perf_counter_ns()
        await make(index)
        samples.append(time.perf_counter_ns() - started)
    return samples


async def bench_intents(label: str, url: str, count: int, *, burst: bool) -> None:
    journal = await open_journal(url)
    try:
        warm = [intent("warm", level=i % 50, generation=i) for i in range(200)]
        for record in warm:
            await journal.record_intent(record)
        records = [intent("bench", level=i % 50, generation=i) for i in range(count)]
        samples = await _timed(count, lambda i: journal.record_intent(records[i]))
        print(f"  record_intent  {label:<28} {_percentiles(samples)}")
        if burst:
            many = [intent("burst", level=i % 50, generation=i) for i in range(count)]
            started = time.perf_counter()
            await asyncio.gather(*(journal.record_intent(record) for record in many))
            elapsed = time.perf_counter() - started
            print(f"  record_intent  {label + ' burst (gather)':<28} {count / elapsed:,.0f} appends/s")
    finally:
        await journal.close()


async def bench_dbos(label: str, url: str, count: int, strategy_id: str, *, sqlite_wal: bool = True) -> None:
    journal = await open_journal(url)
    workflows = EngineWorkflows(
        strategy_id=strategy_id, symbol="BTCUSDT", journal=journal, venue=FakeVenue(), ack_timeout_s=5
    )
    app = await DurableApp.launch(
        journal.location, executor_id=executor_id_for(strategy_id), sqlite_wal=sqlite_wal
    )
    try:

        async def two_steps(index: int) -> object:
            with SetWorkflowID(f"{strategy_id}.bench.{index}"):
                handle = await DBOS.start_workflow_async(two_step_workflow, index)
            return await handle.get_result()

        await _timed(10, lambda i: two_steps(10_000 + i))  # warm-up
        print(f"  two-step wf    {label:<28} {_percentiles(await _timed(count, two_steps))}")

        records = [intent(strategy_id, level=i % 50, generation=i) for i in range(count + 10)]

        async def lifecycle(index: int) -> object:
            record = records[index]
            await journal.record_intent(record)
            await journal.record_outcome(record.client_order_id, Outcome.ACKED, order_id=f"o-{index}")
            handle = await workflows.start_order_lifecycle(record.client_order_id)
            return await handle.get_result()

        samples = await _timed(count, lambda i: lifecycle(i))
        print(f"  order_lifecycle {label:<27} {_percentiles(samples)}")
    finally:
        await app.close()
        await journal.close()


async def bench_startup(label: str, url: str, open_intents: int, strategy_id: str) -> None:
    """Restart path: open + migrate, claim, launch DBOS, recover N open intents (GetOrder each)."""
    seed = await open_journal(url)
    records = [intent(strategy_id, level=i, generation=i, created_ms=0) for i in range(open_intents)]
    for record in records:
        await seed.record_intent(record)
    await seed.close()
    venue = FakeVenue([venue_order(record) for record in records[: open_intents // 2]])
    started = time.perf_counter()
    journal = await open_journal(url)
    journal.claim(strategy_id)
    workflows = EngineWorkflows(strategy_id=strategy_id, symbol="BTCUSDT", journal=journal, venue=venue)
    app = await DurableApp.launch(journal.location, executor_id=executor_id_for(strategy_id))
    opened = time.perf_counter()
    report = await workflows.recover("bench")
    recovered = time.perf_counter()
    assert len(report.settled) == open_intents
    await app.close()
    await journal.close()
    print(
        f"  start-up       {label:<28} open+migrate+launch {1000 * (opened - started):.0f} ms, "
        f"recover {open_intents} open intents {1000 * (recovered - opened):.0f} ms"
    )


def _rollback_journal(url: str) -> None:
    """Prepare the DBOS file in SQLite's default rollback-journal mode (DBOS's own default)."""
    path = url.removeprefix("sqlite:///")
    dbos_path = Path(path).with_name(Path(path).stem + ".dbos" + Path(path).suffix)
    connection = sqlite3.connect(dbos_path)
    connection.execute("PRAGMA journal_mode=DELETE")
    connection.close()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--intents", type=int, default=5_000)
    parser.add_argument("--workflows", type=int, default=200)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cpus")
    print(f"sqlite files in {tempfile.gettempdir()} (a disk, not tmpfs, on the reference machine)")
    with tempfile.TemporaryDirectory(prefix="bench-journal-") as tmp:
        await bench_startup("sqlite", f"sqlite:///{tmp}/startup.sqlite", 20, "bstart")
        sqlite_url = f"sqlite:///{tmp}/engine.sqlite"
        await bench_intents("sqlite (WAL, NORMAL)", sqlite_url, args.intents, burst=False)
        await bench_dbos("sqlite (WAL)", sqlite_url, args.workflows, "bwal")
        legacy_url = f"sqlite:///{tmp}/legacy.sqlite"
        await (await open_journal(legacy_url)).close()
        _rollback_journal(legacy_url)
        await bench_dbos("sqlite (rollback journal)", legacy_url, args.workflows, "bdel", sqlite_wal=False)
    if args.no_postgres:
        return 0
    try:
        server = start_postgres(durable=True)
    except PostgresUnavailableError as error:
        print(f"  postgresql: skipped ({error})")
        return 0
    try:
        await bench_startup("postgresql", server.create_database("bench_startup"), 20, "bstart2")
        url = server.create_database("bench_journal")
        await bench_intents("postgresql (localhost)", url, args.intents, burst=True)
        await bench_dbos("postgresql (localhost)", url, args.workflows, "bpg")
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
