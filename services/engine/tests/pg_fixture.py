"""Pytest fixtures for the durable store: one throwaway PostgreSQL per session, and
`database_url`, parametrised so that the same test runs on SQLite and on PostgreSQL.

Imported by conftest.py. The server comes from `opensqt_engine.durable.pgtemp.start_postgres`
(OPENSQT_TEST_POSTGRES_URL, else testcontainers with Docker, else local initdb/pg_ctl); each test
gets a fresh database, so tests never see each other's rows.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from opensqt_engine.durable.pgtemp import TemporaryPostgres, start_postgres

_database_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[TemporaryPostgres]:
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()


def fresh_postgres_database(server: TemporaryPostgres) -> str:
    return server.create_database(f"opensqt_test_{next(_database_numbers)}")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty store: a SQLite file in tmp_path, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'engine.sqlite'}"
    server: TemporaryPostgres = request.getfixturevalue("postgres_server")
    return fresh_postgres_database(server)
