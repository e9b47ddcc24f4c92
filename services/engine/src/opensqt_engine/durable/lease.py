"""One engine per strategy: an exclusive, crash-released claim on a strategy id.

Two engines acting on the same slots would place and cancel each other's orders. Before it
recovers or trades, an engine claims its strategy id; a second claim fails while the first
holder lives, and the claim vanishes with the holder's process (no stale lock after kill -9):

- PostgreSQL: a session-level advisory lock on a dedicated connection (released when the
  connection or the process dies).
- SQLite: an exclusive `flock` on ``<database file>.<strategy id>.lock`` (released by the kernel
  when the process dies).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from pathlib import Path
from typing import Protocol

import psycopg

from opensqt_engine.core.client_ids import validate_strategy_id

from .location import StoreKind, StoreLocation


class StrategyBusyError(RuntimeError):
    """Another live engine holds this strategy id."""


class StrategyLease(Protocol):
    strategy_id: str

    def release(self) -> None: ...


def advisory_key(strategy_id: str) -> int:
    """A stable signed 64-bit key for pg_advisory_lock."""
    digest = hashlib.blake2b(f"opensqt-engine-strategy:{strategy_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class _PostgresLease:
    def __init__(self, strategy_id: str, conninfo: str) -> None:
        self.strategy_id = strategy_id
        self._connection = psycopg.connect(conninfo, autocommit=True)
        try:
            row = self._connection.execute(
                "SELECT pg_try_advisory_lock(%s)", (advisory_key(strategy_id),)
            ).fetchone()
        except BaseException:
            self._connection.close()
            raise
        if row is None or not row[0]:
            self._connection.close()
            raise StrategyBusyError(f"strategy {strategy_id!r} is held by another engine on this database")

    def release(self) -> None:
        """Unlock, then close. Closing alone ends the session, but the server drops the lock
        only when its backend has gone, a moment after `close` returns: a claim right after
        could still find it held. The explicit unlock returns once the lock is free."""
        if self._connection.closed:
            return
        try:
            self._connection.execute("SELECT pg_advisory_unlock(%s)", (advisory_key(self.strategy_id),))
        except psycopg.Error:
            pass  # a broken connection: closing it ends the session, and with it the lock
        finally:
            self._connection.close()


class _FileLease:
    def __init__(self, strategy_id: str, database: Path) -> None:
        self.strategy_id = strategy_id
        self.path = database.with_name(f"{database.name}.{strategy_id}.lock")
        self._fd: int | None = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            self._fd = None
            raise StrategyBusyError(
                f"strategy {strategy_id!r} is held by another engine on {database}"
            ) from None
        except BaseException:
            os.close(self._fd)
            self._fd = None
            raise

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def claim_strategy(location: StoreLocation, strategy_id: str) -> StrategyLease:
    """Claim `strategy_id` on this store, or raise StrategyBusyError."""
    validate_strategy_id(strategy_id)
    if location.kind is StoreKind.POSTGRESQL:
        return _PostgresLease(strategy_id, location.libpq_conninfo)
    assert location.sqlite_path is not None
    return _FileLease(strategy_id, location.sqlite_path)
