"""`SqlJournal`: the EngineJournal on SQLite or PostgreSQL (see `open_journal`)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from opensqt_engine.core.client_ids import parse_client_order_id
from opensqt_engine.journal import FillRecord, IntentRecord, Outcome

from . import codec
from .lease import StrategyLease, claim_strategy
from .location import StoreKind, StoreLocation, locate_store
from .migrations import migrate
from .sqlexec import (
    Db,
    InlineExecutor,
    SqlExecutor,
    SqliteCheckpointer,
    ThreadExecutor,
    connect_postgres,
    connect_sqlite,
    in_thread,
)

Clock = Callable[[], int]


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class OutcomeState:
    """The latest recorded fate of one intent."""

    outcome: Outcome
    order_id: str
    final: bool


@dataclass(frozen=True, slots=True)
class OutcomeEntry:
    """One row of the append-only outcome history (`applied`: it changed the intent's state)."""

    outcome: Outcome
    order_id: str
    detail: str
    applied: bool
    recorded_ms: int


_INSERT_INTENT = (
    "INSERT INTO engine_intents (client_order_id, strategy_id, symbol, level_index, side, price, "
    "quantity, post_only, reduce_only, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (client_order_id) DO NOTHING"
)
_APPLY_OUTCOME = (
    "UPDATE engine_intents SET outcome = ?, final = ?, "
    "order_id = CASE WHEN ? <> '' THEN ? ELSE order_id END, updated_ms = ? "
    "WHERE client_order_id = ? AND final = 0"
)
_LOG_OUTCOME = (
    "INSERT INTO engine_outcomes (client_order_id, outcome, order_id, detail, applied, recorded_ms) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
_INSERT_FILL = (
    "INSERT INTO engine_fills (client_order_id, trade_id, order_id, symbol, side, price, quantity, "
    "fee, fee_asset, time_ms, strategy_id, recorded_ms) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
    "(SELECT strategy_id FROM engine_intents WHERE client_order_id = ?), ?) "
    "ON CONFLICT (client_order_id, trade_id) DO NOTHING"
)
_SELECT_INTENTS = (
    "SELECT client_order_id, strategy_id, symbol, level_index, side, price, quantity, post_only, "
    "reduce_only, created_ms FROM engine_intents "
)
_SELECT_FILLS = (
    "SELECT client_order_id, trade_id, order_id, symbol, side, price, quantity, fee, fee_asset, time_ms "
    "FROM engine_fills "
)
_SAVE_SNAPSHOT = (
    "INSERT INTO engine_snapshots (strategy_id, body, revision, saved_ms) VALUES (?, ?, 1, ?) "
    "ON CONFLICT (strategy_id) DO UPDATE SET body = excluded.body, "
    "revision = engine_snapshots.revision + 1, saved_ms = excluded.saved_ms"
)


class SqlJournal:
    """EngineJournal on SQL. Safe to call from any thread or event loop (DBOS runs recovered
    workflows on its own loop); one instance per process and store."""

    def __init__(
        self,
        location: StoreLocation,
        executor: SqlExecutor,
        *,
        checkpointer: SqliteCheckpointer | None = None,
        clock_ms: Clock = wall_clock_ms,
    ) -> None:
        self.location = location
        self._executor = executor
        self._checkpointer = checkpointer
        self._clock_ms = clock_ms
        self._waiters: dict[str, list[concurrent.futures.Future[Outcome]]] = {}
        self._waiters_lock = threading.Lock()
        self._leases: dict[str, StrategyLease] = {}
        self._closed = False

    # --- EngineJournal -------------------------------------------------------------------

    async def record_intent(self, intent: IntentRecord) -> None:
        row = codec.intent_row(intent)
        await self._executor.run_statement(_INSERT_INTENT, row)

    async def record_outcome(
        self, client_order_id: str, outcome: Outcome, *, order_id: str = "", detail: str = ""
    ) -> None:
        now = self._clock_ms()

        def op(db: Db) -> bool:
            applied: int = db.execute(
                _APPLY_OUTCOME,
                (outcome.value, int(outcome.is_final), order_id, order_id, now, client_order_id),
            ).rowcount
            db.execute(
                _LOG_OUTCOME, (client_order_id, outcome.value, order_id, detail, int(applied > 0), now)
            )
            return applied > 0

        if await self._executor.run_in_background(op):
            self._wake(client_order_id, outcome)

    async def record_fill(self, fill: FillRecord) -> bool:
        row = (*codec.fill_row(fill), fill.client_order_id, self._clock_ms())
        inserted = await self._executor.run_in_background(lambda db: db.execute(_INSERT_FILL, row).rowcount)
        return bool(inserted > 0)

    async def open_intents(self, strategy_id: str) -> Sequence[IntentRecord]:
        def op(db: Db) -> list[IntentRecord]:
            rows = db.execute(
                _SELECT_INTENTS + "WHERE strategy_id = ? AND final = 0 ORDER BY created_ms, client_order_id",
                (strategy_id,),
            ).fetchall()
            return [codec.intent_from_row(row) for row in rows]

        return await self._executor.run(op)

    async def intents_since(self, strategy_id: str, created_ms: int) -> Sequence[IntentRecord]:
        """This strategy's intents created at or after `created_ms`, whatever their outcome.

        Start-up recovery reads these besides the open ones: a workflow (recovery, reconcile,
        shutdown, a lifecycle) may have recorded a *final* outcome for an order the last
        snapshot never knew (sent after it was taken); the grid must still learn of that order,
        or its fills would find no slot."""

        def op(db: Db) -> list[IntentRecord]:
            rows = db.execute(
                _SELECT_INTENTS
                + "WHERE strategy_id = ? AND created_ms >= ? ORDER BY created_ms, client_order_id",
                (strategy_id, created_ms),
            ).fetchall()
            return [codec.intent_from_row(row) for row in rows]

        return await self._executor.run(op)

    async def save_snapshot(self, strategy_id: str, snapshot: Mapping[str, Any]) -> None:
        body = codec.snapshot_text(snapshot)
        now = self._clock_ms()
        row = (strategy_id, body, now)
        await self._executor.run_in_background(lambda db: db.execute(_SAVE_SNAPSHOT, row))

    async def load_snapshot(self, strategy_id: str) -> dict[str, Any] | None:
        def op(db: Db) -> str | None:
            row = db.execute(
                "SELECT body FROM engine_snapshots WHERE strategy_id = ?", (strategy_id,)
            ).fetchone()
            return None if row is None else str(row[0])

        body = await self._executor.run(op)
        return None if body is None else codec.snapshot_from_text(body)

    async def close(self) -> None:
        await in_thread(self.close_blocking)

    # --- beyond the protocol ---------------------------------------------------------------

    def claim(self, strategy_id: str) -> None:
        """Claim exclusive use of `strategy_id` on this store (StrategyBusyError if held)."""
        if strategy_id not in self._leases:
            self._leases[strategy_id] = claim_strategy(self.location, strategy_id)

    async def intent(self, client_order_id: str) -> IntentRecord | None:
        def op(db: Db) -> IntentRecord | None:
            row = db.execute(
                _SELECT_INTENTS + "WHERE client_order_id = ?",
                (client_order_id,),
            ).fetchone()
            return None if row is None else codec.intent_from_row(row)

        return await self._executor.run(op)

    async def outcome_state(self, client_order_id: str) -> OutcomeState | None:
        """The intent's latest outcome, or None (unknown id, or no outcome recorded yet)."""
        return await self._executor.run(lambda db: _outcome_state(db, client_order_id))

    async def outcome_history(self, client_order_id: str) -> list[OutcomeEntry]:
        def op(db: Db) -> list[OutcomeEntry]:
            rows = db.execute(
                "SELECT outcome, order_id, detail, applied, recorded_ms FROM engine_outcomes "
                "WHERE client_order_id = ? ORDER BY seq",
                (client_order_id,),
            ).fetchall()
            return [OutcomeEntry(Outcome(r[0]), str(r[1]), str(r[2]), bool(r[3]), int(r[4])) for r in rows]

        return await self._executor.run(op)

    async def fills(self, client_order_id: str) -> list[FillRecord]:
        def op(db: Db) -> list[FillRecord]:
            rows = db.execute(
                _SELECT_FILLS + "WHERE client_order_id = ? ORDER BY time_ms, trade_id",
                (client_order_id,),
            ).fetchall()
            return [codec.fill_from_row(row) for row in rows]

        return await self._executor.run(op)

    async def max_generation(self, strategy_id: str) -> int:
        """The largest generation among this strategy's journaled client order ids (-1: none).

        An intent is journaled before its order leaves, so after a crash this is at least the
        generation of every order the venue may hold: restore with
        ``next_generation = max(snapshot's, this + 1)`` and ids never repeat, even when the last
        snapshot predates the last orders."""

        def op(db: Db) -> list[str]:
            rows = db.execute(
                "SELECT client_order_id FROM engine_intents WHERE strategy_id = ?", (strategy_id,)
            ).fetchall()
            return [str(row[0]) for row in rows]

        best = -1
        for client_order_id in await self._executor.run(op):
            parsed = parse_client_order_id(client_order_id)
            if parsed is not None and parsed.strategy_id == strategy_id:
                best = max(best, parsed.generation)
        return best

    async def wait_for_outcome(self, client_order_id: str, timeout: float) -> OutcomeState | None:
        """The intent's outcome once one is recorded (by anyone in this process), or what is
        recorded after `timeout` seconds (None: still nothing)."""
        waiter: concurrent.futures.Future[Outcome] = concurrent.futures.Future()
        with self._waiters_lock:
            self._waiters.setdefault(client_order_id, []).append(waiter)
        try:
            state = await self.outcome_state(client_order_id)
            if state is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.wrap_future(waiter), timeout)
                state = await self.outcome_state(client_order_id)
            return state
        finally:
            with self._waiters_lock:
                pending = self._waiters.get(client_order_id, [])
                if waiter in pending:
                    pending.remove(waiter)
                if not pending:
                    self._waiters.pop(client_order_id, None)

    def close_blocking(self) -> None:
        if self._closed:
            return
        self._closed = True
        for lease in self._leases.values():
            lease.release()
        self._leases.clear()
        if self._checkpointer is not None:
            self._checkpointer.close()
        self._executor.close()

    def _wake(self, client_order_id: str, outcome: Outcome) -> None:
        with self._waiters_lock:
            waiters = self._waiters.pop(client_order_id, [])
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(outcome)


def _outcome_state(db: Db, client_order_id: str) -> OutcomeState | None:
    row = db.execute(
        "SELECT outcome, order_id, final FROM engine_intents WHERE client_order_id = ?", (client_order_id,)
    ).fetchone()
    if row is None or row[0] is None:
        return None
    return OutcomeState(Outcome(row[0]), str(row[1]), bool(row[2]))


def prepare_store(location: StoreLocation) -> None:
    """Create or migrate the engine's tables (blocking)."""
    engine = sa.create_engine(location.engine_url, poolclass=sa.NullPool)
    try:
        migrate(engine)
    finally:
        engine.dispose()


def open_journal_blocking(database_url: str | None = None, *, clock_ms: Clock = wall_clock_ms) -> SqlJournal:
    """`open_journal` for code that is not on an event loop (tools, subprocess tests)."""
    location = locate_store(database_url)
    prepare_store(location)
    if location.kind is StoreKind.SQLITE:
        assert location.sqlite_path is not None
        db = connect_sqlite(location.sqlite_path)
        return SqlJournal(
            location,
            InlineExecutor(db),
            checkpointer=SqliteCheckpointer(location.sqlite_path),
            clock_ms=clock_ms,
        )
    conninfo = location.libpq_conninfo
    return SqlJournal(location, ThreadExecutor(lambda: connect_postgres(conninfo)), clock_ms=clock_ms)


async def open_journal(database_url: str | None = None, *, clock_ms: Clock = wall_clock_ms) -> SqlJournal:
    """Open the engine's journal on `database_url` (None: OPENSQT_DATABASE_URL, else the SQLite
    default under ./data), creating and migrating its tables first."""
    return await in_thread(lambda: open_journal_blocking(database_url, clock_ms=clock_ms))
