"""The PostgreSQL writer thread: group commit isolates a failing operation, a lost connection
is re-opened, and a full queue never blocks the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import psycopg
import pytest
from pg_fixture import fresh_postgres_database  # type: ignore[import-not-found]

from opensqt_engine.durable import locate_store, open_journal
from opensqt_engine.durable.pgtemp import TemporaryPostgres
from opensqt_engine.durable.sqlexec import Db, ThreadExecutor, connect_postgres
from opensqt_engine.durable.testing import intent

pytestmark = pytest.mark.postgres


@pytest.fixture
def conninfo(postgres_server: TemporaryPostgres) -> str:
    return locate_store(fresh_postgres_database(postgres_server)).libpq_conninfo


def _create(db: Db) -> None:
    db.execute("CREATE TABLE t (k TEXT PRIMARY KEY)")


def _insert(key: str) -> Callable[[Db], int]:
    return lambda db: int(db.execute("INSERT INTO t (k) VALUES (?)", (key,)).rowcount)


async def test_one_failing_operation_does_not_fail_its_batch(conninfo: str) -> None:
    executor = ThreadExecutor(lambda: connect_postgres(conninfo), capacity=8)
    try:
        await executor.run(_create)

        results = await asyncio.gather(
            *(executor.run(_insert(key)) for key in ("a", "b", "a", "c")), return_exceptions=True
        )
        assert results[0] == 1
        assert results[1] == 1
        assert isinstance(results[2], psycopg.errors.UniqueViolation)
        assert results[3] == 1
        keys = await executor.run(lambda db: [row[0] for row in db.execute("SELECT k FROM t ORDER BY k")])
        assert keys == ["a", "b", "c"]
    finally:
        executor.close()


async def test_a_lost_connection_is_reopened(conninfo: str, postgres_server: TemporaryPostgres) -> None:
    journal = await open_journal(conninfo)
    try:
        await journal.record_intent(intent(level=1))
        database = conninfo.rsplit("/", 1)[1]
        with psycopg.connect(postgres_server.url(), autocommit=True) as admin:
            killed = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (database,),
            ).fetchone()
        assert killed is not None
        assert killed[0] >= 1
        await journal.record_intent(intent(level=2))
        assert [r.level_index for r in await journal.open_intents("grid1")] == [1, 2]
    finally:
        await journal.close()


async def test_a_full_queue_makes_callers_wait_without_blocking_the_loop(conninfo: str) -> None:
    executor = ThreadExecutor(lambda: connect_postgres(conninfo), capacity=1)
    try:
        await executor.run(_create)
        release = asyncio.Event()
        loop = asyncio.get_running_loop()
        gate = asyncio.run_coroutine_threadsafe  # the writer waits for the loop to open the gate

        def blocked(db: Db) -> int:
            gate(release.wait(), loop).result(timeout=60)
            return 0

        first = asyncio.ensure_future(executor.run(blocked))
        queued = [asyncio.ensure_future(executor.run(_insert(key))) for key in ("x", "y", "z")]
        for _ in range(10):  # let every caller reach the full queue; this loop must keep running
            await asyncio.sleep(0)
        assert not first.done()
        assert not any(task.done() for task in queued)
        release.set()
        assert await first == 0
        assert await asyncio.gather(*queued) == [1, 1, 1]
    finally:
        executor.close()
