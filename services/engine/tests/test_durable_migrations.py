"""Versioned, idempotent migrations of the engine's tables, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from opensqt_engine.durable import (
    MIGRATIONS,
    Migration,
    MigrationError,
    locate_store,
    migrate,
    schema_version,
)


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    created = sa.create_engine(locate_store(database_url).engine_url, poolclass=sa.NullPool)
    yield created
    created.dispose()


def _tables(engine: sa.Engine) -> set[str]:
    return {name for name in sa.inspect(engine).get_table_names() if name.startswith("engine_")}


def test_a_fresh_database_is_migrated_to_the_newest_version(engine: sa.Engine) -> None:
    assert schema_version(engine) == 0
    report = migrate(engine)
    assert report.applied == tuple(m.version for m in MIGRATIONS)
    assert report.version == len(MIGRATIONS) == schema_version(engine)
    assert _tables(engine) == {
        "engine_schema_version",
        "engine_intents",
        "engine_outcomes",
        "engine_fills",
        "engine_snapshots",
    }


def test_migrating_again_changes_nothing(engine: sa.Engine) -> None:
    migrate(engine)
    again = migrate(engine)
    assert again.applied == ()
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT version, name FROM engine_schema_version ORDER BY version").all()
    assert [tuple(row) for row in rows] == [(m.version, m.name) for m in MIGRATIONS]


def test_a_new_migration_is_applied_once_on_top(engine: sa.Engine) -> None:
    migrate(engine)
    extra = Migration(
        len(MIGRATIONS) + 1, "notes", ("CREATE TABLE engine_notes (id {id}, note TEXT NOT NULL)",)
    )
    report = migrate(engine, (*MIGRATIONS, extra))
    assert report.applied == (extra.version,)
    assert migrate(engine, (*MIGRATIONS, extra)).applied == ()
    assert "engine_notes" in _tables(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO engine_notes (note) VALUES ('a'), ('b')")
        ids = conn.exec_driver_sql("SELECT id FROM engine_notes ORDER BY id").scalars().all()
    assert ids == [1, 2]  # {id} became the dialect's auto-increment key


def test_a_database_newer_than_the_code_is_refused(engine: sa.Engine) -> None:
    extra = Migration(len(MIGRATIONS) + 1, "future", ("CREATE TABLE engine_future (x INTEGER)",))
    migrate(engine, (*MIGRATIONS, extra))
    with pytest.raises(MigrationError, match="newer than this code"):
        migrate(engine)


def test_a_migration_list_with_gaps_is_refused(engine: sa.Engine) -> None:
    with pytest.raises(MigrationError, match="without gaps"):
        migrate(engine, (MIGRATIONS[0], Migration(3, "x", ())))
    assert schema_version(engine) == 0


def test_a_failing_migration_leaves_the_previous_version_intact(engine: sa.Engine) -> None:
    migrate(engine)
    broken = Migration(
        len(MIGRATIONS) + 1, "broken", ("CREATE TABLE engine_ok (x INTEGER)", "NOT SQL AT ALL")
    )
    with pytest.raises(sa.exc.DBAPIError):
        migrate(engine, (*MIGRATIONS, broken))
    assert schema_version(engine) == len(MIGRATIONS)
    assert "engine_ok" not in _tables(engine)  # DDL is transactional on both dialects


def test_concurrent_migrations_apply_each_version_once(engine: sa.Engine) -> None:
    reports = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(3)

    def run() -> None:
        try:
            barrier.wait(timeout=30)
            reports.append(migrate(engine))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    applied = [version for report in reports for version in report.applied]
    assert sorted(applied) == [m.version for m in MIGRATIONS]
