"""Everything the engine writes to its journal, in an order that survives a crash at any instant.

The hot path pays one append only: `EngineJournal.record_intent`, awaited before an
order leaves (the engine does that itself). Everything else goes through this writer,
one operation at a time, in the order it was asked for, off the hot path:

- fills and ACKED outcomes are written as they come;
- a *final* outcome (filled, cancelled, rejected, vetoed, not found) is written only
  after a snapshot that already contains its effect on the slots has been saved. Until
  then the intent stays open in the journal, so a crash in between makes recovery ask
  the venue about it again instead of trusting a snapshot that does not know it;
- the grid state is saved at most every `interval` seconds while it changes.

Client order ids must never repeat, even when the process dies between two saves: a
snapshot is saved with `next_generation` raised by `lease` ids (the *ceiling*), and the
engine awaits `extend_ceiling()` before it sends an order whose generation reached the
ceiling. A restart then continues above every id that can have been used.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from opensqt_common.logging import get_logger
from opensqt_engine.journal import EngineJournal, FillRecord, Outcome

_log = get_logger(__name__)

DEFAULT_LEASE = 10_000
RETRY_DELAY_S = 1.0
# Operations the journal may fall behind before the engine waits for it (memory stays bounded).
BACKLOG_LIMIT = 50_000


@dataclass(frozen=True, slots=True)
class _OutcomeOp:
    client_order_id: str
    outcome: Outcome
    order_id: str
    detail: str


_Op = _OutcomeOp | FillRecord


class Persistence:
    def __init__(
        self,
        journal: EngineJournal,
        strategy_id: str,
        snapshot: Callable[[], dict[str, Any]],
        next_generation: Callable[[], int],
        *,
        interval_s: float,
        lease: int = DEFAULT_LEASE,
        backlog_limit: int = BACKLOG_LIMIT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._journal = journal
        self._strategy_id = strategy_id
        self._snapshot = snapshot
        self._next_generation = next_generation
        self._interval = interval_s
        self._lease = lease
        self._backlog_limit = backlog_limit
        self._clock = clock
        self._ops: deque[_Op] = deque()
        self._deferred: list[_OutcomeOp] = []
        self._dirty = False
        self._wake = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self._save_lock = asyncio.Lock()
        self._last_save = float("-inf")
        self.ceiling = 0
        self.saves = 0

    # ---- called by the consumer (never block) ---------------------------------------------

    def outcome(
        self, client_order_id: str, outcome: Outcome, *, order_id: str = "", detail: str = ""
    ) -> None:
        self._ops.append(_OutcomeOp(client_order_id, outcome, order_id, detail))
        if outcome.is_final:
            self._dirty = True
        self._wake.set()

    def fill(self, record: FillRecord) -> None:
        self._ops.append(record)
        self._wake.set()

    def mark_dirty(self) -> None:
        if not self._dirty:
            self._dirty = True
            self._wake.set()

    @property
    def backlog(self) -> int:
        return len(self._ops) + len(self._deferred)

    @property
    def overloaded(self) -> bool:
        return self.backlog > self._backlog_limit

    async def wait_drained(self) -> None:
        """Wait until the backlog is back under half the limit (the journal is too slow or down)."""
        while self.backlog > self._backlog_limit // 2:
            self._drained.clear()
            self._wake.set()
            await self._drained.wait()

    def _note_progress(self) -> None:
        if self.backlog <= self._backlog_limit // 2:
            self._drained.set()

    # ---- saving -----------------------------------------------------------------------------

    async def extend_ceiling(self) -> None:
        """Save now (awaited): afterwards every generation below the new ceiling is safe to use."""
        await self.save()

    async def save(self) -> None:
        """Write pending operations, then a snapshot, then the outcomes it covers."""
        async with self._save_lock:
            await self._write_ops()
            snapshot = self._snapshot()  # taken after the drain, with no await in between
            covered = self._deferred
            self._deferred = []
            self._dirty = False
            ceiling = max(self._next_generation() + self._lease, self.ceiling)
            snapshot["next_generation"] = ceiling
            try:
                await self._journal.save_snapshot(self._strategy_id, snapshot)
            except Exception:
                self._deferred = covered + self._deferred
                self._dirty = True
                raise
            self.ceiling = ceiling
            self.saves += 1
            self._last_save = self._clock()
            try:
                while covered:
                    op = covered[0]
                    await self._journal.record_outcome(
                        op.client_order_id, op.outcome, order_id=op.order_id, detail=op.detail
                    )
                    covered.pop(0)
                self._note_progress()
            finally:
                if covered:  # not written: after the next snapshot, then
                    self._deferred = covered + self._deferred

    async def _write_ops(self) -> None:
        """Write the queued operations in order (caller holds the save lock)."""
        while self._ops:
            op = self._ops[0]
            if isinstance(op, FillRecord):
                await self._journal.record_fill(op)
            elif op.outcome.is_final:
                self._deferred.append(op)
            else:
                await self._journal.record_outcome(
                    op.client_order_id, op.outcome, order_id=op.order_id, detail=op.detail
                )
            self._ops.popleft()
            self._note_progress()

    async def run(self) -> None:
        """The writer task: drain operations, save while dirty (at most every `interval`)."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                async with self._save_lock:  # one writer at a time: `save` may run from the engine
                    await self._write_ops()
                if self._dirty or self._deferred:
                    wait = self._last_save + self._interval - self._clock()
                    if wait > 0:
                        await asyncio.sleep(wait)
                    await self.save()
            except asyncio.CancelledError:
                raise
            except Exception:
                _log.exception("journal_write_failed", retry_in_s=RETRY_DELAY_S)
                await asyncio.sleep(RETRY_DELAY_S)
                self._wake.set()

    async def flush(self) -> None:
        """Write everything pending and a final snapshot (shutdown)."""
        await self.save()
