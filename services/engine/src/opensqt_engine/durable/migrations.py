"""Versioned schema migrations for the engine's tables (SQLite and PostgreSQL).

`engine_schema_version` holds one row per applied migration. `migrate` applies, in one
transaction under an exclusive lock (SQLite ``BEGIN IMMEDIATE``, PostgreSQL a transaction-level
advisory lock), every migration newer than the highest applied version, so concurrent starts of
several engines on one database apply each migration exactly once. Migrations are append-only:
never edit a released one, add the next version. DBOS migrates its own system tables at launch.

Tables (all money as exact decimal text):
- ``engine_intents``: one row per client order id, written on the hot path before the order
  leaves; ``outcome``/``final``/``order_id`` hold its latest known fate.
- ``engine_outcomes``: append-only history of every recorded outcome (``applied`` = 0 when it
  came after a final one and changed nothing) — the durable audit of intent → venue result.
- ``engine_fills``: one row per (client order id, trade id); the primary key deduplicates.
- ``engine_snapshots``: the latest grid snapshot (anchor, slots, PnL) per strategy.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

VERSION_TABLE = "engine_schema_version"
# pg_advisory_xact_lock key: "OSQTMIGR" read as a big-endian int64 (any constant would do).
_PG_LOCK_KEY = int.from_bytes(b"OSQTMIGR", "big") - 2**63
_ID_COLUMN = {
    "sqlite": "INTEGER PRIMARY KEY AUTOINCREMENT",
    "postgresql": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
}


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]  # ``{id}`` is replaced by the dialect's auto-increment key


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "intents, outcomes, fills, snapshots",
        (
            """CREATE TABLE engine_intents (
                client_order_id TEXT PRIMARY KEY,
                strategy_id TEXT NOT NULL,
                symbol TEXT NOT NULL,
                level_index BIGINT NOT NULL,
                side TEXT NOT NULL,
                price TEXT NOT NULL,
                quantity TEXT NOT NULL,
                post_only INTEGER NOT NULL,
                reduce_only INTEGER NOT NULL,
                created_ms BIGINT NOT NULL,
                outcome TEXT,
                final INTEGER NOT NULL DEFAULT 0,
                order_id TEXT NOT NULL DEFAULT '',
                updated_ms BIGINT
            )""",
            "CREATE INDEX engine_intents_open ON engine_intents (strategy_id, final)",
            """CREATE TABLE engine_outcomes (
                seq {id},
                client_order_id TEXT NOT NULL,
                outcome TEXT NOT NULL,
                order_id TEXT NOT NULL,
                detail TEXT NOT NULL,
                applied INTEGER NOT NULL,
                recorded_ms BIGINT NOT NULL
            )""",
            "CREATE INDEX engine_outcomes_cid ON engine_outcomes (client_order_id)",
            """CREATE TABLE engine_fills (
                client_order_id TEXT NOT NULL,
                trade_id TEXT NOT NULL,
                strategy_id TEXT,
                order_id TEXT NOT NULL,
                symbol TEXT NOT NULL,
                side TEXT NOT NULL,
                price TEXT NOT NULL,
                quantity TEXT NOT NULL,
                fee TEXT NOT NULL,
                fee_asset TEXT NOT NULL,
                time_ms BIGINT NOT NULL,
                recorded_ms BIGINT NOT NULL,
                PRIMARY KEY (client_order_id, trade_id)
            )""",
            "CREATE INDEX engine_fills_strategy ON engine_fills (strategy_id, time_ms)",
            """CREATE TABLE engine_snapshots (
                strategy_id TEXT PRIMARY KEY,
                body TEXT NOT NULL,
                revision BIGINT NOT NULL,
                saved_ms BIGINT NOT NULL
            )""",
        ),
    ),
)


@dataclass(frozen=True, slots=True)
class MigrationReport:
    version: int  # the schema version after migrating
    applied: tuple[int, ...]  # versions applied by this call (empty: already current)


class MigrationError(RuntimeError):
    """The database holds a schema newer than this code knows, or a migration list is malformed."""


def _check(migrations: Sequence[Migration]) -> None:
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise MigrationError(f"migration versions must be 1..n without gaps, got {versions}")


def migrate(engine: sa.Engine, migrations: Sequence[Migration] = MIGRATIONS) -> MigrationReport:
    """Bring the engine's tables to the newest version; idempotent and safe to run concurrently."""
    _check(migrations)
    dialect = engine.dialect.name
    if dialect not in _ID_COLUMN:
        raise MigrationError(f"unsupported database dialect {dialect!r}")
    with engine.begin() as conn:
        if dialect == "sqlite":
            # pysqlite opens transactions lazily (before DML only): take the write lock now so
            # that the version check and the DDL below are one atomic unit across processes.
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_LOCK_KEY})")
        conn.exec_driver_sql(
            "CREATE TABLE IF NOT EXISTS engine_schema_version "
            "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_ms BIGINT NOT NULL)"
        )
        current = conn.exec_driver_sql("SELECT MAX(version) FROM engine_schema_version").scalar() or 0
        if current > len(migrations):
            raise MigrationError(
                f"database schema is at version {current}, newer than this code ({len(migrations)})"
            )
        applied = []
        for migration in migrations[current:]:
            for statement in migration.statements:
                conn.exec_driver_sql(statement.replace("{id}", _ID_COLUMN[dialect]))
            conn.execute(
                sa.text("INSERT INTO engine_schema_version (version, name, applied_ms) VALUES (:v, :n, :t)"),
                {"v": migration.version, "n": migration.name, "t": time.time_ns() // 1_000_000},
            )
            applied.append(migration.version)
    return MigrationReport(version=max(current, len(migrations)), applied=tuple(applied))


def schema_version(engine: sa.Engine) -> int:
    """The highest applied version (0 for a database never migrated)."""
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table(VERSION_TABLE):
            return 0
        return int(conn.exec_driver_sql("SELECT MAX(version) FROM engine_schema_version").scalar() or 0)
