"""DBOS for the engine: configuration, launch and teardown of the process-wide DBOS instance.

DBOS is a process singleton. `DurableApp.launch` builds it on the store's system database
(SQLite: a sibling file, switched to WAL; PostgreSQL: the same database, schema ``dbos``),
migrates DBOS's tables (DBOS does that itself) and starts it; DBOS then re-runs every workflow
this executor left PENDING. Create the `EngineWorkflows` instance *before* launching, so those
recovered workflows find it. `close` destroys the instance, so tests can launch again.

Ownership when several engines share one PostgreSQL: each engine launches with executor id
``opensqt-engine-<strategy id>`` (`executor_id_for`). At launch DBOS recovers only the PENDING
workflows of its own executor id (and application version), every workflow id carries the
strategy id (client order ids start with it; the others are ``<strategy>.<kind>.<id>``), and each
workflow acts only on its own strategy's intents and orders. Together with the strategy lease
(`SqlJournal.claim`), no two engines ever act on the same slots.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import sqlite3
from dataclasses import dataclass

from dbos import DBOS, DBOSConfig

from .location import StoreKind, StoreLocation
from .sqlexec import in_thread

DBOS_APP_NAME = "opensqt-engine"


def executor_id_for(strategy_id: str) -> str:
    """The DBOS executor id of the engine that runs `strategy_id` (stable across restarts)."""
    return f"{DBOS_APP_NAME}-{strategy_id}"


def dbos_config(
    location: StoreLocation,
    *,
    executor_id: str,
    application_version: str | None = None,
    log_level: str = "WARNING",
) -> DBOSConfig:
    config: DBOSConfig = {
        "name": DBOS_APP_NAME,
        "system_database_url": location.dbos_url,
        "executor_id": executor_id,
        "log_level": log_level,
        "enable_otlp": False,
    }
    if location.kind is StoreKind.POSTGRESQL:
        config["sys_db_pool_size"] = 8
    if application_version is not None:
        config["application_version"] = application_version
    return config


def _prepare_sqlite(location: StoreLocation) -> None:
    """WAL (persistent in the file) before DBOS opens it: cheaper commits, readers never block."""
    path = location.dbos_url.removeprefix("sqlite:///")
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
    finally:
        connection.close()


class DurableAlreadyLaunchedError(RuntimeError):
    """DBOS already runs in this process (it is a singleton)."""


@dataclass
class DurableApp:
    location: StoreLocation
    executor_id: str
    _open: bool = True

    @classmethod
    async def launch(
        cls,
        location: StoreLocation,
        *,
        executor_id: str,
        application_version: str | None = None,
        log_level: str = "WARNING",
        sqlite_wal: bool = True,
    ) -> DurableApp:
        """Set up and launch DBOS on `location`. `sqlite_wal=False` leaves a SQLite system
        database in DBOS's default rollback-journal mode (only for comparison benchmarks)."""
        from dbos import _dbos

        if _dbos._dbos_global_instance is not None:
            raise DurableAlreadyLaunchedError("DBOS is already set up in this process; close it first")
        if location.kind is StoreKind.SQLITE and sqlite_wal:
            await in_thread(lambda: _prepare_sqlite(location))
        config = dbos_config(
            location, executor_id=executor_id, application_version=application_version, log_level=log_level
        )
        DBOS(config=config)
        try:
            await in_thread(DBOS.launch)
        except BaseException:
            await in_thread(DBOS.destroy)
            _restore_default_executor()
            raise
        return cls(location=location, executor_id=executor_id)

    async def close(self, *, workflow_completion_timeout_s: int = 0) -> None:
        """Stop DBOS. Workflows still running are abandoned (PENDING) and resume at next launch."""
        if not self._open:
            return
        self._open = False
        await in_thread(lambda: DBOS.destroy(workflow_completion_timeout_sec=workflow_completion_timeout_s))
        _restore_default_executor()


def _restore_default_executor() -> None:
    """DBOS makes its executor the loop's default one (for asyncio.to_thread) and shuts it down
    on destroy; give the loop a working default executor back."""
    asyncio.get_running_loop().set_default_executor(
        concurrent.futures.ThreadPoolExecutor(thread_name_prefix="asyncio")
    )
